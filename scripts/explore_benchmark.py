"""Timings of the Data set page's work without the model, for the README: open, re-halt and filter a
generated trace table of 1,000,000 rows (6 layers, 2 classes), and run the model on 20,000 rows the way
the page analyses an upload. Prints one line per step.

    python scripts/explore_benchmark.py [--rows 1000000] [--model-rows 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dact_core.explore import accuracy_by_exit, filter_traces, read_traces, rehalt  # noqa: E402


def synthetic_traces(rows: int, layers: int = 6, seed: int = 0) -> pd.DataFrame:
    """A trace table shaped like `dact eval`'s: a_n from random y_n and h_n through the real recurrence."""
    rng = np.random.default_rng(seed)
    y = rng.dirichlet([0.6, 0.6], size=(rows, layers))  # (rows, N, 2)
    h = rng.beta(2, 2, size=(rows, layers))  # (rows, N)
    acc, remaining = np.zeros((rows, layers, 2)), np.zeros((rows, layers))
    a, p = np.zeros((rows, 2)), np.ones(rows)
    for n in range(layers):
        a = a + p[:, None] * (y[:, n] - a)
        p = p * h[:, n]
        acc[:, n], remaining[:, n] = a, p
    frame = {"text": [f"example {i}" for i in range(rows)], "label": rng.integers(0, 2, rows),
             "num_tokens": rng.integers(3, 60, rows), "exit_layer": np.full(rows, layers), "prediction": 0}
    frame["label_name"] = np.where(frame["label"] == 1, "positive", "negative")
    for n in range(layers):
        frame[f"halting_prob_{n + 1}"] = h[:, n]
        frame[f"remaining_prob_{n + 1}"] = remaining[:, n]
        for c, name in enumerate(("negative", "positive")):
            frame[f"acc_prob_{n + 1}_{name}"] = acc[:, n, c]
    return pd.DataFrame(frame)


def timed(label: str, fn):
    start = time.perf_counter()
    out = fn()
    print(f"{label:<58} {time.perf_counter() - start:7.2f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--model-rows", type=int, default=20_000)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "sst2" / "train.tsv"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "traces.parquet"
        synthetic_traces(args.rows).to_parquet(path)
        traces = timed(f"open {args.rows:,} rows (parquet)", lambda: read_traces(path))
        tight = timed("re-halt under the tight bound (no model)", lambda: rehalt(traces, "tight", 1.0))
        timed("re-halt under the paper bound, relaxation 0.5 (no model)", lambda: rehalt(traces, "paper", 0.5))
        timed("accuracy by exit layer", lambda: accuracy_by_exit(tight, 6))
        timed("filter: wrong only, exit layers 2-4, length 10-40",
              lambda: filter_traces(tight, wrong_only=True, exit_layers=(2, 4), lengths=(10, 40)))
    if args.model_rows and Path(args.data).exists():
        from dact_core.data import load_task
        from dact_core.evaluate import evaluate
        from dact_core.loading import load_model

        model, tokenizer = load_model(None)
        task = load_task(args.data, label_names=["negative", "positive"], max_rows=args.model_rows)
        timed(f"analyse {len(task):,} rows with the shipped model (as the page does)",
              lambda: evaluate(model, tokenizer, task, batch_size=32, progress=False, halting_pass=False))


if __name__ == "__main__":
    main()
