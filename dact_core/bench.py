"""`dact bench`: every method at several operating points, measured in one process (methods.md §5).

For each operating point: accuracy, average executed layers, FLOPs per example from the real
per-layer token counts against the unpadded length, wall-clock latency at batch size 1 (median
over a fixed sample of examples) and throughput at batch size 32 (length-sorted batches, median
of three timed passes over a fixed sample of batches), the speed figures as ratios to the
full-depth reference measured in the same run.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .data import TaskData
from .evaluate import ADAPTIVE_MODEL_TYPES
from .inspector import TOKEN_METHOD_NAMES

ENTROPY_THRESHOLDS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass
class OperatingPoint:
    method: str  # "reference", "DACT-BERT", "DeeBERT", "PABEE", "static", ...
    setting: str  # e.g. "tau=0.05", "S=0.3", "t=2", "k=3"
    model: torch.nn.Module
    config_overrides: dict
    guarantee: bool = True  # halted == full-depth prediction is guaranteed (DACT with relaxation 1)


@dataclass
class PointResult:
    method: str
    setting: str
    accuracy: float
    avg_layers: float
    gflops: float  # per example, mean
    avg_tokens: float  # tokens per executed layer-slot, mean over layers and examples
    latency_ms_batch1: float
    throughput_batch32: float  # examples per second
    speedup_batch1: float = 1.0
    speedup_batch32: float = 1.0
    flops_ratio: float = 1.0
    ideal_speedup: float = 1.0


def layer_flops(tokens: np.ndarray, hidden: int, intermediate: int) -> np.ndarray:
    """FLOPs of one Transformer layer on n tokens: 2 [n (4H^2 + 2HI) + 2 n^2 H] (a multiply-add counts 2)."""
    n = tokens.astype(np.float64)
    return 2.0 * (n * (4 * hidden**2 + 2 * hidden * intermediate) + 2 * n**2 * hidden)


def _apply(model, overrides: dict):
    saved = {k: getattr(model.config, k) for k in overrides}
    for k, v in overrides.items():
        setattr(model.config, k, v)
    return saved


def _run(model, enc):
    """The method's own inference: halting / exiting / token removal; plain full depth for the reference."""
    if model.config.model_type == "dact-bert" or model.config.model_type in ADAPTIVE_MODEL_TYPES:
        return model(**enc, halt_early=True)
    return model(**enc)


def _exit_layers(model, out) -> torch.Tensor:
    exit_layer = getattr(out, "exit_layer", None)
    if exit_layer is None:
        return torch.full((out.logits.shape[0],), model.config.num_hidden_layers, dtype=torch.int64)
    return exit_layer


@torch.inference_mode()
def measure(point: OperatingPoint, tokenizer, task: TaskData, max_length: int = 128, latency_examples: int = 300,
            throughput_examples: int = 2048, repeats: int = 3) -> tuple[PointResult, np.ndarray]:
    """Measure one operating point; returns the result and the per-example exit layers."""
    model = point.model.eval()
    saved = _apply(model, point.config_overrides)
    try:
        texts = task.texts()
        labels = np.asarray(task.dataset["label"])
        cfg = model.config
        lengths = np.array([len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]])
        order = np.argsort(-lengths, kind="stable")
        batches = [order[i : i + 32] for i in range(0, len(order), 32)]
        encoded = [tokenizer([texts[i] for i in idx], truncation=True, max_length=max_length, padding=True,
                             return_tensors="pt") for idx in batches]
        prediction = np.zeros(len(texts), dtype=np.int64)
        exit_layer = np.zeros(len(texts), dtype=np.int64)
        layers = np.arange(1, cfg.num_hidden_layers + 1)
        tokens_per_layer = np.zeros((len(texts), cfg.num_hidden_layers))  # (B, N) tokens each layer ran on
        # accuracy, exits and token counts: one pass over every example
        for idx, enc in zip(batches, encoded):
            out = _run(model, enc)
            prediction[idx] = out.logits.argmax(-1).numpy()
            exit_layer[idx] = _exit_layers(model, out).numpy()
            if getattr(out, "tokens_per_layer", None) is not None:
                tokens_per_layer[idx] = out.tokens_per_layer.numpy()
            else:
                executed = layers[None, :] <= exit_layer[idx][:, None]
                tokens_per_layer[idx] = np.where(executed, lengths[idx][:, None], 0)
        # throughput: median of timed passes over at most `throughput_examples` examples, every k-th
        # batch of the length-sorted order so that the mix of lengths is the data set's
        step = max(1, len(batches) // max(1, throughput_examples // 32))
        timed = encoded[::step]
        timed_examples = sum(len(idx) for idx in batches[::step])
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for enc in timed:
                _run(model, enc)
            times.append(time.perf_counter() - t0)
        throughput = timed_examples / statistics.median(times)

        sample = np.random.default_rng(0).permutation(len(texts))[:latency_examples]
        singles = [tokenizer(texts[i], truncation=True, max_length=max_length, return_tensors="pt") for i in sample]
        for enc in singles[:10]:
            _run(model, enc)
        latencies = []
        for enc in singles:
            t0 = time.perf_counter()
            _run(model, enc)
            latencies.append(time.perf_counter() - t0)
        flops = layer_flops(tokens_per_layer, cfg.hidden_size, cfg.intermediate_size).sum(1)  # (B,)
        result = PointResult(
            method=point.method,
            setting=point.setting,
            accuracy=float((prediction == labels).mean()),
            avg_layers=float(exit_layer.mean()),
            gflops=float(flops.mean() / 1e9),
            avg_tokens=float(tokens_per_layer.mean()),
            latency_ms_batch1=1000 * statistics.median(latencies),
            throughput_batch32=throughput,
        )
        return result, exit_layer
    finally:
        _apply(model, saved)


def operating_points(reference, dact_models: list, multi_exit=None, token_models: list = ()) -> list[OperatingPoint]:
    """The reference first (speed ratios are taken against it), then every method's settings."""
    points = [OperatingPoint("reference", "full depth", reference, {})]
    for model in token_models:
        name = TOKEN_METHOD_NAMES[model.config.model_type]
        knob = (f"phi={model.config.length_weight:g}" if name == "AdapLeR"
                else f"lambda={model.config.gate_sparsity:g}, mu={model.config.gate_bimodal:g}")
        points.append(OperatingPoint(name, knob, model, {}))
    for model in dact_models:
        points.append(OperatingPoint("DACT-BERT", f"tau={model.config.ponder_penalty:g}", model,
                                     {"halting_bound": "tight", "halting_relaxation": 1.0}))
    if multi_exit is not None:
        n = multi_exit.config.num_hidden_layers
        points += [OperatingPoint("static", f"k={k}", multi_exit, {"exit_rule": "static", "exit_layer": k})
                   for k in range(1, n + 1)]
        points += [OperatingPoint("DeeBERT", f"S={s:g}", multi_exit, {"exit_rule": "entropy", "exit_threshold": s})
                   for s in ENTROPY_THRESHOLDS]
        points += [OperatingPoint("PABEE", f"t={t}", multi_exit, {"exit_rule": "patience", "exit_patience": t})
                   for t in range(1, n)]
    return points


def run_bench(points: list[OperatingPoint], tokenizer, task: TaskData, threads: int = 2,
              latency_examples: int = 300, throughput_examples: int = 2048) -> pd.DataFrame:
    torch.set_num_threads(threads)
    results = []
    for point in tqdm(points, desc="operating points"):
        result, _ = measure(point, tokenizer, task, latency_examples=latency_examples,
                            throughput_examples=throughput_examples)
        results.append(result)
    ref = results[0]
    n_layers = points[0].model.config.num_hidden_layers
    for r in results:
        r.speedup_batch1 = ref.latency_ms_batch1 / r.latency_ms_batch1
        r.speedup_batch32 = r.throughput_batch32 / ref.throughput_batch32
        r.flops_ratio = r.gflops / ref.gflops
        r.ideal_speedup = n_layers / r.avg_layers
    return pd.DataFrame([asdict(r) for r in results])


def accuracy_at_depth(table: pd.DataFrame, method: str, depth: float) -> float | None:
    """Best accuracy a method reaches at or below `depth` average layers (its upper-left frontier)."""
    rows = table[(table.method == method) & (table.avg_layers <= depth)]
    return None if rows.empty else float(rows.accuracy.max())


def targets(table: pd.DataFrame) -> dict:
    """The SST-2 targets of the benchmark issue, each with the margin by which it is met or missed."""
    out: dict = {}
    dact = table[table.method == "DACT-BERT"]
    for rival in ("DeeBERT", "PABEE"):
        gaps = []
        for depth in np.arange(2.0, 4.01, 0.25):
            mine, theirs = accuracy_at_depth(table, "DACT-BERT", depth), accuracy_at_depth(table, rival, depth)
            if mine is not None and theirs is not None:
                gaps.append((float(depth), mine - theirs))
        if gaps:
            worst = min(gaps, key=lambda g: g[1])
            out[f"dact_vs_{rival.lower()}_worst_gap_2_to_4_layers"] = {"depth": worst[0], "accuracy_gap": worst[1],
                                                                       "met": worst[1] >= 0}
    if len(dact):
        efficiency = (dact.speedup_batch1 / dact.ideal_speedup)
        out["dact_batch1_speedup_vs_ideal"] = {"min": float(efficiency.min()), "met": bool((efficiency >= 0.85).all())}
        out["dact_batch32_throughput_ratio"] = {"min": float(dact.speedup_batch32.min()),
                                                "max": float(dact.speedup_batch32.max()),
                                                "met_by_some_point": bool((dact.speedup_batch32 >= 1.5).any())}
    reference_accuracy = float(table[table.method == "reference"].accuracy.iloc[0])
    for method in ("AdapLeR", "token gates"):
        rows = table[table.method == method]
        if len(rows):
            close = rows[rows.accuracy >= reference_accuracy - 0.01]
            best = float(close.speedup_batch1.max()) if len(close) else None
            out[f"{method.lower().replace(' ', '_')}_speedup_within_1_point"] = {
                "best_batch1_speedup": best, "accuracy_loss_points": [
                    round(100 * (reference_accuracy - a), 2) for a in rows.accuracy],
                "met": best is not None and best >= 1.5}
    return out


def write_outputs(table: pd.DataFrame, out_dir: Path, title: str, settings: dict | None = None) -> None:
    """bench.csv / .json / .md and the plots; `settings` (data, sample sizes, threads) go into bench.json."""
    import plotly.express as px

    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "bench.csv", index=False)
    summary = {"title": title, "settings": settings or {}, "points": table.to_dict(orient="records"),
               "targets": targets(table)}
    (out_dir / "bench.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out_dir / "bench.md").write_text(table_markdown(table))
    for x, name in (("avg_layers", "accuracy_vs_layers"), ("speedup_batch1", "accuracy_vs_speedup_batch1")):
        fig = px.line(table.sort_values(x), x=x, y="accuracy", color="method", markers=True, text="setting",
                      title=f"{title}: accuracy against {x.replace('_', ' ')}")
        fig.update_traces(textposition="top center")
        fig.write_html(out_dir / f"{name}.html", include_plotlyjs="cdn")
        try:
            fig.write_image(out_dir / f"{name}.png", width=1000, height=560)
        except Exception:  # kaleido + Chromium are optional; the HTML is always written
            pass


def table_markdown(table: pd.DataFrame) -> str:
    cols = ["method", "setting", "accuracy", "avg_layers", "ideal_speedup", "flops_ratio", "speedup_batch1",
            "speedup_batch32", "latency_ms_batch1", "throughput_batch32"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table[cols].itertuples(index=False):
        cells = [row.method, row.setting, f"{100 * row.accuracy:.2f}", f"{row.avg_layers:.2f}",
                 f"{row.ideal_speedup:.2f}", f"{row.flops_ratio:.3f}", f"{row.speedup_batch1:.2f}",
                 f"{row.speedup_batch32:.2f}", f"{row.latency_ms_batch1:.2f}", f"{row.throughput_batch32:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
