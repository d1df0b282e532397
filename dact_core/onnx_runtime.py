"""ONNX Runtime engine: a drop-in for a trained model's inference call, in the manner of optimum's
`ORTModelForSequenceClassification`.

`load_model(path, runtime="onnx")` returns one of the classes below instead of the torch model. Called as the torch
model is called (`model(**batch)` for every layer, `model(**batch, halt_early=True)` for the adaptive path, the same
per-call settings), it returns the same output dataclass with the same fields, so the runner, eval, predict, the bench,
the inspectors and the app use it without knowing which engine runs.

Graphs. A model with its own layer loop (DACT-BERT, the multi-exit model) becomes one graph for the embeddings and
one per layer: the Transformer layer, the pooling and the layer's head (DACT module or exit), taking the hidden
states, the additive attention bias and the pooling weights of a batch of any size and length, and giving the next
hidden states and the head's outputs. Between `run` calls the halting recurrence and the bound run in NumPy (float64),
and rows that halt leave the batch, as in the torch model. A plain classifier (the full-depth reference) is one graph,
which is what a user who deploys it on ONNX Runtime would run. The token-reduction models stay on torch.

Graphs are exported with `torch.onnx.export` from the model's own modules on first use and kept in a cache folder
keyed by a fingerprint of the weights and the config (`graph_key`); a manifest records each graph's sha256, and a graph
whose bytes do not match is never loaded (the set is rebuilt). `dact export --format onnx` writes the same set beside
a shipped model. `quantization="int8"` applies ONNX Runtime's dynamic quantization to the layer graphs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .methods import family_of

ENGINE_VERSION = "1"  # part of every cache key: a change to the graphs' inputs or outputs changes it
OPSET = 17
NEG = -1e4  # additive attention bias of a padding key (BERT's own extended-mask value is the dtype's minimum)
MANIFEST = "manifest.json"
ONNX_FAMILIES = ("bert", "dact-bert", "multi-exit-bert")


class GraphError(RuntimeError):
    """A graph set that cannot be built or trusted; the message says why."""


def cache_root() -> Path:
    """DACT_CACHE_DIR, else ~/.cache/dact-bert: where graphs built on first use are kept."""
    return Path(os.environ.get("DACT_CACHE_DIR") or Path.home() / ".cache" / "dact-bert") / "onnx"


def supports(model_or_config) -> bool:
    """Whether this model's family runs on the ONNX engine (the token-reduction models stay on torch)."""
    return family_of(model_or_config).model_type in ONNX_FAMILIES


def graph_key(model: nn.Module, quantization: str | None) -> str:
    """sha256 of everything the graphs depend on: the weights (every tensor of the state dict, in order), the config,
    the quantization, this engine's version and the exporter's (torch) version."""
    config = {k: v for k, v in model.config.to_dict().items() if k != "_name_or_path"}  # not where it was read from
    digest = hashlib.sha256()
    digest.update(json.dumps({"engine": ENGINE_VERSION, "opset": OPSET, "torch": torch.__version__.split("+")[0],
                              "quantization": quantization, "config": config},
                             sort_keys=True, default=str).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# The modules that are exported: each is a few lines on top of the trained model's own modules.


class _Embeddings(nn.Module):
    def __init__(self, embeddings: nn.Module):
        super().__init__()
        self.embeddings = embeddings

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        return self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)  # (B, T, H)


class _LayerStep(nn.Module):
    """One layer of a layer-by-layer model and its head: hidden (B, T, H), attention_bias (B, 1, 1, T), pooling_weights
    (B, 1, T) -> the next hidden states and the head's outputs on the pooled vector."""

    def __init__(self, layer: nn.Module, head: nn.Module, pooling: str):
        super().__init__()
        self.layer, self.head, self.pooling = layer, head, pooling

    def forward(self, hidden: torch.Tensor, attention_bias: torch.Tensor, pooling_weights: torch.Tensor):
        hidden = self.layer(hidden, attention_bias)  # (B, T, H)
        pooled = hidden[:, 0] if self.pooling == "cls" else torch.bmm(pooling_weights, hidden).squeeze(1)  # (B, H)
        head = self.head(pooled)
        return (hidden, *head) if isinstance(head, tuple) else (hidden, head)


class _FullClassifier(nn.Module):
    """A plain BERT sequence classifier as one graph: ids, mask and token types -> logits (B, C)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


def _graph_specs(model: nn.Module) -> list[tuple[str, nn.Module, tuple, list[str], list[str], dict]]:
    """(file name, module, example inputs, input names, output names, dynamic axes) of each graph of `model`, on an
    eager-attention copy (the exporter traces eager attention; the weights are the same)."""
    family = family_of(model).model_type
    config = model.config
    eager = copy.deepcopy(model).float().cpu().eval()
    eager.set_attn_implementation("eager")
    ids = torch.ones(2, 5, dtype=torch.long)  # (B, T)
    if family == "bert":
        axes = {name: {0: "batch", 1: "length"} for name in ("input_ids", "attention_mask", "token_type_ids")}
        return [("model.onnx", _FullClassifier(eager), (ids, ids, torch.zeros_like(ids)),
                 ["input_ids", "attention_mask", "token_type_ids"], ["logits"], {**axes, "logits": {0: "batch"}})]
    specs = [("embeddings.onnx", _Embeddings(eager.bert.embeddings), (ids, torch.zeros_like(ids)),
              ["input_ids", "token_type_ids"], ["hidden"],
              {"input_ids": {0: "batch", 1: "length"}, "token_type_ids": {0: "batch", 1: "length"},
               "hidden": {0: "batch", 1: "length"}})]
    heads = eager.dact if family == "dact-bert" else eager.exits
    head_outputs = ["layer_prob", "halting_prob"] if family == "dact-bert" else ["exit_logits"]
    hidden = torch.zeros(2, 5, config.hidden_size)  # (B, T, H)
    bias = torch.zeros(2, 1, 1, 5)  # (B, 1, 1, T)
    weights = torch.full((2, 1, 5), 0.2)  # (B, 1, T)
    for n, (layer, head) in enumerate(zip(eager.bert.encoder.layer, heads)):
        specs.append((f"layer_{n + 1}.onnx", _LayerStep(layer, head, config.pooling), (hidden, bias, weights),
                      ["hidden", "attention_bias", "pooling_weights"], ["next_hidden", *head_outputs],
                      {"hidden": {0: "batch", 1: "length"}, "attention_bias": {0: "batch", 3: "length"},
                       "pooling_weights": {0: "batch", 2: "length"}, "next_hidden": {0: "batch", 1: "length"},
                       **{name: {0: "batch"} for name in head_outputs}}))
    return specs


def build_graphs(model: nn.Module, folder: Path, quantization: str | None, progress: bool = True) -> dict[str, str]:
    """Export every graph of `model` into `folder` (int8: then quantized) and write the manifest; returns it."""
    import warnings

    specs = _graph_specs(model)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if progress:
        print(f"Building the ONNX Runtime graphs of this model ({len(specs)} graphs, first use only; kept in "
              f"{folder})...", file=sys.stderr, flush=True)
    graphs = {}
    for i, (name, module, args, inputs, outputs, axes) in enumerate(specs, 1):
        path = folder / name
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's notes on traced shapes and deprecations
            torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs, dynamic_axes=axes,
                              opset_version=OPSET, dynamo=False)
        if quantization == "int8" and name != "embeddings.onnx":
            _quantize_int8(path)
        graphs[name] = _sha256(path.read_bytes())
        if progress:
            print(f"  {i}/{len(specs)} {name} ({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
    return graphs


def _quantize_int8(path: Path) -> None:
    """ONNX Runtime's dynamic quantization, in place: int8 weights, activations quantized per call."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = path.with_suffix(".int8.onnx")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs advice on static quantization's pre-processing at every call
    try:
        quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    quantized.replace(path)


def _read_checked(folder: Path, key: str) -> dict[str, bytes] | None:
    """The graphs in `folder` as bytes, when its manifest is for `key` and every graph's sha256 matches; else None."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("key") != key:
            return None
        graphs = {name: (folder / name).read_bytes() for name in manifest["graphs"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if any(_sha256(data) != manifest["graphs"][name] for name, data in graphs.items()):
        print(f"{folder}: a graph does not match its recorded sha256; it is not loaded and the set is rebuilt",
              file=sys.stderr, flush=True)
        return None
    return graphs


def write_graph_set(model: nn.Module, folder: Path, quantization: str | None, progress: bool = True) -> dict:
    """Build the graphs of `model` into `folder` with a manifest (key, engine version, each graph's sha256)."""
    key = graph_key(model, quantization)
    graphs = build_graphs(model, folder, quantization, progress)
    manifest = {"engine": ENGINE_VERSION, "key": key, "quantization": quantization, "graphs": graphs}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def graph_set(model: nn.Module, quantization: str | None, shipped: Path | None = None,
              progress: bool = True) -> dict[str, bytes]:
    """The checked graphs of `model`: those shipped beside it (`dact export --format onnx`) when they are for these
    weights, else the cache's, built there first when missing, stale or not matching their manifest."""
    key = graph_key(model, quantization)
    folders = ([shipped / ("onnx-int8" if quantization else "onnx")] if shipped is not None else [])
    folder = cache_root() / key[:32]
    for candidate in (*folders, folder):
        graphs = _read_checked(candidate, key)
        if graphs is not None:
            return graphs
    write_graph_set(model, folder, quantization, progress)
    graphs = _read_checked(folder, key)
    if graphs is None:
        raise GraphError(f"{folder}: the graphs just built do not match their manifest")
    return graphs


# ---------------------------------------------------------------------------------------------------------------------
# The engine.


def session_options(threads: int | None):
    """One intra-op pool of `threads` (default: every core) that does not spin after a run: spinning threads starve
    whatever runs next (the next layer's session, or PyTorch in the same process)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _numpy(value, dtype) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.ascontiguousarray(value, dtype=dtype)


class ORTModel:
    """What every engine model shares: the config, the sessions (one per graph, shared by every caller of this object),
    and the torch model's call conventions (`eval()`, `device`, `quantization`)."""

    runtime = "onnx"
    device = torch.device("cpu")

    def __init__(self, config, graphs: dict[str, bytes], quantization: str | None = None, threads: int | None = None):
        import onnxruntime as ort

        self.config = config
        self.quantization = quantization
        self.threads = threads or os.cpu_count() or 1
        options = session_options(threads)
        self.sessions = {name.removesuffix(".onnx"): ort.InferenceSession(data, options,
                                                                          providers=["CPUExecutionProvider"])
                         for name, data in graphs.items()}

    @property
    def num_layers(self) -> int:
        return self.config.num_hidden_layers

    def eval(self):
        return self

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    @staticmethod
    def _inputs(input_ids, attention_mask, token_type_ids, labels, extra: dict) -> tuple[np.ndarray, ...]:
        if labels is not None:
            raise ValueError("the ONNX Runtime engine runs inference only: load the torch runtime to compute a loss")
        unknown = sorted(k for k, v in extra.items() if v is not None)
        if unknown:
            raise TypeError(f"the ONNX Runtime engine does not take {', '.join(unknown)}")
        ids = _numpy(input_ids, np.int64)  # (B, T)
        if ids is None or ids.ndim != 2:
            raise ValueError("pass input_ids as a (batch, length) array")
        mask = np.ones_like(ids) if attention_mask is None else _numpy(attention_mask, np.int64)  # (B, T)
        types = np.zeros_like(ids) if token_type_ids is None else _numpy(token_type_ids, np.int64)  # (B, T)
        return ids, mask, types


class ORTLayerModel(ORTModel):
    """A layer-by-layer model on the engine: embeddings, then one `run` per layer on the rows still going."""

    def _embed(self, ids: np.ndarray, types: np.ndarray) -> np.ndarray:
        return self.sessions["embeddings"].run(None, {"input_ids": ids, "token_type_ids": types})[0]  # (B, T, H)

    def _layer(self, n: int, hidden: np.ndarray, bias: np.ndarray, weights: np.ndarray) -> list[np.ndarray]:
        """Layer n (0-based) and its head: [next hidden (R, T, H), head outputs (R, ...)]."""
        return self.sessions[f"layer_{n + 1}"].run(
            None, {"hidden": hidden, "attention_bias": bias, "pooling_weights": weights})

    @staticmethod
    def layer_inputs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """attention_mask (R, T) -> the additive attention bias (R, 1, 1, T) and the masked-mean weights (R, 1, T)."""
        real = mask.astype(np.float32)  # (R, T)
        bias = ((1.0 - real) * NEG)[:, None, None, :]  # (R, 1, 1, T)
        weights = (real / np.maximum(real.sum(axis=1, keepdims=True), 1.0))[:, None, :]  # (R, 1, T)
        return bias, weights

    @staticmethod
    def trim(hidden: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Drop the padding columns that no running row needs (inputs are right-padded)."""
        length = int(mask.sum(axis=1).max())
        return (hidden[:, :length], mask[:, :length]) if length < mask.shape[1] else (hidden, mask)


@dataclass
class _Rows:
    """The rows still running: their indices in the batch, hidden states, mask and the inputs the layers take."""

    index: np.ndarray  # (R,)
    hidden: np.ndarray  # (R, T, H)
    mask: np.ndarray  # (R, T)
    bias: np.ndarray  # (R, 1, 1, T)
    weights: np.ndarray  # (R, 1, T)

    @classmethod
    def start(cls, hidden: np.ndarray, mask: np.ndarray) -> "_Rows":
        return cls(np.arange(hidden.shape[0]), hidden, mask, *ORTLayerModel.layer_inputs(mask))

    def keep(self, keep: np.ndarray) -> "_Rows":
        hidden, mask = ORTLayerModel.trim(self.hidden[keep], self.mask[keep])
        return _Rows(self.index[keep], hidden, mask, *ORTLayerModel.layer_inputs(mask))


class ORTDactBertForSequenceClassification(ORTLayerModel):
    """DACT-BERT on the engine: per layer y_n and h_n from the graph, then a_n, p_n and the bound in float64."""

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, halt_early: bool = False,
                halting_bound: str | None = None, halting_relaxation: float | None = None, **extra):
        from .halting import BOUNDS
        from .models.dact_bert.modeling_dact_bert import DactBertOutput

        ids, mask, types = self._inputs(input_ids, attention_mask, token_type_ids, labels, extra)
        bound = self.config.halting_bound if halting_bound is None else halting_bound
        relaxation = self.config.halting_relaxation if halting_relaxation is None else float(halting_relaxation)
        if bound not in BOUNDS or not 0.0 <= relaxation <= 1.0:
            raise ValueError(f"halting bound must be one of {BOUNDS} and relaxation in [0, 1]; got {bound!r}, {relaxation}")
        batch, num_layers, num_classes = ids.shape[0], self.num_layers, self.config.num_labels
        layer_probs = np.full((batch, num_layers, num_classes), np.nan, dtype=np.float32)  # (B, N, C)
        halting_probs = np.full((batch, num_layers), np.nan, dtype=np.float32)  # (B, N)
        acc_probs = np.full((batch, num_layers, num_classes), np.nan)  # (B, N, C)
        remaining_probs = np.full((batch, num_layers), np.nan)  # (B, N)
        probs = np.zeros((batch, num_classes))  # (B, C)
        exit_layer = np.full(batch, num_layers, dtype=np.int64)  # (B,)
        rows = _Rows.start(self._embed(ids, types), mask)
        acc_prob, remaining_prob = np.zeros((batch, num_classes)), np.ones(batch)  # a_0 (R, C), p_0 (R,)
        for n in range(num_layers):
            rows.hidden, layer_prob, halting_prob = self._layer(n, rows.hidden, rows.bias, rows.weights)
            # a_n = a_{n-1} + p_{n-1} (y_n - a_{n-1});  p_n = h_n p_{n-1}  (the torch model's order of operations)
            acc_prob = acc_prob + remaining_prob[:, None] * (layer_prob.astype(np.float64) - acc_prob)  # (R, C)
            remaining_prob = halting_prob.astype(np.float64) * remaining_prob  # (R,)
            layer_probs[rows.index, n], halting_probs[rows.index, n] = layer_prob, halting_prob
            acc_probs[rows.index, n], remaining_probs[rows.index, n] = acc_prob, remaining_prob
            if n + 1 == num_layers:
                probs[rows.index] = acc_prob
                break
            if not halt_early:
                continue
            halt = _halts(acc_prob, remaining_prob, (num_layers - n - 1) * relaxation, bound)  # (R,)
            if halt.any():
                probs[rows.index[halt]] = acc_prob[halt]
                exit_layer[rows.index[halt]] = n + 1
                if halt.all():
                    break
                keep = ~halt
                rows, acc_prob, remaining_prob = rows.keep(keep), acc_prob[keep], remaining_prob[keep]
        if not halt_early:  # the exit halting would take, read off the trace
            exit_layer = _exit_layers(acc_probs, remaining_probs, bound, relaxation)
            probs = acc_probs[:, -1]
        logits = np.log(np.maximum(probs, 1e-12)).astype(np.float32)  # (B, C)
        return DactBertOutput(
            logits=torch.from_numpy(logits), probs=torch.from_numpy(probs),
            prediction=torch.from_numpy(probs.argmax(axis=-1)), exit_layer=torch.from_numpy(exit_layer),
            layer_probs=torch.from_numpy(layer_probs), halting_probs=torch.from_numpy(halting_probs),
            remaining_probs=torch.from_numpy(remaining_probs), acc_probs=torch.from_numpy(acc_probs),
            ponder_cost=torch.from_numpy(np.nansum(remaining_probs, axis=1)))


def _halts(acc_prob: np.ndarray, remaining_prob: np.ndarray, layers_left: float, bound: str) -> np.ndarray:
    """The halting bound on NumPy arrays: a_n (R, C), p_n (R,) -> bool (R,), through the one formula."""
    from .halting import bound_margin

    top2 = np.sort(acc_prob, axis=-1)[:, -2:]  # (R, 2): runner-up, top
    return bound_margin(top2[:, 1], top2[:, 0], remaining_prob, layers_left, bound) > 0


def _exit_layers(acc_probs: np.ndarray, remaining_probs: np.ndarray, bound: str, relaxation: float) -> np.ndarray:
    from .halting import exit_layers_from_trace

    return exit_layers_from_trace(torch.from_numpy(acc_probs), torch.from_numpy(remaining_probs), bound,
                                  relaxation).numpy()


class ORTMultiExitBertForSequenceClassification(ORTLayerModel):
    """The multi-exit model (static, DeeBERT, PABEE exits) on the engine; its exit rule is the torch model's own."""

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, halt_early: bool = False,
                exit_rule: str | None = None, exit_layer: int | None = None, exit_threshold: float | None = None,
                exit_patience: int | None = None, **extra):
        from .models.multi_exit.modeling_multi_exit import ExitRule, ExitState, MultiExitOutput, exit_layers_from_logits

        ids, mask, types = self._inputs(input_ids, attention_mask, token_type_ids, labels, extra)
        rule = ExitRule.resolve(self.config, exit_rule, exit_layer, exit_threshold, exit_patience)
        batch, num_layers, num_classes = ids.shape[0], self.num_layers, self.config.num_labels
        layer_logits = np.full((batch, num_layers, num_classes), np.nan, dtype=np.float32)  # (B, N, C)
        logits = np.zeros((batch, num_classes), dtype=np.float32)  # (B, C)
        exits = np.full(batch, num_layers, dtype=np.int64)  # (B,)
        rows = _Rows.start(self._embed(ids, types), mask)
        state = ExitState(rule, num_layers, batch, torch.device("cpu"))
        for n in range(num_layers):
            rows.hidden, z = self._layer(n, rows.hidden, rows.bias, rows.weights)  # (R, T, H), (R, C)
            layer_logits[rows.index, n] = z
            if not halt_early:
                continue
            stop = state.step(n + 1, torch.from_numpy(z)).numpy()  # (R,)
            if stop.any():
                logits[rows.index[stop]] = z[stop]
                exits[rows.index[stop]] = n + 1
                if stop.all():
                    break
                keep = ~stop
                state.keep(torch.from_numpy(keep))
                rows = rows.keep(keep)
        if not halt_early:
            exits = exit_layers_from_logits(rule, torch.from_numpy(layer_logits)).numpy()
            logits = layer_logits[np.arange(batch), exits - 1]
        return MultiExitOutput(logits=torch.from_numpy(logits), prediction=torch.from_numpy(logits.argmax(axis=-1)),
                               exit_layer=torch.from_numpy(exits), layer_logits=torch.from_numpy(layer_logits))


class ORTModelForSequenceClassification(ORTModel):
    """A plain BERT sequence classifier (the full-depth reference) on the engine: one graph, one `run`."""

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **extra):
        from transformers.modeling_outputs import SequenceClassifierOutput

        ids, mask, types = self._inputs(input_ids, attention_mask, token_type_ids, labels, extra)
        logits = self.sessions["model"].run(None, {"input_ids": ids, "attention_mask": mask,
                                                   "token_type_ids": types})[0]  # (B, C)
        return SequenceClassifierOutput(logits=torch.from_numpy(logits))


ENGINE_CLASSES = {"bert": ORTModelForSequenceClassification, "dact-bert": ORTDactBertForSequenceClassification,
                  "multi-exit-bert": ORTMultiExitBertForSequenceClassification}


def from_torch(model: nn.Module, quantization: str | None = None, threads: int | None = None,
               shipped: Path | None = None, progress: bool = True) -> ORTModel:
    """The engine model of a loaded torch model: its checked graphs (shipped beside it, or cached; built on first use)
    in sessions of `threads` intra-op threads."""
    if not supports(model):
        raise ValueError(f"{family_of(model).display} runs on the torch runtime only (its token gathering is not "
                         "exported): pass --runtime torch")
    if quantization not in (None, "int8"):
        raise ValueError(f"unknown quantization {quantization!r}; expected int8")
    graphs = graph_set(model, quantization, shipped, progress)
    return ENGINE_CLASSES[family_of(model).model_type](model.config, graphs, quantization, threads)
