"""Time from a text change on the Inspect page to every chart rendered, in a real browser (Debian chromium).

Starts `streamlit run app/main.py` on 127.0.0.1 with the shipped model, types sentences of about 25 tokens
one after the other (after a warm-up) and prints the median and the slowest time from the key press to the
app being idle again with the new text's charts drawn, and how much of it the browser's main thread was busy
(its long tasks: scripting, layout and drawing). `--page present` times the Present page instead (its text
box); `--page floor` times a bare Streamlit page holding only a text box and one line of output, driven the
same way: what any Streamlit rerun costs on this machine, the floor under the app's figures. With --trace N it then changes the text N more times under
Chromium's tracing and prints where the browser's main thread spent those changes (exclusive time by kind,
as the DevTools performance panel sorts it); traced changes are slower and not among the timed ones.

    python scripts/app_render_latency.py [--page inspect|present|floor] [--sentences 12] [--trace 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
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


# trace event names by kind of work, as the DevTools performance panel groups them
KINDS = {
    "scripting": ("FunctionCall", "EvaluateScript", "v8.compile", "v8.compileModule", "v8.run", "V8.Execute",
                  "TimerFire", "EventDispatch", "FireAnimationFrame", "RunMicrotasks", "MinorGC", "MajorGC",
                  "V8.GC_SCAVENGER", "V8.GC_MARK_COMPACTOR", "XHRReadyStateChange", "XHRLoad",
                  "v8.callFunction", "GCEvent"),
    "style and layout": ("UpdateLayoutTree", "Layout", "RecalculateStyles", "UpdateLayerTree", "HitTest",
                         "ScheduleStyleRecalculation", "InvalidateLayout", "LayoutShift", "IntersectionObserverController::computeIntersections"),
    "paint and composite": ("Paint", "PaintImage", "PrePaint", "Layerize", "CompositeLayers", "Commit",
                            "UpdateLayer", "RasterTask", "Decode Image", "PaintSetup"),
    "parse": ("ParseHTML", "ParseAuthorStyleSheet"),
}
KIND_OF = {name: kind for kind, names in KINDS.items() for name in names}


def main_thread_breakdown(trace: dict, windows: list[tuple[float, float]]) -> dict[str, float]:
    """Exclusive time (ms) of the renderer main thread's events inside the windows (trace clock, microseconds),
    by kind; 'other' is the rest of the thread's tasks."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    mains = {(e["pid"], e["tid"]) for e in events if e.get("name") == "thread_name"
             and e.get("args", {}).get("name") == "CrRendererMain"}
    spans = [e for e in events if e.get("ph") == "X" and (e["pid"], e["tid"]) in mains and "dur" in e
             and any(lo <= e["ts"] <= hi for lo, hi in windows)]
    totals: dict[str, float] = {}
    for thread in {(e["pid"], e["tid"]) for e in spans}:
        stack: list[list] = []  # [end, event, time of its direct children]

        def close(upto: float) -> None:
            while stack and stack[-1][0] <= upto:
                end, event, children = stack.pop()
                kind = KIND_OF.get(event["name"], "other")
                totals[kind] = totals.get(kind, 0.0) + (event["dur"] - children) / 1000
                if stack:
                    stack[-1][2] += event["dur"]

        for event in sorted((e for e in spans if (e["pid"], e["tid"]) == thread), key=lambda e: (e["ts"], -e["dur"])):
            close(event["ts"])
            stack.append([event["ts"] + event["dur"], event, 0.0])
        close(float("inf"))
    return totals


def script_time_by_file(trace: dict, windows: list[tuple[float, float]]) -> dict[str, float]:
    """JavaScript time (ms) inside the windows by the file of the running function, from V8's sampling profiler
    in the trace (its samples' time deltas attributed to each sample's innermost frame)."""
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    urls: dict[tuple, str] = {}  # (pid, profile id, node id) -> file name
    totals: dict[str, float] = {}
    clock: dict[tuple, float] = {}
    for e in sorted((e for e in events if e.get("name") in ("Profile", "ProfileChunk")), key=lambda e: e.get("ts", 0)):
        key = (e["pid"], e.get("id"))
        data = e.get("args", {}).get("data", {})
        if e["name"] == "Profile":
            clock[key] = data.get("startTime", e["ts"])
            continue
        profile = data.get("cpuProfile", {})
        for node in profile.get("nodes", []):
            url = node.get("callFrame", {}).get("url", "") or node.get("callFrame", {}).get("functionName", "")
            urls[key + (node["id"],)] = url.rsplit("/", 1)[-1] or "(program)"
        t = clock.get(key, e["ts"])
        for node_id, delta in zip(profile.get("samples", []), data.get("timeDeltas", [])):
            t += delta
            if any(lo <= t <= hi for lo, hi in windows):
                name = urls.get(key + (node_id,), "?")
                if name not in ("(program)", "(idle)", "(root)"):
                    totals[name] = totals.get(name, 0.0) + delta / 1000
        clock[key] = t
    return totals


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


# Every change of the app's script state, in the browser's clock: a MutationObserver sees each one, however
# short the run, where Playwright's selector waits poll with growing pauses (up to half a second) and would add
# their pause to the time measured.
WATCH_STATE = ("() => { window.stateLog = []; const app = document.querySelector('[data-testid=stApp]'); "
               "new MutationObserver(records => records.forEach(r => window.stateLog.push([performance.now(), "
               "r.oldValue]))).observe(app, {attributes: true, attributeOldValue: true, "
               "attributeFilter: ['data-test-script-state']}); }")
# done: a script run that ended after the key press, and every chart redrawn with the new text's numbers; polled
# at every animation frame. The floor page's runs are too short for the app to show "running" at all: there,
# done is its new output on screen.
CHANGED = ("([pressed, before, marker]) => { if (marker) return document.body.innerText.includes(marker) ? "
           "performance.now() - pressed : false; const ended = window.stateLog.find(e => e[0] >= pressed && "
           "e[1] === 'running'); if (!ended) return false; const now = " + CHART_DATA + "; "
           "return now.length === before.length && now.every((d, i) => d !== before[i]) ? ended[0] - pressed : "
           "false; }")


def wait_for_change(page, key: str, marker: str | None) -> float:
    """Press `key` in the focused text box and wait (every animation frame) until the app has rerun and drawn
    the new text; returns the milliseconds from the key press to the end of the script run, in the browser."""
    before = page.evaluate(f"() => {CHART_DATA}")
    pressed = page.evaluate("performance.now()")
    page.keyboard.press(key)
    handle = page.wait_for_function(CHANGED, arg=[pressed, before, marker], polling="raf", timeout=60_000)
    return float(handle.json_value())


FLOOR_APP = """import streamlit as st

text = st.text_area("Text")
st.write(f"{len(text.split())} words, the last: {text.split()[-1] if text.split() else ''}")
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--page", choices=["inspect", "present", "floor"], default="inspect")
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--trace", type=int, default=0, help="then trace this many more text changes")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app_file = ROOT / "app" / "main.py"
    if args.page == "floor":
        floor_dir = tempfile.TemporaryDirectory()
        app_file = Path(floor_dir.name) / "floor.py"
        app_file.write_text(FLOOR_APP)
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app_file), "--server.headless=true",
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
            page.goto(url + ("/present" if args.page == "present" else ""), timeout=120_000)
            page.wait_for_selector(IDLE, timeout=120_000)
            # the first charts can still be drawing when the app turns idle; compare against drawn charts only
            n_charts = {"inspect": 4, "present": 1, "floor": 0}[args.page]
            page.wait_for_function("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                                   f".filter(g => (g._fullData || []).length > 0).length >= {n_charts}",
                                   timeout=60_000)
            if args.page == "present":  # its text box sits in a closed expander
                page.get_by_text("Text and setting").click()
            # the browser's own busy time: tasks of 50 ms or more on its main thread (scripting, layout, drawing)
            page.evaluate("() => { window.longTasks = []; new PerformanceObserver(list => list.getEntries().forEach("
                          "e => window.longTasks.push([e.startTime, e.duration]))).observe({type: 'longtask'}); }")
            page.evaluate(WATCH_STATE)
            box = page.locator("input[type=text]" if args.page == "present" else "textarea").first
            key = "Enter" if args.page == "present" else "Control+Enter"
            times, busy, idle_times = [], [], []
            for i in range(args.sentences + 2):  # the first two warm the caches up
                box.fill(SENTENCES[i % len(SENTENCES)] + f" ({i})")
                pressed = page.evaluate("performance.now()")
                start = time.perf_counter()
                until_idle = wait_for_change(page, key, f"the last: ({i})" if args.page == "floor" else None)
                elapsed = time.perf_counter() - start
                if i >= 2:
                    times.append(elapsed)
                    idle_times.append(until_idle / 1000)
                    busy.append(page.evaluate(f"window.longTasks.filter(t => t[0] >= {pressed})"
                                              ".reduce((total, t) => total + t[1], 0)") / 1000)
            breakdown = None
            if args.trace:
                browser.start_tracing(page=page, categories=["devtools.timeline", "v8.execute", "blink.user_timing",
                                                             "disabled-by-default-devtools.timeline",
                                                             "disabled-by-default-v8.cpu_profiler"])
                for i in range(args.trace):
                    box.fill(SENTENCES[i % len(SENTENCES)] + f" (traced {i})")
                    page.evaluate(f"performance.mark('change-start-{i}')")  # marks the window in the trace
                    wait_for_change(page, key, f"the last: {i})" if args.page == "floor" else None)
                    page.evaluate(f"performance.mark('change-end-{i}')")
                trace = json.loads(browser.stop_tracing())
                marks = {e["name"]: e["ts"] for e in trace["traceEvents"] if e.get("name", "").startswith("change-")}
                windows = [(marks[f"change-start-{i}"], marks[f"change-end-{i}"]) for i in range(args.trace)]
                breakdown = main_thread_breakdown(trace, windows)
                by_file = script_time_by_file(trace, windows)
                traced_ms = sum(hi - lo for lo, hi in windows) / 1000 / args.trace
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    page_name = {"inspect": "Inspect", "present": "Present",
                 "floor": "A bare Streamlit page (text box, one line)"}[args.page]
    if args.page == "inspect":
        script_times = page_script_times(args.sentences)
        print(f"Inspect, the page script alone (Streamlit AppTest, no browser): median "
              f"{1000 * statistics.median(script_times):.0f} ms, slowest {1000 * max(script_times):.0f} ms")
    print(f"{page_name}, text change to every chart redrawn: median {1000 * statistics.median(times):.0f} ms, "
          f"slowest {1000 * max(times):.0f} ms over {len(times)} sentences of about 25 tokens")
    print(f"  of which until the script run ended (the browser saw the app idle): median {1000 * statistics.median(idle_times):.0f} ms")
    print(f"  of which the browser's main thread in tasks of 50 ms or more (scripting, layout, drawing): median "
          f"{1000 * statistics.median(busy):.0f} ms (a lower bound on its busy time)")
    if breakdown:
        print(f"Under tracing ({args.trace} more changes, {traced_ms:.0f} ms each on average), the browser's main "
              "thread per change, exclusive time by kind:")
        for kind, total in sorted(breakdown.items(), key=lambda kv: -kv[1]):
            print(f"  {kind:20s} {total / args.trace:7.0f} ms")
        print("JavaScript per change by file (V8's sampling profiler; the files that take 10 ms or more):")
        for name, total in sorted(by_file.items(), key=lambda kv: -kv[1]):
            if total / args.trace >= 10:
                print(f"  {name[:60]:60s} {total / args.trace:7.0f} ms")


if __name__ == "__main__":
    main()
