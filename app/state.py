"""Everything the pages share: the models (loaded once), evaluation and bounded caches, session state,
the shipped files. Pages keep only widgets and call in here."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import pandas as pd
import streamlit as st
import torch

from dact_core import report
from dact_core.inspector import DactInspector, TokenInspector, inspector_for
from dact_core.loading import ASSETS_DIR, DEFAULT_MODEL_DIR, load_model, weights_fingerprint
from dact_core.methods import FAMILIES

MAX_ROWS = 20_000
EXAMPLES_FILE = ASSETS_DIR / "examples.tsv"


def device() -> str | None:
    """DACT_DEVICE (set by `dact app --device`) names the device; unset means CUDA when present, else CPU."""
    return os.environ.get("DACT_DEVICE") or None


def results_dir() -> str:
    """DACT_RESULTS_DIR names another results folder; unset means assets/results."""
    return os.environ.get("DACT_RESULTS_DIR") or str(ASSETS_DIR / "results")


def model_path() -> str | None:
    """DACT_MODEL names another trained model folder; unset means the shipped default."""
    return os.environ.get("DACT_MODEL") or None


def models_dir() -> Path:
    """DACT_MODELS_DIR names another folder of model folders to offer; unset means assets/models."""
    return Path(os.environ.get("DACT_MODELS_DIR") or ASSETS_DIR / "models")


def model_type(path: str | None) -> str | None:
    """The model_type of a model folder (None: the DACT-BERT model the app was started with)."""
    if path is None:
        return "dact-bert"
    config = Path(path) / "config.json"
    return json.loads(config.read_text()).get("model_type") if config.exists() else None


def model_choices() -> dict[str, str | None]:
    """What the Inspect page offers: the DACT-BERT model (default or DACT_MODEL), then every other
    model folder in models_dir() (the shipped token-reduction methods), labelled by method."""
    own = model_path()
    choices: dict[str, str | None] = {f"DACT_MODEL: {own}" if own else "DACT-BERT, SST-2 (shipped default)": None}
    for folder in sorted(models_dir().glob("*/config.json")):
        folder = folder.parent
        if folder == DEFAULT_MODEL_DIR:
            continue
        kind = model_type(str(folder))
        name = FAMILIES[kind].display if kind in FAMILIES else kind
        choices[f"{name} ({folder.name})"] = str(folder)
    return choices


def threads() -> int:
    """The threads (torch's and the ONNX Runtime engine's) of every model run of this server: DACT_THREADS (set by
    `dact app --threads`), else every core but one, which is left to the browser: it draws the page while the script runs (often on the same machine),
    and on 2 cores torch's two threads and the browser took turns. The count is process-wide, so it is fixed once at
    start-up: changed per request, one session's setting would hold for another session's run."""
    value = os.environ.get("DACT_THREADS") or str(max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - 1)))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"DACT_THREADS must be a whole number of at least 1, got {value!r}")
    return int(value)


torch.set_num_threads(threads())  # once: Python imports this module once per process


def runtime() -> str:
    """DACT_RUNTIME (set by `dact app --runtime`) names the engine; unset means ONNX Runtime on a CPU for the models
    that run on it, torch otherwise."""
    return os.environ.get("DACT_RUNTIME") or "auto"


@st.cache_resource(show_spinner="Loading the model (its ONNX Runtime graphs are built on first use)...")
def get_inspector(path: str | None, quantization: str | None = None,
                  engine: str | None = None) -> DactInspector | TokenInspector:
    """A DactInspector for DACT-BERT, a TokenInspector for AdapLeR / token gates (None: model_path()), on the app's
    engine (`runtime()`) unless `engine` names one; one per model, shared by every session."""
    model, tokenizer = load_model(path or model_path(), "cpu" if quantization else device(), quantization,
                                  engine or runtime(), threads())
    # what is loaded by now (torch, transformers, plotly, the model: about half a million objects) lives as long as
    # the app; moved out of the collector's reach, a full collection no longer walks it (150 to 300 ms here, at
    # random moments inside a page's run)
    gc.freeze()
    return inspector_for(model, tokenizer)


def inspector_or_stop(path: str | None = None, dact_only: bool = True,
                      quantization: str | None = None) -> DactInspector | TokenInspector:
    try:
        inspector = get_inspector(path, quantization)
    except Exception as err:  # a missing or broken model folder: say so and stop the page
        st.error(f"The model could not be loaded: {err}")
        st.stop()
    if dact_only and not isinstance(inspector, DactInspector):
        st.error(f"This page needs a DACT-BERT model; {path or model_path()} is a {inspector.method} model.")
        st.stop()
    return inspector


@st.cache_data(max_entries=256, show_spinner=False)
def cached_trace(path: str | None, text: str, bound: str, relaxation: float, quantization: str | None = None):
    inspector = get_inspector(path, quantization)
    return inspector.trace(text, bound=bound, relaxation=relaxation)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_token_trace(path: str, text: str, quantization: str | None = None):
    inspector = get_inspector(path, quantization)
    return inspector.trace(text)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_attribution(path: str | None, text: str, layer: int, target: int, n_steps: int):
    """Attributions need gradients, so they always come from the float torch model."""
    return get_inspector(path, None, "torch").attribute(text, target=target, layer=layer, n_steps=n_steps)


@st.cache_data(max_entries=4)
def all_examples() -> pd.DataFrame:
    return pd.read_csv(EXAMPLES_FILE, sep="\t", dtype=str, keep_default_na=False)


def examples(label_names: list[str] | None = None) -> pd.DataFrame:
    """The curated examples of the task whose labels the model predicts (all of them when none matches)."""
    frame = all_examples()
    if label_names:
        for _, rows in frame.groupby("task", sort=False):
            if set(rows.label[rows.label != ""]) <= set(label_names):
                return rows.reset_index(drop=True)
    return frame


@st.cache_data(max_entries=16)
def results(folder: str) -> dict[str, dict]:
    """Every `dact bench` run (first, in reverse name order: bench-sst2-shipped before bench-sst2) and every
    sweep file; the folder's index.json orders them (`report.ordered_names`) and is none of them."""
    benches = sorted(Path(folder).glob("*/bench.json"), key=lambda p: p.parent.name, reverse=True)
    found = {p.parent.name: p for p in benches}
    found.update({p.stem: p for p in sorted(Path(folder).glob("*.json")) if p.name != report.INDEX_FILE})
    return {name: json.loads(path.read_text()) for name, path in found.items()}


def matched_sentences(folder: str, name: str) -> list[str]:
    """The report's sentences at matched compute for one result folder; none where it stored no per-example results,
    a warning where its file cannot be read. Cached per version of the file: each pair's bootstrap resamples every
    example thousands of times, and the page reruns on every click."""
    path = Path(folder) / name / report.EXAMPLES_FILE  # not this module's EXAMPLES_FILE (the curated texts)
    if not path.exists():
        return []
    try:
        return _matched_sentences(str(path), path.stat().st_mtime)
    except ValueError as err:
        st.warning(str(err))
        return []


@st.cache_data(max_entries=16, show_spinner="Comparing the methods on the same examples...")
def _matched_sentences(path: str, modified: float) -> list[str]:
    return report.matched_sentences(report.load_examples(Path(path).parent))


def ordered_results(folder: str, names: list[str]) -> tuple[list[str], str | None]:
    """The results in the order of the folder's index.json (unlisted ones after), and the one to open first:
    the one DACT_RESULTS_DEFAULT names, else the index's first. A malformed index is a warning, and ignored."""
    try:
        index = report.read_index(folder)
    except ValueError as err:
        st.warning(str(err))
        index = []
    ordered = report.ordered_names(names, index)
    return ordered, report.default_name(ordered, index, os.environ.get(report.DEFAULT_ENV))


def bench_caption(bench: dict) -> str:
    """A bench's title and how it was timed (unless the title names the timer's blocks and statistic): benches before the
    interleaved timer took a median of per-example times, those before timer blocks ran every point on each
    input in turn, and those before the round median summed each input's rounds."""
    settings = bench.get("settings", {})
    if not settings.get("timer"):
        timer = "earlier timer: a median of per-example times, paths timed one after the other"
    else:
        block = settings.get("timer_block", 1)
        timer = f"timer: {settings['timer']}, " + (f"blocks of {block} inputs" if block > 1 else "input by input")
        if settings.get("timer_statistic"):
            timer += f", {settings['timer_statistic']}"
    title = bench.get("title", "")
    statistic = settings.get("timer_statistic")
    named = "block" in title and (not statistic or statistic in title)  # the title already says how it was timed
    return title if named else f"{title} ({timer})"


def setting_controls(key: str) -> tuple[str, float]:
    """The inference setting, with a visible note whenever the guarantee no longer holds.

    A run that stops before the controls (no data yet, a token model) does not draw them; persist_state keeps
    their values through such runs, and the defaults are given to the widgets themselves: a value written into
    session state for an undrawn slider came back drawn at the slider's own default (0), which the next
    unrelated click then applied."""
    cols = st.columns([1, 2])
    # the default only where session state holds no value: given both, Streamlit logs a warning on every run
    default = {} if f"{key}_relax" in st.session_state else {"value": 1.0}
    bound = cols[0].radio("Halting bound", ["tight", "paper"], horizontal=True, key=f"{key}_bound",
                          persist_state="session",
                          help="Both guarantee that the halted prediction equals the full-depth prediction; "
                          "the tight bound halts at the same layer or earlier.")
    relaxation = cols[1].slider("Relaxation factor (1 = exact)", 0.0, 1.0, step=0.05, **default,
                                key=f"{key}_relax", persist_state="session",
                                help="Scales the number of layers left in the bound: lower halts earlier.")
    if relaxation < 1.0:
        st.warning(f"Relaxation {relaxation:g} < 1: halting is faster but the guarantee no longer holds; "
                   "the halted answer may differ from the full-depth answer.", icon=":material/warning:")
    return bound, relaxation


def evaluate_cached(task, path: str | None, bound: str, relaxation: float):
    """(metrics, traces) of the model at `path` on `task` under the setting, shared by every session and tab: a
    reload or a second visitor with the same rows, model and setting costs nothing."""
    import hashlib

    columns = list(task.text_columns) + (["label"] if "label" in task.dataset.column_names else [])
    content = hashlib.sha256(task.dataset.select_columns(columns).to_pandas().to_csv(index=False).encode())
    return _evaluated(task, content.hexdigest(), task.source, path or model_path(), bound, relaxation)


@st.cache_data(max_entries=8, show_spinner=False)
def _evaluated(_task, content: str, source: str, path: str | None, bound: str, relaxation: float):
    """Keyed by the rows' content, the model and the setting (the task itself is not hashed: `content` stands for
    it). Shows a progress bar while it runs."""
    from dact_core.evaluate import evaluate

    inspector = get_inspector(path)
    progress = st.progress(0.0, text=f"Running {len(_task):,} examples...")
    # one full-depth pass: exits under any setting are read off its trace (tested equal to the halting path)
    result = evaluate(inspector.model, inspector.tokenizer, _task, batch_size=32, progress=False,
                      setting=dict(halting_bound=bound, halting_relaxation=relaxation), halting_pass=False,
                      on_progress=lambda done, total: progress.progress(done / total,
                                                                        text=f"{done:,} / {total:,} examples"))
    progress.empty()
    return result.metrics, result.traces


def download_figure_data(fig, name: str, key: str) -> None:
    from dact_core.charts import figure_csv

    # built only when clicked: on every rerun it would be work and a stored file for each chart
    st.download_button("Chart data (CSV)", lambda: figure_csv(fig), file_name=f"{name}.csv", mime="text/csv",
                       key=key)


# ---- state that lasts: shared between pages, and in the URL (bookmarks, shared links, reload) ----------

URL_STATE = {"model": "default", "text": None, "layer": None, "bound": "tight", "relax": 1.0}


def _parse(name: str, raw: str):
    if name == "layer":
        return int(raw) if raw.isdigit() else None
    if name == "relax":
        try:
            return min(1.0, max(0.0, float(raw)))
        except ValueError:
            return 1.0
    if name == "bound":
        return raw if raw in ("tight", "paper") else "tight"
    return raw


def shared(name: str):
    """The value every page shows for `name` (model, text, layer, bound, relax)."""
    return st.session_state.get(f"shared_{name}", URL_STATE[name])


def set_shared(name: str, value) -> None:
    st.session_state[f"shared_{name}"] = value


def load_url_state(widgets: dict[str, str]) -> set[str]:
    """Take what the URL says (once per distinct URL), then seed this page's widgets from the shared values.
    Returns the names taken from the URL on this run.

    widgets maps a shared name to this page's widget key. Streamlit forgets a widget's value when a page
    without it runs, so each page re-seeds its widgets from the shared values on every run.
    """
    seen = st.session_state.setdefault("_url_seen", {})
    taken = set()
    for name in URL_STATE:
        raw = st.query_params.get(name)
        if raw is not None and seen.get(name) != raw:
            seen[name] = raw
            taken.add(name)
            set_shared(name, _parse(name, raw))
            if name in widgets:
                st.session_state.pop(widgets[name], None)
    for name, key in widgets.items():
        if key not in st.session_state and shared(name) is not None:
            st.session_state[key] = shared(name)
    return taken


def save_url_state(**values) -> None:
    """Remember the current values for every page and write them to the URL (only those that changed)."""
    seen = st.session_state.setdefault("_url_seen", {})
    for name, value in values.items():
        set_shared(name, value)
        raw = None if value is None else str(value)
        if raw is not None and st.query_params.get(name) != raw:
            st.query_params[name] = raw
        seen[name] = raw


def model_id(path: str | None) -> str:
    """How the URL names a model: "default" (the DACT-BERT model) or the folder name of another."""
    return "default" if path is None else Path(path).name


def model_label_for(choices: dict[str, str | None], ident: str) -> str:
    for label, path in choices.items():
        if model_id(path) == ident:
            return label
    return next(iter(choices))


# ---- the Data set page: demo data, traces files, instant setting changes, the explorer table ------------

DATA_DIR = ASSETS_DIR / "data"
DEMO_SETS = {  # file -> what it is (source and licence: assets/data/README.md)
    "sst2-dev.tsv": "SST-2 dev, 872 sentences (GLUE; Socher et al. 2013)",
    "agnews-test-sample.tsv": "AG News test, 2,000 rows, 500 per class (Zhang et al. 2015)",
}
DEMO_LABELS = {"sst2-dev.tsv": ["negative", "positive"], "agnews-test-sample.tsv": ["World", "Sports", "Business",
                                                                                   "Sci/Tech"]}


def demo_set(label_names: list[str]) -> Path | None:
    """The shipped demo data of the model's task (same label names), if there is one."""
    for name, labels in DEMO_LABELS.items():
        if set(labels) == set(label_names) and (DATA_DIR / name).exists():
            return DATA_DIR / name
    return None


def server_folders() -> list[Path]:
    """The folders whose files the Data set page may read by path: DACT_SERVER_PATHS, an os.pathsep-separated list
    (`dact app --allow-server-paths FOLDER`). None unless the person starting the app names them."""
    raw = os.environ.get("DACT_SERVER_PATHS", "")
    return [Path(folder).expanduser().resolve() for folder in raw.split(os.pathsep) if folder.strip()]


def server_paths_allowed() -> bool:
    return bool(server_folders())


def hub_allowed() -> bool:
    """Whether a visitor may have the server download a hub data set: only when the person starting the app says so
    (DACT_ALLOW_HUB=1); `streamlit run app/main.py` alone keeps the server offline."""
    return os.environ.get("DACT_ALLOW_HUB") == "1"


def check_hub_name(name: str) -> None:
    from dact_core.data import DataError, LOCAL_FORMATS

    looks_like_path = name.startswith(("/", ".", "~")) or "\\" in name or Path(name).suffix.lower() in LOCAL_FORMATS
    if looks_like_path or Path(name).exists():
        raise DataError(f"{name!r} is not a hub name (like glue/sst2); upload a file instead")


@st.cache_data(max_entries=2, show_spinner="Reading the traces...")
def read_uploaded_traces(name: str, raw: bytes) -> pd.DataFrame:
    import tempfile

    from dact_core.explore import read_traces

    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / Path(name).name
        target.write_bytes(raw)
        return read_traces(target)


def read_traces_path(where: str) -> pd.DataFrame:
    from dact_core.explore import read_traces

    folders = server_folders()
    target = Path(where).expanduser().resolve()  # resolved: `..` and links cannot leave an allowed folder
    if not any(target.is_relative_to(folder) for folder in folders):
        raise ValueError(f"{where}: not inside the folders this app may read ({', '.join(map(str, folders))})")
    if not target.exists():
        raise ValueError(f"{where}: no such file or folder on the server")
    return read_traces(target)


def rehalt_cached(traces: pd.DataFrame, bound: str, relaxation: float) -> pd.DataFrame:
    """The table under another setting, by arithmetic on the stored a_n and p_n (no model call); the last few
    results stay in the session, so going back and forth is instant."""
    from dact_core.explore import rehalt

    cache = st.session_state.setdefault("ds_rehalt", {})
    fingerprint = int(pd.util.hash_pandas_object(traces[[c for c in traces.columns if c.startswith("acc_prob_1_")
                                                         or c == "num_tokens"]], index=False).sum())
    key = (fingerprint, len(traces), bound, relaxation)
    if key not in cache:
        while len(cache) >= 4:
            cache.pop(next(iter(cache)))
        cache[key] = rehalt(traces, bound, relaxation)
    return cache[key]


EXPLORER_COLUMNS = {"text": "Text", "label_name": "Gold", "prediction_name": "Prediction", "confidence": "Confidence",
                    "margin": "Margin", "exit_layer": "Exit layer", "num_tokens": "Tokens",
                    "agrees_with_full_depth": "Agrees with full depth", "correct": "Correct",
                    "truncated": "Cut"}


def explorer_table(traces: pd.DataFrame) -> pd.DataFrame:
    """The columns a reader wants, with readable names."""
    present = [c for c in EXPLORER_COLUMNS if c in traces]
    table = traces[present].rename(columns=EXPLORER_COLUMNS)
    for column in ("Confidence", "Margin"):
        if column in table:
            table[column] = table[column].round(3)
    return table


def shipped_point(bench: dict) -> tuple[str, str] | None:
    """(method, setting) of the shipped DACT-BERT model in a bench run, if the run measured its current weights:
    the recorded fingerprint of the measured weights must match, so a run of an earlier shipped model (or one
    recorded without fingerprints) marks nothing."""
    shipped = shipped_fingerprint()
    for model in bench.get("models", []):
        if model.get("method") == "DACT-BERT" and shipped and model.get("weights_sha256") == shipped:
            return ("DACT-BERT", model["setting"])
    return None


@st.cache_data(show_spinner=False)
def shipped_fingerprint() -> str:
    return weights_fingerprint(DEFAULT_MODEL_DIR)


def sweep_table(res: dict):
    """A sweep file's reference and DACT points as one table (accuracy in %); numbers stay numbers (a column of
    numbers and blanks cannot be sent to the browser as it is), and a value a row lacks shows as a blank cell."""
    rows = []
    if res.get("reference"):
        rows.append({"model": "full-depth reference",
                     **{k: v for k, v in res["reference"].items() if not isinstance(v, dict)}})
    for point in res.get("dact", []):
        rows.append({"model": f"DACT tau={point['ponder_penalty']:g}"
                     + (" (the sweep's choice)" if point.get("model") == res.get("default_model") else ""),
                     **{k: v for k, v in point.items() if not isinstance(v, dict)}})
    if not rows:
        return None
    table = pd.DataFrame(rows)
    for column in [c for c in table.columns if "accuracy" in c]:
        table[column] = (100 * table[column]).round(2)
    table = table.round(3).rename(columns=lambda c: c.replace("accuracy", "accuracy (%)"))
    return table.style.format(lambda v: f"{v:g}" if isinstance(v, float) else v, na_rep="")


def bench_table(points: list[dict]) -> pd.DataFrame:
    """A bench run as a readable table: accuracy in %, intervals in points, no empty cells."""
    table = pd.DataFrame(points)
    out = pd.DataFrame({"method": table.method, "setting": table.setting,
                        "accuracy (%)": (100 * table.accuracy).round(2)})
    seeds = table["seeds"] if "seeds" in table else pd.Series(1, index=table.index)
    if "seeds" in table and (seeds > 1).any():
        spread = table.get("accuracy_std", 0.0 * seeds)
        out["spread (points)"] = [f"± {100 * sd:.2f}" if n > 1 else "" for sd, n in zip(spread, seeds)]
    if "accuracy_diff" in table:
        # several seeds: the mean of their differences, each against its own seed's reference (the mean of their
        # intervals' ends would not be an interval); a reference's own difference is against the bench's first
        # reference, another seed's, so its mean is left out
        out["vs reference (points, 95% CI)"] = [
            "" if pd.isna(d) or (n > 1 and method == "reference") else
            f"{100 * d:+.2f} (mean of {n:.0f} seeds)" if n > 1 else f"{100 * d:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"
            for d, lo, hi, n, method in zip(table.accuracy_diff, table.accuracy_diff_low, table.accuracy_diff_high,
                                            seeds, table.method)]
    # "speedup batch1 vs torch": against the reference as eager PyTorch float32 (benches that timed it)
    for column, digits in (("avg_layers", 2), ("flops_ratio", 3), ("speedup_batch1", 2), ("efficiency_batch1", 2),
                           ("speedup_batch32", 2), ("speedup_batch1_vs_torch", 2), ("latency_ms_batch1", 2)):
        if column in table:
            out[column.replace("_", " ")] = table[column].round(digits)
    if "seeds" in table:
        out["seeds"] = table.seeds
    return out.astype(object).fillna("")
