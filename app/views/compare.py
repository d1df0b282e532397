"""Compare settings and methods: accuracy against compute, from the results the project's commands wrote."""

import pandas as pd
import streamlit as st

import state
from dact_core import charts

st.title("Accuracy against compute")
results = state.results(state.results_dir())
if not results:
    st.info("No results yet: `python scripts/sst2_sweep.py` writes assets/results/sst2_sweep.json and "
            "`dact bench` writes a benchmark folder there.")
    st.stop()

name = st.selectbox("Results", list(results), key="cmp_results")
res = results[name]
if "points" in res:  # a `dact bench` run: every method, accuracy against compute and measured speed
    st.caption(res.get("title", ""))
    axis = st.radio("Compute axis", ["avg_layers", "speedup_batch1", "speedup_batch32", "flops_ratio"],
                    horizontal=True, key="cmp_axis")
    fig = charts.bench_figure(res["points"], axis)
    st.plotly_chart(fig, key="cmp_bench", width="stretch")
    state.download_figure_data(fig, f"{name}_{axis}", "dl_bench")
    st.dataframe(pd.DataFrame(res["points"]), width="stretch", hide_index=True)
    st.subheader("Targets")
    st.json(res.get("targets", {}))
    st.stop()
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
