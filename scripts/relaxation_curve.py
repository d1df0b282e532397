"""What the guarantee costs: DACT-BERT's accuracy and depth when the halting bound is relaxed, for
assets/results/sst2-default/relaxation.json (scripts/train_sst2_default.sh runs it on the shipped model's dev traces).

The relaxation factor r scales the layers-left term of the bound (r = 1 is exact). Below 1 the model
halts earlier and may answer differently from its full depth. Each point is computed from the
per-layer a_n and p_n that `dact eval` stored (`explore.rehalt`, as the app's Data set page does at the
relaxation it is given), so no model runs here.

    dact eval --data ../shared/data/sst2/dev.tsv --output-dir runs/sst2/default-dev
    python scripts/relaxation_curve.py runs/sst2/default-dev/traces.parquet
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dact_core.explore import read_traces, rehalt

RELAXATIONS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("traces", help="traces.parquet (or .csv, or a folder of shards) written by dact eval")
    parser.add_argument("--bound", choices=["tight", "paper"], default="tight")
    parser.add_argument("--output", default=None, help="also write the curve as JSON here")
    args = parser.parse_args()

    traces = read_traces(args.traces)
    if "label" not in traces:
        raise SystemExit("the traces have no gold labels: run dact eval on labelled data")
    rows = []
    print(f"{'relaxation':>10} {'accuracy':>9} {'layers':>7} {'== full depth':>14}")
    for relaxation in RELAXATIONS:
        table = rehalt(traces, args.bound, relaxation)
        row = {"relaxation": relaxation, "accuracy": float(table["correct"].mean()),
               "avg_layers": float(table["exit_layer"].mean()),
               "agree_with_full_depth": int(table["agrees_with_full_depth"].sum()), "num_examples": len(table)}
        rows.append(row)
        print(f"{relaxation:>10.1f} {100 * row['accuracy']:>8.2f}% {row['avg_layers']:>7.2f} "
              f"{row['agree_with_full_depth']:>8}/{len(table)}")
    exact = rows[0]
    cheaper = [r for r in rows[1:] if r["accuracy"] >= exact["accuracy"] - 0.005]
    if cheaper:
        best = min(cheaper, key=lambda r: r["avg_layers"])
        print(f"within 0.5 points of the exact bound: down to {best['avg_layers']:.2f} layers "
              f"(relaxation {best['relaxation']:.1f}, {exact['avg_layers'] - best['avg_layers']:.2f} fewer)")
    if args.output:
        Path(args.output).write_text(json.dumps({"traces": args.traces, "bound": args.bound, "curve": rows},
                                                indent=2))
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
