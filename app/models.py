"""The models the app runs and how it runs them: the settings `dact app` passes through the environment (model,
device, engine, threads), the models the Inspect page offers, one loaded inspector per model shared by every
session, and the bounded caches of what they compute (traces, attributions, a data set's evaluation)."""

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
    `dact app --threads`), else every core but one, which is left to the browser: it draws the page while the script
    runs (often on the same machine), and on a small machine it would otherwise take turns with torch's threads.
    The count is process-wide, so it is fixed once at start-up: changed per request, one session's setting would
    hold for another session's run."""
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
    # what is loaded by this point (torch, transformers, plotly, the model: about half a million objects) lives as
    # long as the app; moved out of the collector's reach, it is not walked by a full collection at a random moment
    # inside a page's run
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
