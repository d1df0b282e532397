"""The widgets several pages draw the same way (the inference-setting controls, the chart-data download) and the
formatting of what the pages show as tables: benchmark results, sweeps and data-set traces with readable columns."""

from __future__ import annotations

import pandas as pd
import streamlit as st


def setting_controls(key: str) -> tuple[str, float]:
    """The inference setting, with a visible note whenever the guarantee no longer holds.

    A run that stops before the controls (no data yet, a token model) does not draw them; persist_state keeps
    their values through such runs, and the defaults are given to the widgets themselves: a value written into
    session state for an undrawn slider comes back drawn at the slider's own default (0), which the next
    unrelated click would then apply."""
    cols = st.columns([1, 2])
    # the default only where session state holds no value: given both, Streamlit logs a warning on every run
    default = {} if f"{key}_relax" in st.session_state else {"value": 1.0}
    bound = cols[0].radio("Halting bound", ["tight", "paper"], horizontal=True, key=f"{key}_bound",
                          persist_state="session",
                          help="Both guarantee that the halted prediction equals the full-depth prediction; "
                          "the tight bound halts at the same layer or earlier.")
    relaxation = cols[1].slider("Relaxation factor (1 = exact)", 0.0, 1.0, step=0.05, **default,
                                key=f"{key}_relax", persist_state="session",
                                help="Scales the number of layers left in the bound: lower halts earlier.")
    if relaxation < 1.0:
        st.warning(f"Relaxation {relaxation:g} < 1: halting is faster but the guarantee no longer holds; "
                   "the halted answer may differ from the full-depth answer.", icon=":material/warning:")
    return bound, relaxation


def download_figure_data(fig, name: str, key: str) -> None:
    from dact_core.tables import figure_csv

    # built only when clicked: on every rerun it would be work and a stored file for each chart
    st.download_button("Chart data (CSV)", lambda: figure_csv(fig), file_name=f"{name}.csv", mime="text/csv",
                       key=key)


# ---- results and traces as readable tables ----

def bench_caption(bench: dict) -> str:
    """A bench's title and how it was timed (unless the title names the timer's blocks and statistic). The settings
    say how: a bench that names no timer took a median of per-example times, one that names no timer block ran
    every point on each input in turn, and one that names no statistic summed each input's rounds."""
    settings = bench.get("settings", {})
    if not settings.get("timer"):
        timer = "earlier timer: a median of per-example times, paths timed one after the other"
    else:
        block = settings.get("timer_block", 1)
        timer = f"timer: {settings['timer']}, " + (f"blocks of {block} inputs" if block > 1 else "input by input")
        if settings.get("timer_statistic"):
            timer += f", {settings['timer_statistic']}"
    title = bench.get("title", "")
    statistic = settings.get("timer_statistic")
    named = "block" in title and (not statistic or statistic in title)  # the title already says how it was timed
    return title if named else f"{title} ({timer})"


def bench_table(points: list[dict]) -> pd.DataFrame:
    """A bench run as a readable table: accuracy in %, intervals in points, no empty cells."""
    table = pd.DataFrame(points)
    out = pd.DataFrame({"method": table.method, "setting": table.setting,
                        "accuracy (%)": (100 * table.accuracy).round(2)})
    seeds = table["seeds"] if "seeds" in table else pd.Series(1, index=table.index)
    if "seeds" in table and (seeds > 1).any():
        spread = table.get("accuracy_std", 0.0 * seeds)
        out["spread (points)"] = [f"± {100 * sd:.2f}" if n > 1 else "" for sd, n in zip(spread, seeds)]
    if "accuracy_diff" in table:
        # several seeds: the mean of their differences, each against its own seed's reference (the mean of their
        # intervals' ends would not be an interval); a reference's own difference is against the bench's first
        # reference, another seed's, so its mean is left out
        out["vs reference (points, 95% CI)"] = [
            "" if pd.isna(d) or (n > 1 and method == "reference") else
            f"{100 * d:+.2f} (mean of {n:.0f} seeds)" if n > 1 else f"{100 * d:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"
            for d, lo, hi, n, method in zip(table.accuracy_diff, table.accuracy_diff_low, table.accuracy_diff_high,
                                            seeds, table.method)]
    # "speedup batch1 vs torch": against the reference as eager PyTorch float32 (benches that timed it)
    for column, digits in (("avg_layers", 2), ("flops_ratio", 3), ("speedup_batch1", 2), ("efficiency_batch1", 2),
                           ("speedup_batch32", 2), ("speedup_batch1_vs_torch", 2), ("latency_ms_batch1", 2)):
        if column in table:
            out[column.replace("_", " ")] = table[column].round(digits)
    if "seeds" in table:
        out["seeds"] = table.seeds
    return out.astype(object).fillna("")


def sweep_table(res: dict):
    """A sweep file's reference and DACT points as one table (accuracy in %); numbers stay numbers (a column of
    numbers and blanks cannot be sent to the browser as it is), and a value a row lacks shows as a blank cell."""
    rows = []
    if res.get("reference"):
        rows.append({"model": "full-depth reference",
                     **{k: v for k, v in res["reference"].items() if not isinstance(v, dict)}})
    for point in res.get("dact", []):
        rows.append({"model": f"DACT tau={point['ponder_penalty']:g}"
                     + (" (the sweep's choice)" if point.get("model") == res.get("default_model") else ""),
                     **{k: v for k, v in point.items() if not isinstance(v, dict)}})
    if not rows:
        return None
    table = pd.DataFrame(rows)
    for column in [c for c in table.columns if "accuracy" in c]:
        table[column] = (100 * table[column]).round(2)
    table = table.round(3).rename(columns=lambda c: c.replace("accuracy", "accuracy (%)"))
    return table.style.format(lambda v: f"{v:g}" if isinstance(v, float) else v, na_rep="")


EXPLORER_COLUMNS = {"text": "Text", "label_name": "Gold", "prediction_name": "Prediction", "confidence": "Confidence",
                    "margin": "Margin", "exit_layer": "Exit layer", "num_tokens": "Tokens",
                    "agrees_with_full_depth": "Agrees with full depth", "correct": "Correct",
                    "truncated": "Cut"}


def explorer_table(traces: pd.DataFrame) -> pd.DataFrame:
    """The columns a reader wants, with readable names."""
    present = [c for c in EXPLORER_COLUMNS if c in traces]
    table = traces[present].rename(columns=EXPLORER_COLUMNS)
    for column in ("Confidence", "Margin"):
        if column in table:
            table[column] = table[column].round(3)
    return table
