"""Where DACT-BERT's batch-1 time goes beyond its layers: per exit layer, the halting path's time against the
reference's own time scaled to that many layers (interleaved, same examples), and a least-squares split of the
excess into a fixed part and a part per executed layer.

    python scripts/halting_overhead.py [--model assets/models/dact-sst2] --reference runs/sst2/reference-3ep
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dact_core.bench import latency_texts  # noqa: E402
from dact_core.loading import load_model  # noqa: E402
from dact_core.methods import infer  # noqa: E402
from dact_core.models.common import classify_layer_by_layer  # noqa: E402
from dact_core.runner import tokenize  # noqa: E402
from dact_core.timing import interleaved_times, torch_threads  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "sst2" / "dev.tsv"))
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timer-block", type=int, default=10, help="examples each model runs in its turn")
    parser.add_argument("--layer-by-layer", action="store_true",
                        help="time the reference with its layers run the way the project's models run theirs "
                             "(classify_layer_by_layer) instead of its own forward")
    args = parser.parse_args()
    model, tokenizer = load_model(args.model, "cpu")
    reference, _ = load_model(args.reference, "cpu")
    sample = latency_texts(args.data, model, args.examples)
    encs = [tokenize(tokenizer, [t], 128, return_tensors="pt") for t in sample]
    n = model.config.num_hidden_layers
    with torch_threads(2), torch.inference_mode():
        exits = np.array([int(infer(model, x).exit_layer[0]) for x in encs])
        run_reference = ((lambda x: classify_layer_by_layer(reference, **x)) if args.layer_by_layer
                         else (lambda x: infer(reference, x)))
        seconds = interleaved_times([run_reference, lambda x: infer(model, x)], encs, args.rounds,
                                    progress=False, block=args.timer_block).mean(1)  # (2, I)
    ref, halt = 1000 * seconds
    excess = halt - ref * exits / n  # (I,) ms beyond the reference's own time for that many layers
    print(f"timer block {args.timer_block}, {args.rounds} rounds of {len(encs)} examples; the reference "
          + ("layer by layer" if args.layer_by_layer else "through its own forward"))
    print(f"{'exit layer':>10} {'examples':>8} {'halting ms':>10} {'reference x k/N ms':>18} {'excess ms':>9}")
    for k in range(1, n + 1):
        rows = exits == k
        if rows.any():
            print(f"{k:>10} {rows.sum():>8} {halt[rows].mean():10.2f} {(ref[rows] * k / n).mean():18.2f} "
                  f"{excess[rows].mean():9.2f}")
    fixed, per_layer = np.linalg.lstsq(np.stack([np.ones_like(exits), exits], 1).astype(float), excess, rcond=None)[0]
    print(f"excess = {fixed:.2f} ms fixed + {per_layer:.2f} ms per executed layer; the reference spends "
          f"{(ref / n).mean():.2f} ms per layer; efficiency {ref.sum() / halt.sum() / (n / exits.mean()):.3f}")


if __name__ == "__main__":
    main()
