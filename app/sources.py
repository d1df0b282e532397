"""Where the pages' data comes from: the shipped files (curated examples, demo data sets, benchmark results) and
what a visitor brings (uploaded traces, files on the server, hub data sets), with the limits on what a visitor may
make the server read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from dact_core import report
from dact_core.loading import ASSETS_DIR, DEFAULT_MODEL_DIR, weights_fingerprint

EXAMPLES_FILE = ASSETS_DIR / "examples.tsv"


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


# ---- benchmark results: `dact bench` runs ----

def results_dir() -> str:
    """DACT_RESULTS_DIR names another results folder; unset means assets/results."""
    return os.environ.get("DACT_RESULTS_DIR") or str(ASSETS_DIR / "results")


@st.cache_data(max_entries=16)
def results(folder: str) -> dict[str, dict]:
    """Every `dact bench` run in the folder, by folder name; its index.json orders them (`report.ordered_names`). A
    bench.json that cannot be read, or holds no measured points, is a warning and is not offered."""
    found = {}
    for path in sorted(Path(folder).glob("*/bench.json")):
        try:
            found[path.parent.name] = report.load_bench(path.parent).record
        except ValueError as err:
            st.warning(str(err))
    return found


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
    bench = report.load_bench(Path(path).parent)  # its points give each pair's batch-1 speed-ups
    return report.matched_sentences(bench.examples, bench.points)


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


def shipped_point(bench: dict) -> tuple[str, str] | None:
    """(method, setting) of the shipped DACT-BERT model in a bench run, if the run measured its current weights:
    the recorded fingerprint of the measured weights must match, so a run of other weights (or one recorded
    without fingerprints) marks nothing."""
    shipped = shipped_fingerprint()
    for model in bench.get("models", []):
        if model.get("method") == "DACT-BERT" and shipped and model.get("weights_sha256") == shipped:
            return ("DACT-BERT", model["setting"])
    return None


@st.cache_data(show_spinner=False)
def shipped_fingerprint() -> str:
    return weights_fingerprint(DEFAULT_MODEL_DIR)


# ---- the Data set page's sources: demo data, traces files, hub data sets ----

MAX_ROWS = 20_000  # the most rows the page analyses from an upload or a hub data set
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
