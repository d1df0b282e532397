"""Exploring a trace table (written by `dact eval`, or by the app) without the model.

A DACT-BERT trace holds a_n and p_n of every layer, and the decision after layer n depends only on
them, so another bound or relaxation gives new exits and answers by arithmetic on the table: no
model call. Everything here is vectorised over the rows (a million rows take seconds). Two runs' traces on the
same examples compare the same way (`compare_runs`, `dact compare-runs`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .bench import paired_interval
from .halting import BOUNDS, exit_layers_from_trace, margins_by_layer

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
    margins = margins_by_layer(acc_t, rem_t, bound, relaxation).numpy()  # (rows, N)
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


# --- two runs of `dact eval` on the same examples -------------------------------------------------------

@dataclass
class RunComparison:
    """Two `dact eval` runs on the same labelled examples: `first` minus `second`."""

    runs: tuple[str, str]  # the two output folders
    metrics: tuple[dict, dict]  # their metrics.json
    num_examples: int
    accuracy: tuple[float, float]
    avg_layers: tuple[float, float]
    both_right: int
    only_first: int  # right in the first run only
    only_second: int
    same_answer: int  # examples where the two give the same class
    accuracy_diff: float  # first minus second, with its paired bootstrap 95% interval
    accuracy_diff_low: float
    accuracy_diff_high: float


def read_run(folder: str | Path) -> tuple[dict, pd.DataFrame]:
    """metrics.json and the labelled traces of a `dact eval --output-dir` folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder (give the --output-dir of a dact eval)")
    if not (folder / "metrics.json").exists():
        raise ValueError(f"{folder}: not an output folder of dact eval (no metrics.json)")
    files = [folder / f"traces{suffix}" for suffix in TRACE_SUFFIXES if (folder / f"traces{suffix}").exists()]
    if not files:
        raise ValueError(f"{folder}: no traces.parquet or traces.csv next to metrics.json")
    if len(files) > 1:  # a run written again in the other format leaves the first file behind
        raise ValueError(f"{folder}: holds both traces.parquet and traces.csv; remove the one older than metrics.json")
    metrics, traces = json.loads((folder / "metrics.json").read_text()), read_traces(files[0])
    if len(traces) != metrics.get("num_examples"):
        raise ValueError(f"{folder}: {files[0].name} has {len(traces)} rows, metrics.json counts "
                         f"{metrics.get('num_examples')} examples: not one run's files")
    if "correct" not in traces or traces["correct"].isna().any():
        raise ValueError(f"{folder}: the traces have no gold label for every example; run dact eval on labelled data")
    missing = [c for c in ("text", "label_name", "prediction_name") if c not in traces]
    if missing:
        raise ValueError(f"{folder}: the traces lack the column(s) {', '.join(missing)}: not written by dact eval")
    return metrics, traces.assign(correct=traces["correct"].astype(bool))


def compare_runs(first: str | Path, second: str | Path) -> RunComparison:
    """The accuracy difference of two runs on the same examples, with a paired bootstrap 95% interval, and how
    often their answers agree. The runs may name the classes differently (one model trained on integer labels, one
    with names): each run's gold names must then correspond one to one."""
    (metrics_a, a), (metrics_b, b) = read_run(first), read_run(second)
    if len(a) != len(b):
        raise ValueError(f"{first} and {second} are runs on different data: {len(a)} and {len(b)} examples")
    texts_a, texts_b = a["text"].astype(str).to_numpy(), b["text"].astype(str).to_numpy()
    if (texts_a != texts_b).any():
        row = int(np.flatnonzero(texts_a != texts_b)[0])
        raise ValueError(f"{first} and {second} are runs on different data: example {row} is {texts_a[row]!r} in "
                         f"the first, {texts_b[row]!r} in the second")
    gold_a, gold_b = a["label_name"].astype(str), b["label_name"].astype(str)
    names = dict(zip(gold_a, gold_b))  # the first run's name of each class -> the second's
    if len(set(names.values())) != len(names) or (gold_a.map(names) != gold_b).any():
        raise ValueError(f"{first} and {second} give the same texts different gold labels: runs on different data")
    right_a, right_b = a["correct"].to_numpy(), b["correct"].to_numpy()
    answers_a = a["prediction_name"].astype(str).map(lambda name: names.get(name, name)).to_numpy()
    diff, low, high = paired_interval(right_a, right_b)
    return RunComparison(
        runs=(str(first), str(second)), metrics=(metrics_a, metrics_b), num_examples=len(a),
        accuracy=(float(right_a.mean()), float(right_b.mean())),
        avg_layers=(float(a["exit_layer"].mean()), float(b["exit_layer"].mean())),
        both_right=int((right_a & right_b).sum()), only_first=int((right_a & ~right_b).sum()),
        only_second=int((~right_a & right_b).sum()),
        same_answer=int((answers_a == b["prediction_name"].astype(str).to_numpy()).sum()),
        accuracy_diff=diff, accuracy_diff_low=low, accuracy_diff_high=high)
