"""assets/results/sst2_sweep.json and sst2_sweep.png (the app's Compare page shows them): the SST-2 ponder-penalty
sweep of scripts/train_sst2_sweep.sh evaluated on SST-2 dev, with the sweep's pick.

    python scripts/sst2_sweep.py                 # evaluate runs/sst2/* on SST-2 dev, print the table

The pick is made on the held-out validation slice of train.tsv (never on dev): the fewest validation layers among
the DACT models whose validation accuracy is within 1 point of the reference's. Dev numbers are only reported.
The shipped model is another recipe's: scripts/train_sst2_default.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dact_core.loading import load_model  # noqa: E402
from dact_core.data import load_task  # noqa: E402
from dact_core.evaluate import evaluate  # noqa: E402

RESULTS = ROOT / "assets" / "results" / "sst2_sweep.json"
PLOT = ROOT / "assets" / "results" / "sst2_sweep.png"
LABELS = ["negative", "positive"]


def training_record(folder: Path) -> dict:
    return json.loads((folder / "training_config.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", default=str(ROOT / "runs" / "sst2"))
    parser.add_argument("--dev", default=str(ROOT.parent / "shared" / "data" / "sst2" / "dev.tsv"))
    args = parser.parse_args()
    runs = Path(args.runs)
    dev = load_task(args.dev, label_names=LABELS)

    ref_model, ref_tok = load_model(str(runs / "reference"))
    ref = evaluate(ref_model, ref_tok, dev, progress=False).metrics
    ref_val = training_record(runs / "reference")["validation"]["eval_accuracy"]
    reference = {"accuracy": ref["accuracy"], "validation_accuracy": ref_val, "avg_layers": 6.0}

    points = []
    for folder in sorted(runs.glob("dact-tau*"), key=lambda p: float(p.name.removeprefix("dact-tau"))):
        model, tok = load_model(str(folder))
        m = evaluate(model, tok, dev, progress=False).metrics
        record = training_record(folder)
        points.append({
            "model": folder.name,
            "ponder_penalty": model.config.ponder_penalty,
            "accuracy": m["accuracy"],
            "avg_layers_tight": m["avg_layers_tight"],
            "avg_layers_paper": m["avg_layers_paper"],
            "agree_with_full_depth": m["agree_with_full_depth"],
            "num_examples": m["num_examples"],
            "exit_layer_histogram": m["exit_layer_histogram"],
            "validation_accuracy": record["validation"]["eval_accuracy"],
            "validation_avg_layers": record["validation"]["eval_avg_layers"],
        })

    eligible = [p for p in points if p["validation_accuracy"] >= ref_val - 0.01]
    chosen = min(eligible or points, key=lambda p: (p["validation_avg_layers"], -p["validation_accuracy"]))
    results = {
        "title": "SST-2 dev: accuracy against average executed layers (MiniLM-L6)",
        "data": "SST-2 dev (872 rows); models trained on ../shared/data/sst2/train.tsv, 5% held out (seed 42)",
        "num_layers": 6,
        "reference": reference,
        "dact": points,
        "default_model": chosen["model"],
        "selection": "fewest validation layers among DACT models within 1 point of the reference's "
                     "validation accuracy",
        "note": "Speed is measured by `dact bench` (one interleaved timer for every method).",
    }

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    try:
        from dact_core.charts import sweep_figure

        sweep_figure(results).write_image(str(PLOT), width=900, height=500, scale=1)
        print(f"wrote {PLOT}")
    except Exception as err:  # kaleido (and a Chromium) are needed only for the static PNG
        print(f"no PNG written ({err}); pip install kaleido")


def print_table(results: dict) -> None:
    ref = results["reference"]
    print(f"{'model':<16} {'tau':>6} {'dev acc':>8} {'layers tight':>12} {'layers paper':>12} "
          f"{'halted==full':>12} {'val acc':>8} {'val layers':>10}")
    print(f"{'reference':<16} {'-':>6} {100 * ref['accuracy']:8.2f} {6:12.2f} {6:12.2f} {'-':>12} "
          f"{100 * ref['validation_accuracy']:8.2f} {6:10.2f}")
    for p in results["dact"]:
        print(f"{p['model']:<16} {p['ponder_penalty']:6g} {100 * p['accuracy']:8.2f} {p['avg_layers_tight']:12.2f} "
              f"{p['avg_layers_paper']:12.2f} {p['agree_with_full_depth']:>8}/{p['num_examples']:<3} "
              f"{100 * p['validation_accuracy']:8.2f} {p['validation_avg_layers']:10.2f}")
    print(f"default (chosen on validation): {results['default_model']}")
    if "default" in results:
        d = results["default"]
        gap = 100 * (ref["accuracy"] - d["accuracy"])
        print(f"shipped float16 default on dev: accuracy {100 * d['accuracy']:.2f} ({gap:+.2f} points below the "
              f"reference), {d['avg_layers_tight']:.2f} layers (tight), halted == full "
              f"{d['agree_with_full_depth']}/{d['num_examples']}")


if __name__ == "__main__":
    main()
