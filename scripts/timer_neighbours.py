"""Whether a model's batch-1 speed-up depends on the models timed beside it: the model against its reference,
timed alone with it and again with other models between, input by input (timer block 1) and in blocks of inputs
(the bench's default), each setting repeated; every model at its first operating point (DACT-BERT: its own
ponder penalty with the tight bound). Then what a call right after the other model's costs: each input run by the
other model and then twice by this one (the first call after the other's, the second after its own on the same
input), for the model and for the reference in turn.

    python scripts/timer_neighbours.py --reference runs/agnews/dact/reference --model runs/agnews/dact \
        --beside runs/agnews/dact-tau0.07 runs/agnews/dact-tau0.05 assets/models/adapler-agnews \
        assets/models/token-gates-agnews --data ../shared/data/agnews/test.tsv
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dact_core.bench import latency_texts  # noqa: E402
from dact_core.loading import load_model  # noqa: E402
from dact_core.methods import infer, methods_of  # noqa: E402
from dact_core.runner import tokenize  # noqa: E402
from dact_core.timing import interleaved_times, torch_threads  # noqa: E402


def first_point(model):
    """The model's first method at its first setting, as one batch-1 call."""
    _, setting = methods_of(model)[0].points(model.config)[0]
    return lambda x: infer(model, x, **setting)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--beside", nargs="+", required=True, help="models timed between, in the second set")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "sst2" / "dev.tsv"))
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--blocks", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    reference, tokenizer = load_model(args.reference, "cpu")
    model, _ = load_model(args.model, "cpu")
    beside = [load_model(folder, "cpu")[0] for folder in args.beside]
    sample = latency_texts(args.data, reference, args.examples)
    encs = [tokenize(tokenizer, [t], 128, return_tensors="pt") for t in sample]
    sets = {"with its reference only": [first_point(reference), first_point(model)],
            f"with {len(beside)} more models": [first_point(reference), first_point(model), *map(first_point, beside)]}
    print(f"{'repeat':>6} {'block':>5}  {'timed':<28} {'speed-up':>8} {'reference ms':>12} {'model ms':>8}")
    with torch_threads(args.threads):
        for repeat in range(args.repeats):
            for block in args.blocks:
                for name, paths in sets.items():
                    ms = 1000 * interleaved_times(paths, encs, args.rounds, progress=False, block=block).mean((1, 2))
                    print(f"{repeat + 1:>6} {block:>5}  {name:<28} {ms[0] / ms[1]:8.3f} {ms[0]:12.2f} {ms[1]:8.2f}",
                          flush=True)
        reference_path, model_path = sets["with its reference only"]
        for name, other, timed in [("model", reference_path, model_path), ("reference", model_path, reference_path)]:
            after_other, after_itself = cold_and_warm(other, timed, encs, args.rounds)
            print(f"{name}: {after_other:.2f} ms right after the other model's call, {after_itself:.2f} ms right after "
                  f"its own on the same input ({100 * (after_other / after_itself - 1):+.1f}%)")


def cold_and_warm(other, timed, inputs, rounds: int) -> tuple[float, float]:
    """Mean ms of `timed` on each input right after `other` ran it, and right after itself ran it."""
    after_other, after_itself = [], []
    with torch.inference_mode():
        for _ in range(rounds):
            for x in inputs:
                other(x)
                for times in (after_other, after_itself):
                    start = time.perf_counter()
                    timed(x)
                    times.append(time.perf_counter() - start)
    return 1000 * float(np.mean(after_other)), 1000 * float(np.mean(after_itself))


if __name__ == "__main__":
    main()
