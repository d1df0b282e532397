"""Present: one screen for a talk (1280x720, no scrolling): the text, a layer stepper, the panels it drives."""

import streamlit as st

import state
from dact_core import charts

st.markdown("<style>.block-container{padding-top:3.0rem;padding-bottom:0rem}</style>", unsafe_allow_html=True)
models = state.model_choices()
state.load_url_state({"text": "present_text", "bound": "present_bound", "relax": "present_relax"})
path = models.get(state.model_label_for(models, state.shared("model")))
path = path if state.model_type(path) == "dact-bert" else None  # Present shows DACT-BERT models only
inspector = state.inspector_or_stop(path)
st.session_state.setdefault("present_text", state.examples(inspector.label_names).sentence.iloc[0])

top = st.columns([6, 1], vertical_alignment="center")
with top[0].expander("Text and setting", expanded=False):
    text = st.text_input("Text", max_chars=2000, key="present_text")
    c1, c2 = st.columns(2)
    bound = c1.radio("Halting bound", ["tight", "paper"], horizontal=True, key="present_bound")
    relaxation = c2.slider("Relaxation (1 = exact)", 0.0, 1.0, step=0.05, key="present_relax")
if not text.strip():
    st.info("Type a sentence under *Text and setting*.")
    st.stop()

trace = state.cached_trace(path, text, bound, relaxation)
n_layers = trace.num_layers
layer = state.shared("layer") or 1
layer = max(1, min(int(layer), n_layers))


def step(delta: int) -> None:
    state.set_shared("layer", max(1, min(n_layers, (state.shared("layer") or 1) + delta)))


# built only when clicked: the page embeds plotly.js, too much work to redo on every rerun
top[1].download_button("Offline copy", lambda: charts.offline_html(trace), file_name="dact-bert-present.html",
                       mime="text/html", key="present_download", icon=":material/download:",
                       help="One HTML file with the text, the numbers and the animation; plays without a network")
st.markdown(f'<div style="font-size:1.9rem;font-weight:600;line-height:1.2">{charts.html.escape(text)}</div>',
            unsafe_allow_html=True)
st.html(charts.tokens_html(trace.tokens, trace.num_tokens, trace.max_length, size_em=1.2))

cols = st.columns([1.1, 1.1, 1.1, 1.7, 1.1, 1.3], vertical_alignment="center")
cols[0].button("◀ previous", on_click=step, args=(-1,), disabled=layer <= 1, key="present_prev", width="stretch")
cols[1].button("next ▶", on_click=step, args=(1,), disabled=layer >= n_layers, key="present_next", width="stretch")
cols[2].metric("Layer", f"{layer} of {n_layers}")
shown = min(layer, trace.exit_layer)  # past the exit nothing changes: the answer is frozen
answer = trace.acc_probs[shown - 1]
cols[3].metric("Answer so far", f"{trace.label_names[int(answer.argmax())]} {answer.max():.2f}")
cols[4].metric("p_n", f"{trace.remaining_probs[shown - 1]:.2f}",
               help="p_n = h_1 ... h_n: how much the layers after n can still change the answer")
margin = (trace.margin_tight if bound == "tight" else trace.margin_paper)[shown - 1]
cols[5].metric("Bound margin", f"{margin:+.2f}", "halts" if margin > 0 or shown == n_layers else "keeps going",
               delta_color="normal" if margin > 0 else "off", delta_arrow="off")

st.plotly_chart(charts.present_figure(trace, layer), key="present_figure", width="stretch", theme=None,
                config={"displayModeBar": False})
note = ("h_n near 1 means *keep going*; p_n = h_1 ... h_n is how much the layers after n can still change the "
        "answer. The example halts once the bound's margin is above 0.")
if not trace.guarantee_holds:
    note += f" **Relaxation {relaxation:g} < 1: no guarantee.**"
st.caption(note)
# Present shows DACT-BERT models only: a token model chosen on Inspect stays the shared choice
state.save_url_state(**({"model": state.model_id(path)} if path is not None else {}), text=text, layer=layer,
                     bound=bound, relax=relaxation)
