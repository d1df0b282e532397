"""Present: one screen for a talk, with no scrolling down to a browser on a 720-px projector (1280x633 of page): the
text or a deck of sentences, and the layer it shows, which buttons, keys (a presenter's clicker) and Play step."""

import streamlit as st

import models
import presenting
import url_state
from dact_core import charts, markup, tables

# the top bar's height, then as little space between the rows as reads well
st.html("<style>.block-container{padding-top:3.6rem;padding-bottom:0} .block-container [data-testid=stVerticalBlock]"
        "{gap:0.35rem} [data-testid=stMetricValue]{font-size:1.8rem}</style>")
model_choices = models.model_choices()
url_taken = url_state.load({"bound": "present_bound", "relax": "present_relax"})
path = model_choices.get(url_state.model_label_for(model_choices, url_state.shared("model")))
path = path if models.model_type(path) == "dact-bert" else None  # Present shows DACT-BERT models only
inspector = models.inspector_or_stop(path)
presenting.open_deck(url_taken, presenting.opening_example(inspector.label_names))
deck = st.session_state["present_deck"]
if presenting.sentences(st.session_state.get("present_text", "")) != deck:
    st.session_state["present_text"] = "\n".join(deck)

text_column, right = st.columns([7, 3.4], vertical_alignment="top")
top = [text_column, *right.columns([1.9, 1.5])]
with top[1].popover("Text and setting", icon=":material/edit:", width="stretch"):
    st.text_area("Text, or a deck: one sentence per line", key="present_text", on_change=presenting.typed, height=150,
                 help=f"Any length: the model reads the first {inspector.max_length} word pieces of each sentence.")
    bound = st.radio("Halting bound", ["tight", "paper"], horizontal=True, key="present_bound")
    relaxation = st.slider("Relaxation (1 = exact)", 0.0, 1.0, step=0.05, key="present_relax")
if not deck:
    top[0].info("Type a sentence, or one per line for a deck, under *Text and setting*.")
    st.stop()

traces = [models.cached_trace(path, sentence, bound, relaxation) for sentence in deck]
slide = st.session_state["present_slide"]
trace = traces[slide]
n_layers = trace.num_layers
layer = st.session_state["present_layer"] = max(1, min(int(st.session_state["present_layer"]), n_layers))

# built only when clicked: the page embeds plotly.js, too much work to redo on every rerun
top[2].download_button("Offline copy", lambda: markup.offline_html(traces), file_name="dact-bert-present.html",
                       mime="text/html", key="present_download", icon=":material/download:", width="stretch",
                       help="One HTML file with every sentence, its numbers and its layers; plays without a network")
with top[0]:
    st.html(markup.present_text_html(trace))
if markup.reads_note(trace):  # beside the text, where the screen has room for it
    right.caption(markup.reads_note(trace))

playing = st.session_state["present_playing"]
numbers = tables.present_numbers(trace, layer)
widths = [1.15, 1.0, 0.85, 1.0, 1.6, 0.7, 1.2] + ([1.1] if len(deck) > 1 else [])  # the last: the deck's position
cols = st.columns(widths, vertical_alignment="center")
cols[0].button("◀ previous", on_click=presenting.step, args=(-1, n_layers), key="present_prev", width="stretch",
               disabled=not presenting.can_step(-1, n_layers), help="Back one layer (←, ↑, PageUp)")
cols[1].button("next ▶", on_click=presenting.step, args=(1, n_layers), key="present_next", width="stretch",
               disabled=not presenting.can_step(1, n_layers),
               help="On one layer, then on to the next sentence (→, ↓, PageDown, Space)")
if playing:
    cols[2].button("Pause", on_click=presenting.pause, key="present_pause", width="stretch")
else:
    cols[2].button("Play", on_click=presenting.play, args=(n_layers,), key="present_play", width="stretch",
                   help="Step through this sentence's layers")
for col, (name, (value, note)) in zip(cols[3:7], numbers.items()):
    help_text = "p_n = h_1 ... h_n: how much the layers after n can still change the answer" if name == "p_n" else None
    col.metric(name, value, note or None, delta_color="normal" if note == "halts" else "off", delta_arrow="off",
               help=help_text)
if len(deck) > 1:
    cols[7].metric("Sentence", f"{slide + 1} of {len(deck)}")
presenting.keys_and_clock(n_layers)

st.plotly_chart(charts.present_figure(trace, layer, play=False, height=312), key="present_figure", width="stretch",
                theme=None, config={"displayModeBar": False})
note = ("h_n near 1 means *keep going*; p_n = h_1 ... h_n is how much the layers after n can still change the "
        "answer. The example halts once the bound's margin is above 0.")
if not trace.guarantee_holds:
    note = f"**Relaxation {relaxation:g} < 1: no guarantee.** " + note
st.caption(note)
# Present shows DACT-BERT models only: a token model chosen on Inspect stays the shared choice
url_state.save(**({"model": url_state.model_id(path)} if path is not None else {}), text=deck[slide], layer=layer,
               bound=bound, relax=relaxation)
if len(deck) > 1:
    if st.query_params.get_all("deck") != deck:
        st.query_params["deck"] = deck
elif "deck" in st.query_params:
    del st.query_params["deck"]
st.session_state["_url_seen"]["deck"] = deck if len(deck) > 1 else None
