"""One table over several `dact bench` folders of the same examples: seeds of one recipe trained and measured at
different times (a bench times only the models that are on the machine at once).

Accuracy, layers and FLOPs do not depend on the run, so each seed's figures are exactly its bench's; the speed-ups
are each a ratio taken in its own bench's process (against that bench's first reference): the table gives their
range, the bench.json their mean (benches run at different times may differ in code and machine).

    python scripts/merge_seed_benches.py assets/results/bench-sst2-seeds assets/results/bench-sst2-seed44 \
        --output-dir assets/results/bench-sst2-3seeds-cpu
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dact_core.bench import merge_benches, seed_summary, seeds_markdown
from dact_core.cli import check_output_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benches", nargs="+", help="folders written by dact bench (bench.csv and bench.json)")
    parser.add_argument("--output-dir", default=None,
                        help="also write seeds.md and a bench.json (read by the app's Compare page) here")
    parser.add_argument("--title", default=None, help="the merged table's title (default: the benches' names)")
    parser.add_argument("--overwrite", action="store_true", help="replace the files of a non-empty --output-dir")
    args = parser.parse_args()
    try:
        check_output_dir(args.output_dir, args.overwrite)
        merged = merge_benches(args.benches)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    markdown = seeds_markdown(merged)
    print(markdown)
    if args.output_dir:
        first = json.loads((Path(args.benches[0]) / "bench.json").read_text())
        names = ", ".join(Path(b).name for b in args.benches)
        settings = {**first.get("settings", {}), "merged_from": args.benches}  # each speed-up within its own bench
        # absolute timings from different benches (code, machine) have no common meaning: the ratios stay
        summary = seed_summary(merged.drop(columns="bench")).drop(columns=["latency_ms_batch1", "throughput_batch32"],
                                                                     errors="ignore")
        # JSON has no NaN: None in its place
        record = {"title": args.title or f"{first.get('title', '')}: seeds merged from {names}", "settings": settings,
                  "points": summary.astype(object).where(summary.notna(), None).to_dict(orient="records"),
                  "models": merged.astype(object).where(merged.notna(), None).to_dict(orient="records")}
        text = json.dumps(record, indent=2) + "\n"
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "seeds.md").write_text(markdown)
        (out / "bench.json").write_text(text)
        print(f"wrote {out}/seeds.md and bench.json")


if __name__ == "__main__":
    main()
