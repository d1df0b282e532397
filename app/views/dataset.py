"""Explore how compute is spent across a data set."""

import io
import json

import pandas as pd
import streamlit as st

import state
from dact_core import charts
from dact_core.data import DataError, load_task, task_from_pandas

st.title("Explore a data set")
inspector = state.inspector_or_stop()
path = state.model_path()
label_names = inspector.label_names

source = st.radio("Data", ["Shipped demo set", "Upload a CSV/TSV file", "Hub data set"], horizontal=True,
                  key="ds_source")


def read_upload(upload) -> pd.DataFrame:
    raw = upload.getvalue()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{upload.name}: the file is not valid UTF-8 (byte {err.start}); save it as UTF-8") from err
    if not content.strip():
        raise DataError(f"{upload.name}: the file is empty")
    sep = "\t" if upload.name.lower().endswith(".tsv") or content.split("\n", 1)[0].count("\t") else ","
    try:
        return pd.read_csv(io.StringIO(content), sep=sep, dtype=str, keep_default_na=False)
    except Exception as err:
        raise DataError(f"{upload.name}: could not be read as a table: {err}") from err


task = None
try:
    if source == "Shipped demo set":
        frame = state.examples(label_names)
        frame = frame[frame.label != ""]
        st.caption(f"{len(frame)} curated sentences with labels ({', '.join(frame.category.unique())}).")
        task = task_from_pandas(frame, "demo set", "sentence", "label", label_names)
    elif source == "Upload a CSV/TSV file":
        upload = st.file_uploader("CSV or TSV with a header row", type=["csv", "tsv", "txt"], key="ds_upload")
        if upload is not None:
            frame = read_upload(upload)
            if len(frame) > state.MAX_ROWS:
                raise DataError(f"{upload.name}: {len(frame):,} rows; the app takes at most {state.MAX_ROWS:,} "
                                "(use `dact eval` for larger sets)")
            cols = list(frame.columns)
            c1, c2 = st.columns(2)
            guess = next((c for c in ("sentence", "text", "review", "content") if c in cols), cols[0])
            text_col = c1.selectbox("Text column", cols, index=cols.index(guess), key="ds_text_col")
            label_options = ["(no labels)"] + cols
            label_guess = next((c for c in ("label", "labels", "class") if c in cols), "(no labels)")
            label_col = c2.selectbox("Label column", label_options, index=label_options.index(label_guess),
                                     key="ds_label_col")
            has_labels = label_col != "(no labels)"
            task = task_from_pandas(frame, upload.name, text_col, label_col if has_labels else None,
                                    label_names, require_labels=False)
    else:
        c1, c2 = st.columns(2)
        name = c1.text_input("Hub name (e.g. glue/sst2)", key="ds_hub_name")
        split = c2.text_input("Split", value="validation", key="ds_hub_split")
        if name and st.button("Load", key="ds_hub_load"):
            st.session_state["ds_hub_task"] = (name, split)
        if st.session_state.get("ds_hub_task"):
            name, split = st.session_state["ds_hub_task"]
            task = load_task(name, split=split, label_names=label_names, max_rows=state.MAX_ROWS,
                             require_labels=False)
except DataError as err:
    st.error(str(err))
    st.stop()

if task is None:
    st.stop()

bound, relaxation = state.setting_controls("ds")
metrics, traces = state.evaluate_cached(task, path, bound, relaxation)
n_layers = metrics["num_layers"]

cols = st.columns(4)
cols[0].metric("Examples", f"{metrics['num_examples']:,}")
cols[1].metric("Average layers", f"{metrics['avg_layers']:.2f} of {n_layers}")
if "accuracy" in metrics:
    cols[2].metric("Accuracy", f"{100 * metrics['accuracy']:.1f}%")
cols[3].metric("Halted == full depth", f"{metrics['agree_with_full_depth']} / {metrics['num_examples']}")

left, right = st.columns(2)
with left:
    hist = charts.exit_histogram_figure(traces, n_layers)
    event = st.plotly_chart(hist, key="ds_hist", on_select="rerun", selection_mode=("points",),
                            width="stretch")
    state.download_figure_data(hist, "exit_layers", "dl_hist")
with right:
    breakdown = charts.layers_breakdown_figure(traces, n_layers)
    st.plotly_chart(breakdown, key="ds_breakdown", width="stretch")
    state.download_figure_data(breakdown, "average_layers", "dl_breakdown")
left, right = st.columns(2)
for col, quantity in ((left, "remaining_prob"), (right, "halting_prob")):
    with col:
        fig = charts.mean_curves_figure(traces, n_layers, quantity)
        st.plotly_chart(fig, key=f"ds_curve_{quantity}", width="stretch")
        state.download_figure_data(fig, f"mean_{quantity}", f"dl_{quantity}")

selected_layers = sorted({int(p["x"]) for p in (event.selection.points if event else []) if "x" in p})
table = traces if not selected_layers else traces[traces.exit_layer.isin(selected_layers)]
st.subheader("Examples" + (f" exiting at layer {', '.join(map(str, selected_layers))}" if selected_layers else ""))
shown = [c for c in ("text", "label_name", "prediction_name", "correct", "exit_layer", "num_tokens")
         if c in table.columns]
picked = st.dataframe(table[shown], key="ds_table", on_select="rerun", selection_mode="single-row",
                      width="stretch", hide_index=True)
rows = picked.selection.rows if picked else []
if rows:
    text = table.iloc[rows[0]]["text"]
    st.write("Selected:", text)
    if st.button("Open in Inspect", key="ds_open"):
        st.session_state["open_text"] = text
        st.switch_page("views/inspect.py")

c1, c2 = st.columns(2)
c1.download_button("Traces (CSV)", traces.to_csv(index=False), file_name="traces.csv", mime="text/csv",
                   key="dl_traces")
c2.download_button("Metrics (JSON)", json.dumps(metrics, indent=2), file_name="metrics.json",
                   mime="application/json", key="dl_metrics")
