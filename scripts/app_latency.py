"""The app's speed on this machine: one sentence (no attributions) and a whole data set.

    python scripts/app_latency.py [--model PATH] [--data ../shared/data/sst2/dev.tsv]

Times what the Inspect and Data set pages call (`DactInspector.trace`, `evaluate`), after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from dact_core.loading import load_model  # noqa: E402
from dact_core.data import load_task  # noqa: E402
from dact_core.evaluate import evaluate  # noqa: E402
from dact_core.inspector import DactInspector  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "sst2" / "dev.tsv"))
    args = parser.parse_args()
    model, tokenizer = load_model(args.model)
    inspector = DactInspector(model, tokenizer)
    sentences = pd.read_csv(ROOT / "assets" / "examples.tsv", sep="\t", dtype=str, keep_default_na=False).sentence
    for text in sentences[:5]:
        inspector.trace(text)
    times = []
    for _ in range(3):
        for text in sentences:
            t0 = time.perf_counter()
            inspector.trace(text)
            times.append(time.perf_counter() - t0)
    print(f"one sentence (Inspect, no attributions): median {1000 * statistics.median(times):.1f} ms, "
          f"max {1000 * max(times):.1f} ms over {len(times)} runs of {len(sentences)} curated sentences")
    task = load_task(args.data, label_names=[model.config.id2label[i] for i in range(model.config.num_labels)])
    t0 = time.perf_counter()
    metrics = evaluate(model, tokenizer, task, batch_size=32, progress=False).metrics
    seconds = time.perf_counter() - t0
    print(f"data set (Data set page, with the full-depth check): {len(task)} sentences in {seconds:.1f} s "
          f"({metrics['avg_layers']:.2f} layers on average)")


if __name__ == "__main__":
    main()
