"""ONNX Runtime engine: a drop-in for a trained model's inference call, in the manner of optimum's
`ORTModelForSequenceClassification`.

`load_model(path, runtime="onnx")` returns one of the classes below instead of the torch model. Called as the torch
model is called (`model(**batch)` for every layer, `model(**batch, halt_early=True)` for the adaptive path, the same
per-call settings), it returns the same output dataclass with the same fields, so the runner, eval, predict, the bench,
the inspectors and the app use it without knowing which engine runs.

Graphs. A model with its own layer loop (DACT-BERT, the multi-exit model) becomes one graph per layer: the Transformer
layer, the pooling and the layer's head (DACT module or exit), taking the hidden states (the first: the token ids,
embedded in the same graph), the additive attention bias and the pooling weights of a batch of any size and length,
and giving the next hidden states and the head's outputs. Between `run` calls the halting recurrence and the bound run in NumPy (float64),
and rows that halt leave the batch, as in the torch model. A plain classifier (the full-depth reference) is one graph,
which is what a user who deploys it on ONNX Runtime would run. The token-reduction models stay on torch.

Graphs are exported with `torch.onnx.export` from the model's own modules on first use and kept in a cache folder
keyed by a fingerprint of the weights and the config (`graph_key`); a manifest records each graph's sha256, and a graph
whose bytes do not match is never loaded (the set is rebuilt). `dact export --format onnx` writes the same set beside
a shipped model. `quantization="int8"` applies ONNX Runtime's dynamic quantization to the graphs' linears.
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

ENGINE_VERSION = "3"  # part of every cache key: a change to the graphs' inputs or outputs changes it
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


class _LayerStep(nn.Module):
    """One layer of a layer-by-layer model and its head: the hidden states (B, T, H) (the first layer: the token ids
    and token types (B, T), embedded here, which saves the engine a run), attention_bias (B, 1, 1, T) and
    pooling_weights (B, 1, T) -> the next hidden states and the head's outputs on the pooled vector."""

    def __init__(self, layer: nn.Module, head: nn.Module, pooling: str, embeddings: nn.Module | None = None):
        super().__init__()
        self.layer, self.head, self.pooling, self.embeddings = layer, head, pooling, embeddings

    def run_layer(self, inputs: tuple, attention_bias: torch.Tensor, pooling_weights: torch.Tensor):
        if self.embeddings is not None:
            input_ids, token_type_ids = inputs
            hidden = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)  # (B, T, H)
        else:
            (hidden,) = inputs
        hidden = self.layer(hidden, attention_bias)  # (B, T, H)
        pooled = hidden[:, 0] if self.pooling == "cls" else torch.bmm(pooling_weights, hidden).squeeze(1)  # (B, H)
        return hidden, self.head(pooled)

    def forward(self, *inputs):
        hidden, head = self.run_layer(inputs[:-2], *inputs[-2:])
        return (hidden, *head) if isinstance(head, tuple) else (hidden, head)  # (B, T, H), the head's (B, ...)


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
    dact = family == "dact-bert"
    heads = eager.dact if dact else eager.exits
    head_outputs = ["layer_prob", "halting_prob"] if dact else ["exit_logits"]
    batch_axes = {name: {0: "batch"} for name in head_outputs}
    hidden = torch.zeros(2, 5, config.hidden_size)  # (B, T, H)
    masks = (torch.zeros(2, 1, 1, 5), torch.full((2, 1, 5), 0.2))  # attention_bias (B, 1, 1, T), pooling (B, 1, T)
    specs = []
    for n, (layer, head) in enumerate(zip(eager.bert.encoder.layer, heads)):
        first = n == 0
        step = _LayerStep(layer, head, config.pooling, eager.bert.embeddings if first else None)
        inputs = ["input_ids", "token_type_ids"] if first else ["hidden"]
        args = (ids, torch.zeros_like(ids)) if first else (hidden,)
        axes = {name: {0: "batch", 1: "length"} for name in inputs}
        specs.append((f"layer_{n + 1}.onnx", step, (*args, *masks),
                      [*inputs, "attention_bias", "pooling_weights"], ["next_hidden", *head_outputs],
                      {**axes, "attention_bias": {0: "batch", 3: "length"}, "pooling_weights": {0: "batch", 2: "length"},
                       "next_hidden": {0: "batch", 1: "length"}, **batch_axes}))
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
        if quantization == "int8":
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
        # the linears, as torch's dynamic quantization does; the embedding tables stay float
        quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
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
    """A layer-by-layer model on the engine: one `run` per layer (the first embeds the tokens) on the rows still going."""

    def _layer(self, n: int, rows: "_Rows", **extra) -> list[np.ndarray]:
        """Layer n (0-based) and its head on the running rows: [next hidden (R, T, H), head outputs (R, ...)]."""
        feeds = {"input_ids": rows.ids, "token_type_ids": rows.types} if n == 0 else {"hidden": rows.hidden}
        return self.sessions[f"layer_{n + 1}"].run(
            None, {**feeds, "attention_bias": rows.bias, "pooling_weights": rows.weights, **extra})

    @staticmethod
    def layer_inputs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """attention_mask (R, T) -> the additive attention bias (R, 1, 1, T) and the masked-mean weights (R, 1, T)."""
        real = mask.astype(np.float32)  # (R, T)
        bias = ((1.0 - real) * NEG)[:, None, None, :]  # (R, 1, 1, T)
        weights = (real / np.maximum(real.sum(axis=1, keepdims=True), 1.0))[:, None, :]  # (R, 1, T)
        return bias, weights


@dataclass
class _Rows:
    """The rows still running: their indices in the batch (None: every row), their inputs (the token ids before the
    first layer, the hidden states after it), mask, and the attention bias and pooling weights the layers take."""

    index: np.ndarray | None  # (R,)
    ids: np.ndarray | None  # (R, T)
    types: np.ndarray | None  # (R, T)
    hidden: np.ndarray | None  # (R, T, H)
    mask: np.ndarray  # (R, T)
    bias: np.ndarray  # (R, 1, 1, T)
    weights: np.ndarray  # (R, 1, T)

    @classmethod
    def start(cls, ids: np.ndarray, types: np.ndarray, mask: np.ndarray) -> "_Rows":
        return cls(None, ids, types, None, mask, *ORTLayerModel.layer_inputs(mask))

    def keep(self, keep: np.ndarray) -> "_Rows":
        """The rows marked in `keep` (R,), without the padding columns none of them needs (inputs are right-padded)."""
        index = np.flatnonzero(keep) if self.index is None else self.index[keep]
        hidden, mask = self.hidden[keep], self.mask[keep]
        length = int(mask.sum(axis=1).max())
        hidden, mask = hidden[:, :length], mask[:, :length]
        return _Rows(index, None, None, hidden, mask, *ORTLayerModel.layer_inputs(mask))

    def write(self, target: np.ndarray, layer: int | None, value) -> None:
        """target[rows, layer] = value (layer None: target[rows] = value)."""
        where = slice(None) if self.index is None else self.index
        target[(where,) if layer is None else (where, layer)] = value


class ORTDactBertForSequenceClassification(ORTLayerModel):
    """DACT-BERT on the engine: each layer's graph gives y_n and h_n; between runs a_n, p_n and the bound are computed
    in float64 (the torch model's operations, the halting module's formula) and halted rows leave the batch."""

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
        halts = np.ones((batch, num_layers), dtype=bool)  # (B, N): the bound holds after layer n (always after N)
        exit_layer = np.full(batch, num_layers, dtype=np.int64)  # (B,)
        rows = _Rows.start(ids, types, mask)
        acc_prob, remaining_prob = np.zeros((batch, num_classes)), np.ones(batch)  # a_0 (R, C), p_0 (R,)
        for n in range(num_layers):
            rows.hidden, layer_prob, halting_prob = self._layer(n, rows)  # (R, T, H), (R, C), (R,)
            # a_n = a_{n-1} + p_{n-1} (y_n - a_{n-1});  p_n = h_n p_{n-1}  (the torch model's order of operations)
            acc_prob = acc_prob + remaining_prob[:, None] * (layer_prob.astype(np.float64) - acc_prob)  # (R, C)
            remaining_prob = halting_prob.astype(np.float64) * remaining_prob  # (R,)
            rows.write(layer_probs, n, layer_prob)
            rows.write(halting_probs, n, halting_prob)
            rows.write(acc_probs, n, acc_prob)
            rows.write(remaining_probs, n, remaining_prob)
            if n + 1 == num_layers:
                break
            halt = _halts(acc_prob, remaining_prob, (num_layers - n - 1) * relaxation, bound)  # (R,)
            rows.write(halts, n, halt)
            if not halt_early or not halt.any():
                continue
            exit_layer[np.flatnonzero(halt) if rows.index is None else rows.index[halt]] = n + 1
            if halt.all():
                break
            keep = ~halt
            rows, acc_prob, remaining_prob = rows.keep(keep), acc_prob[keep], remaining_prob[keep]
        if not halt_early:  # the exit halting would take, read off the trace: the first layer whose bound holds
            exit_layer = halts.argmax(axis=1) + 1
        probs = acc_probs[np.arange(batch), exit_layer - 1]  # (B, C): a at the exit
        logits = np.log(np.maximum(probs, 1e-12)).astype(np.float32)  # (B, C)
        return DactBertOutput(
            logits=torch.from_numpy(logits), probs=torch.from_numpy(probs),
            prediction=torch.from_numpy(probs.argmax(axis=-1)), exit_layer=torch.from_numpy(exit_layer),
            layer_probs=torch.from_numpy(layer_probs), halting_probs=torch.from_numpy(halting_probs),
            remaining_probs=torch.from_numpy(remaining_probs), acc_probs=torch.from_numpy(acc_probs),
            ponder_cost=torch.from_numpy(np.nansum(remaining_probs, axis=1)))


def _halts(acc_prob: np.ndarray, remaining_prob: np.ndarray, layers_left: float, bound: str) -> np.ndarray:
    """The halting bound on NumPy arrays: a_n (R, C), p_n (R,) -> bool (R,), through the halting module's formula."""
    from .halting import bound_margin

    top2 = np.sort(acc_prob, axis=-1)[:, -2:]  # (R, 2): runner-up, top
    return bound_margin(top2[:, 1], top2[:, 0], remaining_prob, layers_left, bound) > 0


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
        exits = np.full(batch, num_layers, dtype=np.int64)  # (B,)
        rows = _Rows.start(ids, types, mask)
        state = ExitState(rule, num_layers, batch, torch.device("cpu"))
        for n in range(num_layers):
            rows.hidden, z = self._layer(n, rows)  # (R, T, H), (R, C)
            rows.write(layer_logits, n, z)
            if not halt_early or n + 1 == num_layers:
                continue
            stop = state.step(n + 1, torch.from_numpy(z)).numpy()  # (R,)
            if stop.any():
                exits[np.flatnonzero(stop) if rows.index is None else rows.index[stop]] = n + 1
                if stop.all():
                    break
                keep = ~stop
                state.keep(torch.from_numpy(keep))
                rows = rows.keep(keep)
        if not halt_early:
            exits = exit_layers_from_logits(rule, torch.from_numpy(layer_logits)).numpy()
        logits = layer_logits[np.arange(batch), exits - 1]  # (B, C)
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
