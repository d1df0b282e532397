"""Evaluation: halting inference over a data set, with per-example traces and a full-depth check.

Each example is run twice: once with halting (what a deployment does) and once at full depth
(the reference the guarantee is about). The trace records the full-depth values of every layer
(y_n, h_n, p_n, a_n, each layer's weight in the final answer) and the halting run's exit layer
and prediction, so the app can draw the whole evolution while knowing where inference stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .data import TaskData
from .halting import exit_layers_from_trace, layer_weights
from .modeling_dact_bert import DactBertForSequenceClassification


ADAPTIVE_MODEL_TYPES = ("multi-exit-bert", "adapler-bert", "token-gate-bert")


@dataclass
class EvalResult:
    metrics: dict
    traces: pd.DataFrame


def _batches(task: TaskData, tokenizer, batch_size: int, max_length: int, chunk_size: int = 2048):
    """Length-sorted batches of tokenised rows, read chunk by chunk so large sets stream."""
    for start in range(0, len(task), chunk_size):
        chunk = task.dataset[start : start + chunk_size]
        texts = [chunk[c] for c in task.text_columns]
        lengths = tokenizer(*texts, truncation=False, verbose=False)["input_ids"]
        lengths = np.array([len(ids) for ids in lengths])
        order = np.argsort(-lengths, kind="stable")
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            enc = tokenizer(
                *[[t[i] for i in idx] for t in texts],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            yield start + idx, enc, lengths[idx]


def trace_columns(num_layers: int, label_names: list[str]) -> dict[str, list[str]]:
    """Names of the per-layer trace columns (1-based layers), grouped by quantity."""
    layers = range(1, num_layers + 1)
    return {
        "halting_prob": [f"halting_prob_{n}" for n in layers],
        "remaining_prob": [f"remaining_prob_{n}" for n in layers],
        "layer_weight": [f"layer_weight_{n}" for n in layers],
        **{f"acc_prob:{c}": [f"acc_prob_{n}_{c}" for n in layers] for c in label_names},
        **{f"layer_prob:{c}": [f"layer_prob_{n}_{c}" for n in layers] for c in label_names},
    }


@torch.inference_mode()
def evaluate(
    model: DactBertForSequenceClassification,
    tokenizer,
    task: TaskData,
    batch_size: int = 64,
    max_length: int = 128,
    check_full_depth: bool = True,
    progress: bool = True,
    on_progress=None,
    halting_bound: str | None = None,
    halting_relaxation: float | None = None,
) -> EvalResult:
    """Halting inference over `task`; returns metrics and one trace row per example (input order).

    on_progress(done, total), if given, is called after every batch (the app's progress bar).
    halting_bound / halting_relaxation: the inference setting (default: the model's config).
    """
    model.eval()
    config = model.config
    bound = halting_bound or config.halting_bound
    relaxation = config.halting_relaxation if halting_relaxation is None else float(halting_relaxation)
    setting = dict(halting_bound=bound, halting_relaxation=relaxation)
    max_length = min(max_length, config.max_position_embeddings)
    label_names = [config.id2label[i] for i in range(config.num_labels)]
    num_layers = config.num_hidden_layers
    has_labels = "label" in task.dataset.column_names
    n = len(task)
    rows: dict[str, np.ndarray] = {
        "exit_layer": np.zeros(n, dtype=np.int64),
        "prediction": np.zeros(n, dtype=np.int64),
        "full_depth_prediction": np.full(n, -1, dtype=np.int64),
        "num_tokens": np.zeros(n, dtype=np.int64),
        "exit_layer_paper": np.zeros(n, dtype=np.int64),
        "exit_layer_tight": np.zeros(n, dtype=np.int64),
    }
    layer_probs = np.zeros((n, num_layers, len(label_names)))
    acc_probs = np.zeros((n, num_layers, len(label_names)))
    halting_probs = np.zeros((n, num_layers))
    remaining_probs = np.zeros((n, num_layers))
    halting_seconds = 0.0
    bar = tqdm(total=n, desc="evaluating", unit="ex", disable=not progress)
    for idx, enc, lengths in _batches(task, tokenizer, batch_size, max_length):
        t0 = time.perf_counter()
        halted = model(**enc, halt_early=True, **setting)
        halting_seconds += time.perf_counter() - t0
        rows["exit_layer"][idx] = halted.exit_layer.numpy()
        rows["prediction"][idx] = halted.probs.argmax(-1).numpy()
        rows["num_tokens"][idx] = lengths
        trace = halted
        if check_full_depth:
            trace = model(**enc, **setting)
            rows["full_depth_prediction"][idx] = trace.probs.argmax(-1).numpy()
            for name in ("tight", "paper"):
                exits = exit_layers_from_trace(trace.acc_probs, trace.remaining_probs, name, relaxation)
                rows[f"exit_layer_{name}"][idx] = exits.numpy()
        layer_probs[idx] = trace.layer_probs.float().numpy()
        acc_probs[idx] = trace.acc_probs.numpy()
        halting_probs[idx] = trace.halting_probs.float().numpy()
        remaining_probs[idx] = trace.remaining_probs.numpy()
        bar.update(len(idx))
        if on_progress is not None:
            on_progress(int(bar.n), n)
    bar.close()

    texts = task.dataset[task.text_columns[0]]
    if len(task.text_columns) > 1:
        texts = [" [SEP] ".join(parts) for parts in zip(*(task.dataset[c] for c in task.text_columns))]
    frame = {"text": texts}
    if has_labels:
        labels = np.asarray(task.dataset["label"])
        frame["label"] = labels
        frame["label_name"] = [label_names[i] if i < len(label_names) else str(i) for i in labels]
    frame.update(
        exit_layer=rows["exit_layer"],
        prediction=rows["prediction"],
        prediction_name=[label_names[i] for i in rows["prediction"]],
        num_tokens=rows["num_tokens"],
        truncated=rows["num_tokens"] > max_length,
    )
    if has_labels:
        frame["correct"] = rows["prediction"] == labels
    if check_full_depth:
        frame["full_depth_prediction"] = rows["full_depth_prediction"]
        frame["agrees_with_full_depth"] = rows["prediction"] == rows["full_depth_prediction"]
    weights = layer_weights(torch.from_numpy(remaining_probs)).numpy() if check_full_depth else None
    cols = trace_columns(num_layers, label_names)
    for layer in range(num_layers):
        frame[cols["halting_prob"][layer]] = halting_probs[:, layer]
        frame[cols["remaining_prob"][layer]] = remaining_probs[:, layer]
        if weights is not None:
            frame[cols["layer_weight"][layer]] = weights[:, layer]
        for c, name in enumerate(label_names):
            frame[cols[f"acc_prob:{name}"][layer]] = acc_probs[:, layer, c]
            frame[cols[f"layer_prob:{name}"][layer]] = layer_probs[:, layer, c]
    traces = pd.DataFrame(frame)

    metrics = summarize(traces, num_layers, label_names)
    metrics.update(
        halting_bound=bound,
        halting_relaxation=relaxation,
        guarantee_holds=relaxation == 1.0,
        halting_seconds=round(halting_seconds, 3),
        source=task.source,
    )
    if check_full_depth:
        metrics["avg_layers_tight"] = float(rows["exit_layer_tight"].mean())
        metrics["avg_layers_paper"] = float(rows["exit_layer_paper"].mean())
    return EvalResult(metrics, traces)


@torch.inference_mode()
def evaluate_plain_classifier(model, tokenizer, task: TaskData, batch_size: int = 64, max_length: int = 128,
                              progress: bool = True) -> EvalResult:
    """Any other classifier: the full-depth reference, or a peer method (multi-exit, AdapLeR, token gates).

    Peer methods run their early-exit / token-removal inference (`halt_early=True`); the traces record
    each example's exit layer and, for the token methods, the tokens each layer ran on.
    """
    model.eval()
    config = model.config
    max_length = min(max_length, config.max_position_embeddings)
    label_names = [config.id2label[i] for i in range(config.num_labels)]
    n_layers = config.num_hidden_layers
    adaptive = config.model_type in ADAPTIVE_MODEL_TYPES
    prediction = np.zeros(len(task), dtype=np.int64)
    exit_layer = np.full(len(task), n_layers, dtype=np.int64)
    tokens = np.zeros((len(task), n_layers), dtype=np.int64)
    seconds = 0.0
    for idx, enc, _ in tqdm(list(_batches(task, tokenizer, batch_size, max_length)), desc="evaluating",
                            disable=not progress):
        t0 = time.perf_counter()
        out = model(**enc, halt_early=True) if adaptive else model(**enc)
        seconds += time.perf_counter() - t0
        prediction[idx] = out.logits.argmax(-1).numpy()
        if getattr(out, "exit_layer", None) is not None:
            exit_layer[idx] = out.exit_layer.numpy()
        if getattr(out, "tokens_per_layer", None) is not None:
            tokens[idx] = out.tokens_per_layer.numpy()
        else:  # every executed layer runs on the whole (unpadded) input
            lengths = enc["attention_mask"].sum(1).numpy()
            tokens[idx] = np.where(np.arange(1, n_layers + 1)[None] <= exit_layer[idx][:, None], lengths[:, None], 0)
    labels = np.asarray(task.dataset["label"])
    frame = {
        "text": task.dataset[task.text_columns[0]],
        "label": labels,
        "label_name": [label_names[i] for i in labels],
        "prediction": prediction,
        "prediction_name": [label_names[i] for i in prediction],
        "correct": prediction == labels,
        "exit_layer": exit_layer,
        **{f"tokens_{n + 1}": tokens[:, n] for n in range(n_layers)},
    }
    traces = pd.DataFrame(frame)
    metrics = summarize(traces, n_layers, label_names)
    metrics.update(seconds=round(seconds, 3), source=task.source, model_type=config.model_type,
                   avg_tokens_per_layer=[float(v) for v in tokens.mean(0)])
    return EvalResult(metrics, traces)


def summarize(traces: pd.DataFrame, num_layers: int, label_names: list[str]) -> dict:
    """Metrics of a trace table: accuracy, average exit layer, histogram, agreement, breakdowns."""
    exit_layer = traces["exit_layer"]
    metrics: dict = {
        "num_examples": int(len(traces)),
        "num_layers": num_layers,
        "avg_layers": float(exit_layer.mean()),
        "exit_layer_histogram": {str(k): int((exit_layer == k).sum()) for k in range(1, num_layers + 1)},
    }
    if "correct" in traces:
        metrics["accuracy"] = float(traces["correct"].mean())
        metrics["accuracy_by_exit_layer"] = {
            str(k): float(g["correct"].mean()) for k, g in traces.groupby("exit_layer") if len(g)
        }
        metrics["avg_layers_correct"] = float(exit_layer[traces["correct"]].mean()) if traces["correct"].any() else None
        wrong = ~traces["correct"]
        metrics["avg_layers_wrong"] = float(exit_layer[wrong].mean()) if wrong.any() else None
        metrics["avg_layers_by_label"] = {
            str(name): float(g["exit_layer"].mean()) for name, g in traces.groupby("label_name")
        }
    if "agrees_with_full_depth" in traces:
        metrics["agree_with_full_depth"] = int(traces["agrees_with_full_depth"].sum())
        if "label" in traces:
            metrics["accuracy_full_depth"] = float((traces["full_depth_prediction"] == traces["label"]).mean())
    return metrics
