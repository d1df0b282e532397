"""Compare settings and methods: accuracy against compute, from the results the project's commands wrote."""

import streamlit as st

import sources
import widgets
from dact_core import charts, report, tables

st.title("Accuracy against compute")
folder = sources.results_dir()
results = sources.results(folder)
if not results:
    st.info("No results yet: `dact bench --output-dir assets/results/NAME` writes a benchmark folder there.")
    st.stop()

names, first = sources.ordered_results(folder, list(results))
titles = report.display_titles(results)
name = st.selectbox("Results", names, index=names.index(first), format_func=titles.get, key="cmp_results")
res = results[name]
# every method of one `dact bench` run: accuracy against compute and measured speed
st.caption(tables.bench_caption(res))
# what the numbers say, in words: a difference only where its interval shows one
found = report.findings(report.bench_from_record(name, res))
if found.headline:
    st.markdown(f"**{report.markdown_text(found.headline)}**")
matched = sources.matched_sentences(folder, name)  # none for benches that stored no per-example results
if matched:
    st.markdown("At matched compute:\n\n" + "\n".join(f"- {report.markdown_text(line)}" for line in matched))
# every other point against the reference: below the chart's reach on a projector, so folded away
others = [line for line in (*found.claims, found.no_difference, found.not_compared) if line]
if others:
    with st.expander(f"Every point against the reference, in words ({len(others)})"):
        st.markdown("\n".join(f"- {report.markdown_text(line)}" for line in others))
points = res["points"]
methods = list(dict.fromkeys(p["method"] for p in points if p["method"] != "reference"))
c1, c2 = st.columns([3, 2])
# one selection per results file: another file's picks would hide this one's methods
shown = c1.multiselect("Methods", methods, default=methods, key=f"cmp_methods_{name}")
axis = c2.radio("Compute axis", list(charts.X_LABELS), horizontal=True, key="cmp_axis",
                format_func={"avg_layers": "layers", "speedup_batch1": "speed-up b=1",
                             "speedup_batch32": "speed-up b=32", "flops_ratio": "FLOPs"}.get)
if axis == "avg_layers" and any(m.removesuffix(" int8") in charts.TOKEN_METHODS for m in shown):
    st.caption("Token methods run every layer: they appear against FLOPs and time, not against layers.")
fig = charts.bench_figure(points, axis, shown, highlight=sources.shipped_point(res))
st.plotly_chart(fig, key="cmp_bench", width="stretch")
widgets.download_figure_data(fig, f"{name}_{axis}", "dl_bench")
st.dataframe(tables.bench_table(points), width="stretch", hide_index=True, column_config={
    "speedup batch1": st.column_config.NumberColumn(
        help="Batch-1 speed-up against the full-depth reference on the same engine and precision"),
    "efficiency batch1": st.column_config.NumberColumn(
        help="That speed-up over its ideal N / layers (1: halting costs nothing beyond the layers it skips)"),
    "speedup batch1 vs torch": st.column_config.NumberColumn(
        help="Batch-1 speed-up against the reference as eager PyTorch float32: the engine and halting together")})
