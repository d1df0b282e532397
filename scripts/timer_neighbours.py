"""Whether a model's batch-1 speed-up depends on the models timed beside it: the model against its reference,
timed alone with it and again with other models between, input by input (timer block 1) and in blocks of inputs
(the bench's default), each setting repeated; every model at its first operating point (DACT-BERT: its own
ponder penalty with the tight bound). In blocks it also prints the mean time of a block's first call (which
follows another model's call) and of the rest (each after a call of its own).

    python scripts/timer_neighbours.py --reference runs/agnews/dact/reference --model runs/agnews/dact \
        --beside runs/agnews/dact-tau0.07 runs/agnews/dact-tau0.05 assets/models/adapler-agnews \
        assets/models/token-gates-agnews --data ../shared/data/agnews/test.tsv
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dact_core.data import load_task  # noqa: E402
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
    label_names = [reference.config.id2label[i] for i in range(reference.config.num_labels)]
    texts = load_task(args.data, label_names=label_names).texts()
    sample = [texts[i] for i in np.random.default_rng(0).permutation(len(texts))[: args.examples]]
    encs = [tokenize(tokenizer, [t], 128, return_tensors="pt") for t in sample]
    sets = {"with its reference only": [first_point(reference), first_point(model)],
            f"with {len(beside)} more models": [first_point(reference), first_point(model), *map(first_point, beside)]}
    print(f"{'repeat':>6} {'block':>5}  {'timed':<28} {'speed-up':>8} {'reference ms':>12} {'model ms':>8}  "
          f"{'first of a block / the rest, ms: reference':>43} {'model':>13}")
    with torch_threads(args.threads):
        for repeat in range(args.repeats):
            for block in args.blocks:
                for name, paths in sets.items():
                    seconds = interleaved_times(paths, encs, args.rounds, progress=False, block=block)  # (P, R, I)
                    ms = 1000 * seconds.mean((1, 2))  # (P,)
                    # a block's first call follows another path's call, the rest one of its own
                    first = np.arange(len(encs)) % block == 0  # (I,)
                    split = [f"{1000 * seconds[p][:, first].mean():.2f} / {1000 * seconds[p][:, ~first].mean():.2f}"
                             if block > 1 else "-" for p in (0, 1)]
                    print(f"{repeat + 1:>6} {block:>5}  {name:<28} {ms[0] / ms[1]:8.3f} {ms[0]:12.2f} {ms[1]:8.2f}  "
                          f"{split[0]:>43} {split[1]:>13}", flush=True)

if __name__ == "__main__":
    main()
