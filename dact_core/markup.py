"""HTML built from traces, never from the model: the word pieces the model reads, attributions, the tokens a token
method keeps, the Present page's text (and the note beside it) and its offline copy. Every text from the user or the
tokenizer is escaped (`html.escape`) before it goes into the HTML."""

from __future__ import annotations

import html
import json

import numpy as np

from .charts import present_figure, token_label
from .tables import present_numbers
from .traces import ExampleTrace, TokenAttribution, TokenTrace


def tokens_html(tokens: list[str], num_tokens: int, max_length: int, size_em: float = 1.0) -> str:
    """The word pieces the model reads, [UNK] and truncation marked; HTML-escaped."""
    spans = []
    for token in tokens:
        if token in ("[CLS]", "[SEP]", "[PAD]"):
            style = "color: #888"
        elif token == "[UNK]":
            style = "background: #fde0dd; color: #a50f15; font-weight: 600"
        else:
            style = "background: rgba(31,119,180,0.12)"
        spans.append(f'<span style="{style}; padding: 1px 4px; border-radius: 4px; margin: 1px">'
                     f"{html.escape(token)}</span>")
    note = ""
    if num_tokens > max_length:
        note = (f'<span style="color: #a50f15; font-weight: 600"> ... truncated: {num_tokens} tokens, '
                f"the model read the first {max_length}</span>")
    return (f'<div style="font-size: {size_em}em; line-height: 1.9; overflow-wrap: anywhere">'
            + " ".join(spans) + note + "</div>")


def attribution_html(attribution: TokenAttribution, skip_special: bool = True) -> str:
    """Tokens highlighted by attribution (green supports the target, red opposes); text is HTML-escaped."""
    scores = attribution.scores
    scale = float(np.abs(scores).max()) or 1.0
    spans = []
    for token, score in zip(attribution.tokens, scores):
        if skip_special and token in ("[CLS]", "[SEP]", "[PAD]"):
            continue
        alpha = min(1.0, abs(float(score)) / scale)
        rgb = "44,160,44" if score >= 0 else "214,39,40"
        text = html.escape(token_label(token))
        joiner = "" if token.startswith("##") else " "
        spans.append(
            f'{joiner}<span title="{float(score):+.4f}" style="background: rgba({rgb},{alpha:.2f}); '
            f'padding: 1px 3px; border-radius: 3px">{text}</span>'
        )
    return '<div style="font-size: 1.3em; line-height: 2.0">' + "".join(spans).strip() + "</div>"


def survival_html(trace: TokenTrace, layer: int) -> str:
    """The text as layer `layer` (1-based) sees it: removed tokens struck through and faded; HTML-escaped."""
    kept = trace.kept[max(1, min(int(layer), trace.num_layers)) - 1]
    spans = []
    for token, alive in zip(trace.tokens, kept):
        if token == "[PAD]":
            continue
        text = html.escape(token_label(token))
        joiner = "" if token.startswith("##") else " "
        style = ("background: rgba(31,119,180,0.18); padding: 1px 3px; border-radius: 3px" if alive
                 else "color: #aaa; text-decoration: line-through; padding: 1px 3px")
        spans.append(f'{joiner}<span style="{style}">{text}</span>')
    return '<div style="font-size: 1.3em; line-height: 2.0">' + "".join(spans).strip() + "</div>"


# ---- the Present page: its text, and the offline copy of a deck ----

PRESENT_TEXT_CSS = """<style>
.present-text summary{list-style:none;cursor:pointer} .present-text summary::-webkit-details-marker{display:none}
.present-text .words{font-size:1.9rem;font-weight:600;line-height:1.2;display:-webkit-box;-webkit-box-orient:vertical;
  -webkit-line-clamp:2;overflow:hidden;overflow-wrap:anywhere}
.present-text .pieces{max-height:2.1em;overflow:hidden;margin-top:2px}
.present-text[open] .words{-webkit-line-clamp:unset} .present-text[open] .pieces{max-height:none}
</style>"""


def present_text_html(trace: ExampleTrace) -> str:
    """The text in big type, clamped to two lines, and its word pieces on one line; a click on it shows the whole
    of both. HTML-escaped."""
    return (PRESENT_TEXT_CSS + '<details class="present-text"><summary title="Click for the whole text">'
            f'<div class="words">{html.escape(trace.text)}</div>'
            f'<div class="pieces">{tokens_html(trace.tokens, trace.num_tokens, trace.max_length, size_em=1.1)}</div>'
            "</summary></details>")


def reads_note(trace: ExampleTrace) -> str:
    """What a text longer than the model reads loses ("" when the model reads all of it)."""
    if trace.num_tokens <= trace.max_length:
        return ""
    return f"Long text: the model reads the first {trace.max_length} of its {trace.num_tokens} word pieces."


OFFLINE_SCRIPT = """
const deck = JSON.parse(document.getElementById("deck-data").textContent);
let slide = 0, layer = 1, timer = null;
function show() {
  document.querySelectorAll(".slide").forEach((el, i) => el.classList.toggle("off", i !== slide));
  const figure = document.getElementById("present-" + slide);
  Plotly.animate(figure, [String(layer)], {mode: "immediate", frame: {duration: 0, redraw: true},
                                            transition: {duration: 0}});
  const row = document.getElementById("numbers");
  row.replaceChildren();
  for (const [name, [value, note]] of Object.entries(deck[slide][layer - 1])) {
    const cell = document.createElement("div");
    cell.className = "number";
    cell.append(Object.assign(document.createElement("small"), {textContent: name}),
                Object.assign(document.createElement("b"), {textContent: value}),
                Object.assign(document.createElement("small"), {textContent: note}));
    row.append(cell);
  }
  document.getElementById("position").textContent =
    deck.length > 1 ? "Sentence " + (slide + 1) + " of " + deck.length : "";
}
function step(delta) {
  const layers = deck[slide].length;
  if (layer + delta > layers && slide + 1 < deck.length) { slide += 1; layer = 1; }
  else if (layer + delta < 1 && slide > 0) { slide -= 1; layer = deck[slide].length; }
  else { layer = Math.max(1, Math.min(layers, layer + delta)); }
  show();
}
function play() {
  clearInterval(timer);
  if (layer === deck[slide].length) { layer = 1; show(); }
  timer = setInterval(() => {
    if (layer < deck[slide].length) { layer += 1; show(); } else { clearInterval(timer); }
  }, 1100);
}
const KEYS = {PageDown: 1, ArrowRight: 1, ArrowDown: 1, " ": 1, PageUp: -1, ArrowLeft: -1, ArrowUp: -1};
document.addEventListener("keydown", (event) => {
  const delta = event.key === " " && event.shiftKey ? -1 : KEYS[event.key];
  if (!delta || event.altKey || event.ctrlKey || event.metaKey) return;
  event.preventDefault();  // a clicker's PageDown steps the layers instead of scrolling
  step(delta);
});
document.getElementById("previous").onclick = () => step(-1);
document.getElementById("next").onclick = () => step(1);
document.getElementById("play").onclick = play;
document.getElementById("pause").onclick = () => clearInterval(timer);
window.addEventListener("load", show);
"""


def offline_html(deck: ExampleTrace | list[ExampleTrace]) -> str:
    """One self-contained HTML page (plotly.js embedded once, no network) holding every sentence of the deck:
    the text, the numbers and the figure of each layer, stepped by buttons, Play or the keys a presenter's clicker
    sends (arrows, PageUp/PageDown, Space), layer by layer and then on to the next sentence."""
    deck = [deck] if isinstance(deck, ExampleTrace) else list(deck)
    slides, numbers = [], []
    for i, trace in enumerate(deck):
        figure = present_figure(trace, layer=1).to_html(
            include_plotlyjs=i == 0, full_html=False, auto_play=False, div_id=f"present-{i}",
            config={"displayModeBar": False, "responsive": True})
        setting = f"{trace.bound} bound" + ("" if trace.guarantee_holds else
                                            f", relaxation {trace.relaxation:g}: no guarantee")
        slides.append(f'<section class="slide{"" if i == 0 else " off"}"><h2>{html.escape(trace.text)}</h2>'
                      + tokens_html(trace.tokens, trace.num_tokens, trace.max_length)
                      + f"<p>Exit layer {trace.exit_layer} of {trace.num_layers} ({html.escape(setting)}); "
                      f"full-depth answer: {html.escape(trace.label_names[trace.full_depth_prediction])}</p>"
                      + figure + "</section>")
        numbers.append([present_numbers(trace, k) for k in range(1, trace.num_layers + 1)])
    data = json.dumps(numbers).replace("</", "<\\/")  # nothing in the data can close the script element
    buttons = "".join(f'<button id="{name}">{label}</button>' for name, label in
                      (("previous", "◀ previous"), ("next", "next ▶"), ("play", "Play"), ("pause", "Pause")))
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>DACT-BERT: "
            f"{html.escape(deck[0].text[:60])}</title>"
            "<style>body{font-family:sans-serif;margin:16px 24px;font-size:20px} h2{margin:8px 0}"
            " button{font-size:20px;margin-right:8px} .controls{display:flex;gap:24px;align-items:center}"
            " #numbers{display:flex;gap:32px} .number{display:flex;flex-direction:column} .number b{font-size:28px}"
            # a slide not shown keeps its width, so its figure is drawn at the size it will be shown at
            " .slide.off{visibility:hidden;position:absolute;top:0;left:24px;right:24px}"
            "</style></head><body>"
            f'<div class="controls"><span>{buttons}</span><div id="numbers"></div><span id="position"></span></div>'
            + "".join(slides)
            + "<p>DACT-BERT Inspector, offline copy: Play, the buttons, the arrow keys, PageUp/PageDown or Space step "
            "through the layers and the sentences.</p>"
            f'<script type="application/json" id="deck-data">{data}</script><script>{OFFLINE_SCRIPT}</script>'
            "</body></html>")
