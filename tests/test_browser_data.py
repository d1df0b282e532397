"""Real-browser tests of the Data set and Inspect pages: settings that survive runs which do not draw their
widgets, uploads without a header row, string labels, long pasted text. Screenshots go to test-artifacts/."""

import pytest
from playwright.sync_api import expect

from browser_support import BROWSER_MARKS, IDLE, ROOT, browser, server  # noqa: F401

ARTIFACTS = ROOT / "test-artifacts"
pytestmark = BROWSER_MARKS


def _settle(page) -> None:
    page.wait_for_timeout(400)
    page.wait_for_selector(IDLE, timeout=90_000)


def _slider_value(page, label: str) -> str:
    return page.locator("[data-testid=stSlider]").filter(has_text=label).locator(
        "[data-testid=stSliderThumbValue]").inner_text()


def _metric(page, label: str) -> str:
    return page.locator("[data-testid=stMetric]").filter(has_text=label).locator(
        "[data-testid=stMetricValue]").inner_text()


def _upload(page, path) -> None:
    page.locator("[data-testid=stFileUploader] input[type=file]").set_input_files(str(path))
    _settle(page)


def test_relaxation_survives_an_upload_and_a_filter(server, browser, tmp_path):
    rows = ["the film was great", "a dull mess", "not bad at all", "brilliant and charming"] * 30
    csv = tmp_path / "reviews.csv"
    csv.write_text("sentence,label,source\n" + "".join(f"{t},{i % 2},web\n" for i, t in enumerate(rows)))
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/dataset", timeout=90_000)
    _settle(page)
    page.get_by_text("Upload a CSV/TSV file").click()
    _settle(page)
    _upload(page, csv)
    page.get_by_role("button", name="Analyse with this mapping").click()
    _settle(page)
    assert _slider_value(page, "Relaxation") == "1.00"
    before = _metric(page, "Average layers")
    page.get_by_text("Wrong only").click()
    _settle(page)
    assert _slider_value(page, "Relaxation") == "1.00"
    assert _metric(page, "Average layers") == before
    assert page.get_by_text("guarantee no longer holds").count() == 0
    page.get_by_text("paper", exact=True).click()
    _settle(page)
    assert _slider_value(page, "Relaxation") == "1.00"
    # Demo -> Upload (a run that does not draw the controls) -> Demo keeps them too
    page.get_by_text("Demo data").click()
    _settle(page)
    assert _slider_value(page, "Relaxation") == "1.00"
    page.get_by_text("Upload a CSV/TSV file").click()
    _settle(page)
    page.get_by_text("Demo data").click()
    _settle(page)
    page.get_by_text("Wrong only").click()
    _settle(page)
    assert _slider_value(page, "Relaxation") == "1.00"
    assert page.get_by_text("guarantee no longer holds").count() == 0
    expect(page.get_by_role("radio", name="paper")).to_be_checked()


def test_relaxation_survives_a_token_model_on_inspect(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(server, timeout=90_000)
    _settle(page)
    assert _slider_value(page, "Relaxation") == "1.00"

    def pick_model(prefix: str) -> None:
        page.locator("[data-testid=stSelectbox]").filter(has_text="Model").first.click()
        page.get_by_role("option").filter(has_text=prefix).first.click()
        _settle(page)

    pick_model("AdapLeR")
    pick_model("Token gates")
    pick_model("DACT_MODEL")
    assert _slider_value(page, "Relaxation") == "1.00"
    box = page.locator("textarea").first
    box.fill("this movie is not bad at all.")
    box.press("Control+Enter")
    _settle(page)
    assert _slider_value(page, "Relaxation") == "1.00"
    assert page.get_by_text("guarantee no longer holds").count() == 0
    expect(page.get_by_text("guaranteed", exact=True)).to_have_count(1)


def _open_upload(browser, server, path):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/dataset", timeout=90_000)
    _settle(page)
    page.get_by_text("Upload a CSV/TSV file").click()
    _settle(page)
    _upload(page, path)
    return page


def test_a_file_without_a_header_keeps_its_first_row_and_finds_the_labels(server, browser, tmp_path):
    lines = ["Wow... Loved this place.\t1", "Crust is not good.\t0", "Not tasty and the texture was just nasty.\t0",
             "the film was great\t1", "a dull mess\t0"] * 3
    tsv = tmp_path / "reviews.tsv"
    tsv.write_text("\n".join(lines) + "\n")
    page = _open_upload(browser, server, tsv)
    expect(page.get_by_text("15 rows read, the first row as data", exact=False)).to_have_count(1)
    expect(page.get_by_role("checkbox", name="First row is data")).to_be_checked()
    page.get_by_role("button", name="Analyse with this mapping").click()
    _settle(page)
    assert _metric(page, "Examples") == "15"
    assert _metric(page, "Accuracy").endswith("%")
    page.screenshot(path=str(ARTIFACTS / "dataset-no-header-1280x720.png"), full_page=True)


def test_string_labels_map_by_name_and_a_shared_class_is_flagged(server, browser, tmp_path):
    rows = [("the film was great", "pos"), ("a dull mess", "neg"), ("brilliant", "Positive"), ("boring", "NEG")] * 5
    csv = tmp_path / "strings.csv"
    csv.write_text("text,sentiment\n" + "".join(f"{t},{label}\n" for t, label in rows))
    page = _open_upload(browser, server, csv)
    for value, name in (("pos", "positive"), ("neg", "negative"), ("Positive", "positive"), ("NEG", "negative")):
        expect(page.get_by_role("combobox", name=value, exact=True)).to_have_value(name)
    expect(page.get_by_text("Several file labels map to one class")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "dataset-label-mapping-1280x720.png"), full_page=True)
    page.get_by_role("button", name="Analyse with this mapping").click()
    _settle(page)
    assert _metric(page, "Examples") == "20"


def test_inspect_accepts_a_pasted_text_longer_than_5000_characters(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(server, timeout=90_000)
    _settle(page)
    words = ["great", "film"] * 600
    text = " ".join(words)  # 7,199 characters
    box = page.locator("textarea").first
    box.fill(text)
    box.press("Control+Enter")
    _settle(page)
    assert len(box.input_value()) == len(text)
    expect(page.get_by_text(f"The text has {len(words) + 2} tokens; only the first")).to_have_count(1)


@pytest.mark.parametrize("width, height", [(1280, 720), (1280, 633), (1600, 1000)])
def test_data_set_and_inspect_pages_at_common_sizes(server, browser, width, height):
    """Screenshots for a person to look at, part by part (Streamlit scrolls inside the page, not the window)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    for path, name in (("dataset", "dataset"), ("?layer=1", "inspect")):
        page.goto(f"{server}/{path}", timeout=90_000)
        _settle(page)
        page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].every(c => "
                               "c.querySelector('.main-svg'))", timeout=30_000)
        assert page.locator("[data-testid=stException]").count() == 0
        charts = page.locator("[data-testid=stPlotlyChart]")
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}x{height}-top.png"))
        for i in range(0, charts.count(), 2):
            charts.nth(i).evaluate("e => e.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}x{height}-charts{i // 2 + 1}.png"))
        if name == "dataset":
            page.get_by_text("Wrong only").evaluate("e => e.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}x{height}-table.png"))
