"""Evaluation: a method's own inference over a data set, with per-example traces and metrics.

Every method runs through the one runner. For DACT-BERT the runner also runs the full depth (the
reference the guarantee is about), so the traces record the full-depth values of every layer (y_n,
h_n, p_n, a_n, each layer's weight in the final answer) next to the halting run's exit layer and
answer: the app can draw the whole evolution and recompute exits under another bound without the model.

Under `torchrun` (or any launcher that sets RANK / WORLD_SIZE) each process evaluates one
contiguous shard and the main process merges them, so the files equal a single-process run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data import TaskData
from .halting import BOUNDS, exit_layers_from_trace, layer_weights
from .methods import family_of
from .runner import run


@dataclass
class EvalResult:
    metrics: dict
    traces: pd.DataFrame


def trace_columns(num_layers: int, label_names: list[str]) -> dict[str, list[str]]:
    """Names of the per-layer trace columns (1-based layers), grouped by quantity."""
    layers = range(1, num_layers + 1)
    return {
        "halting_prob": [f"halting_prob_{n}" for n in layers],
        "remaining_prob": [f"remaining_prob_{n}" for n in layers],
        "layer_weight": [f"layer_weight_{n}" for n in layers],
        "tokens": [f"tokens_{n}" for n in layers],
        **{f"acc_prob:{c}": [f"acc_prob_{n}_{c}" for n in layers] for c in label_names},
        **{f"layer_prob:{c}": [f"layer_prob_{n}_{c}" for n in layers] for c in label_names},
    }


def evaluate(
    model,
    tokenizer,
    task: TaskData,
    batch_size: int = 64,
    max_length: int = 128,
    check_full_depth: bool = True,
    progress: bool = True,
    on_progress=None,
    setting: dict | None = None,
    float_model=None,
    halting_pass: bool = True,
    torch_model=None,
) -> EvalResult:
    """The method's inference over `task`; returns metrics and one trace row per example (input order).

    setting: per-call inference arguments (default: the model's config), e.g. halting_bound and
        halting_relaxation for DACT-BERT. check_full_depth (DACT-BERT): also run every layer.
    on_progress(done, total), if given, is called after every batch (the app's progress bar).
    halting_pass: DACT-BERT with check_full_depth: False reads exits and answers off the full-depth trace
        (half the work, for the app) instead of running the halting path too; `agree_with_full_depth` is
        then derived, not checked (metrics say `halting_path_run`).
    float_model: for a quantized model, the float model it came from: its answer is recorded
        (`float_prediction`: the full-depth answer for DACT-BERT, the method's own inference for the
        others) and the agreement reported; the guarantee itself is about the quantized model's own full depth.
    torch_model: for a model on the ONNX Runtime engine, the same model on torch: its answers and exit layers under
        the same setting are recorded (`torch_prediction`, `torch_exit_layer`, `torch_margin`: its top answer's lead
        over the runner-up) and the agreements reported.
    """
    config = model.config
    family = family_of(model)
    is_dact = family.model_type == "dact-bert"
    setting = dict(setting or {})
    if is_dact:
        setting.setdefault("halting_bound", config.halting_bound)
        setting.setdefault("halting_relaxation", config.halting_relaxation)
        setting["halting_relaxation"] = float(setting["halting_relaxation"])
    full_depth = is_dact and check_full_depth
    result = run(model, tokenizer, task.texts(), setting, batch_size, max_length, full_depth=full_depth,
                 halting_pass=halting_pass or not full_depth, progress=progress, on_progress=on_progress)
    label_names = [config.id2label[i] for i in range(config.num_labels)]
    num_layers = config.num_hidden_layers

    texts = task.dataset[task.text_columns[0]]
    if len(task.text_columns) > 1:
        texts = [" [SEP] ".join(parts) for parts in zip(*(task.dataset[c] for c in task.text_columns))]
    frame: dict = {"text": texts}
    has_labels = "label" in task.dataset.column_names
    if has_labels:
        labels = np.asarray(task.dataset["label"])
        frame["label"] = labels
        frame["label_name"] = [label_names[i] if i < len(label_names) else str(i) for i in labels]
    frame.update(
        exit_layer=result.exit_layer,
        prediction=result.prediction,
        prediction_name=[label_names[i] for i in result.prediction],
        confidence=result.probs.max(axis=1),
        num_tokens=result.num_tokens,
        truncated=result.truncated,
    )
    if has_labels:
        frame["correct"] = result.prediction == labels
    cols = trace_columns(num_layers, label_names)
    for layer in range(num_layers):
        frame[cols["tokens"][layer]] = result.tokens_per_layer[:, layer]
    if full_depth:
        frame["full_depth_prediction"] = result.full_depth_prediction
        frame["agrees_with_full_depth"] = result.prediction == result.full_depth_prediction
        relaxation = setting["halting_relaxation"]
        acc, remaining = torch.from_numpy(result.acc_probs), torch.from_numpy(result.remaining_probs)
        for bound in BOUNDS:
            frame[f"exit_layer_{bound}"] = exit_layers_from_trace(acc, remaining, bound, relaxation).numpy()
        weights = layer_weights(remaining).numpy()
        for layer in range(num_layers):
            frame[cols["halting_prob"][layer]] = result.halting_probs[:, layer]
            frame[cols["remaining_prob"][layer]] = result.remaining_probs[:, layer]
            frame[cols["layer_weight"][layer]] = weights[:, layer]
            for c, name in enumerate(label_names):
                frame[cols[f"acc_prob:{name}"][layer]] = result.acc_probs[:, layer, c]
                frame[cols[f"layer_prob:{name}"][layer]] = result.layer_probs[:, layer, c]
    if float_model is not None:
        reference = run(float_model, tokenizer, task.texts(), setting if is_dact else None, batch_size, max_length,
                        full_depth=is_dact, halting_pass=False, progress=False)  # only its answers are used
        frame["float_prediction"] = reference.full_depth_prediction if is_dact else reference.prediction
        frame["agrees_with_float"] = result.prediction == frame["float_prediction"]
    if torch_model is not None:
        on_torch = run(torch_model, tokenizer, task.texts(), setting, batch_size, max_length, progress=False)
        frame["torch_prediction"], frame["torch_exit_layer"] = on_torch.prediction, on_torch.exit_layer
        top2 = np.sort(on_torch.probs, axis=1)[:, -2:]  # (n, 2)
        frame["torch_margin"] = top2[:, 1] - top2[:, 0]
        frame["margin"] = np.diff(np.sort(result.probs, axis=1)[:, -2:], axis=1)[:, 0]
    traces = pd.DataFrame(frame)
    metrics = summarize(traces, num_layers, label_names)
    if torch_model is not None:
        metrics["agree_with_torch"] = int((traces["prediction"] == traces["torch_prediction"]).sum())
        metrics["exit_layer_agree_with_torch"] = int((traces["exit_layer"] == traces["torch_exit_layer"]).sum())
    quantization = getattr(model, "quantization", None)
    if quantization:
        metrics["quantization"] = quantization
    metrics.update(method=family.display, model_type=config.model_type, setting=setting,
                   seconds=round(result.seconds, 3), source=task.source)
    if is_dact:
        metrics["guarantee_holds"] = setting["halting_relaxation"] == 1.0
        metrics["halting_path_run"] = halting_pass or not full_depth
    return EvalResult(metrics, traces)


def summarize(traces: pd.DataFrame, num_layers: int, label_names: list[str]) -> dict:
    """Metrics of a trace table: accuracy, average exit layer, histogram, tokens, agreement, breakdowns."""
    exit_layer = traces["exit_layer"]
    metrics: dict = {
        "num_examples": int(len(traces)),
        "num_layers": num_layers,
        "avg_layers": float(exit_layer.mean()),
        "exit_layer_histogram": {str(k): int((exit_layer == k).sum()) for k in range(1, num_layers + 1)},
    }
    token_cols = [f"tokens_{n}" for n in range(1, num_layers + 1)]
    if all(c in traces for c in token_cols):
        metrics["avg_tokens_per_layer"] = [float(traces[c].mean()) for c in token_cols]
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
    for bound in BOUNDS:
        if f"exit_layer_{bound}" in traces:
            metrics[f"avg_layers_{bound}"] = float(traces[f"exit_layer_{bound}"].mean())
    if "agrees_with_float" in traces:
        metrics["agree_with_float"] = int(traces["agrees_with_float"].sum())
    if "agrees_with_full_depth" in traces:
        metrics["agree_with_full_depth"] = int(traces["agrees_with_full_depth"].sum())
        if "label" in traces:
            metrics["accuracy_full_depth"] = float((traces["full_depth_prediction"] == traces["label"]).mean())
    return metrics


# --- several processes (torchrun): one shard each, merged by the main process -------------------------

def distributed_rank() -> tuple[int, int]:
    """(rank, world size) from the launcher's environment; (0, 1) in a single process."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def shard(task: TaskData, rank: int, world: int) -> TaskData:
    """The contiguous part of `task` that process `rank` of `world` evaluates."""
    return TaskData(task.dataset.shard(num_shards=world, index=rank, contiguous=True), task.text_columns,
                    task.label_names, task.source)


def write_traces(traces: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".csv":
        traces.to_csv(path, index=False)
    else:
        traces.to_parquet(path, index=False)


def merge_shards(out_dir: Path, world: int, num_layers: int, label_names: list[str],
                 metrics_of_shards: list[dict]) -> EvalResult:
    """Concatenate the shards (parquet) in rank order (= input order), recompute the metrics, remove the shards."""
    paths = [out_dir / f"traces-shard{r}.parquet" for r in range(world)]
    traces = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    metrics = summarize(traces, num_layers, label_names)
    first = metrics_of_shards[0]
    for key in ("method", "model_type", "setting", "source", "guarantee_holds", "halting_path_run", "quantization"):
        if key in first:
            metrics[key] = first[key]
    metrics["seconds"] = round(sum(m["seconds"] for m in metrics_of_shards), 3)
    metrics["processes"] = world
    for p in paths:
        p.unlink()
    return EvalResult(metrics, traces)


def save_result(result: EvalResult, out_dir: Path, traces_format: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(result.metrics, indent=2) + "\n")
    traces_path = out_dir / f"traces.{traces_format}"
    write_traces(result.traces, traces_path)
    return traces_path
