"""The Present page's state: a deck of sentences (one sentence is a deck of one), the sentence shown, the layer
shown, and Play. Buttons, keys (a presenter's clicker) and Play's clock all step this one state, which the text,
the numbers and the figure are drawn from."""

from __future__ import annotations

import streamlit as st

import sources
import url_state

# Present opens on a sentence with something to step through: the shipped SST-2 model runs 4 of its 6 layers on this
# one (tight bound, guarantee on; tests/test_present.py checks it), reading "tedious" before "mesmerizing"
OPENING_EXAMPLES = {("negative", "positive"): "even in its most tedious scenes, russian ark is mesmerizing."}
PLAY_INTERVAL_MS = 1100

# keys a presenter's clicker sends (PageDown/PageUp), arrows and Space step; keys typed into a field, or that
# move a slider or radio, are left alone
KEYS_JS = """
export default function(component) {
  const { data, setTriggerValue } = component;
  const steps = {PageDown: 1, ArrowRight: 1, ArrowDown: 1, " ": 1, PageUp: -1, ArrowLeft: -1, ArrowUp: -1};
  const onKey = (event) => {
    const delta = event.key === " " && event.shiftKey ? -1 : steps[event.key];
    if (!delta || event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented) return;
    if (event.target.closest && event.target.closest(
        "input, textarea, select, [contenteditable=true], [role=slider], [role=radiogroup], [role=dialog]")) return;
    event.preventDefault();  // the page does not scroll
    setTriggerValue("step", delta);
  };
  document.addEventListener("keydown", onKey);
  const clock = data.playing ? setInterval(() => setTriggerValue("tick", 1), data.interval_ms) : null;
  return () => {
    document.removeEventListener("keydown", onKey);
    clearInterval(clock);
  };
}
"""
_keys = st.components.v2.component("dact_present_keys", js=KEYS_JS)


def sentences(raw: str) -> list[str]:
    """A typed deck: one sentence per non-empty line."""
    return [line.strip() for line in raw.splitlines() if line.strip()]


def opening_example(label_names: list[str]) -> str:
    return OPENING_EXAMPLES.get(tuple(sorted(label_names))) or sources.examples(label_names).sentence.iloc[0]


def open_deck(url_taken: set[str], default: str) -> None:
    """Which deck, sentence and layer to show. A deck in the URL (`deck` repeated) wins, then the text shared with
    the other pages (the URL's `text` or Inspect's), then the opening example. A sentence not shown before opens at
    layer 1, unless the URL names the layer."""
    ss = st.session_state
    seen = ss.setdefault("_url_seen", {})
    url_deck = sentences("\n".join(st.query_params.get_all("deck")))
    if url_deck and seen.get("deck") != url_deck:
        seen["deck"] = url_deck
        ss["present_deck"], ss["present_slide"] = url_deck, 0
        if url_state.shared("text") not in url_deck:  # the URL's text, when given, says which sentence is shown
            url_state.set_shared("text", url_deck[0])
    text = url_state.shared("text")
    deck = ss.setdefault("present_deck", [text or default])
    slide = max(0, min(ss.get("present_slide", 0), len(deck) - 1))
    if text and deck and deck[slide] != text:
        if text in deck:
            slide = deck.index(text)
        else:  # a new text from Inspect or the URL
            deck = ss["present_deck"] = [text]
            slide = 0
    ss["present_slide"] = slide
    if deck and ss.get("present_shown") != deck[slide]:
        ss["present_shown"], ss["present_layer"], ss["present_playing"] = deck[slide], 1, False
    if "layer" in url_taken and url_state.shared("layer"):
        ss["present_layer"] = url_state.shared("layer")


def typed() -> None:
    """The text area changed: its lines are the new deck, shown from its first sentence."""
    deck = sentences(st.session_state["present_text"])
    st.session_state["present_deck"], st.session_state["present_slide"] = deck, 0
    url_state.set_shared("text", deck[0] if deck else "")


def _show(slide: int, layer: int) -> None:
    ss = st.session_state
    ss["present_slide"], ss["present_layer"] = slide, layer
    ss["present_shown"] = ss["present_deck"][slide]
    url_state.set_shared("text", ss["present_shown"])


def can_step(delta: int, n_layers: int) -> bool:
    ss = st.session_state
    if delta > 0:
        return ss["present_layer"] < n_layers or ss["present_slide"] + 1 < len(ss["present_deck"])
    return ss["present_layer"] > 1 or ss["present_slide"] > 0


def step(delta: int, n_layers: int) -> None:
    """One layer on (or back); past the last layer on to the next sentence at layer 1, before the first back to the
    previous sentence at its last layer."""
    ss = st.session_state
    if not can_step(delta, n_layers):
        return
    layer, slide = ss["present_layer"] + delta, ss["present_slide"]
    if layer > n_layers:
        slide, layer = slide + 1, 1
    elif layer < 1:
        slide, layer = slide - 1, n_layers
    _show(slide, layer)


def play(n_layers: int) -> None:
    """Play the current sentence's layers from here (from layer 1 when it is at its last)."""
    if st.session_state["present_layer"] >= n_layers:
        _show(st.session_state["present_slide"], 1)
    st.session_state["present_playing"] = True


def pause() -> None:
    st.session_state["present_playing"] = False


def _tick(n_layers: int) -> None:
    if st.session_state["present_playing"] and st.session_state["present_layer"] < n_layers:
        step(1, n_layers)
    if st.session_state["present_layer"] >= n_layers:
        pause()


def _key(n_layers: int) -> None:
    step(st.session_state["present_keys"]["step"], n_layers)


def keys_and_clock(n_layers: int) -> None:
    """The keys that step, and Play's clock (each tick steps a layer, as a key would)."""
    _keys(key="present_keys", data={"playing": st.session_state["present_playing"],
                                    "interval_ms": PLAY_INTERVAL_MS},
          on_step_change=lambda: _key(n_layers), on_tick_change=lambda: _tick(n_layers), height=0)
