"""Time from a text change on the Inspect page to every chart rendered, in a real browser (Debian chromium).

Starts `streamlit run app/main.py` on 127.0.0.1 with the shipped model, types sentences of about 25 tokens
one after the other (after a warm-up) and prints the median and the slowest time from the key press to the
app being idle again with the new text's charts drawn, and how much of it the browser's main thread was busy
(its long tasks: scripting, layout and drawing).

    python scripts/app_render_latency.py [--sentences 12]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
# what each plotly chart on the page draws, one string per chart
CHART_DATA = ("Array.from(document.querySelectorAll('.js-plotly-plot'))"
              ".map(g => JSON.stringify((g._fullData || []).map(t => Array.from(t.y || []))))")
SENTENCES = [
    "the film is a charming and often affecting journey , though its final act drags on far too long .",
    "an utterly dull and lifeless script that wastes a talented cast on jokes that never land .",
    "a gripping , funny and deeply moving story about two brothers who barely know each other .",
    "the acting is uneven and the plot makes little sense , but the music is genuinely wonderful .",
    "it 's not a great movie , but it is a sincere one , and that counts for something here .",
    "a tedious , overlong exercise in style that forgets to give us a single character to care about .",
]


def page_script_times(sentences: int) -> list[float]:
    """The Inspect page's script run after a text change, without a browser (the server's share)."""
    from streamlit.testing.v1 import AppTest

    sys.path.insert(0, str(ROOT / "app"))
    app = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120)
    app.run()
    times = []
    for i in range(sentences + 2):  # the first two warm the caches up
        start = time.perf_counter()
        app.text_area[0].input(SENTENCES[i % len(SENTENCES)] + f" ({i})").run()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=12)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"), "--server.headless=true",
         "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false"],
        env=dict(os.environ, HF_HUB_OFFLINE="1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url, timeout=120_000)
            page.wait_for_selector(IDLE, timeout=120_000)
            # the first charts can still be drawing when the app turns idle; compare against drawn charts only
            page.wait_for_function("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                                   ".filter(g => (g._fullData || []).length > 0).length >= 4", timeout=60_000)
            # the browser's own busy time: tasks of 50 ms or more on its main thread (scripting, layout, drawing)
            page.evaluate("() => { window.longTasks = []; new PerformanceObserver(list => list.getEntries().forEach("
                          "e => window.longTasks.push([e.startTime, e.duration]))).observe({type: 'longtask'}); }")
            box = page.locator("textarea").first
            times, busy = [], []
            for i in range(args.sentences + 2):  # the first two warm the caches up
                text = SENTENCES[i % len(SENTENCES)] + f" ({i})"
                box.fill(text)
                before = page.evaluate(f"() => {CHART_DATA}")
                pressed = page.evaluate("performance.now()")
                start = time.perf_counter()
                box.press("Control+Enter")
                page.wait_for_selector("[data-testid=stApp][data-test-script-state=running]", timeout=30_000)
                page.wait_for_selector(IDLE, timeout=60_000)
                # done when every chart on the page has been redrawn with the new text's numbers
                page.wait_for_function(f"before => {{ const now = {CHART_DATA}; return now.length === before.length "
                                       "&& now.every((d, i) => d !== before[i]); }", arg=before, timeout=60_000)
                elapsed = time.perf_counter() - start
                if i >= 2:
                    times.append(elapsed)
                    busy.append(page.evaluate(f"window.longTasks.filter(t => t[0] >= {pressed})"
                                              ".reduce((total, t) => total + t[1], 0)") / 1000)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    script_times = page_script_times(args.sentences)
    print(f"Inspect, the page script alone (Streamlit AppTest, no browser): median "
          f"{1000 * statistics.median(script_times):.0f} ms, slowest {1000 * max(script_times):.0f} ms")
    print(f"Inspect, text change to every chart redrawn: median {1000 * statistics.median(times):.0f} ms, "
          f"slowest {1000 * max(times):.0f} ms over {len(times)} sentences of about 25 tokens")
    print(f"  of which the browser's main thread in tasks of 50 ms or more (scripting, layout, drawing): median "
          f"{1000 * statistics.median(busy):.0f} ms (a lower bound on its busy time)")


if __name__ == "__main__":
    main()
