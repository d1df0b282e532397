"""Present in a real browser, as a talk uses it: one state drives the numbers and the figure (buttons, keys, Play),
the page fits a projector's 1280x720 and a browser window on a 720-px projector (1280x633) with no scrolling, even
with a 67-word text, a new text opens at layer 1, a deck steps on to its next sentence and its offline copy holds every
sentence, long text is accepted. Screenshots go to test-artifacts/."""

import re
import sys
from urllib.parse import quote

import pytest

from browser_support import (BROWSER_MARKS, IDLE, ROOT, _eventually, _figure_title, _inside, _open,  # noqa: F401
                             browser, server)

sys.path.insert(0, str(ROOT / "app"))
import presenting  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts"
pytestmark = BROWSER_MARKS
LONG_TEXT = " ".join(["the film was dull but the actors were great and the story was not very funny"] * 4
                     + ["a brilliant mess"])  # 67 words
DECK = ["the plot was dull", "a very funny film"]

# how far the page could scroll (any scrolling element), and how far it has scrolled
OVERFLOW_JS = """() => Math.max(document.scrollingElement.scrollHeight - innerHeight,
  ...[...document.querySelectorAll('*')].filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowY))
    .map(e => e.scrollHeight - e.clientHeight))"""
SCROLLED_JS = """() => scrollY + [...document.querySelectorAll('*')].reduce((sum, e) => sum + e.scrollTop, 0)"""


def _until(condition, timeout: float = 30.0) -> None:
    def check():
        assert condition()
    _eventually(check, timeout)


def _layer(page) -> str:
    return page.locator("[data-testid=stMetric]").filter(has_text="Layer").locator(
        "[data-testid=stMetricValue]").text_content()


def _title(page) -> str:
    return _figure_title(page)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def _agree(page, n_layers: int = 4) -> int:
    """The layer the numbers show, after checking the figure shows the same one."""
    layer = int(_layer(page).split(" of ")[0])
    title = _title(page)
    assert title == f"Layer {layer} of {n_layers}" or (title.startswith("Halted at layer ")
                                                       and layer >= int(title.split()[3].rstrip(":"))), (layer, title)
    return layer


def test_play_moves_the_numbers_with_the_figure(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    _open(page, f"{server}/present?text=the%20plot%20was%20dull&layer=1")
    page.get_by_role("button", name="Play").click()
    _until(lambda: _agree(page) == 4 and "layer=4" in page.url, timeout=30)  # the numbers went on too
    _until(lambda: page.get_by_role("button", name="Play").count() >= 1)  # stopped at the last layer
    page.wait_for_timeout(2500)
    assert _agree(page) == 4 and "layer=4" in page.url


@pytest.mark.parametrize("width, height, text", [(1280, 720, "the plot was dull"), (1280, 633, "the plot was dull"),
                                                 (1280, 633, LONG_TEXT), (1600, 1000, LONG_TEXT)])
def test_fits_a_projector_without_scrolling(server, browser, width, height, text):
    page = browser.new_page(viewport={"width": width, "height": height})
    _open(page, f"{server}/present?text={quote(text)}&layer=4")
    _shot(page, f"present-{width}x{height}-{len(text.split())}-words.png")
    assert page.evaluate(OVERFLOW_JS) <= 1
    for part in (".js-plotly-plot .xtick", ".js-plotly-plot .legend", "[data-testid=stCaptionContainer]"):
        assert _inside(page, page.locator(part).last), part
    words = page.locator(".present-text .words")
    line = float(words.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    assert words.bounding_box()["height"] <= 2 * line + 2  # long text: two lines
    words.click()  # the whole text is one click away
    assert words.bounding_box()["height"] > 2 * line + 2 if text == LONG_TEXT else True
    assert words.evaluate("e => e.scrollHeight <= e.clientHeight + 3")  # nothing clipped


def test_a_new_text_opens_at_layer_1_on_a_curated_example(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    _open(page, f"{server}/present")
    example = presenting.OPENING_EXAMPLES[("negative", "positive")]
    assert page.locator(".present-text .words").text_content() == example and _layer(page) == "1 of 4"
    _open(page, f"{server}/?text=a%20great%20film&layer=4")  # Inspect, at its last layer
    page.get_by_role("link", name="Present").click()
    page.wait_for_timeout(500)
    page.wait_for_selector(IDLE, timeout=60_000)
    _until(lambda: _agree(page) == 1)
    assert page.locator(".present-text .words").text_content() == "a great film"


def test_keys_step_the_layers_and_do_not_scroll(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 480})  # short enough that the page could scroll
    _open(page, f"{server}/present?text=the%20plot%20was%20dull&layer=1")
    assert page.evaluate(OVERFLOW_JS) > 0
    page.get_by_role("button", name="next ▶").click()  # the focus stays on the button: Space must not press it too
    _until(lambda: _agree(page) == 2)
    for key, expected in (("Space", 3), ("PageDown", 4), ("PageUp", 3), ("ArrowLeft", 2), ("ArrowRight", 3)):
        page.keyboard.press(key)
        _until(lambda: _agree(page) == expected and f"layer={expected}" in page.url)
        page.wait_for_timeout(600)
        assert _agree(page) == expected  # one step per key
    assert page.evaluate(SCROLLED_JS) == 0


def test_a_deck_steps_on_to_its_next_sentence_and_goes_offline_whole(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 633}, accept_downloads=True)
    _open(page, f"{server}/present?" + "&".join(f"deck={quote(s)}" for s in DECK))
    assert page.locator(".present-text .words").text_content() == DECK[0]
    assert page.get_by_text("1 of 2", exact=True).count() == 1
    _shot(page, "present-1280x633-deck.png")
    for _ in range(4):
        page.keyboard.press("PageDown")
        page.wait_for_timeout(300)
        page.wait_for_selector(IDLE, timeout=60_000)
    _until(lambda: page.locator(".present-text .words").text_content() == DECK[1] and _agree(page) == 1)
    assert page.get_by_text("2 of 2", exact=True).count() == 1
    assert page.evaluate(OVERFLOW_JS) <= 1
    url = page.url
    assert url.count("deck=") == 2 and "layer=1" in url
    again = browser.new_page(viewport={"width": 1280, "height": 633})
    _open(again, url)  # the URL reopens the same view
    assert again.locator(".present-text .words").text_content() == DECK[1] and _agree(again) == 1

    with page.expect_download() as download:
        page.get_by_role("button", name="Offline copy").click()
    copy = tmp_path / "deck.html"
    download.value.save_as(copy)
    offline = browser.new_page(viewport={"width": 1280, "height": 720})
    offline.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    offline.goto(copy.as_uri())
    offline.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    assert offline.locator(".js-plotly-plot").count() == 2
    for _ in range(4):
        offline.keyboard.press("PageDown")
    _until(lambda: offline.locator("section.slide:visible h2").text_content() == DECK[1])
    assert offline.get_by_text("Sentence 2 of 2").count() == 1
    _shot(offline, "present-offline-deck.png")


def test_long_text_is_accepted_and_says_what_the_model_reads(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    _open(page, f"{server}/present?text=the%20plot%20was%20dull")
    long_text = " ".join(["the film was dull but the actors were great"] * 120)  # 5,280 characters
    page.get_by_role("button", name="Text and setting").click()
    box = page.get_by_role("textbox", name="Text, or a deck: one sentence per line")
    box.fill(long_text)
    box.press("Control+Enter")
    page.wait_for_timeout(500)
    page.wait_for_selector(IDLE, timeout=60_000)
    _until(lambda: page.locator(".present-text .words").text_content() == long_text)
    assert page.get_by_text(re.compile(r"Long text: the model reads the first \d+ of its \d+ word pieces")).count() == 1
