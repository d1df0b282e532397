"""Two models on the same examples: each one's accuracy and layers, and the accuracy difference with its paired
bootstrap 95% interval (the bench's `paired_interval`), from the traces `dact eval` wrote for each.

    dact eval --model A --data ../shared/data/sst2/dev.tsv --output-dir runs/a-dev
    dact eval --model B --data ../shared/data/sst2/dev.tsv --output-dir runs/b-dev
    python scripts/paired_eval.py runs/b-dev/traces.parquet runs/a-dev/traces.parquet    # B - A
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dact_core.bench import paired_interval  # noqa: E402


def read_traces(path: str) -> pd.DataFrame:
    frame = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    missing = {"text", "label", "correct", "exit_layer"} - set(frame.columns)
    if missing:
        raise SystemExit(f"error: {path}: not the traces of a labelled `dact eval` (no {', '.join(sorted(missing))})")
    if frame["correct"].isna().any():
        raise SystemExit(f"error: {path}: some examples have no label (empty 'correct' values)")
    return frame.assign(correct=frame["correct"].astype(bool))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="traces of the model whose accuracy comes first in the difference")
    parser.add_argument("second", help="traces of the model it is compared with, on the same examples")
    args = parser.parse_args()
    a, b = read_traces(args.first), read_traces(args.second)
    if len(a) != len(b) or not (a["text"].astype(str).values == b["text"].astype(str).values).all() \
            or not (a["label"].values == b["label"].values).all():
        raise SystemExit("error: the two traces are not of the same examples in the same order")
    diff, low, high = paired_interval(a["correct"].to_numpy(bool), b["correct"].to_numpy(bool))
    for name, frame in ((args.first, a), (args.second, b)):
        print(f"{name}: accuracy {100 * frame['correct'].mean():.2f}, {frame['exit_layer'].mean():.2f} layers")
    both = int((a["correct"] & b["correct"]).sum())
    only_first, only_second = int((a["correct"] & ~b["correct"]).sum()), int((~a["correct"] & b["correct"]).sum())
    print(f"{len(a)} examples: both right {both}, only the first {only_first}, only the second {only_second}")
    print(f"first - second: {100 * diff:+.2f} points [{100 * low:+.2f}, {100 * high:+.2f}] (paired bootstrap 95%)")


if __name__ == "__main__":
    main()
