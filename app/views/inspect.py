"""Inspect one input layer by layer: DACT-BERT's halting, or which tokens a token method keeps."""

import html

import streamlit as st

import models
import sources
import url_state
import widgets
from dact_core import charts, markup, tables
from dact_core.inspector import DactInspector

st.title("Inspect one input")
model_choices = models.model_choices()
url_state.load({"text": "inspect_text", "bound": "inspect_bound", "relax": "inspect_relax", "layer": "inspect_upto"})
st.session_state.setdefault("inspect_model", url_state.model_label_for(model_choices, url_state.shared("model")))
top = st.columns([3, 4, 1], vertical_alignment="bottom")
model_label = top[0].selectbox("Model", list(model_choices), key="inspect_model",
                               help="DACT-BERT halts whole inputs early; AdapLeR and token gates drop tokens "
                               "layer by layer.")
path = model_choices[model_label]
quantization = "int8" if top[2].toggle("int8", key="inspect_int8",
                                       help="Dynamic int8 quantization of the Linear layers (CPU): faster; the "
                                       "halting guarantee then holds against the int8 model's own full-depth "
                                       "answer.") else None
inspector = models.inspector_or_stop(path, dact_only=False, quantization=quantization)
is_dact = isinstance(inspector, DactInspector)

examples = sources.examples(inspector.label_names)
if "open_text" in st.session_state:  # sent here from the Data set page
    st.session_state["inspect_text"] = st.session_state.pop("open_text")
if st.session_state.get("inspect_task") != inspector.label_names:  # a model of another task: one of its examples
    if st.session_state.get("inspect_task") is not None or "inspect_text" not in st.session_state:
        st.session_state["inspect_text"] = examples.sentence.iloc[0]
    st.session_state["inspect_task"] = inspector.label_names
choices = ["(type your own)"] + [f"{row.category}: {row.sentence}" for row in examples.itertuples()]
by_text = {c.split(": ", 1)[1]: c for c in choices[1:]}
st.session_state["inspect_example"] = by_text.get(st.session_state.get("inspect_text", ""), choices[0])


def _use_example():
    picked = st.session_state["inspect_example"]
    if picked != choices[0]:
        st.session_state["inspect_text"] = picked.split(": ", 1)[1]


top[1].selectbox("Curated example", choices, key="inspect_example", on_change=_use_example)
# no character limit: a limit stops a longer paste without a word; the model cuts the text and says so
text = st.text_area("Text", key="inspect_text", height=90,
                    help=f"Any length: the model reads the first {inspector.max_length} word pieces.")
if is_dact:
    bound, relaxation = widgets.setting_controls("inspect")

if not text.strip():
    st.info("Type a sentence (or pick a curated example) to see how the model reads it layer by layer.")
    st.stop()


def show_token_method():
    trace = models.cached_token_trace(path, text, quantization)
    if trace.truncated:
        st.warning(f"The text has {trace.num_tokens} tokens; only the first {trace.max_length} were used.")
    warn_if_mostly_unknown(trace.tokens, inspector.tokenizer.unk_token)
    n_layers = trace.num_layers
    cols = st.columns(3)
    cols[0].metric("Prediction", trace.prediction_name, f"{trace.probs.max():.2f}", delta_color="off",
                   delta_arrow="off")
    cols[1].metric("Tokens at the last layer", f"{int(trace.tokens_per_layer[-1])} of {len(trace.tokens)}")
    cols[2].metric("Token-layers computed", f"{100 * trace.compute_share:.0f}%",
                   "of the full model's", delta_color="off", delta_arrow="off")
    st.caption(f"{trace.method} removes tokens physically: later layers run on fewer tokens. "
               "[CLS] always stays (the classifier reads it).")
    fig = charts.token_survival_figure(trace)
    st.plotly_chart(fig, key="fig_survival", width="stretch")
    widgets.download_figure_data(fig, "token_survival", key="dl_survival")
    layer = st.slider("The text as this layer sees it", 1, n_layers, n_layers, key="inspect_token_layer")
    st.html(markup.survival_html(trace, layer))
    fig = charts.tokens_per_layer_figure(trace)
    st.plotly_chart(fig, key="fig_tokens_per_layer", width="stretch")
    widgets.download_figure_data(fig, "tokens_per_layer", key="dl_tokens_per_layer")
    url_state.save(model=url_state.model_id(path), text=text)


def dact_summary(trace, upto: int) -> None:
    """The headline numbers of one input: the answer at the layer the slider shows, then the halted outcome, with a
    disagreement under relaxation in colour."""
    n_layers = trace.num_layers
    cols = st.columns(5)
    at_layer = trace.acc_probs[upto - 1]
    cols[0].metric(f"Answer at layer {upto} (a_{upto})", trace.label_names[int(at_layer.argmax())],
                   f"{at_layer.max():.2f}", delta_color="off", delta_arrow="off",
                   help="Follows the layer slider; the next metrics are the halted outcome.")
    cols[1].metric("Prediction", trace.prediction_name, f"{trace.acc_probs[trace.exit_layer - 1].max():.2f}",
                   delta_color="off", delta_arrow="off", help="The halted answer, at the exit layer.")
    cols[2].metric("Exit layer", f"{trace.exit_layer} of {n_layers}",
                   f"tight {trace.exit_layer_tight} / paper {trace.exit_layer_paper}", delta_color="off",
                   delta_arrow="off")
    full_name = trace.label_names[trace.full_depth_prediction]
    cols[3].metric("Full-depth answer", full_name, f"{trace.acc_probs[-1].max():.2f}", delta_color="off",
                   delta_arrow="off")
    same = trace.prediction == trace.full_depth_prediction
    cols[4].metric("Halted == full depth", "yes" if same else "NO",
                   "guaranteed" if trace.guarantee_holds else "not guaranteed (relaxed)",
                   delta_color="off" if same else "inverse", delta_arrow="off" if same else "down")
    if not same:
        st.error(f"Under relaxation {trace.relaxation:g} the halted answer ({trace.prediction_name}) differs from "
                 f"the full-depth answer ({full_name}).", icon=":material/error:")


def warn_if_mostly_unknown(tokens: list[str], unknown: str | None) -> None:
    """An answer on word pieces the vocabulary does not hold (a script it never saw) says nothing about the text."""
    pieces = [t for t in tokens if t not in ("[CLS]", "[SEP]", "[PAD]")]
    missing = sum(t == unknown for t in pieces)
    if pieces and missing >= 0.5 * len(pieces):
        st.warning(f"{missing} of {len(pieces)} word pieces are unknown to the model's vocabulary ({unknown}): "
                   "its answer (and any guarantee) is about those placeholders, not about this text.",
                   icon=":material/warning:")


def show_dact():
    trace = models.cached_trace(path, text, bound, relaxation, quantization)
    if trace.truncated:
        st.warning(f"The text has {trace.num_tokens} tokens; only the first {trace.max_length} were used.")
    warn_if_mostly_unknown(trace.tokens, inspector.tokenizer.unk_token)
    st.html(markup.tokens_html(trace.tokens, trace.num_tokens, trace.max_length))
    n_layers = trace.num_layers
    st.session_state.setdefault("inspect_upto", n_layers)
    st.session_state["inspect_upto"] = max(1, min(int(st.session_state["inspect_upto"]), n_layers))
    upto = st.slider("Step through the layers", 1, n_layers, key="inspect_upto",
                     help="Show the answer and the charts up to this layer; the Present page is the one-screen "
                     "version for talks.")
    dact_summary(trace, upto)
    st.caption("Reading guide: y_n is layer n's own answer, a_n the answer accumulated so far. h_n near 1 means "
               "*keep going*; p_n = h_1 ... h_n is how much the layers after n can still change the answer. The "
               "example halts at the first layer whose bound margin is above 0.")
    figures = [
        ("answer_evolution", charts.answer_evolution_figure(trace, upto)),
        ("halting", charts.halting_figure(trace, upto)),
        ("bound_margin", charts.bound_figure(trace, upto)),
        ("layer_weights", charts.layer_weight_figure(trace, upto)),
    ]
    left, right = st.columns(2)
    for i, (name, fig) in enumerate(figures):
        with (left if i % 2 == 0 else right):
            st.plotly_chart(fig, key=f"fig_{name}", width="stretch", theme=None)
            widgets.download_figure_data(fig, name, key=f"dl_{name}")
    with st.expander("Per-layer table", expanded=False):
        st.dataframe(tables.layer_table(trace), hide_index=True, width="stretch")
    url_state.save(model=url_state.model_id(path), text=text, layer=upto, bound=bound, relax=relaxation)

    st.subheader("Two inputs side by side")
    other = st.text_input("Compare with (an edit of the text, for example)", key="inspect_other",
                          persist_state="session",
                          placeholder="e.g. not bad at all")
    if other.strip():
        other_trace = models.cached_trace(path, other, bound, relaxation, quantization)
        for column, t in zip(st.columns(2), (trace, other_trace)):
            with column:
                st.markdown(f"**{html.escape(t.text)}**")
                st.html(markup.tokens_html(t.tokens, t.num_tokens, t.max_length))
                c = st.columns(3)
                c[0].metric("Answer", t.prediction_name, f"{t.acc_probs[t.exit_layer - 1].max():.2f}",
                            delta_color="off", delta_arrow="off")
                c[1].metric("Exit layer", f"{t.exit_layer} of {t.num_layers}")
                c[2].metric("Margin at the exit", f"{t.margin[t.exit_layer - 1]:+.2f}")

    st.subheader("Which tokens drive the answer")
    st.caption("Integrated Gradients (captum) on the word embeddings of the float model; green supports the "
               "predicted class, red opposes it.")
    n_steps = st.select_slider("Integration steps", [8, 16, 32, 64], value=16, key="ig_steps",
                               persist_state="session")
    if st.toggle("Compute attributions (a few seconds on a CPU)", key="ig_on", persist_state="session"):
        with st.spinner("Attributing..."):
            final = models.cached_attribution(path, text, n_layers, trace.prediction, n_steps)
            at_exit = models.cached_attribution(path, text, trace.exit_layer, trace.prediction, n_steps)
        st.markdown(f"**Final answer** (a_{n_layers}, class *{trace.prediction_name}*)")
        st.html(markup.attribution_html(final))
        st.markdown(f"**Answer at the exit layer** (a_{trace.exit_layer}, class *{trace.prediction_name}*)")
        st.html(markup.attribution_html(at_exit))


if is_dact:
    show_dact()
else:
    show_token_method()
