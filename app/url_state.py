"""The choices every page shares (model, text, layer, bound, relaxation), kept in the session and in the page's
address, so that switching pages keeps them and a bookmark, a shared link or a reload reopens the same view."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

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


def load(widgets: dict[str, str]) -> set[str]:
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


def save(**values) -> None:
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
