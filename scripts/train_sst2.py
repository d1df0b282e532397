"""The models of assets/results/bench-sst2-h100: three seeds of the one command at tau 0.1 on SST-2 and the models
compared with it, each trained with `dact train`.

  1. Full-depth references (the one command's first stage: 3 epochs, word embeddings trained), seeds 42, 43 and
     44; and, for seed 42, other reference settings (learning rate, frozen embeddings) judged on validation.
  2. From each seed's reference: DACT-BERT at tau 0.1 (the one command's second stage with --ponder-penalty 0.1:
     per-layer loss 0.5, one epoch) and the multi-exit model (one epoch: the same budget); for seed 42 also
     DACT-BERT at tau 0.05 and 0.2, for the accuracy/depth curve.
  3. DACT-BERT's halting units trained on each multi-exit model's frozen exits (`--init-from`), at tau 0.1.

`dact train --data train.tsv --label-names negative,positive --validation-fraction 0.05` runs both stages in one
command (at the default tau 0.07); here the stages run apart so that one reference serves every model trained on
it. Runs already finished (a config.json in their folder) are skipped, so the script resumes.

    python scripts/train_sst2.py                 # one run at a time
    python scripts/train_sst2.py --jobs 8        # a GPU machine: several runs share the GPU
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SEEDS = (42, 43, 44)
RECIPE = ["--epochs", "3"]  # `dact train`'s first stage with its defaults
SWEEP = {  # other reference settings, seed 42 only, to look for a stronger reference
    "e3-lr1e-4": ["--epochs", "3", "--learning-rate", "1e-4"],
    "e3-lr2e-5": ["--epochs", "3", "--learning-rate", "2e-5"],
    "e3-frozen": ["--epochs", "3", "--freeze-word-embeddings"],
}
CURVE_TAUS = ("0.05", "0.2")


def run_all(jobs: list[tuple[str, list[str]]], args) -> None:
    """Run `dact train` for each (folder, arguments), `args.jobs` at a time; a failed run is reported, not fatal."""
    common = ["--data", str(Path(args.data) / "train.tsv"), "--label-names", "negative,positive",
              "--validation-fraction", "0.05"]

    def one(job):
        name, extra = job
        out = Path(args.out) / name
        if (out / "config.json").exists():
            return name, "done before"
        start = time.time()
        with open(Path(args.out) / f"{name}.log", "w") as log:
            code = subprocess.call([sys.executable, "-m", "dact_core", "train", *common, *extra,
                                    "--output-dir", str(out), "--overwrite"], stdout=log, stderr=subprocess.STDOUT)
        return name, f"{'ok' if code == 0 else f'FAILED ({code})'} in {time.time() - start:.0f} s"

    with ThreadPoolExecutor(args.jobs) as pool:
        for name, status in pool.map(one, jobs):
            print(f"{name}: {status}", flush=True)


def validation_accuracy(folder: Path) -> float | None:
    record = folder / "training_config.json"
    return json.loads(record.read_text())["validation"]["eval_accuracy"] if record.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/sst2")
    parser.add_argument("--out", default="runs/sst2")
    parser.add_argument("--jobs", type=int, default=1, help="trainings at once")
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.jobs > 1:
        os.environ.setdefault("OMP_NUM_THREADS", "1")

    run_all([(f"reference-s{seed}", ["--method", "reference", "--seed", str(seed), *RECIPE]) for seed in SEEDS]
            + [(f"reference-{name}-s42", ["--method", "reference", "--seed", "42", *extra])
               for name, extra in SWEEP.items()], args)
    jobs = []
    for seed in SEEDS:
        stage2 = ["--backbone", str(Path(args.out) / f"reference-s{seed}"), "--reference-epochs", "0",
                  "--seed", str(seed)]
        jobs.append((f"dact-s{seed}", [*stage2, "--ponder-penalty", "0.1"]))
        jobs.append((f"multi-exit-s{seed}", [*stage2, "--method", "multi-exit", "--epochs", "1"]))
        if seed == SEEDS[0]:
            jobs += [(f"dact-tau{tau}-s{seed}", [*stage2, "--ponder-penalty", tau]) for tau in CURVE_TAUS]
    run_all(jobs, args)
    # DACT's halting units on each multi-exit model's frozen exits: the halting rule apart from the exits' training
    run_all([(f"dact-on-exits-s{seed}",
              ["--init-from", str(Path(args.out) / f"multi-exit-s{seed}"), "--seed", str(seed), "--ponder-penalty", "0.1"])
             for seed in SEEDS], args)
    for folder in sorted(Path(args.out).glob("*-s4?")):
        print(f"{folder.name}: validation accuracy {validation_accuracy(folder)}", flush=True)


if __name__ == "__main__":
    main()
