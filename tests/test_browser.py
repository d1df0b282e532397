"""Real-browser tests: `streamlit run` on 127.0.0.1, Debian's Chromium driven by Playwright.

Inspect at 1400 px, and Present at a projector's 1280x720: a URL opens its text and layer, the stepper and
the charts lie inside the viewport, stepping past the exit changes the panels, the offline copy plays from
file:// with the network blocked, no page shows a stray "None". Screenshots go to test-artifacts/.
Skipped when /usr/bin/chromium is missing (CI installs it).
"""

import pytest
from playwright.sync_api import expect

from browser_support import (BROWSER_MARKS, IDLE, ROOT, _eventually, _figure_data, _inside, _open,  # noqa: F401
                             _figure_title, browser, server)

SCREENSHOT = ROOT / "test-artifacts" / "browser-inspect.png"
pytestmark = BROWSER_MARKS


def test_present_fits_a_projector_and_steps(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 720}, accept_downloads=True)
    _open(page, f"{server}/present?text=the%20plot%20was%20dull&layer=1")
    assert page.get_by_text("the plot was dull", exact=True).count() >= 1
    assert page.get_by_text("1 of 4", exact=True).count() == 1
    for name in ("◀ previous", "next ▶"):
        assert _inside(page, page.get_by_role("button", name=name))
    assert _inside(page, page.locator(".js-plotly-plot"))
    assert page.get_by_text("Deploy").count() == 0 and page.locator(".modebar").count() == 0
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT.parent / "present-1280x720-layer1.png"))
    before = _figure_title(page)
    for _ in range(3):
        page.get_by_role("button", name="next ▶").click()
        page.wait_for_timeout(300)
        page.wait_for_selector(IDLE, timeout=60_000)
    assert page.get_by_text("4 of 4", exact=True).count() == 1 and "layer=4" in page.url
    after = _figure_title(page)
    assert before != after and ("Halted at layer" in after or "Layer 4" in after)
    page.screenshot(path=str(SCREENSHOT.parent / "present-1280x720-layer4.png"))

    with page.expect_download() as download:
        page.get_by_role("button", name="Offline copy").click()
    copy = tmp_path / "present.html"
    download.value.save_as(copy)
    offline = browser.new_page(viewport={"width": 1280, "height": 720})
    requests = []
    offline.route("**/*", lambda route: (requests.append(route.request.url), route.continue_()
                                         if route.request.url.startswith("file:") else route.abort()))
    offline.goto(copy.as_uri())
    offline.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    frames = offline.evaluate("document.querySelector('.js-plotly-plot')._transitionData._frames.length")
    assert frames == 4 and all(url.startswith("file:") for url in requests)
    offline.get_by_text("Play").first.click()
    offline.wait_for_timeout(2500)
    assert "Layer 1 of 4" not in offline.locator(".gtitle").text_content()  # the animation moved on
    offline.screenshot(path=str(SCREENSHOT.parent / "present-offline-copy.png"))


@pytest.mark.parametrize("width, height", [(1280, 720), (1600, 1000)])
def test_no_page_shows_a_stray_none(server, browser, width, height):
    page = browser.new_page(viewport={"width": width, "height": height})
    for path in ("", "present", "dataset", "compare", "about"):
        page.goto(f"{server}/{path}", timeout=90_000)
        page.wait_for_selector(IDLE, timeout=90_000)
        page.wait_for_timeout(500)
        # the screenshot is for a person to look at: wait until every chart is drawn, not only the script run
        page.wait_for_function("() => !document.querySelector('[data-testid=stSkeleton]') && [...document"
                               ".querySelectorAll('[data-testid=stPlotlyChart]')].every(c => c.querySelector("
                               "'.main-svg'))", timeout=30_000)
        assert page.get_by_text("None", exact=True).count() == 0, path
        assert page.locator("[data-testid=stException]").count() == 0, path
        page.screenshot(path=str(SCREENSHOT.parent / f"page-{path or 'inspect'}-{width}x{height}.png"))


def test_inspect_page_renders_charts_in_chromium(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(server, timeout=90_000)
    page.wait_for_selector(IDLE, timeout=90_000)
    box = page.locator("textarea").first
    box.fill("the plot was dull but the actors were great")
    box.press("Control+Enter")
    page.wait_for_timeout(500)
    page.wait_for_selector(IDLE, timeout=90_000)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
    assert page.locator(".js-plotly-plot").count() >= 4
    assert page.get_by_text("the plot was dull but the actors were great").count() >= 1
    assert page.locator("[data-testid=stException]").count() == 0
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


def test_data_set_views_are_linked_both_ways(server, browser):
    """Shift-click adds a histogram bar to the selection and a filter keeps it; the table then holds those exits and
    the histogram shades the table's rows; rows picked in the table are ringed in the scatter; a button clears."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    _open(page, f"{server}/dataset")
    bars = _figure_data(page, 0)[0]
    filled = [i for i, count in enumerate(bars["y"]) if count > 0]
    assert len(filled) >= 2, bars  # the demo set through the tiny model exits at two layers or more
    points = page.locator(".js-plotly-plot").first.locator(".barlayer .trace").first.locator(".point")

    def click_bar(i: int, modifiers=None) -> None:  # plotly's drag layer lies over the bars: click the spot
        bar = points.nth(i).bounding_box()
        page.mouse.move(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] - 3)
        for key in modifiers or []:
            page.keyboard.down(key)
        page.mouse.click(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] - 3)
        for key in modifiers or []:
            page.keyboard.up(key)
        page.wait_for_timeout(300)
        page.wait_for_selector(IDLE, timeout=60_000)

    click_bar(filled[0])
    first = str(int(bars["x"][filled[0]]))
    expect(page.get_by_text(f"Exit layers selected in the histogram: {first} (")).to_have_count(1, timeout=30_000)
    click_bar(filled[1], modifiers=["Shift"])
    chosen = ", ".join(str(int(bars["x"][i])) for i in filled[:2])
    expect(page.get_by_text(f"Exit layers selected in the histogram: {chosen} (")).to_have_count(1, timeout=30_000)

    # a filter narrows the table; the picked bars stay, and the histogram shades the table's rows in each bar
    page.get_by_text("Wrong only").click()
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=60_000)
    expect(page.get_by_text(f"Exit layers selected in the histogram: {chosen} (")).to_have_count(1, timeout=30_000)

    def shaded_ok():
        shaded = [t for t in _figure_data(page, 0) if t["name"] == "in the table"]
        assert shaded and 0 < sum(shaded[0]["y"]) < sum(bars["y"])
        assert all(part <= whole for part, whole in zip(shaded[0]["y"], bars["y"]))

    _eventually(shaded_ok)

    table = page.locator("[data-testid=stDataFrame]").last
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + 52)  # the first data row's selection cell
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=60_000)

    def ringed_ok():
        rings = [t for t in _figure_data(page, 2) if t["name"] == "picked in the table"]
        assert rings and len(rings[0]["x"]) == 1

    _eventually(ringed_ok)
    expect(page.get_by_text(f"Exit layers selected in the histogram: {chosen} (")).to_have_count(1, timeout=30_000)
    page.screenshot(path=str(SCREENSHOT.parent / "dataset-linked-1600x1000.png"), full_page=True)
    page.get_by_role("button", name="Clear the bars").click()
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=60_000)
    expect(page.get_by_text("Exit layers selected in the histogram")).to_have_count(0, timeout=30_000)
