"""`dact bench`: every method at several operating points, measured in one process (methods.md §5).

For each operating point (a model and an inference setting from the registry, `methods.METHODS`):
  * accuracy, average executed layers and FLOPs (from the real per-layer token counts against the
    unpadded length) over every example, through the one runner;
  * wall-clock with the one interleaved timer (`timing.interleaved_times`): batch size 1 on a fixed
    sample of examples and batch size 32 on a fixed sample of length-sorted batches, every point and
    the reference timed in turn on each block of inputs (10 by default, so that a point's ratio depends
    much less on which other points are timed beside it), in several rounds. Each input's time is its
    median over the rounds (`timing.round_median`: a stalled call does not enter a total). A point's
    speed-up is the reference's total time over the point's on the same inputs, and its ideal speed-up
    N / layers is computed on those same inputs. Every model runs on one engine (ONNX Runtime on a CPU by
    default, or torch) at one precision, the reference included, so the headline ratio is against what a user
    would deploy instead: the full-depth model on the same engine and precision. The reference is timed once more,
    in turn with the rest, as eager PyTorch in float32 (`speedup_*_vs_torch`);
  * each point's accuracy difference against the reference, with a paired bootstrap 95% interval (scipy):
    against the reference of its own seed when the bench has one, so that several seeds are each compared
    with the reference they started from.
Several seeds of one model (the same method and setting) are reported as mean and spread.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .data import TaskData
from .loading import weights_fingerprint
from .methods import family_of, infer, methods_of
from .runner import length_batches, model_device, run, tokenize
from .timing import interleaved_times, round_median, torch_threads

@dataclass
class OperatingPoint:
    method: str  # "reference", "DACT-BERT", "DeeBERT", "PABEE", "static", ...
    setting: str  # e.g. "tau=0.05", "S=0.3", "t=2", "k=3"
    model: torch.nn.Module
    inference: dict  # per-call inference arguments
    source: str = ""  # the model folder
    seed: int | None = None
    timing_only: bool = False  # a reference with an untrained head (`same_size_reference`): its speed, not its accuracy


@dataclass
class PointResult:
    method: str
    setting: str
    source: str
    seed: int | None
    accuracy: float
    avg_layers: float
    gflops: float  # per example, mean
    flops_ratio: float
    ideal_speedup: float  # N / average layers over every example
    ideal_speedup_batch1: float  # the same on the examples timed at batch size 1
    speedup_batch1: float
    efficiency_batch1: float  # speed-up over its ideal on the same examples
    efficiency_batch1_low: float  # its paired bootstrap 95% interval over the timed examples
    efficiency_batch1_high: float
    # against the ideal sum t_ref / sum (t_ref * layers / N), with each example's own reference time:
    # the speed-up a halting method with no overhead at all would reach
    efficiency_batch1_time_weighted: float
    speedup_batch32: float
    latency_ms_batch1: float  # mean over the timed examples of each one's median over the rounds
    throughput_batch32: float  # examples per second
    # against the reference in eager PyTorch float32, timed beside the others: what the engine and halting give together
    speedup_batch1_vs_torch: float = np.nan
    speedup_batch32_vs_torch: float = np.nan
    accuracy_diff: float = 0.0  # against `paired_reference`, with its paired 95% interval
    accuracy_diff_low: float = 0.0
    accuracy_diff_high: float = 0.0
    paired_reference: str = ""  # the reference folder the difference is taken against
    weights_sha256: str = ""  # of the source's model.safetensors when measured (a folder's file can be replaced)
    correct: np.ndarray = field(default=None, repr=False)  # (n,) per example, for paired intervals
    exit_layer: np.ndarray = field(default=None, repr=False)  # (n,) per example, for `examples_table`
    flops: np.ndarray = field(default=None, repr=False)  # (n,) per example


def layer_flops(tokens: np.ndarray, hidden: int, intermediate: int) -> np.ndarray:
    """FLOPs of one Transformer layer on n tokens: 2 [n (4H^2 + 2HI) + 2 n^2 H] (a multiply-add counts 2)."""
    n = tokens.astype(np.float64)
    return 2.0 * (n * (4 * hidden**2 + 2 * hidden * intermediate) + 2 * n**2 * hidden)


def operating_points(models: list[tuple[str, torch.nn.Module, int | None]]) -> list[OperatingPoint]:
    """Every method and setting the registry gives for each (source, model, seed); the first model is the
    reference the speed-ups are taken against. A quantized model's methods are named e.g. "DACT-BERT int8"."""
    points = []
    for i, (source, model, seed) in enumerate(models):
        if i == 0 and family_of(model).kind != "plain":
            raise ValueError(f"the reference must be a plain full-depth classifier, {source} is "
                             f"{family_of(model).display}")
        suffix = f" {model.quantization}" if getattr(model, "quantization", None) else ""
        for method in methods_of(model):
            points += [OperatingPoint(method.name + suffix, label, model, setting, source, seed)
                       for label, setting in method.points(model.config)]
    return points


def same_size_reference(model: torch.nn.Module) -> torch.nn.Module:
    """A plain BERT sequence classifier with `model`'s configuration and encoder weights and an untrained head: the
    full-depth network a user would otherwise deploy, for timing where no trained reference is given (its accuracy
    means nothing and is not reported)."""
    from transformers import BertConfig, BertForSequenceClassification

    settings = {k: v for k, v in model.config.to_dict().items()
                if k in BertConfig.__dataclass_fields__ and k != "model_type"}
    reference = BertForSequenceClassification(BertConfig(**settings))
    reference.bert.load_state_dict(model.bert.state_dict(), strict=False)  # no pooler in the layer-by-layer models
    return reference.eval()


def paired_interval(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Accuracy of a minus accuracy of b on the same examples, with a paired bootstrap 95% interval."""
    from scipy.stats import bootstrap

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(a.mean() - b.mean())
    if np.array_equal(a, b):
        return diff, diff, diff
    res = bootstrap((a, b), lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis), paired=True,
                    n_resamples=2000, confidence_level=0.95, method="percentile", rng=np.random.default_rng(seed))
    return diff, float(res.confidence_interval.low), float(res.confidence_interval.high)


def efficiency_interval(ref_seconds: np.ndarray, seconds: np.ndarray, exit_layer: np.ndarray, num_layers: int,
                        seed: int = 0) -> tuple[float, float]:
    """95% interval of (speed-up over the reference) / (ideal speed-up N / mean layers), resampling the timed
    examples (each with its reference time, its own time and its exit layer, paired)."""
    from scipy.stats import bootstrap

    def efficiency(ref, own, exits, axis):
        return ref.sum(axis=axis) / own.sum(axis=axis) / (num_layers / exits.mean(axis=axis))

    if np.all(seconds == ref_seconds):
        value = float(efficiency(ref_seconds, seconds, exit_layer, 0))
        return value, value
    res = bootstrap((ref_seconds, seconds, exit_layer.astype(float)), efficiency, paired=True, n_resamples=2000,
                    confidence_level=0.95, method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def latency_sample(num_texts: int, count: int) -> np.ndarray:
    """Indices (count,) of the examples timed one by one: a fixed random sample, the same in every bench of a data set
    (so that two benches' batch-1 times are on the same inputs)."""
    return np.random.default_rng(0).permutation(num_texts)[:count]


def run_bench(points: list[OperatingPoint], tokenizer, task: TaskData, threads: int | None = 2,
              latency_examples: int = 300, throughput_examples: int = 2048, rounds: int = 3,
              max_length: int = 128, progress: bool = True, block: int = 10,
              torch_reference: torch.nn.Module | None = None) -> list[PointResult]:
    """Measure every point (the first is the reference); see the module docstring. torch_reference: the reference as
    eager PyTorch float32, timed beside the points (None: not timed)."""
    texts = task.texts()
    labels = np.asarray(task.dataset["label"])
    with torch_threads(threads):
        runs = []
        for point in tqdm(points, desc="accuracy (every point on every example)", disable=not progress):
            runs.append(run(point.model, tokenizer, texts, point.inference, batch_size=32, max_length=max_length))
        device = model_device(points[0].model)
        singles_idx = latency_sample(len(texts), latency_examples)
        singles = [tokenize(tokenizer, [texts[i]], max_length, return_tensors="pt").to(device) for i in singles_idx]
        batches = list(length_batches(tokenizer, texts, 32, max_length, chunk_size=len(texts)))
        step = max(1, len(batches) // max(1, throughput_examples // 32))
        batches = batches[::step]
        batch_idx = np.concatenate([idx for idx, _, _ in batches])
        paths = [lambda x, p=p: infer(p.model, x, **p.inference) for p in points]
        if torch_reference is not None:  # last, timed in turn with the rest
            paths.append(lambda x: torch_reference(**x))
        per_input = round_median(interleaved_times(paths, singles, rounds, device=device, desc="batch 1",
                                                   progress=progress, block=block))  # (P (+ 1), I)
        t32 = round_median(interleaved_times(paths, [enc.to(device) for _, enc, _ in batches], rounds, device=device,
                                             desc="batch 32", progress=progress, block=block)).sum(1)  # (P (+ 1),)
        t1_torch = per_input[-1].sum() if torch_reference is not None else np.nan
        t32_torch = t32[-1] if torch_reference is not None else np.nan
        per_input, t32 = per_input[:len(points)], t32[:len(points)]
        t1 = per_input.sum(1)  # (P,)
    reference, ref_cfg = runs[0], points[0].model.config
    # a point's accuracy is compared with the float reference of its own seed when there is one, else the first
    own_reference = {p.seed: i for i, p in reversed(list(enumerate(points))) if p.method == "reference"}
    # a point's speed is compared with the first reference of its own precision (int8 with int8): the same engine
    # and precision a user would deploy at full depth instead
    speed_reference = {_precision(p): i for i, p in reversed(list(enumerate(points)))
                       if family_of(p.model).kind == "plain"}
    ref_flops = layer_flops(reference.tokens_per_layer, ref_cfg.hidden_size, ref_cfg.intermediate_size).sum()
    fingerprints = {p.source: weights_fingerprint(p.source) if p.source else "" for p in points}  # once per file
    results = []
    for i, (point, result) in enumerate(zip(points, runs)):
        cfg = point.model.config
        n_layers = cfg.num_hidden_layers
        flops = layer_flops(result.tokens_per_layer, cfg.hidden_size, cfg.intermediate_size).sum(1)  # (n,)
        correct = result.prediction == labels
        # an int8 point against its float model's same point (DACT-BERT's: its guaranteed full-depth answer)
        same_float = [k for k, q in enumerate(points) if _precision(point) and not _precision(q)
                      and (q.source, q.setting, q.method) == (point.source, point.setting, point.method.removesuffix(" " + _precision(point)))]
        j = same_float[0] if same_float else 0 if point.method == "reference" else own_reference.get(point.seed, 0)
        if point.timing_only or points[j].timing_only:
            diff = low = high = np.nan
        else:
            diff, low, high = paired_interval(correct, runs[j].prediction == labels)
        exits1 = result.exit_layer[singles_idx]  # (I,) on the examples timed at batch size 1
        r = speed_reference.get(_precision(point), 0)
        speedup1 = float(t1[r] / t1[i])
        ideal1 = n_layers / exits1.mean()
        # the ideal with the reference's own time per example: longer inputs tend to exit later
        ideal1_time_weighted = per_input[r].sum() / (per_input[r] * exits1 / n_layers).sum()
        low1, high1 = efficiency_interval(per_input[r], per_input[i], exits1, n_layers)
        results.append(PointResult(
            method=point.method, setting=point.setting, source=point.source, seed=point.seed,
            accuracy=np.nan if point.timing_only else float(correct.mean()), avg_layers=float(result.exit_layer.mean()),
            gflops=float(flops.mean() / 1e9), flops_ratio=float(flops.sum() / ref_flops),
            ideal_speedup=float(n_layers / result.exit_layer.mean()), ideal_speedup_batch1=float(ideal1),
            speedup_batch1=speedup1, efficiency_batch1=speedup1 / float(ideal1),
            efficiency_batch1_low=low1, efficiency_batch1_high=high1,
            efficiency_batch1_time_weighted=speedup1 / float(ideal1_time_weighted),
            speedup_batch32=float(t32[r] / t32[i]),
            speedup_batch1_vs_torch=float(t1_torch / t1[i]), speedup_batch32_vs_torch=float(t32_torch / t32[i]),
            latency_ms_batch1=float(1000 * t1[i] / len(singles)),
            throughput_batch32=float(len(batch_idx) / t32[i]),
            accuracy_diff=diff, accuracy_diff_low=low, accuracy_diff_high=high, paired_reference=points[j].source,
            weights_sha256=fingerprints[point.source], correct=correct, exit_layer=result.exit_layer, flops=flops,
        ))
    return results


def _precision(point: OperatingPoint) -> str:
    """"int8" for a quantized model's point, "" for a float one."""
    return getattr(point.model, "quantization", None) or ""


PER_EXAMPLE = ("correct", "exit_layer", "flops")  # PointResult's arrays: in examples.parquet, not in bench.csv


def results_table(results: list[PointResult]) -> pd.DataFrame:
    return pd.DataFrame([{k: v for k, v in asdict(r).items() if k not in PER_EXAMPLE} for r in results])


EXAMPLES_FILE = "examples.parquet"


def examples_table(results: list[PointResult]) -> pd.DataFrame:
    """One row per (operating point, example): `point` (the row of bench.csv and of bench.json's "models"), the
    point's method, setting, source and seed, the example's index in the data, whether it was classified correctly
    (null where the accuracy is not measured: a reference with an untrained head), its exit layer (a token method
    runs every layer) and its GFLOPs. Small types, so that a bench of thousands of examples stays a few MB: the other
    files keep each point's averages, and two methods can be compared on the same examples only from these."""
    frames = []
    for i, r in enumerate(results):
        n = len(r.correct)
        correct = pd.array(r.correct.astype(bool), dtype="boolean")
        if np.isnan(r.accuracy):
            correct[:] = pd.NA
        frames.append(pd.DataFrame({
            "point": np.full(n, i, dtype=np.int16), "method": r.method, "setting": r.setting, "source": r.source,
            "seed": pd.array([r.seed] * n, dtype="Int32"), "example": np.arange(n, dtype=np.int32), "correct": correct,
            "exit_layer": r.exit_layer.astype(np.int8), "gflops": (r.flops / 1e9).astype(np.float32)}))
    table = pd.concat(frames, ignore_index=True)
    for column in ("method", "setting", "source"):
        table[column] = table[column].astype("category")
    return table


def write_examples(results: list[PointResult], out_dir: Path) -> Path:
    """`examples_table` as examples.parquet in the results folder."""
    path = Path(out_dir) / EXAMPLES_FILE
    examples_table(results).to_parquet(path, index=False, compression="zstd")
    return path


def recipe_settings(table: pd.DataFrame) -> pd.Series:
    """Each model row's setting as `seed_summary` names its row: the setting itself where the models of a method and
    setting are seeds of one recipe, else followed by the shortest end of the model's folder path that tells it apart
    (so that a reader of bench.json can find a summary row's models)."""
    settings = table["setting"].copy()
    # seeds are averaged only where every model of a setting records a seed of its own; else they are recipes
    seeds = table.groupby(["method", "setting"], sort=False)["seed"]
    own_seeds = seeds.transform(lambda s: bool(s.notna().all() and s.nunique() == len(s))).astype(bool)
    several = ~own_seeds & (seeds.transform("size") > 1)
    for (method, setting), rows in table[several].groupby(["method", "setting"], sort=False):
        parts = [Path(str(source)).parts for source in rows["source"]]
        depth = next((d for d in range(1, 1 + max(map(len, parts))) if len({p[-d:] for p in parts}) == len(parts)), None)
        names = ["/".join(p[-depth:]) for p in parts] if depth else [f"model {i + 1}" for i in range(len(parts))]
        settings.loc[rows.index] = [f"{setting} ({name})" for name in names]  # the shortest unique path end
    return settings


def seed_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, setting) and recipe: the mean over seeds, with the accuracy's spread (sample std) and
    count; where several seeds are averaged the interval ends are left empty. Models of one method and setting that share a seed (or record none) are different recipes, not seeds:
    then every model of that method and setting keeps its own row (seeds are no longer averaged there), its setting
    followed by the shortest end of its folder's path that tells it apart."""
    numeric = [c for c in table.columns
               if c not in ("method", "setting", "source", "seed", "paired_reference", "weights_sha256")]
    table = table.assign(setting=recipe_settings(table))
    grouped = table.groupby(["method", "setting"], sort=False)
    summary = grouped[numeric].mean().reset_index()
    summary["accuracy_std"] = grouped["accuracy"].std(ddof=1).fillna(0.0).values
    summary["seeds"] = grouped.size().values
    ends = [c for c in ("accuracy_diff_low", "accuracy_diff_high", "efficiency_batch1_low", "efficiency_batch1_high")
            if c in summary]
    summary.loc[summary["seeds"] > 1, ends] = np.nan  # the mean of several intervals' ends is not an interval
    return summary


SAME_RUN_SETTINGS = ("data", "split", "max_rows", "num_examples", "device", "runtime", "quantize", "threads", "timer",
                     "timer_block", "timer_statistic")
MERGED_COLUMNS = ("method", "setting", "source", "seed", "accuracy", "accuracy_diff", "accuracy_diff_low",
                  "accuracy_diff_high", "paired_reference", "avg_layers", "speedup_batch1", "efficiency_batch1",
                  "speedup_batch32")


def merge_benches(folders: list[str | Path]) -> pd.DataFrame:
    """Every model row of several `dact bench` folders on the same examples (seeds trained at different times), with
    a `bench` column naming its folder.

    Accuracy, layers and FLOPs do not depend on the run; each speed-up stays a ratio taken in its own bench's process
    against that bench's first reference. An accuracy difference is kept only where it was taken against the
    reference of the model's own seed (a reference's, or a model's whose seed had no reference in its bench, was
    taken against another seed's). Every model must record its seed, each seed of a method and setting may come from
    one bench only, and a model (by its weights) may appear in one bench only."""
    tables, first = [], None
    paths = [Path(folder) for folder in folders]
    names = [path.name for path in paths]
    if len(set(names)) < len(names) or len({path.resolve() for path in paths}) < len(paths):
        raise ValueError(f"each bench folder must be given once and have a name of its own: {names}")
    for folder in paths:
        if not (folder / "bench.csv").exists() or not (folder / "bench.json").exists():
            raise ValueError(f"{folder}: not a dact bench folder (no bench.csv and bench.json)")
        record = json.loads((folder / "bench.json").read_text())
        # benches before timer blocks timed one by one, and those before the round median summed the rounds
        settings = {"timer_block": 1, "timer_statistic": "sum of rounds", "runtime": "torch", **record.get("settings", {})}
        same = {key: settings.get(key) for key in SAME_RUN_SETTINGS}
        first = first or (folder, same)
        if same != first[1]:
            differ = [key for key in SAME_RUN_SETTINGS if same[key] != first[1][key]]
            raise ValueError(f"{folder} and {first[0]} were not measured alike ({', '.join(differ)} differ)")
        table = pd.read_csv(folder / "bench.csv", dtype={"weights_sha256": str})
        missing = [column for column in MERGED_COLUMNS if column not in table]
        if missing or table["seed"].isna().any():
            raise ValueError(f"{folder}: an older bench or a model without a recorded seed "
                             f"({', '.join(missing) or 'seed'} missing); rerun dact bench")
        seed_of = dict(zip(table.loc[table["method"] == "reference", "source"],
                           table.loc[table["method"] == "reference", "seed"]))
        foreign = table["method"].eq("reference") | table["paired_reference"].map(seed_of).ne(table["seed"])
        table.loc[foreign, ["accuracy_diff", "accuracy_diff_low", "accuracy_diff_high"]] = np.nan
        tables.append(table.assign(bench=folder.name))
    merged = pd.concat(tables, ignore_index=True)
    twice = merged[merged.duplicated(["method", "setting", "seed"], keep=False)]
    if len(twice):
        raise ValueError(f"one method, setting and seed in several models: {sorted(set(twice['source']))}")
    if "weights_sha256" in merged:
        models = merged.dropna(subset=["weights_sha256"]).drop_duplicates(["bench", "weights_sha256"])
        again = models[models.duplicated("weights_sha256", keep=False)]
        if len(again):
            raise ValueError(f"the same model is in several benches: {sorted(set(again['source']))}")
    return merged


def seeds_markdown(merged: pd.DataFrame) -> str:
    """One row per method and setting of `merge_benches`' rows: each seed's accuracy (and its difference from its
    own seed's reference, with its paired interval), the mean over seeds with the accuracy's sample spread and the
    mean of those differences; the speed-ups as the range over the benches (each a ratio within its own bench, and
    benches run at different times may differ in code and machine)."""
    seeds = sorted({int(s) for s in merged["seed"]})
    cols = ["method", "setting", *(f"seed {s}" for s in seeds), "mean ± spread (seeds)", "vs own reference (mean)",
            "layers (mean)", "speed-up b=1", "of the ideal b=1", "speed-up b=32"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]

    def span(values: pd.Series, fmt: str) -> str:
        low, high = format(values.min(), fmt), format(values.max(), fmt)
        return low if low == high else f"{low} to {high}"

    for (method, setting), rows in merged.groupby(["method", "setting"], sort=False):
        per_seed = []
        for s in seeds:
            row = rows[rows["seed"] == s]
            if row.empty:
                per_seed.append("-")
                continue
            r = next(row.itertuples())
            per_seed.append(f"{100 * r.accuracy:.2f}" + ("" if np.isnan(r.accuracy_diff) else
                            f" ({100 * r.accuracy_diff:+.2f} [{100 * r.accuracy_diff_low:+.2f}, "
                            f"{100 * r.accuracy_diff_high:+.2f}])"))
        spread = rows["accuracy"].std(ddof=1) if len(rows) > 1 else 0.0
        diffs = rows["accuracy_diff"].dropna()
        cells = [method, setting, *per_seed, f"{100 * rows['accuracy'].mean():.2f} ± {100 * spread:.2f} ({len(rows)})",
                 "-" if diffs.empty else f"{100 * diffs.mean():+.2f} ({len(diffs)})", f"{rows['avg_layers'].mean():.2f}",
                 span(rows["speedup_batch1"], ".2f"),
                 "-" if method == "reference" else span(100 * rows["efficiency_batch1"], ".0f") + "%",
                 span(rows["speedup_batch32"], ".2f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(results: list[PointResult], out_dir: Path, title: str, settings: dict | None = None,
                  command: str | None = None) -> pd.DataFrame:
    """bench.csv (every model), bench.json, bench.md (mean over seeds), the plots and examples.parquet (every point's
    result on every example); returns the summary table.
    command: the command line that ran the bench, kept in bench.json so that `dact report` can say how to rerun it."""
    import plotly.express as px

    table = results_table(results)
    summary = seed_summary(table)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "bench.csv", index=False)
    points = summary.astype(object).where(summary.notna(), None).to_dict(orient="records")  # JSON has no NaN
    record = {"title": title, **({"command": command} if command else {}), "settings": settings or {},
              "points": points, "models": table.astype(object).where(table.notna(), None).to_dict(orient="records")}
    (out_dir / "bench.json").write_text(json.dumps(record, indent=2) + "\n")
    (out_dir / "bench.md").write_text(table_markdown(summary))
    for x, name in (("avg_layers", "accuracy_vs_layers"), ("speedup_batch1", "accuracy_vs_speedup_batch1")):
        fig = px.line(summary.sort_values(x), x=x, y="accuracy", color="method", markers=True, text="setting",
                      title=f"{title}: accuracy against {x.replace('_', ' ')}")
        fig.update_traces(textposition="top center")
        fig.write_html(out_dir / f"{name}.html", include_plotlyjs="cdn")
    write_examples(results, out_dir)
    return summary


def table_markdown(summary: pd.DataFrame) -> str:
    cols = ["method", "setting", "accuracy", "diff vs reference [95% CI]", "avg_layers", "flops_ratio",
            "speedup_batch1", "efficiency_batch1", "speedup_batch32", "speedup_batch1_vs_torch", "latency_ms_batch1"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in summary.itertuples(index=False):
        accuracy = f"{100 * row.accuracy:.2f}"
        if row.seeds > 1:
            accuracy += f" ± {100 * row.accuracy_std:.2f} ({row.seeds} seeds)"
        diff = (f"{100 * row.accuracy_diff:+.2f} [{100 * row.accuracy_diff_low:+.2f}, {100 * row.accuracy_diff_high:+.2f}]"
                if row.seeds == 1 else f"{100 * row.accuracy_diff:+.2f} (mean)")
        cells = [row.method, row.setting, accuracy, diff, f"{row.avg_layers:.2f}", f"{row.flops_ratio:.3f}",
                 f"{row.speedup_batch1:.2f}", f"{row.efficiency_batch1:.2f}", f"{row.speedup_batch32:.2f}",
                 # benches from before the eager PyTorch timing have no such column
                 "-" if pd.isna(vs_torch := getattr(row, "speedup_batch1_vs_torch", np.nan)) else f"{vs_torch:.2f}",
                 f"{row.latency_ms_batch1:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
