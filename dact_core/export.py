"""`dact export`: a compact copy of a trained model for shipping (float16, backbone tensors left out), with its model
card (README.md, see model_card)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from .loading import SHARED_WEIGHTS_FILE, CheckpointError, backbone_tensor, tensor_digest, load_model, resolve_backbone
from .model_card import card_inputs, write_card


def check_output_dir(source: Path, out_dir: Path, overwrite: bool) -> None:
    """Refuse to write into the source folder, or into a non-empty folder unless asked to overwrite."""
    if out_dir.exists() and out_dir.resolve() == source.resolve():
        raise ValueError(f"{out_dir}: the output folder is the model folder itself; choose another --output-dir")
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir}: exists and is not a folder")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise ValueError(f"{out_dir}: the folder already holds files; pass --overwrite to replace the exported ones")


def export_model(model_dir: str | Path, out_dir: str | Path, float16: bool = True,
                 share_backbone_weights: bool = True, overwrite: bool = False, eval_dirs=(),
                 training_config: str | Path | None = None, command: str | None = None) -> dict:
    """Write a trained model folder as a (smaller) checkpoint for shipping.

    float16 halves the size (weights load back as float32); share_backbone_weights leaves out every
    tensor identical to the backbone it was trained from (recorded in training_config.json).
    The output folder must be new or empty, unless `overwrite` (then only the files export writes are
    replaced); it can never be the model folder itself. It also writes the model card, README.md (see model_card):
    its numbers come from the metrics.json of each `dact eval` folder in `eval_dirs`, its training command from
    `training_config` (default: the model folder's training_config.json), and `command` is the one that wrote it.
    Returns a summary: sizes, and which tensors are shared.
    """
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    check_output_dir(model_dir, out_dir, overwrite)
    # the card's inputs are read first, so that a bad one stops the export before anything is loaded or written
    try:  # a folder without a readable config is refused by load_model below, with its own message
        model_type = json.loads((model_dir / "config.json").read_text()).get("model_type")
    except (OSError, ValueError):
        model_type = None
    evaluations, record = card_inputs(model_dir, eval_dirs, training_config, model_type)
    model, tokenizer = load_model(str(model_dir), device="cpu")
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
                original = backbone_tensor(backbone, key)
            except CheckpointError:
                continue
            if original.shape == state[key].shape and torch.equal(original.to(state[key].dtype), state[key]):
                shared[key] = {"sha256": tensor_digest(original), "dtype": str(original.dtype)}
                del state[key]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SHARED_WEIGHTS_FILE).unlink(missing_ok=True)  # a stale list would be applied to the new weights
    stored = {k: (v.half() if float16 and v.is_floating_point() else v).contiguous() for k, v in state.items()}
    model.config.save_pretrained(out_dir)
    save_file(stored, out_dir / "model.safetensors", metadata={"format": "pt"})
    tokenizer.save_pretrained(out_dir)
    if shared:
        (out_dir / SHARED_WEIGHTS_FILE).write_text(json.dumps(
            {"backbone": backbone_name, "tensors": shared}, indent=2) + "\n")
    # round trip: the exported folder must give the same weights (up to float16 rounding)
    reloaded, _ = load_model(str(out_dir), device="cpu")
    for key, value in reloaded.state_dict().items():
        expected = original_state[key]
        if float16 and expected.is_floating_point() and key not in shared:
            expected = expected.half().float()
        if not torch.equal(value, expected):
            raise CheckpointError(f"export of {model_dir}: {key} does not round-trip")
    card = write_card(out_dir, evaluations, record, command)
    size_mb = (out_dir / "model.safetensors").stat().st_size / 2**20
    return {"model": str(model_dir), "output_dir": str(out_dir), "weights_mb": round(size_mb, 1),
            "shared_from_backbone": sorted(shared), "float16": float16, "card": str(card)}


def export_onnx(model_dir: str | Path, quantizations: tuple = (None, "int8"), progress: bool = False) -> list[Path]:
    """Write the ONNX Runtime engine's graph sets beside a model folder's weights (`onnx/`, `onnx-int8/`), each with
    its manifest (the weights' key and every graph's sha256), so that `load_model(..., runtime="onnx")` reads them
    instead of building them on first use. Returns the folders written."""
    from .onnx_runtime import supports, write_graph_set

    model_dir = Path(model_dir)
    model, _ = load_model(str(model_dir), device="cpu")
    if not supports(model):
        raise ValueError(f"{model_dir}: this model runs on the torch runtime only; there is no ONNX graph set to export")
    folders = []
    for quantization in quantizations:
        folder = model_dir / ("onnx-int8" if quantization else "onnx")
        for old in folder.glob("*.onnx"):  # a set of other weights would be refused at load; replace it whole
            old.unlink()
        write_graph_set(model, folder, quantization, progress)
        folders.append(folder)
    return folders
