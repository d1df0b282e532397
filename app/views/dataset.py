"""Explore how compute is spent across a data set: demo data, an upload, a hub set, or the traces of `dact eval`."""

import json

import streamlit as st

import models
import sources
import widgets
from dact_core import charts, explore, tables
from dact_core.data import (DataError, check_label_column, header_looks_like_data, load_task, match_labels,
                            propose_columns, read_table, task_from_pandas)

st.title("Explore a data set")
inspector = models.inspector_or_stop()
path = models.model_path()
label_names = inspector.label_names
demo = sources.demo_set(label_names)
offered = (["Demo data"] if demo else []) + ["Curated sentences", "Upload a CSV/TSV file", "Traces of dact eval",
                                             "Hub data set"]
source = st.radio("Data", offered, horizontal=True, key="ds_source")

task, traces = None, None
try:
    if source == "Demo data":
        st.caption(f"{demo.name}: {sources.DEMO_SETS[demo.name]}")
        task = load_task(str(demo), label_names=label_names)
    elif source == "Curated sentences":
        frame = sources.examples(label_names)
        frame = frame[frame.label != ""]
        st.caption(f"{len(frame)} curated sentences with labels ({', '.join(frame.category.unique())}).")
        task = task_from_pandas(frame, "curated sentences", "sentence", "label", label_names)
    elif source == "Upload a CSV/TSV file":
        upload = st.file_uploader("CSV or TSV, with or without a header row (comma, tab, semicolon or | separated)",
                                  type=["csv", "tsv", "txt"], key="ds_upload")
        if upload is not None:
            frame = read_table(upload.name, upload.getvalue())
            # a file of `text<TAB>label` lines has no header: its first row would name the columns
            no_header = st.checkbox("First row is data (the file has no header row)",
                                    value=header_looks_like_data(frame), key=f"ds_no_header_{upload.file_id}")
            if no_header:
                frame = read_table(upload.name, upload.getvalue(), header=False)
            if len(frame) > sources.MAX_ROWS:
                raise DataError(f"{upload.name}: {len(frame):,} rows; the app analyses at most {sources.MAX_ROWS:,} "
                                "(`dact eval` writes traces for any size, which this page opens)")
            st.markdown(f"**Preview** ({len(frame):,} rows read{', the first row as data' if no_header else ''}; "
                        "the first 5 below). Say which columns hold the text and the labels:")
            st.dataframe(frame.head(5), hide_index=True, width="stretch")
            text_options, text_guess, label_guess = propose_columns(frame, label_names)
            if not text_options:
                raise DataError(f"{upload.name}: every column holds whole numbers; there is no text column")
            c1, c2 = st.columns(2)
            text_col = c1.selectbox("Text column", text_options, index=text_options.index(text_guess),
                                    key="ds_text_col",
                                    help="Columns of whole numbers (ids) are not offered.")
            label_options = ["(no labels)"] + [c for c in frame.columns if c != text_col]
            label_col = c2.selectbox("Label column", label_options,
                                     index=label_options.index(label_guess) if label_guess in label_options else 0,
                                     key="ds_label_col")
            mapping, unmapped = None, []
            if label_col != "(no labels)":
                values = check_label_column(frame, label_col, upload.name)
                known = set(label_names) | {str(i) for i in range(len(label_names))}
                if not set(values) <= known:
                    guesses = match_labels(values, label_names)
                    st.markdown(f"**Label mapping**: the model's labels are {', '.join(label_names)}.")
                    cols = st.columns(min(4, len(values)))
                    mapping = {v: cols[i % len(cols)].selectbox(
                        v, label_names, index=label_names.index(guesses[v]) if guesses[v] else None,
                        placeholder="choose a class", key=f"ds_map_{v}")
                        for i, v in enumerate(values)}
                    unmapped = [v for v, name in mapping.items() if name is None]
                    crowded = {name: [v for v in values if mapping[v] == name] for name in label_names}
                    crowded = {name: vs for name, vs in crowded.items() if len(vs) > 1}
                    if crowded:
                        st.warning("Several file labels map to one class: " + "; ".join(
                            f"{', '.join(vs)} -> {name}" for name, vs in crowded.items()) + ". Is that intended?",
                            icon=":material/warning:")
            if st.button("Analyse with this mapping", key="ds_run", type="primary"):
                if unmapped:
                    st.error(f"Choose a class for the file label(s) {', '.join(unmapped)} first.")
                else:
                    st.session_state["ds_mapping"] = (upload.file_id, no_header, text_col, label_col, mapping)
            chosen = st.session_state.get("ds_mapping")
            if chosen and chosen[:2] == (upload.file_id, no_header):
                _, _, text_col, label_col, mapping = chosen
                if mapping:
                    frame = frame.assign(**{label_col: frame[label_col].map(mapping)})
                task = task_from_pandas(frame, upload.name, text_col, None if label_col == "(no labels)" else label_col,
                                        label_names, require_labels=False, detect_label=False)
    elif source == "Traces of dact eval":
        upload = st.file_uploader("traces.parquet or traces.csv written by `dact eval`", type=["parquet", "csv"],
                                  key="ds_traces")
        folders = ", ".join(map(str, sources.server_folders()))
        where = st.text_input("...or a path on the server (a file or a folder of shards)", key="ds_traces_path",
                              persist_state="session", disabled=not sources.server_paths_allowed(),
                              help=f"Files inside {folders}." if folders else
                              "Start the app with `dact app --allow-server-paths FOLDER` to read files in FOLDER.")
        if upload is not None:
            traces = sources.read_uploaded_traces(upload.name, upload.getvalue())
        elif where and sources.server_paths_allowed():
            traces = sources.read_traces_path(where)
    elif not sources.hub_allowed():
        st.info("Hub data sets are off: a visitor could make the server download a whole data set. Whoever starts "
                "the app turns them on with DACT_ALLOW_HUB=1; until then, upload a file.", icon=":material/cloud_off:")
    else:
        c1, c2 = st.columns(2)
        name = c1.text_input("Hub name (e.g. glue/sst2)", key="ds_hub_name", persist_state="session")
        split = c2.text_input("Split", value="validation", key="ds_hub_split", persist_state="session")
        if name and st.button("Load", key="ds_hub_load"):
            sources.check_hub_name(name)
            st.session_state["ds_hub_task"] = (name, split)
        if st.session_state.get("ds_hub_task"):
            name, split = st.session_state["ds_hub_task"]
            task = load_task(name, split=split, label_names=label_names, max_rows=sources.MAX_ROWS,
                             require_labels=False)
except (DataError, ValueError) as err:
    st.error(str(err))
    st.stop()

if task is None and traces is None:
    st.stop()

bound, relaxation = widgets.setting_controls("ds")
if traces is None:
    _, traces = models.evaluate_cached(task, path, "tight", 1.0)  # once; other settings by arithmetic below
if explore.has_layer_trace(traces):
    traces = models.rehalt_cached(traces, bound, relaxation)
else:
    st.info("These traces hold no per-layer values (a token or early-exit method): the bound cannot be changed.")
n_layers = max(explore.num_layers_of(traces), int(traces["exit_layer"].max()))

cols = st.columns(5)
cols[0].metric("Examples", f"{len(traces):,}")
cols[1].metric("Average layers", f"{traces.exit_layer.mean():.2f} of {n_layers}")
if "correct" in traces:
    cols[2].metric("Accuracy", f"{100 * traces.correct.mean():.1f}%")
if "agrees_with_full_depth" in traces:
    differ = int((~traces.agrees_with_full_depth).sum())
    cols[3].metric("Halted == full depth", f"{len(traces) - differ:,} / {len(traces):,}",
                   f"{differ} differ: filter 'disagreements only'" if differ else None,
                   delta_color="inverse" if differ else "off", delta_arrow="off")
if "confidence" in traces:
    cols[4].metric("Mean confidence", f"{traces.confidence.mean():.2f}")

if "truncated" in traces and traces.truncated.any():
    cut = int(traces.truncated.sum())
    st.info(f"{cut:,} of {len(traces):,} rows are longer than the model's input and were cut to their first word "
            "pieces: their answers and exits come from the start of the text only (the table's \"Cut\" column).",
            icon=":material/content_cut:")

# The charts sit above the table but are drawn after it, so that they can show what the table shows:
# each selection (histogram bars, scatter box, table rows) is read from the previous run's widget state.
charts_area = st.container()


def _selected(key: str, part: str) -> list:
    return (st.session_state.get(key) or {}).get("selection", {}).get(part, [])


def _picked_bars() -> list[int]:
    """Exit layers picked in the histogram: a click (shift or not) adds a bar, a click on a picked bar
    takes it out, the button below clears them.

    The page keeps the set itself: the chart is redrawn after every pick (it shades the table's rows),
    and a redrawn plotly chart forgets its own selection (its shift-click would start a new one, and
    its selection comes back empty after any other change, which must not clear the picked bars)."""
    event = sorted({int(p["x"]) for p in _selected("ds_hist", "points") if "x" in p})
    if event != st.session_state.get("ds_hist_event"):
        st.session_state["ds_hist_event"] = event
        picked = set(st.session_state.get("ds_hist_picked", []))
        picked = picked ^ set(event) if len(event) == 1 else picked | set(event)
        st.session_state["ds_hist_picked"] = sorted(picked)
    return st.session_state.get("ds_hist_picked", [])


st.subheader("Examples")
f = st.columns([1, 1.5, 2, 2, 2])  # room for "Disagreements only" at 1280 px
wrong_only = f[0].toggle("Wrong only", key="ds_wrong", disabled="correct" not in traces, persist_state="session")
differ_only = f[1].toggle("Disagreements only", key="ds_differ", disabled="agrees_with_full_depth" not in traces,
                          persist_state="session")
class_column = "label_name" if "label_name" in traces else "prediction_name"
classes = f[2].multiselect("Class", sorted(traces[class_column].astype(str).unique()), key="ds_classes")
layers = f[3].slider("Exit layer", 1, n_layers, (1, n_layers), key="ds_layers")
lengths = None  # traces written without token counts offer no length filter
if "num_tokens" in traces:
    max_len = int(traces.num_tokens.max())
    lengths = f[4].slider("Length (word pieces)", 1, max(2, max_len), (1, max(2, max_len)), key="ds_lengths")
selected_layers = _picked_bars()
shown = explore.filter_traces(traces, wrong_only, differ_only, classes, layers, lengths)
if selected_layers:
    shown = shown[shown.exit_layer.isin(selected_layers)]
    c1, c2 = st.columns([4, 1])
    c1.caption(f"Exit layers selected in the histogram: {', '.join(map(str, selected_layers))} "
               "(a click adds a bar; a click on a picked bar takes it out).")
    if c2.button("Clear the bars", key="ds_hist_clear"):
        st.session_state["ds_hist_picked"] = []
        st.rerun()
box = [p.get("customdata") for p in _selected("ds_scatter", "points")]
if box:
    shown = shown[shown.index.isin([b for b in box if b is not None])]
    st.caption(f"{len(set(box))} examples selected in the scatter.")
table = tables.explorer_table(shown)
page_size = 100
pages = max(1, (len(table) + page_size - 1) // page_size)
page = st.number_input(f"Page (of {pages}; {len(table):,} rows)", 1, pages, 1, key="ds_page") if pages > 1 else 1
view = table.iloc[(page - 1) * page_size : page * page_size]
# the key follows the rows shown: a row picked on one page or under one filter never stands for another row
view_key = f"ds_table_{page}_{hash(tuple(view.index))}"
# a bounded text column leaves the other columns their room (at 1280 px "Correct" would be cut off)
picked = st.dataframe(view, key=view_key, on_select="rerun", selection_mode="multi-row", width="stretch",
                      hide_index=True, column_config={"Text": st.column_config.TextColumn(width=380)})
st.caption("Pick rows to ring them in the scatter; the histogram shades what the table holds.")
picked_labels = view.index[picked.selection.rows] if picked else view.index[:0]

with charts_area:
    left, right = st.columns(2)
    with left:
        hist = charts.exit_histogram_figure(traces, n_layers, highlight=shown.index, selected_layers=selected_layers)
        st.plotly_chart(hist, key="ds_hist", on_select="rerun", selection_mode=("points",), width="stretch")
    if "correct" in traces:
        with right:
            fig = charts.accuracy_by_exit_figure(explore.accuracy_by_exit(traces, n_layers))
            st.plotly_chart(fig, key="ds_acc_by_exit", width="stretch")
    left, right = st.columns(2)
    with left:
        axes = [c for c in ("num_tokens", "confidence") if c in traces]
        if axes:
            axis = st.radio("Scatter against", axes, horizontal=True, key="ds_scatter_x", persist_state="session",
                            format_func={"num_tokens": "length", "confidence": "confidence"}.get)
            scatter = charts.exit_scatter_figure(traces, n_layers, axis, highlight=picked_labels)
            st.plotly_chart(scatter, key="ds_scatter", on_select="rerun", selection_mode=("box", "lasso"),
                            width="stretch")
    with right:
        st.plotly_chart(charts.layers_breakdown_figure(traces, n_layers), key="ds_breakdown", width="stretch")

if len(picked_labels) and "Text" in view:
    text = view.loc[picked_labels[-1], "Text"]
    st.write("Selected:", text)
    if st.button("Open in Inspect", key="ds_open"):
        st.session_state["open_text"] = text
        st.switch_page("views/inspect.py")

c1, c2 = st.columns(2)
c1.download_button("Traces (CSV)", traces.to_csv(index=False), file_name="traces.csv", mime="text/csv",
                   key="dl_traces")
summary = {"examples": len(traces), "avg_layers": float(traces.exit_layer.mean()), "bound": bound,
           "relaxation": relaxation, **({"accuracy": float(traces.correct.mean())} if "correct" in traces else {})}
c2.download_button("Summary (JSON)", json.dumps(summary, indent=2), file_name="summary.json",
                   mime="application/json", key="dl_metrics")
