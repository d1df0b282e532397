"""The widgets several pages draw the same way: the inference-setting controls and the chart-data download."""

from __future__ import annotations

import streamlit as st


def setting_controls(key: str) -> tuple[str, float]:
    """The inference setting, with a visible note whenever the guarantee no longer holds.

    A run that stops before the controls (no data yet, a token model) does not draw them; persist_state keeps
    their values through such runs, and the defaults are given to the widgets themselves: a value written into
    session state for an undrawn slider comes back drawn at the slider's own default (0), which the next
    unrelated click would then apply."""
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


def download_figure_data(fig, name: str, key: str) -> None:
    from dact_core.tables import figure_csv

    # built only when clicked: on every rerun it would be work and a stored file for each chart
    st.download_button("Chart data (CSV)", lambda: figure_csv(fig), file_name=f"{name}.csv", mime="text/csv",
                       key=key)
