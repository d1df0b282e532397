"""One real browser test: `streamlit run` on 127.0.0.1, Debian's Chromium driven by Playwright.

Enters a sentence on Inspect, waits for the plotly charts, saves a screenshot to
test-artifacts/browser-inspect.png. Skipped when /usr/bin/chromium is missing (CI installs it).
"""

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
SCREENSHOT = ROOT / "test-artifacts" / "browser-inspect.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tiny_model_dir):
    port = _free_port()
    env = dict(os.environ, DACT_MODEL=str(tiny_model_dir), HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"), "--server.headless=true",
         "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
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


def test_inspect_page_renders_charts_in_chromium(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(server, timeout=90_000)
        idle = "[data-testid=stApp][data-test-script-state=notRunning]"
        page.wait_for_selector(idle, timeout=90_000)
        box = page.locator("textarea").first
        box.fill("the plot was dull but the actors were great")
        box.press("Control+Enter")
        page.wait_for_timeout(500)
        page.wait_for_selector(idle, timeout=90_000)
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
        assert page.locator(".js-plotly-plot").count() >= 4
        assert page.get_by_text("the plot was dull but the actors were great").count() >= 1
        assert page.locator("[data-testid=stException]").count() == 0
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
