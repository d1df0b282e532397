"""`dact report`: the folders that `dact bench` wrote, as one Markdown page with static figures; and the findings in
plain words that the page and the app's Compare page print.

Every sentence is computed from the numbers a bench recorded. A difference in accuracy is stated only where its paired
bootstrap 95% interval excludes zero (for a point averaged over several seeds: where every seed's interval, each
against its own seed's reference, excludes zero on the same side); otherwise the sentence says "no difference shown".
An accuracy that was not measured (a reference with an untrained head, there only to be timed) enters no sentence.

The functions here take loaded results (`Bench`) and return text or write figures; only `load_bench` and
`write_report` touch files, so the wording is testable on small records.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .bench import EXAMPLES_FILE, paired_interval, recipe_settings
from .methods import FAMILIES, METHODS

# in the results folder: the folder names in the order a reader should see them, the main comparison first
INDEX_FILE = "index.json"
DEFAULT_ENV = "DACT_RESULTS_DEFAULT"  # names the result folder the Compare page opens on, over the index's first
MINUS = "\u2212"
NUMERIC = ("accuracy", "accuracy_std", "avg_layers", "flops_ratio", "speedup_batch1", "speedup_batch32",
           "speedup_batch1_vs_torch", "speedup_batch32_vs_torch", "accuracy_diff", "accuracy_diff_low",
           "accuracy_diff_high", "seeds", "seed")
# (column on the x axis, file name part, axis label, the plot `dact bench` writes beside bench.json)
FIGURES = (("avg_layers", "accuracy-vs-layers", "average layers run per example", "accuracy_vs_layers.html"),
           ("speedup_batch1", "accuracy-vs-speedup-batch1", "speed-up at batch size 1 (same engine and precision)",
            "accuracy_vs_speedup_batch1.html"))
TOKEN_METHODS = tuple(m.name for m in METHODS.values() if FAMILIES[m.family].kind == "tokens")
FLOAT_COPY = "the same model in float32"


@dataclass
class Bench:
    """One result folder: bench.json as recorded, and its rows per model (bench.json's "models" or bench.csv)."""

    name: str
    record: dict
    models: pd.DataFrame | None = None
    folder: Path | None = None
    examples: pd.DataFrame | None = None  # examples.parquet: every point on every example (none where not stored)
    points: pd.DataFrame = field(init=False)
    pairs: list | None = field(init=False, default=None, repr=False)  # `bench_pairs`, once computed
    model_settings: pd.Series | None = field(init=False, default=None)  # each model row's summary setting

    def __post_init__(self):
        self.points = _numeric(pd.DataFrame(self.record.get("points") or []))
        self.points["seeds"] = self.points["seeds"].fillna(1).astype(int)  # benches before seeds: one model each
        for column in ("method", "setting"):
            self.points[column] = self.points[column].astype(str) if column in self.points else ""
        if self.models is not None:
            self.models = _numeric(self.models.reset_index(drop=True))
            if {"method", "setting", "source"} <= set(self.models):
                self.model_settings = recipe_settings(self.models)

    @property
    def title(self) -> str:
        return self.record.get("title") or self.name

    @property
    def command(self) -> str | None:
        return self.record.get("command")

    @property
    def settings(self) -> dict:
        return self.record.get("settings") or {}


def _numeric(table: pd.DataFrame) -> pd.DataFrame:
    """JSON's null as NaN, and every column the wording reads present (older benches lack some)."""
    table = table.copy()
    for column in NUMERIC:
        table[column] = pd.to_numeric(table[column], errors="coerce") if column in table else np.nan
    return table


def bench_from_record(name: str, record: dict, folder: Path | None = None) -> Bench:
    """A Bench from bench.json's content; its models from the record, else from bench.csv beside it (benches before
    bench.json kept them), else none (then several seeds' differences have no interval to state)."""
    if record.get("models"):
        models = pd.DataFrame(record["models"])
    elif folder is not None and (folder / "bench.csv").exists():
        models = pd.read_csv(folder / "bench.csv", dtype={"weights_sha256": str})
    else:
        models = None
    return Bench(name, record, models, folder, load_examples(folder))


def load_examples(folder: Path | None) -> pd.DataFrame | None:
    """examples.parquet of a result folder; None where there is none (benches before it kept no per-example results)."""
    path = None if folder is None else Path(folder) / EXAMPLES_FILE
    if path is None or not path.exists():
        return None
    try:
        return pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several kinds for a damaged file
        raise ValueError(f"{path}: not a readable parquet file ({err})") from None


def load_bench(folder: str | Path) -> Bench:
    """A result folder that `dact bench` wrote; a folder without bench.json is a one-line error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such result folder")
    path = folder / "bench.json"
    if not path.exists():
        raise FileNotFoundError(f"{folder}: no bench.json (not a folder that `dact bench` wrote)")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(record, dict) or not record.get("points"):
        raise ValueError(f"{path}: no measured points (not written by `dact bench`)")
    return bench_from_record(folder.resolve().name, record, folder)


# --- which folders, in which order (the Compare page) ---


def read_index(results_dir: str | Path) -> list[str]:
    """The folder names listed in the results folder's index.json, in order; none when there is no index."""
    path = Path(results_dir) / INDEX_FILE
    if not path.exists():
        return []
    try:
        names = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ValueError(f"{path}: expected a list of result folder names")
    return names


def ordered_names(names: list[str], index: list[str]) -> list[str]:
    """The indexed names first, in the index's order, then every other name in the order given."""
    listed = [name for name in index if name in names]
    return listed + [name for name in names if name not in listed]


def default_name(names: list[str], index: list[str], wanted: str | None = None) -> str | None:
    """The result a reader sees first: `wanted` (DACT_RESULTS_DEFAULT) where it exists, else the index's first
    existing entry, else the first name."""
    if wanted in names:
        return wanted
    return next((name for name in index if name in names), names[0] if names else None)


def display_titles(records: dict[str, dict]) -> dict[str, str]:
    """Each result's title (its folder name where it records none); a title that two results share gets the folder
    name after it, so that no two entries read alike."""
    titles = {name: (record.get("title") if isinstance(record, dict) else None) or name
              for name, record in records.items()}
    repeated = {title for title in titles.values() if list(titles.values()).count(title) > 1}
    return {name: f"{title} ({name})" if title in repeated else title for name, title in titles.items()}


# --- numbers in words ---


def _signed(points: float, digits: int = 1) -> str:
    """A difference in points with its sign, a true minus; a second decimal where one would read as zero."""
    if points != 0 and abs(points) < 0.5 * 10 ** -digits:
        digits += 1
    return f"{points:+.{digits}f}".replace("-", MINUS)


def _size(points: float) -> str:
    return _signed(abs(points)).lstrip("+")


def _interval(low: float, high: float, digits: int = 1) -> str:
    return f"[{_signed(100 * low, digits)}, {_signed(100 * high, digits)}]"


def verdict(low: float, high: float) -> str:
    """"ahead" when the whole interval of (method minus what it is compared with) lies above zero, "behind" when below,
    "none" when it includes zero: no difference shown."""
    return "ahead" if low > 0 else "behind" if high < 0 else "none"


def _times(ratio: float) -> str:
    return f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"


@dataclass
class Comparison:
    """A point's accuracy against what it was paired with, one (difference, low, high) per seed."""

    against: str  # "the reference", "its own seed's reference" or "the same model in float32"
    intervals: list[tuple[float, float, float]]

    @property
    def mean(self) -> float:
        return float(np.mean([diff for diff, _, _ in self.intervals]))

    @property
    def verdict(self) -> str:
        """One side for every seed, else "none"."""
        sides = {verdict(low, high) for _, low, high in self.intervals}
        return sides.pop() if len(sides) == 1 else "none"


def _quantized(bench: Bench, method: str) -> bool:
    """An int8 copy's point (`dact bench --quantize` names its methods e.g. "DACT-BERT int8")."""
    return method.endswith(" " + str(bench.settings.get("quantize") or "int8"))


def _model_rows(bench: Bench, point: pd.Series) -> pd.DataFrame:
    """The models behind a summary point (its seeds), found as `seed_summary` grouped them."""
    models = bench.models
    if bench.model_settings is None:
        return pd.DataFrame()
    return models[(models["method"] == point["method"]) & (bench.model_settings == point["setting"])]


def _against(bench: Bench, row: pd.Series) -> str | None:
    """What a model row's accuracy difference was taken against; None for a model compared with itself."""
    paired, source = row.get("paired_reference"), row.get("source")
    if not isinstance(paired, str) or not paired:
        return "the reference"  # older benches record no pairing: every difference was against the reference
    if paired == (source if isinstance(source, str) else ""):
        return FLOAT_COPY if _quantized(bench, row["method"]) else None
    return "the reference"


def comparison(bench: Bench, point: pd.Series) -> Comparison | None:
    """The point's accuracy difference with its interval(s); None where there is none to state: the reference itself,
    a point whose accuracy or whose reference's accuracy was not measured, several seeds without their own rows."""
    if point["method"] == "reference":
        return None
    rows = _model_rows(bench, point)
    if point["seeds"] > 1:
        rows = rows.dropna(subset=["accuracy_diff", "accuracy_diff_low", "accuracy_diff_high"])
        if rows.empty:
            return None
        against = {_against(bench, row) for _, row in rows.iterrows()}
        if None in against:
            return None
        pairs = rows["paired_reference"].nunique() if "paired_reference" in rows else 1
        which = against.pop() if len(against) == 1 else "the reference"
        which = "its own seed's reference" if which == "the reference" and pairs > 1 else which
        return Comparison(which, [(r.accuracy_diff, r.accuracy_diff_low, r.accuracy_diff_high)
                                  for r in rows.itertuples()])
    values = point[["accuracy", "accuracy_diff", "accuracy_diff_low", "accuracy_diff_high"]]
    if values.isna().any():
        return None
    against = _against(bench, rows.iloc[0]) if len(rows) else "the reference"
    if against is None:
        return None
    return Comparison(against, [(point["accuracy_diff"], point["accuracy_diff_low"], point["accuracy_diff_high"])])


def difference_words(comp: Comparison) -> str:
    """The difference in words: which is ahead and by how much where every interval says so, else "no difference
    shown" with the numbers."""
    side = comp.verdict
    intervals = ", ".join(_interval(low, high) for _, low, high in comp.intervals)
    if len(comp.intervals) == 1:
        diff = 100 * comp.mean
        if side == "none":
            return f"no difference shown from {comp.against} ({_signed(diff)} points {intervals})"
        return f"{_size(diff)} points {'more' if side == 'ahead' else 'less'} accurate than {comp.against} {intervals}"
    n, diff = len(comp.intervals), 100 * comp.mean
    if side == "none":
        return (f"no difference shown from {comp.against} ({_signed(diff)} points on average over {n} seeds; not "
                f"every seed's interval lies on one side of zero: {intervals})")
    word = "more" if side == "ahead" else "less"
    return (f"{_size(diff)} points {word} accurate than {comp.against} on average over {n} seeds, and {word} "
            f"accurate in each seed ({intervals})")


def _reference(bench: Bench) -> pd.Series | None:
    rows = bench.points[bench.points["method"] == "reference"]
    return rows.iloc[0] if len(rows) else None


def _timing_only_reference(bench: Bench) -> bool:
    """A reference of the model's size with an untrained head (`dact bench` without --reference): timed only."""
    reference = _reference(bench)
    return reference is not None and bool(np.isnan(reference["accuracy"]))


def engine_words(settings: dict) -> str:
    """The engine and the device every model of a bench ran on (benches before --runtime ran on PyTorch)."""
    engine = "ONNX Runtime" if settings.get("runtime") == "onnx" else "PyTorch"
    device = str(settings.get("device") or "cpu")
    return f"{engine} on the " + ("CPU" if device.startswith("cpu") else "GPU" if device.startswith("cuda") else device)


def _full_depth(bench: Bench) -> str:
    return "the same-size model at full depth" if _timing_only_reference(bench) else "the full-depth reference"


def point_name(point: pd.Series) -> str:
    return f"{point['method']} at {point['setting']}"


def point_sentence(bench: Bench, point: pd.Series) -> str:
    """The full sentence about one point: its layers and FLOPs, its batch-1 speed-up against the full-depth model on
    the same engine (and against eager PyTorch where the bench timed it), then its accuracy in words."""
    parts = [f"{point_name(point)} runs {point['avg_layers']:.2f}"]
    reference = _reference(bench)
    if reference is not None and np.isfinite(reference["avg_layers"]):
        parts.append(f" of {reference['avg_layers']:g}")
    parts.append(" layers on average")
    if np.isfinite(point["flops_ratio"]):
        parts.append(f" ({100 * point['flops_ratio']:.0f}% of the full-depth FLOPs)")
    if np.isfinite(point["speedup_batch1"]):
        precision = f" in {bench.settings.get('quantize') or 'int8'}" if _quantized(bench, point["method"]) else ""
        parts.append(f", {_times(point['speedup_batch1'])} at batch size 1 than {_full_depth(bench)}{precision} on "
                     f"{engine_words(bench.settings)}")
        vs_torch = point["speedup_batch1_vs_torch"]
        if bench.settings.get("runtime") == "onnx" and np.isfinite(vs_torch):
            parts.append(f" ({_times(vs_torch)} than that model in eager PyTorch float32)")
    parts.append("; " + accuracy_clause(bench, point) + ".")
    return "".join(parts)


def accuracy_clause(bench: Bench, point: pd.Series) -> str:
    comp = comparison(bench, point)
    if comp is not None:
        if comp.verdict == "none" and len(comp.intervals) == 1:
            _, low, high = comp.intervals[0]
            return (f"its accuracy differs from {comp.against} by {_signed(100 * comp.mean)} points "
                    f"{_interval(low, high)}: no difference shown")
        return ("it is " if comp.verdict != "none" else "") + difference_words(comp)
    if np.isnan(point["accuracy"]):
        return "its accuracy is not measured"
    if _timing_only_reference(bench):
        return (f"its accuracy, {100 * point['accuracy']:.1f}%, is not compared with a reference: the full-depth model "
                "here has an untrained head and is only timed")
    return f"its accuracy is {100 * point['accuracy']:.1f}% (no paired interval recorded)"


def headline_point(bench: Bench) -> pd.Series | None:
    """The point a headline speaks of: the first DACT-BERT point (the first --dact folder), else the first other
    DACT-BERT variant, else the first method that is not a reference."""
    points = bench.points
    for choose in (points["method"] == "DACT-BERT", points["method"].str.startswith("DACT-BERT"),
                   ~points["method"].str.startswith("reference")):
        if choose.any():
            return points[choose].iloc[0]
    return None


@dataclass
class Findings:
    headline: str | None  # one sentence on the headline point
    claims: list[str]  # one per other point whose difference in accuracy every interval shows
    no_difference: str | None  # the points whose intervals show none, in one sentence
    not_compared: str | None  # points with a measured accuracy and nothing to compare it with

    def lines(self) -> list[str]:
        return [line for line in (self.headline, *self.claims, self.no_difference, self.not_compared) if line]


def findings(bench: Bench) -> Findings:
    """Everything the numbers of one bench say in words. References and points whose accuracy was not measured enter
    no sentence; a difference is claimed only where its interval(s) exclude zero."""
    first = headline_point(bench)
    headline = None if first is None else point_sentence(bench, first)
    claims, quiet, uncompared = [], {}, []
    for _, point in bench.points.iterrows():
        if point["method"].startswith("reference") or np.isnan(point["accuracy"]):
            continue
        if first is not None and point.name == first.name:
            continue
        comp = comparison(bench, point)
        if comp is None:
            uncompared.append(point_name(point))
        elif comp.verdict == "none":
            quiet.setdefault(comp.against, []).append(point_name(point))
        else:
            speed = (f", {_times(point['speedup_batch1'])} at batch size 1" if np.isfinite(point["speedup_batch1"])
                     else "")
            claims.append(f"{point_name(point)} ({point['avg_layers']:.2f} layers on average{speed}): "
                          f"{difference_words(comp)}.")
    no_difference = None
    if quiet:
        no_difference = "No difference in accuracy shown " + "; ".join(
            f"from {against} for {', '.join(names)}" for against, names in quiet.items()
        ) + " (each interval includes zero)."
    not_compared = None
    if uncompared:
        why = ("the full-depth model is only timed" if _timing_only_reference(bench)
               else "no paired interval recorded")
        not_compared = f"Accuracy not compared ({why}): {', '.join(uncompared)}."
    return Findings(headline, claims, no_difference, not_compared)


# --- at matched compute ---

# DACT-BERT's recipes (float: an int8 copy is not set against float points), and every other method that saves
# compute with what it is matched on: layers for the methods that skip layers, the FLOPs ratio for those that drop
# tokens (they run every layer, so their layers say nothing)
DACT_METHODS = tuple(m.name for m in METHODS.values() if m.family == "dact-bert")
RIVALS = {m.name: FAMILIES[m.family].kind for m in METHODS.values()
          if m.family != "dact-bert" and FAMILIES[m.family].kind in ("depth", "tokens")}
# a point this much cheaper than DACT-BERT's is chosen over a closer, more expensive one
TOLERANCE = {"layers": 0.5, "flops_ratio": 0.1}
NOT_STORED = "Per-example results not stored: rerun the bench."


@dataclass
class MatchedPair:
    """A DACT-BERT point against another method's point of about the same compute, on the same examples."""

    dact_method: str
    dact: str  # the point's name, e.g. "DACT-BERT at tau=0.07"
    rival_method: str
    rival: str
    rival_setting: str  # the matched point's setting, as bench.json's points name it
    measure: str  # "layers" or "flops_ratio"
    dact_compute: float
    rival_compute: float
    diff: float  # DACT-BERT's accuracy minus the other's, with its paired bootstrap 95% interval
    low: float
    high: float
    dact_setting: str = ""
    dact_speedup: float = np.nan  # each point's batch-1 speed-up, where the bench's points are given
    rival_speedup: float = np.nan

    @property
    def verdict(self) -> str:
        return verdict(self.low, self.high)


def example_points(examples: pd.DataFrame) -> pd.DataFrame:
    """One row per point of examples.parquet: its method, setting, source, seed, name (its setting as bench.md names
    it, with its seed where the setting has several), average layers, FLOPs ratio against the first reference and
    whether its accuracy was measured."""
    groups = examples.groupby("point", sort=True)
    points = groups[["method", "setting", "source", "seed"]].first()
    for column in ("method", "setting", "source"):
        points[column] = points[column].astype(str)
    points["layers"] = groups["exit_layer"].mean()
    points["gflops"] = groups["gflops"].sum().astype(np.float64)
    points["measured"] = groups["correct"].apply(lambda c: bool(c.notna().all()))
    reference = points[points["method"] == "reference"]
    points["flops_ratio"] = points["gflops"] / reference["gflops"].iloc[0] if len(reference) else np.nan
    settings = recipe_settings(points.reset_index(drop=True)).to_numpy()
    seeds = points.assign(label=settings).groupby(["method", "label"])["seed"].transform("size").to_numpy()
    points["label"] = settings  # the setting as bench.json's points name it
    points["name"] = [f"{method} at {label}" + (f" seed {seed}" if count > 1 and pd.notna(seed) else "")
                      for method, label, seed, count in zip(points["method"], settings, points["seed"], seeds)]
    return points


def matched_point(target: float, values: pd.Series, tolerance: float):
    """The index of the value that matches `target`'s compute: the closest of those not above it, where one lies
    within `tolerance` below it; else the closest of all (a method whose cheapest point costs more than DACT-BERT's)."""
    cheaper = values[(values <= target + 1e-9) & (values >= target - tolerance)]
    pool = cheaper if len(cheaper) else values
    return (pool - target).abs().idxmin()


def matched_comparisons(examples: pd.DataFrame | None, bench_points: pd.DataFrame | None = None) -> list[MatchedPair]:
    """Each DACT-BERT point against the matched point (`matched_point`) of each other method in the bench, with the
    paired bootstrap interval of the accuracy difference on the same examples. A DACT-BERT model of a seed is set
    against the other method's models of the same seed where there are any. None stored: none. With the bench's
    points, each pair also carries both points' batch-1 speed-ups (timed, so with no interval)."""
    if examples is None or examples.empty:
        return []
    points = example_points(examples)
    points = points[points["measured"]]
    correct = {point: rows.sort_values("example")["correct"].to_numpy(dtype=bool)
               for point, rows in examples[examples["point"].isin(points.index)].groupby("point")}
    pairs = []
    for d, mine in points[points["method"].isin(DACT_METHODS)].iterrows():
        for rival, kind in RIVALS.items():
            theirs = points[points["method"] == rival]
            same_seed = theirs[theirs["seed"].eq(mine["seed"]).fillna(False).astype(bool)]
            theirs = same_seed if len(same_seed) else theirs
            measure = "layers" if kind == "depth" else "flops_ratio"
            if theirs.empty or np.isnan(mine[measure]):
                continue
            r = matched_point(mine[measure], theirs[measure], TOLERANCE[measure])
            if len(correct[d]) != len(correct[r]):
                raise ValueError(f"examples.parquet: {mine['name']} and {points.loc[r, 'name']} are not on the same "
                                 "examples")
            diff, low, high = paired_interval(correct[d], correct[r])
            pairs.append(MatchedPair(mine["method"], mine["name"], rival, points.loc[r, "name"], points.loc[r, "label"],
                                     measure, float(mine[measure]), float(points.loc[r, measure]), diff, low, high,
                                     dact_setting=mine["label"],
                                     dact_speedup=_speedup(bench_points, mine["method"], mine["label"]),
                                     rival_speedup=_speedup(bench_points, rival, points.loc[r, "label"])))
    return pairs


def _speedup(bench_points: pd.DataFrame | None, method: str, setting: str) -> float:
    if bench_points is None or "speedup_batch1" not in bench_points:
        return np.nan
    found = bench_points[(bench_points["method"] == method) & (bench_points["setting"] == setting)]
    return float(found["speedup_batch1"].iloc[0]) if len(found) else np.nan


def _compute(value: float, measure: str) -> str:
    return f"{value:.2f} layers" if measure == "layers" else f"{100 * value:.0f}% of the FLOPs"


def matched_sentence(pair: MatchedPair) -> str:
    """One pair in words: which is ahead and by how much where the interval excludes zero, else "no difference
    shown" with the numbers."""
    head = (f"{pair.dact} ({_compute(pair.dact_compute, pair.measure)}) against {pair.rival} "
            f"({_compute(pair.rival_compute, pair.measure)})")
    speed = ""
    if np.isfinite(pair.dact_speedup) and np.isfinite(pair.rival_speedup):
        speed = (f" Speed-up at batch size 1 over the full-depth model: {pair.dact_speedup:.2f}x and "
                 f"{pair.rival_speedup:.2f}x.")
    if pair.verdict == "none":
        return (f"{head}: no difference in accuracy shown ({_signed(100 * pair.diff)} points "
                f"{_interval(pair.low, pair.high)}).{speed}")
    word = "more" if pair.verdict == "ahead" else "less"
    return (f"{head}: {pair.dact_method} is {_size(100 * pair.diff)} points {word} accurate "
            f"{_interval(pair.low, pair.high)}.{speed}")


def bench_pairs(bench: Bench) -> list[MatchedPair]:
    """`matched_comparisons` of a bench, computed once: the page, the README's table and its sentences all read them,
    and each pair's bootstrap resamples every example."""
    if bench.pairs is None:
        bench.pairs = matched_comparisons(bench.examples, bench.points)
    return bench.pairs


def matched_sentences(examples: pd.DataFrame | None, bench_points: pd.DataFrame | None = None) -> list[str]:
    """`matched_sentence` of every pair (the Compare page's lines); none where no per-example results are stored."""
    return [matched_sentence(pair) for pair in matched_comparisons(examples, bench_points)]


def matched_table(pairs: list[MatchedPair]) -> str:
    cols = ["DACT-BERT point", "its compute", "matched point", "its compute", "difference, points [95% interval]",
            "reading"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for pair in pairs:
        reading = {"ahead": f"{pair.dact_method} ahead", "behind": f"{pair.rival_method} ahead",
                   "none": "no difference shown"}[pair.verdict]
        cells = [pair.dact, _compute(pair.dact_compute, pair.measure), pair.rival,
                 _compute(pair.rival_compute, pair.measure),
                 f"{_signed(100 * pair.diff, 2)} {_interval(pair.low, pair.high, 2)}", reading]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def matched_markdown(bench: Bench) -> list[str]:
    """The page's lines on a bench at matched compute: the sentences and their table; one line where the bench has
    points to pair but stored no per-example results; none where it has nothing to pair."""
    methods = set(bench.points["method"])
    if not methods & set(DACT_METHODS) or not methods & set(RIVALS):
        return []
    lines = ["### At matched compute", ""]
    if bench.examples is None:
        return lines + [NOT_STORED, ""]
    pairs = bench_pairs(bench)
    if not pairs:
        return []
    lines += ["Each DACT-BERT point against the point of each other method with the closest compute on the same "
              "examples (layers for the methods that skip layers, FLOPs for those that drop tokens; a point using no "
              f"more compute is chosen where one is within {TOLERANCE['layers']:g} layers or "
              f"{TOLERANCE['flops_ratio']:g} of the FLOPs ratio):", ""]
    lines += [f"- {markdown_text(matched_sentence(pair))}" for pair in pairs]
    return lines + ["", matched_table(pairs)]


# --- the README's block ---

README_START = "<!-- results:start: written by `dact report --readme`; edit the bench, not this block -->"
README_END = "<!-- results:end -->"


def headline_points(bench: Bench) -> pd.DataFrame:
    """The points a short table shows: the references and DACT-BERT's (float and quantized), and each other method's
    point at the compute matched to DACT-BERT's (every point of theirs where the bench stored no per-example results)."""
    points = bench.points
    float_method = points["method"].map(lambda m: m.rsplit(" ", 1)[0] if _quantized(bench, m) else m)
    keep = float_method.isin(["reference", *DACT_METHODS])  # their quantized copies too
    if bench.examples is None:
        return points
    for pair in bench_pairs(bench):
        keep |= (points["method"] == pair.rival_method) & (points["setting"] == pair.rival_setting)
    return points[keep]


def matched_summary(pairs: list[MatchedPair]) -> str | None:
    """Every pair of a bench in one sentence, DACT-BERT point by point: who is ahead and by how much where the interval
    excludes zero, else "no difference shown" with the numbers. The speed-ups are in the table beside it."""
    parts = []
    for dact in dict.fromkeys(pair.dact for pair in pairs):
        mine = [pair for pair in pairs if pair.dact == dact]
        verdicts = []
        for pair in mine:
            if pair.verdict == "none":
                said = f"no difference shown ({_signed(100 * pair.diff)} points {_interval(pair.low, pair.high)})"
            else:
                leader = pair.dact_method if pair.verdict == "ahead" else pair.rival_method
                said = f"{leader} ahead by {_size(100 * pair.diff)} points {_interval(pair.low, pair.high)}"
            verdicts.append(f"{pair.rival} ({_compute(pair.rival_compute, pair.measure)}), {said}")
        parts.append(f"{dact} ({_compute(mine[0].dact_compute, mine[0].measure)}) against "
                     + "; against ".join(verdicts))
    return f"At matched compute, {'. '.join(parts)}." if parts else None


def table_legend(methods: list[str], benches: list[Bench]) -> str:
    """What the short table's columns and each shown method's setting mean, in one paragraph."""
    threads = {bench.settings.get("threads") for bench in benches}
    where = f" with {threads.pop()} threads" if len(threads) == 1 and None not in threads else ""
    knobs = [f"{name}, {METHODS[name].knob}" for name in dict.fromkeys(methods)
             if name in METHODS and name != "reference"]
    return ("# numbers the findings above. Setting: " + "; ".join(knobs) + ". Layers: the average number run per "
            "example. FLOPs: the share of the full-depth model's. Speed-up: the reference's time over the method's on "
            f"the same inputs, at batch size 1 and 32, on the engine each title names{where}.")


def readme_block(benches: list[Bench], command: str | None) -> str:
    """The results block of a README between the two markers that `replace_readme_block` looks for: per bench (by
    number) its title, headline sentence and the comparisons at matched compute in one sentence, then one table of
    every bench's short list of points."""
    lines = [README_START, ""]
    if command:
        lines += [f"Generated by `{command}`.", ""]
    for number, bench in enumerate(benches, 1):
        found = findings(bench)
        summary = matched_summary(bench_pairs(bench))
        lines += [f"{number}. **{markdown_text(bench.title)}.** "
                  + " ".join(markdown_text(text) for text in (found.headline, summary) if text)]
    cols = ["#", "method", "setting", "accuracy (%)", "vs reference, points [95% interval]", "layers", "FLOPs",
            "speed-up b=1", "speed-up b=32"]
    lines += ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    shown = []
    for number, bench in enumerate(benches, 1):
        for _, point in headline_points(bench).iterrows():
            lines.append("| " + " | ".join([str(number), *(_cell(c) for c in _row_cells(bench, point))]) + " |")
            shown.append(point["method"])
    return "\n".join(lines + ["", markdown_text(table_legend(shown, benches)), "", README_END])


def replace_readme_block(text: str, block: str) -> str:
    """`text` with the part between the results markers (both included) replaced by `block`."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no results block: add a line {README_START!r} and a line {README_END!r} "
                         "where the results go")
    return text[:start] + block + text[end + len(README_END):]


# --- the page ---


def markdown_text(text: str) -> str:
    """Text from a results file made safe in Markdown: no HTML and no Markdown syntax of its own survives."""
    escaped = html.escape(str(text), quote=False)
    for char in "\\`*_[]#|~$":
        escaped = escaped.replace(char, "\\" + char)
    return escaped.replace("\n", " ")


def _cell(text: str) -> str:
    return markdown_text(text)


def _row_cells(bench: Bench, point: pd.Series, extra: tuple[str, ...] = ()) -> list[str]:
    """A point's cells: method, setting, accuracy, its difference with the interval, layers, FLOPs ratio, the speed-ups
    at batch 1 and 32, then the `extra` columns' numbers; an accuracy that was not measured reads so."""
    if np.isnan(point["accuracy"]):
        accuracy = "not measured"
    else:
        accuracy = f"{100 * point['accuracy']:.2f}"
        if point["seeds"] > 1 and np.isfinite(point["accuracy_std"]):
            accuracy += f" ± {100 * point['accuracy_std']:.2f} ({point['seeds']} seeds)"
    comp = comparison(bench, point)
    if point["method"] == "reference":
        diff = "(the reference)" if not np.isnan(point["accuracy"]) else "not measured"
    elif comp is None:
        diff = "not measured" if np.isnan(point["accuracy"]) else "not compared"
    elif len(comp.intervals) == 1:
        _, low, high = comp.intervals[0]
        diff = f"{_signed(100 * comp.mean, 2)} {_interval(low, high, 2)}"
        diff += " vs float32" if comp.against == FLOAT_COPY else ""
    else:
        diff = f"{_signed(100 * comp.mean, 2)} (mean of {len(comp.intervals)} seeds)"
    return [point["method"], point["setting"], accuracy, diff, _number(point["avg_layers"], ".2f"),
            _number(point["flops_ratio"], ".3f"),
            *(_number(point[c], ".2f") for c in ("speedup_batch1", "speedup_batch32", *extra))]


def table_markdown(bench: Bench) -> str:
    """One row per point of the bench (`_row_cells`), with the speed-ups against eager torch where it timed them."""
    points = bench.points
    torch_columns = tuple(c for c in ("speedup_batch1_vs_torch", "speedup_batch32_vs_torch")
                          if points[c].notna().any())
    cols = ["method", "setting", "accuracy (%)", "difference, points [95% interval]", "layers", "FLOPs ratio",
            "speed-up b=1", "speed-up b=32", *({"speedup_batch1_vs_torch": "b=1 vs eager torch",
                                                  "speedup_batch32_vs_torch": "b=32 vs eager torch"}[c]
                                                 for c in torch_columns)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, point in points.iterrows():
        lines.append("| " + " | ".join(_cell(c) for c in _row_cells(bench, point, torch_columns)) + " |")
    return "\n".join(lines) + "\n"


def _number(value: float, fmt: str) -> str:
    return "-" if value is None or np.isnan(value) else format(value, fmt)


def write_figure(bench: Bench, x: str, label: str, path: Path) -> bool:
    """Accuracy (%) against `x`, one line per method, as a PNG; False (nothing written) where no point has both."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points = bench.points[bench.points["accuracy"].notna() & bench.points[x].notna()]
    if x == "avg_layers":  # token-dropping methods run every layer: layers say nothing of their compute
        points = points[~points["method"].str.removesuffix(" int8").isin(TOKEN_METHODS)]
    if points.empty:
        return False
    fig = Figure(figsize=(7.5, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    reference = _reference(bench)
    full = 1.0 if x == "speedup_batch1" else None if reference is None else reference["avg_layers"]
    span = [v for v in (*points[x], full) if v is not None and np.isfinite(v)]
    right = max(span) - 0.25 * (max(span) - min(span))
    labelled = 0
    for method, rows in points.groupby("method", sort=False):
        rows = rows.sort_values(x)
        ax.plot(rows[x], 100 * rows["accuracy"], marker="o", label=method)
        if len(points) > 12:  # more labels than that overlap
            continue
        for _, row in rows.iterrows():
            # above and below in turn, and to the left near the right edge: neighbours' labels do not overlap
            flip = row[x] > right
            ax.annotate(row["setting"], (row[x], 100 * row["accuracy"]), textcoords="offset points", fontsize=7,
                        xytext=(-4 if flip else 4, 4 if labelled % 2 == 0 else -11), ha="right" if flip else "left")
            labelled += 1
    # where full depth lies on this axis, so that a reader sees how far each point is from it
    if full is not None and np.isfinite(full):
        ax.axvline(full, color="grey", linestyle=":", linewidth=1)
        ax.annotate("full depth", (full, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points", fontsize=7, color="grey")
    if reference is not None and np.isfinite(reference["accuracy"]):
        ax.axhline(100 * reference["accuracy"], color="grey", linestyle="--", linewidth=1, label="reference accuracy")
    elif _timing_only_reference(bench):
        ax.text(0.01, 0.02, "the full-depth model is only timed: its accuracy is not measured", fontsize=7,
                color="grey", transform=ax.transAxes)
    ax.margins(x=0.12, y=0.15)
    ax.set_xlabel(label)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(bench.title if len(bench.title) <= 90 else bench.title[:87] + "...", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})  # no library version in the file: a rerun changes no bytes
    return True


def _link(target: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(target.resolve(), page_dir.resolve())).as_posix()


READING = """How to read it:

- Accuracy: the share of the examples classified correctly, in percent. "not measured": a full-depth model with an
  untrained head, there only to be timed.
- Difference: accuracy minus that of the full-depth reference on the same examples, in points, with its paired
  bootstrap 95% interval in brackets (an int8 row: against the same model in float32). The text says that one model
  is more or less accurate only where the interval excludes zero, and "no difference shown" otherwise. A setting
  trained with several seeds: each seed against the reference of its own seed, and a difference is stated only where
  every seed's interval shows it.
- Layers: the Transformer layers run per example, on average. FLOPs ratio: its FLOPs over the full-depth model's.
- At matched compute: each DACT-BERT point against the point of each other method whose layers (FLOPs, for the
  methods that drop tokens) are closest to its own, preferring one that uses no more; the difference in accuracy on
  the same examples, with its paired bootstrap 95% interval, read as above.
- Speed-up: the full-depth model's time over the method's on the same inputs, on the same engine and precision, one
  text at a time (b=1) and in batches of 32 (b=32); "vs eager torch": over the full-depth model's time in eager
  PyTorch float32 instead.

[speed.md]({speed}) defines every number and says how the timer works.
"""


def report_markdown(benches: list[Bench], command: str | None, figures: dict[str, list[tuple[str, str]]],
                    plots: dict[str, list[tuple[str, str]]], folders: dict[str, str],
                    speed_doc: str = "speed.md") -> str:
    """The page: how it was generated, how to read it, then per result folder its title, the command that wrote it,
    the findings in words, the table, the static figures and links to the interactive plots. figures / plots /
    folders: per bench name, (caption, relative link) pairs and the folder's relative link; speed_doc: the link to
    docs/speed.md."""
    lines = ["# Results", "", "<!-- Generated by `dact report` (the command below): rerun it, do not edit. -->", "",
             "This page is generated from the result folders below, each written by `dact bench`, by:", "",
             "```sh", command or "dact report RESULT_FOLDER... --output PAGE", "```", "",
             "Rerun it after a new bench rather than editing the page.", "", READING.format(speed=speed_doc)]
    for bench in benches:
        lines += [f"## {markdown_text(bench.title)}", ""]
        about = [f"Folder: [`{bench.name}`]({folders[bench.name]})" if bench.name in folders
                 else f"Folder: `{bench.name}`"]
        settings = bench.settings
        if settings.get("num_examples"):
            data = str(settings.get("data") or "").replace("`", "")
            about.append(f"{settings['num_examples']:,} examples" + (f" of `{data}`" if data else ""))
        about.append(engine_words(settings) + (f", {settings['threads']} threads" if settings.get("threads") else ""))
        lines += [" · ".join(about) + ".", ""]
        if bench.command:
            lines += ["Produced by:", "", "```sh", bench.command, "```", ""]
        else:
            lines += ["The command that produced it is not recorded: its bench.json has no `command`.", ""]
        found = findings(bench)
        if found.headline:
            lines += [f"**{markdown_text(found.headline)}**", ""]
        rest = [*found.claims, found.no_difference, found.not_compared]
        lines += [f"- {markdown_text(line)}" for line in rest if line]
        lines += ([""] if any(rest) else []) + [table_markdown(bench)]
        lines += matched_markdown(bench)
        for caption, link in figures.get(bench.name, []):
            lines += [f"![{markdown_text(caption)}]({link})", ""]
        if plots.get(bench.name):
            lines += ["Interactive plots (plotly; open the file in a browser): " + ", ".join(
                f"[{markdown_text(caption)}]({link})" for caption, link in plots[bench.name]) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_report(benches: list[Bench], output: Path, command: str | None = None) -> list[Path]:
    """The page at `output` and its figures in the folder of the same name beside it (docs/results.md:
    docs/results/); returns the figures written. Figures of this report's own naming that no bench wrote this time are
    removed, so that the folder holds only what the page shows."""
    names = [bench.name for bench in benches]
    if Path(output).suffix != ".md":  # its figures go into the folder of the same name without the suffix
        raise ValueError(f"--output {output}: give a Markdown file (.md), e.g. docs/results.md")
    if len(set(names)) < len(names):
        raise ValueError(f"each result folder must have a name of its own (its figures are named after it): {names}")
    output = Path(output)
    figures_dir = output.with_suffix("")
    figures_dir.mkdir(parents=True, exist_ok=True)
    written, figures, plots, folders = [], {}, {}, {}
    for bench in benches:
        for x, part, label, html_name in FIGURES:
            path = figures_dir / f"{bench.name}-{part}.png"
            if write_figure(bench, x, label, path):
                written.append(path)
                figures.setdefault(bench.name, []).append((f"{bench.title}: accuracy against {label}",
                                                          _link(path, output.parent)))
            if bench.folder is not None and (bench.folder / html_name).exists():
                plots.setdefault(bench.name, []).append((f"accuracy against {label.split(' (')[0]}",
                                                        _link(bench.folder / html_name, output.parent)))
        if bench.folder is not None:
            folders[bench.name] = _link(bench.folder, output.parent)
    for stale in figures_dir.glob("*.png"):
        if stale not in written and any(stale.name.endswith(f"-{part}.png") for _, part, _, _ in FIGURES):
            stale.unlink()
    speed_doc = _link(Path(__file__).resolve().parents[1] / "docs" / "speed.md", output.parent)
    output.write_text(report_markdown(benches, command, figures, plots, folders, speed_doc))
    return written
