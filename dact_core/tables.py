"""Tables built from traces and results, never from the model: pandas DataFrames with readable columns for the app's
tables (one input's layers, a data set's traces, benchmark runs), the row of numbers the Present page
shows above its figure, a bench's caption, and the data behind a figure as CSV. Like the charts, they are plain
functions, testable without Streamlit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .traces import ExampleTrace

if TYPE_CHECKING:
    import plotly.graph_objects as go


# ---- one input (take an ExampleTrace) ----

def layer_table(trace: ExampleTrace) -> pd.DataFrame:
    """One row per layer: y_n and a_n of the predicted class, h_n, p_n, the margins, the weight in a_N."""
    c = trace.prediction
    name = trace.label_names[c]
    return pd.DataFrame({
        "layer": np.arange(1, trace.num_layers + 1),
        f"y_n[{name}]": trace.layer_probs[:, c].round(4),
        f"a_n[{name}]": trace.acc_probs[:, c].round(4),
        "h_n": trace.halting_probs.round(4),
        "p_n": trace.remaining_probs.round(4),
        "margin (tight)": trace.margin_tight.round(4),
        "margin (paper)": trace.margin_paper.round(4),
        "weight in a_N": trace.layer_weights.round(4),
        "ran": np.arange(1, trace.num_layers + 1) <= trace.exit_layer,
    })


def present_numbers(trace: ExampleTrace, layer: int) -> dict[str, tuple[str, str]]:
    """What the Present page writes above the figure at `layer`: name -> (value, note). The app and the offline
    copy both show these, so the numbers and the figure always describe the same layer."""
    shown = min(layer, trace.exit_layer)  # past the exit nothing changes: the answer is frozen
    answer = trace.acc_probs[shown - 1]
    margin = float(trace.margin[shown - 1])
    return {
        "Layer": (f"{layer} of {trace.num_layers}", ""),
        "Answer so far": (f"{trace.label_names[int(answer.argmax())]} {answer.max():.2f}", ""),
        "p_n": (f"{trace.remaining_probs[shown - 1]:.2f}", ""),
        "Bound margin": (f"{margin:+.2f}", "halts" if margin > 0 or shown == trace.num_layers else "keeps going"),
    }


# ---- a data set's traces (the table written by dact_core.evaluate) ----

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


# ---- benchmark results (a `dact bench` run) ----

def bench_caption(bench: dict) -> str:
    """A bench's title and how it was timed (unless the title names the timer's blocks and statistic). The settings
    say how: a bench that names no timer took a median of per-example times, one that names no timer block ran
    every point on each input in turn, and one that names no statistic summed each input's rounds."""
    settings = bench.get("settings", {})
    if not settings.get("timer"):
        timer = "timer not recorded: a median of per-example times, paths timed one after the other"
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
    """A bench run as a readable table: accuracy in %, intervals in points. Number columns stay numbers (a timing-only
    reference's accuracy is a blank cell), so the browser gets them as numbers; text columns have no empty cells."""
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
    return out.fillna({column: "" for column in out.columns if out[column].dtype == object})


# ---- the data behind a figure ----

def figure_csv(fig: go.Figure) -> str:
    """The data behind a figure's traces as CSV (one row per point), for the download buttons."""
    rows = []
    for tr in fig.data:
        xs = tr.x if tr.x is not None else []
        ys = tr.y if tr.y is not None else []
        for x, y in zip(xs, ys):
            rows.append({"series": tr.name, "x": x, "y": y})
    return pd.DataFrame(rows, columns=["series", "x", "y"]).to_csv(index=False)
