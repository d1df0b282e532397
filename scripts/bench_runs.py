"""The same models' speed across several runs of `dact bench` (each a separate process, possibly with other models
beside them): per model and setting, each run's batch-1 share of the ideal speed-up and its batch-1 and batch-32
speed-ups, then their mean and range; for benches that also timed the reference layer by layer, the share against
that run too. A bench's intervals resample the examples of its own run; how much the ratios
move from run to run on a machine is what this shows.

    python scripts/bench_runs.py assets/results/bench-sst2-layers assets/results/bench-sst2-layers-run2 \
        assets/results/bench-sst2-layers-run3
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

COLUMNS = ("method", "setting", "source", "avg_layers", "efficiency_batch1", "efficiency_batch1_low",
           "efficiency_batch1_high", "speedup_batch1", "speedup_batch32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benches", nargs="+", help="dact bench output folders")
    parser.add_argument("--methods", nargs="+", default=["DACT-BERT"], help="methods to list")
    args = parser.parse_args()
    tables, timers = [], {}
    for folder in map(Path, args.benches):
        if not (folder / "bench.csv").exists() or not (folder / "bench.json").exists():
            parser.error(f"{folder}: not a dact bench folder (no bench.csv and bench.json)")
        table = pd.read_csv(folder / "bench.csv")
        missing = [column for column in COLUMNS if column not in table]
        if missing:
            parser.error(f"{folder}: an older bench without {', '.join(missing)}; rerun dact bench")
        settings = json.loads((folder / "bench.json").read_text()).get("settings", {})
        # benches before timer blocks timed input by input, and those before the round median summed the rounds
        timers[folder.name] = (settings.get("timer_block", 1), settings.get("timer_statistic", "sum of rounds"))
        tables.append(table.assign(bench=folder.name))
    if len(set(timers.values())) > 1:
        parser.error("these benches were not timed alike: " + "; ".join(
            f"{name}: blocks of {block}, {statistic}" for name, (block, statistic) in timers.items()))
    block, statistic = next(iter(timers.values()))
    print(f"timer: blocks of {block} inputs, {statistic}")
    runs = pd.concat(tables, ignore_index=True)
    runs = runs[runs["method"].isin(args.methods)]
    if runs.empty:
        parser.error(f"no rows of {args.methods} in these benches")
    for (method, setting, source), rows in runs.groupby(["method", "setting", "source"], sort=False):
        share = 100 * rows["efficiency_batch1"]
        print(f"{method} {setting} ({source}), {rows['avg_layers'].iloc[0]:.2f} layers, {len(rows)} runs")
        for _, row in rows.iterrows():
            loop = row.get("efficiency_batch1_layer_by_layer", float("nan"))
            loop = "" if pd.isna(loop) else (
                f"  layer by layer {100 * loop:.1f}% [{100 * row['efficiency_batch1_layer_by_layer_low']:.1f}%, "
                f"{100 * row['efficiency_batch1_layer_by_layer_high']:.1f}%]")
            print(f"  {row['bench']:<32} {100 * row['efficiency_batch1']:5.1f}% of the ideal "
                  f"[{100 * row['efficiency_batch1_low']:.1f}%, {100 * row['efficiency_batch1_high']:.1f}%]  "
                  f"b=1 {row['speedup_batch1']:.2f}x  b=32 {row['speedup_batch32']:.2f}x{loop}")
        loops = rows.get("efficiency_batch1_layer_by_layer", pd.Series(dtype=float)).dropna()
        loops = "" if not len(loops) else f"; layer by layer {100 * loops.mean():.1f}%" + (
            f" (the {len(loops)} of these runs that timed it)" if len(loops) < len(rows) else "")
        print(f"  mean {share.mean():.1f}% (range {share.min():.1f}% to {share.max():.1f}%); b=1 "
              f"{rows['speedup_batch1'].mean():.2f}x, b=32 {rows['speedup_batch32'].mean():.2f}x{loops}")


if __name__ == "__main__":
    main()
