"""What pages share: the models (loaded once), evaluation and bounded caches. The choices every page shares live
in url_state.py, the data the pages read in sources.py. Pages keep only widgets and call in here."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import pandas as pd
import streamlit as st
import torch

from dact_core.inspector import DactInspector, TokenInspector, inspector_for
from dact_core.loading import ASSETS_DIR, DEFAULT_MODEL_DIR, load_model
from dact_core.methods import FAMILIES

def device() -> str | None:
    """DACT_DEVICE (set by `dact app --device`) names the device; unset means CUDA when present, else CPU."""
    return os.environ.get("DACT_DEVICE") or None


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


# ---- the Data set page: demo data, traces files, instant setting changes, the explorer table ------------

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
