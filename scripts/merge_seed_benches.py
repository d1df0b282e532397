"""One table over several `dact bench` folders of the same examples: seeds of one recipe trained and measured at
different times (a bench times only the models that are on the machine at once).

Accuracy, layers and FLOPs do not depend on the run, so each seed's figures are exactly its bench's; the speed-ups
are each a ratio taken in its own bench's process (against that bench's first reference), averaged here.

    python scripts/merge_seed_benches.py assets/results/bench-sst2-seeds assets/results/bench-sst2-seed44 \
        --output-dir assets/results/sst2-seeds-cpu
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dact_core.bench import merge_benches, seeds_markdown
from dact_core.cli import check_output_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benches", nargs="+", help="folders written by dact bench (bench.csv and bench.json)")
    parser.add_argument("--output-dir", default=None, help="also write seeds.md, seeds.csv and seeds.json here")
    parser.add_argument("--overwrite", action="store_true", help="replace the files of a non-empty --output-dir")
    args = parser.parse_args()
    try:
        check_output_dir(args.output_dir, args.overwrite)
        merged, comparisons = merge_benches(args.benches)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    markdown = seeds_markdown(merged)
    print(markdown)
    for row in comparisons:
        print(f"DACT-BERT {row['dact']} seed {row['seed']} ({row['dact_layers']} layers) - {row['rival_rule']} "
              f"{row['rival']} ({row['rival_layers']} layers): {row['accuracy_diff_points']:+.2f} "
              f"[{row['interval_points'][0]:+.2f}, {row['interval_points'][1]:+.2f}] {row['status']}")
    if args.output_dir:
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "seeds.md").write_text(markdown)
        merged.to_csv(out / "seeds.csv", index=False)
        record = {"benches": args.benches, "comparisons": comparisons}
        (out / "seeds.json").write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {out}/seeds.md, seeds.csv and seeds.json")


if __name__ == "__main__":
    main()
