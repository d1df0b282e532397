"""Compare settings and methods: accuracy against compute, from the results the project's commands wrote."""

import pandas as pd
import streamlit as st

import state
from dact_core import charts

st.title("Accuracy against compute")
results = state.results()
if not results:
    st.info("No results yet: `python scripts/sst2_sweep.py` writes assets/results/sst2_sweep.json.")
    st.stop()

name = st.selectbox("Results", list(results), key="cmp_results")
res = results[name]
fig = charts.sweep_figure(res)
st.plotly_chart(fig, key="cmp_sweep", width="stretch")
state.download_figure_data(fig, name, "dl_cmp")
if res.get("note"):
    st.caption(res["note"])

rows = []
if res.get("reference"):
    rows.append({"model": "full-depth reference", **{k: v for k, v in res["reference"].items() if not isinstance(v, dict)}})
for point in res.get("dact", []):
    rows.append({"model": f"DACT tau={point['ponder_penalty']:g}",
                 **{k: v for k, v in point.items() if not isinstance(v, dict)}})
if rows:
    st.dataframe(pd.DataFrame(rows), width="stretch", hide_index=True)
with st.expander("Raw JSON"):
    st.json(res)
