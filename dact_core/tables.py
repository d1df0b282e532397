"""Tables built from traces and results, never from the model: pandas DataFrames for the app's tables, the row of
numbers the Present page shows above its figure, and the data behind a figure as CSV. Like the charts, they are
plain functions, testable without Streamlit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .traces import ExampleTrace

if TYPE_CHECKING:
    import plotly.graph_objects as go


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


def targets_table(targets: dict) -> pd.DataFrame:
    """The targets block of a bench run as rows: target, detail, status (met / missed / not distinguishable)."""
    rows = []
    for name, value in targets.items():
        title = name.replace("_", " ")
        if isinstance(value, list):
            for item in value:
                # a row is met only when each of its statuses is (e.g. int8: the speed-up and the accuracy)
                statuses = [v for k, v in item.items() if k.endswith("status")]
                status = next((s for s in ("missed", "not distinguishable") if s in statuses),
                              "met" if statuses and all(v == "met" for v in statuses) else
                              (statuses[0] if statuses else ""))
                # a model without a recorded seed (e.g. an exported file) has seed None: nothing to say
                detail = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in item.items() if v is not None)
                rows.append({"target": title, "detail": detail, "status": status})
        elif isinstance(value, dict):
            status = value.get("status", value.get("met", ""))
            status = {True: "met", False: "missed"}.get(status, status)
            detail = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in value.items() if k not in ("status", "met"))
            rows.append({"target": title, "detail": detail, "status": str(status)})
        else:
            rows.append({"target": title, "detail": f"{value}", "status": ""})
    return pd.DataFrame(rows, columns=["target", "detail", "status"])


def figure_csv(fig: go.Figure) -> str:
    """The data behind a figure's traces as CSV (one row per point), for the download buttons."""
    rows = []
    for tr in fig.data:
        xs = tr.x if tr.x is not None else []
        ys = tr.y if tr.y is not None else []
        for x, y in zip(xs, ys):
            rows.append({"series": tr.name, "x": x, "y": y})
    return pd.DataFrame(rows, columns=["series", "x", "y"]).to_csv(index=False)
