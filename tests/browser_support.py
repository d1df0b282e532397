"""What the real-browser tests share: `streamlit run` on 127.0.0.1 with a tiny model, Debian's Chromium driven by
Playwright, and waits for the page to settle. Test modules import the fixtures they use."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from transformers import BertTokenizerFast

    from conftest import WORDS, tiny_model

    folder = tmp_path_factory.mktemp("browser") / "tiny-dact"
    vocab = folder.parent / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tiny_model(3, num_labels=2, id2label={0: "negative", 1: "positive"},
               label2id={"negative": 0, "positive": 1}).save_pretrained(folder)
    BertTokenizerFast(vocab=str(vocab), do_lower_case=True, model_max_length=64).save_pretrained(folder)
    port = _free_port()
    env = dict(os.environ, DACT_MODEL=str(folder), HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"), "--server.headless=true",
         "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false",
         "--client.toolbarMode=viewer"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("streamlit did not come up")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield chromium
        chromium.close()


def _open(page, url: str) -> None:
    page.goto(url, timeout=90_000)
    page.wait_for_selector(IDLE, timeout=90_000)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
    page.wait_for_timeout(800)


def _inside(page, locator) -> bool:
    box = locator.bounding_box()
    view = page.viewport_size
    return box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= view["width"] + 1 \
        and box["y"] + box["height"] <= view["height"] + 1


def _figure_title(page) -> str:
    """The only figure's title, read once a rerun has replaced the previous figure (while Streamlit swaps them, the
    old and the new one are both in the page for a moment)."""
    return page.wait_for_function("() => { const t = document.querySelectorAll('.js-plotly-plot .gtitle');"
                                  " return t.length === 1 ? t[0].textContent : null; }", timeout=30_000).json_value()


def _figure_data(page, index: int) -> list[dict]:
    return page.evaluate(f"() => document.querySelectorAll('.js-plotly-plot')[{index}]._fullData"
                         ".map(t => ({name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])}))")


def _eventually(check, timeout: float = 30.0) -> None:
    """Retry an assertion until it holds: a rerun can start later than a fixed pause on a loaded machine."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)
