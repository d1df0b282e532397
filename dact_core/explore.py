"""Exploring a trace table (written by `dact eval`, or by the app) without the model.

A DACT-BERT trace holds a_n and p_n of every layer, and the decision after layer n depends only on
them, so another bound or relaxation gives new exits and answers by arithmetic on the table: no
model call. Everything here is vectorised over the rows (a million rows take seconds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .halting import BOUNDS, exit_layers_from_trace, halting_margins

TRACE_SUFFIXES = (".parquet", ".csv")


def label_names_of(traces: pd.DataFrame) -> list[str]:
    """The class names of a DACT trace table, read off its acc_prob_1_<name> columns (in order)."""
    return [c.removeprefix("acc_prob_1_") for c in traces.columns if c.startswith("acc_prob_1_")]


def num_layers_of(traces: pd.DataFrame) -> int:
    return sum(1 for c in traces.columns if c.startswith("remaining_prob_"))


def has_layer_trace(traces: pd.DataFrame) -> bool:
    return num_layers_of(traces) > 0 and bool(label_names_of(traces))


def layer_arrays(traces: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """a_n (rows, N, C) and p_n (rows, N) of a DACT trace table."""
    names, n = label_names_of(traces), num_layers_of(traces)
    acc = np.stack([traces[[f"acc_prob_{k}_{c}" for c in names]].to_numpy(np.float64) for k in range(1, n + 1)], 1)
    remaining = traces[[f"remaining_prob_{k}" for k in range(1, n + 1)]].to_numpy(np.float64, copy=True)
    return acc, remaining


def rehalt(traces: pd.DataFrame, bound: str, relaxation: float) -> pd.DataFrame:
    """The trace table as halting inference under (bound, relaxation) would have written it: exit layer,
    prediction, confidence, margin at the exit, agreement with the full depth and correctness."""
    if bound not in BOUNDS or not 0.0 <= relaxation <= 1.0:
        raise ValueError(f"bound must be one of {BOUNDS} and relaxation in [0, 1], got {bound!r}, {relaxation}")
    acc, remaining = layer_arrays(traces)
    names = label_names_of(traces)
    acc_t, rem_t = torch.from_numpy(acc), torch.from_numpy(remaining)
    exit_layer = exit_layers_from_trace(acc_t, rem_t, bound, relaxation).numpy()  # (rows,)
    rows = np.arange(len(traces))
    at_exit = acc[rows, exit_layer - 1]  # (rows, C)
    margins = halting_margins(acc_t, rem_t, bound, relaxation).numpy()  # (rows, N)
    out = traces.copy()
    out["exit_layer"] = exit_layer
    out["prediction"] = at_exit.argmax(axis=1)
    out["prediction_name"] = np.asarray(names, dtype=object)[out["prediction"].to_numpy()]
    out["confidence"] = at_exit.max(axis=1)
    out["margin"] = margins[rows, exit_layer - 1]
    full = acc[:, -1].argmax(axis=1)
    out["full_depth_prediction"] = full
    out["agrees_with_full_depth"] = out["prediction"].to_numpy() == full
    if "label" in out:
        out["correct"] = out["prediction"].to_numpy() == out["label"].to_numpy()
    return out


def accuracy_by_exit(traces: pd.DataFrame, num_layers: int) -> pd.DataFrame:
    """Per exit layer k: examples, accuracy there, and the selective-prediction view: the share of examples
    answered by layer k and the accuracy on them."""
    counts = traces.groupby("exit_layer").size().reindex(range(1, num_layers + 1), fill_value=0)
    frame = pd.DataFrame({"exit_layer": np.arange(1, num_layers + 1), "examples": counts.to_numpy()})
    frame["answered_share"] = frame.examples.cumsum() / max(1, len(traces))
    if "correct" in traces:
        correct = traces.groupby("exit_layer")["correct"].sum().reindex(range(1, num_layers + 1), fill_value=0)
        frame["accuracy"] = np.where(frame.examples > 0, correct.to_numpy() / frame.examples.clip(lower=1), np.nan)
        frame["accuracy_answered"] = correct.cumsum().to_numpy() / frame.examples.cumsum().clip(lower=1).to_numpy()
    return frame


def filter_traces(traces: pd.DataFrame, wrong_only: bool = False, disagreements_only: bool = False,
                  classes: list[str] | None = None, exit_layers: tuple[int, int] | None = None,
                  lengths: tuple[int, int] | None = None) -> pd.DataFrame:
    """Rows matching every filter given (class: the gold label where known, else the prediction)."""
    keep = np.ones(len(traces), dtype=bool)
    if wrong_only and "correct" in traces:
        keep &= ~traces["correct"].to_numpy()
    if disagreements_only and "agrees_with_full_depth" in traces:
        keep &= ~traces["agrees_with_full_depth"].to_numpy()
    if classes:
        column = "label_name" if "label_name" in traces else "prediction_name"
        keep &= traces[column].isin(classes).to_numpy()
    if exit_layers is not None:
        keep &= traces["exit_layer"].between(*exit_layers).to_numpy()
    if lengths is not None:
        keep &= traces["num_tokens"].between(*lengths).to_numpy()
    return traces[keep]


def read_traces(path: str | Path) -> pd.DataFrame:
    """A traces file of `dact eval` (parquet or csv), or a folder of them (shards, read in name order)."""
    path = Path(path)
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix in TRACE_SUFFIXES and p.name.startswith("traces")),
                       key=lambda p: (len(p.stem), p.stem))  # shard2 before shard10
        if not files:
            raise ValueError(f"{path}: no traces*.parquet or traces*.csv files")
        return pd.concat([read_traces(f) for f in files], ignore_index=True)
    if path.suffix not in TRACE_SUFFIXES:
        raise ValueError(f"{path}: a traces file is .parquet or .csv")
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    missing = {"exit_layer", "prediction"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path.name}: not a traces file of `dact eval` (no {', '.join(sorted(missing))} column)")
    return frame
