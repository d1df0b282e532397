"""A trained AdapLeR model that drops tokens before fewer layers: the others' predictors and thresholds are left out.

    python scripts/adapler_removal_layers.py runs/agnews/adapler-fromref-eta0.4-fixed-4ep \
        runs/agnews/adapler-fromref-eta0.4-fixed-4ep-infer123 --layers 1,2,3

Nothing is retrained: the kept predictors, thresholds and every other weight are the source model's, and its
training_config.json is copied with a `derived_by` record. With fixed thresholds the later layers drop almost no
tokens, so the derived model answers almost as the source does (check it on the validation slice:
`python scripts/ship_agnews.py`) and runs no predictor before those layers.
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

from dact_core.cli import _layer_numbers  # noqa: E402
from dact_core.loading import CheckpointError, load_model  # noqa: E402
from dact_core.models import AdaplerBertForSequenceClassification  # noqa: E402


def derive(source: Path, out_dir: Path, layers: list[int]) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValueError(f"{out_dir}: already exists and is not an empty folder; choose a new one")
    record = json.loads((source / "training_config.json").read_text())  # read before anything is written
    model, tokenizer = load_model(str(source), device="cpu")
    if not isinstance(model, AdaplerBertForSequenceClassification):
        raise ValueError(f"{source}: not an AdapLeR model")
    derived = model.with_removal_layers(layers)
    # the training record stays the source's (derived_by says what changed); its validation figures were measured
    # with every predictor
    record["source_validation"] = record.pop("validation", None)
    record["derived_by"] = {"command": ["python", *sys.argv], "source": str(source), "removal_layers": layers}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "training_config.json").write_text(json.dumps(record, indent=2) + "\n")
    tokenizer.save_pretrained(out_dir)
    derived.save_pretrained(out_dir)  # the model last: scripts/train_agnews.sh takes its config.json for a finished folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source")
    parser.add_argument("output_dir")
    parser.add_argument("--layers", required=True, type=_layer_numbers,
                        help="comma-separated 1-based layers that keep their removal, e.g. 1,2,3")
    args = parser.parse_args()
    try:
        derive(Path(args.source), Path(args.output_dir), args.layers)
    except (ValueError, FileNotFoundError, CheckpointError) as err:
        sys.exit(f"error: {err}")
    print(f"wrote {args.output_dir}")


if __name__ == "__main__":
    main()
