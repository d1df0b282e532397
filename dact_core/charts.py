"""Plotly figure builders. Each takes a trace (or a trace table / results dict), never the model,
and returns a `go.Figure`, so they are testable without Streamlit. The tables built from the same
inputs live in `tables.py`, the HTML in `markup.py`.

Conventions: integer layer axes (dtick=1), one colour per class used everywhere, large fonts for
projectors, the exit layer marked by a dashed vertical line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from .traces import ExampleTrace, TokenTrace

CLASS_COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
HALTING_COLOR, REMAINING_COLOR, WEIGHT_COLOR = "#7f7f7f", "#111111", "#9467bd"
FONT = dict(size=16)


def class_color(index: int) -> str:
    return CLASS_COLORS[index % len(CLASS_COLORS)]


GRID_COLOR = "#EBF0F8"  # plotly_white's grid


def _layout_dict(title: str, y_title: str, num_layers: int, y_range=None) -> dict:
    """The per-layer charts' layout, complete in itself: the app draws the Inspect charts without Streamlit's theme
    (the browser would merge it in on every change of text), so title, legend and grid are set here."""
    axis = dict(gridcolor=GRID_COLOR, zeroline=False, automargin=True)  # without a template: room for the titles
    return dict(
        title=dict(text=title, x=0, xanchor="left", font=dict(size=17)), font=FONT,
        legend=dict(orientation="h", x=0, y=-0.3), margin=dict(l=60, r=20, t=50, b=90), height=380,
        plot_bgcolor="white", xaxis=dict(axis, title="layer", dtick=1, range=[0.5, num_layers + 0.5]),
        yaxis=dict(axis, title=y_title, range=y_range),
    )


def _layout(fig: go.Figure, title: str, y_title: str, num_layers: int, y_range=None) -> go.Figure:
    """`_layout_dict` applied to a figure built step by step (the Data set and token charts)."""
    fig.update_layout(**_layout_dict(title, y_title, num_layers, y_range))
    return fig


def _per_layer_figure(traces: list, title: str, y_title: str, num_layers: int, y_range, lines=()) -> go.Figure:
    """A figure built in one call, with no plotly template (validating one copies it whole): plotly validates a whole
    figure several times faster than the same figure assembled with add_* and update_layout, and the Inspect page
    draws four on every change of text. `lines`: (shape, annotation) pairs."""
    layout = dict(_layout_dict(title, y_title, num_layers, y_range), template={},
                  shapes=[shape for shape, _ in lines], annotations=[annotation for _, annotation in lines])
    return go.Figure(data=traces, layout=layout)


def _line_across(text: str, x: float | None = None, y: float | None = None, dash: str = "dash") -> tuple[dict, dict]:
    """A labelled line across the plot at x (vertical) or y (horizontal), as a (shape, annotation) pair;
    plotly's add_vline / add_hline do the same at several times the cost."""
    vertical = x is not None
    shape = dict(type="line", line=dict(dash=dash, color="#444"), xref="x" if vertical else "paper",
                 yref="paper" if vertical else "y", x0=x if vertical else 0, x1=x if vertical else 1,
                 y0=0 if vertical else y, y1=1 if vertical else y)
    annotation = dict(text=text, showarrow=False, xref="x" if vertical else "paper", yref="paper" if vertical else "y",
                      x=x if vertical else 1, y=1 if vertical else y, xanchor="center" if vertical else "right",
                      yanchor="bottom" if vertical else "top")
    return shape, annotation


def _add_line_across(fig: go.Figure, text: str, **where) -> None:
    shape, annotation = _line_across(text, **where)
    fig.add_shape(shape)
    fig.add_annotation(annotation)


def _exit_line(exit_layer: int, upto_layer: int | None = None, label: str = "exit") -> list[tuple[dict, dict]]:
    """The exit line, drawn only once the stepper has reached the exit (nothing about later layers shows early)."""
    if upto_layer is not None and upto_layer < exit_layer:
        return []
    return [_line_across(f"{label} (layer {exit_layer})", x=exit_layer)]


def _visible_layers(trace: ExampleTrace, upto_layer: int | None) -> list[int]:
    last = trace.num_layers if upto_layer is None else max(1, min(int(upto_layer), trace.num_layers))
    return list(range(1, last + 1))  # plain lists: plotly copies a numpy array into a read-only one


def halting_figure(trace: ExampleTrace, upto_layer: int | None = None) -> go.Figure:
    """h_n and p_n per layer, with the exit layer marked."""
    layers = _visible_layers(trace, upto_layer)
    k = len(layers)
    traces = [
        go.Bar(x=layers, y=trace.halting_probs[:k].tolist(), name="h_n (tall: keep going)", marker_color=HALTING_COLOR,
               opacity=0.6),
        go.Scatter(x=layers, y=trace.remaining_probs[:k].tolist(), name="remaining p_n", mode="lines+markers",
                   line=dict(color=REMAINING_COLOR, width=3)),
    ]
    return _per_layer_figure(traces, "Halting: h_n and p_n = h_1 ... h_n", "probability", trace.num_layers,
                             [0, 1.05], _exit_line(trace.exit_layer, k))


def answer_evolution_figure(trace: ExampleTrace, upto_layer: int | None = None) -> go.Figure:
    """Accumulated answer a_n (solid) beside each layer's own answer y_n (dotted), one colour per class."""
    layers = _visible_layers(trace, upto_layer)
    k = len(layers)
    traces = []
    for c, name in enumerate(trace.label_names):
        traces.append(go.Scatter(x=layers, y=trace.acc_probs[:k, c].tolist(), name=f"a_n {name}",
                                 mode="lines+markers", line=dict(color=class_color(c), width=4)))
        traces.append(go.Scatter(x=layers, y=trace.layer_probs[:k, c].tolist(), name=f"y_n {name}",
                                 mode="lines+markers", line=dict(color=class_color(c), width=2, dash="dot"),
                                 marker=dict(symbol="circle-open")))
    return _per_layer_figure(traces, "The answer layer by layer: accumulated a_n and each layer's y_n", "probability",
                             trace.num_layers, [0, 1.05], _exit_line(trace.exit_layer, k))


def bound_figure(trace: ExampleTrace, upto_layer: int | None = None) -> go.Figure:
    """The halting margin per layer under both bounds; the example halts where a margin crosses 0."""
    layers = _visible_layers(trace, upto_layer)
    k = len(layers)
    traces = [
        go.Scatter(x=layers, y=trace.margin_tight[:k].tolist(), name="tight bound", mode="lines+markers",
                   line=dict(color="#2ca02c", width=3)),
        go.Scatter(x=layers, y=trace.margin_paper[:k].tolist(), name="paper bound", mode="lines+markers",
                   line=dict(color="#ff7f0e", width=3, dash="dash")),
    ]
    title = "Distance to halting (margin of each bound)"
    if not trace.guarantee_holds:
        title += f" - relaxed x{trace.relaxation:g}, no guarantee"
    both = np.concatenate([trace.margin_tight, trace.margin_paper, [0.0]])
    pad = 0.08 * float(both.max() - both.min() or 1.0)
    y_range = [float(both.min()) - pad, float(both.max()) + pad]  # fixed: no rescaling while stepping
    lines = [_line_across("halts above 0", y=0, dash="solid"), *_exit_line(trace.exit_layer, k)]
    return _per_layer_figure(traces, title, "margin (halt when > 0)", trace.num_layers, y_range, lines)


def layer_weight_figure(trace: ExampleTrace, upto_layer: int | None = None) -> go.Figure:
    """Each layer's weight in the answer so far: in a_k after k steps (a_N, the full-depth answer, at the end)."""
    layers = _visible_layers(trace, upto_layer)
    k = len(layers)
    weights = trace.weights_at(k).tolist()
    traces = [go.Bar(x=layers, y=weights, marker_color=WEIGHT_COLOR, name="weight", cliponaxis=False,
                     text=[f"{w:.2f}" for w in weights], textposition="outside")]
    return _per_layer_figure(traces, f"Weight of each layer's answer in a_{k}", "weight", trace.num_layers, [0, 1.15],
                             _exit_line(trace.exit_layer, k))


def answer_animation_figure(trace: ExampleTrace) -> go.Figure:
    """Bars of a_n per class with a play button that steps through the layers (for talks)."""
    names = trace.label_names
    colors = [class_color(c) for c in range(len(names))]

    def bars(n):
        return go.Bar(x=names, y=trace.acc_probs[n - 1], marker_color=colors,
                      text=[f"{v:.2f}" for v in trace.acc_probs[n - 1]], textposition="outside")

    frames = [
        go.Frame(data=[bars(n)], name=str(n),
                 layout=go.Layout(title=f"Accumulated answer after layer {n}"
                                  + ("  (halting inference stops here)" if n == trace.exit_layer else "")))
        for n in range(1, trace.num_layers + 1)
    ]
    fig = go.Figure(data=[bars(1)], frames=frames)
    fig.update_layout(
        title="Accumulated answer after layer 1", font=FONT, template="plotly_white", height=380,
        yaxis=dict(range=[0, 1.1], title="probability"),
        updatemenus=[dict(type="buttons", showactive=False, x=0, y=1.15, xanchor="left", buttons=[
            dict(label="Play", method="animate",
                 args=[None, dict(frame=dict(duration=900, redraw=True), fromcurrent=True)]),
            dict(label="Pause", method="animate", args=[[None], dict(mode="immediate")]),
        ])],
        sliders=[dict(active=0, currentvalue=dict(prefix="layer "), steps=[
            dict(label=str(n), method="animate", args=[[str(n)], dict(mode="immediate")])
            for n in range(1, trace.num_layers + 1)
        ])],
    )
    return fig


# ---- the Present page: one figure, driven by a layer stepper, with the same frames for Play ----

PRESENT_FONT = dict(size=20)
SKIPPED_COLOR = "rgba(120,120,120,0.18)"


def present_margin_range(trace: ExampleTrace) -> list[float]:
    """A y-range that holds the margin of every layer, so the axis never rescales while stepping."""
    margin = trace.margin
    low, high = float(min(margin.min(), 0.0)), float(max(margin.max(), 0.0))
    pad = 0.08 * (high - low or 1.0)
    return [low - pad, high + pad]


def _present_traces(trace: ExampleTrace, layer: int) -> list[go.BaseTraceType]:
    """The traces after `layer` steps (always the same number and order, so frames can replace them)."""
    exit_layer, c = trace.exit_layer, trace.prediction
    # plain lists: validating a numpy array copies it into a read-only array, a list costs less
    ran = list(range(1, min(layer, exit_layer) + 1))
    skipped = list(range(exit_layer + 1, layer + 1))
    name = trace.label_names[c]
    margin = trace.margin.tolist()
    low, high = present_margin_range(trace)

    def skip_bar(base: float, top: float, axis: int) -> go.Bar:
        return go.Bar(x=skipped, y=[top - base] * len(skipped), base=base, marker_color=SKIPPED_COLOR,
                      name="skipped", showlegend=axis == 1, legendgroup="skipped", hoverinfo="skip",
                      xaxis=f"x{axis}", yaxis=f"y{axis}", width=0.9)

    return [
        go.Bar(x=ran, y=trace.layer_probs[: len(ran), c].tolist(), name=f"y_n: layer's own answer ({name})",
               marker_color=class_color(c), opacity=0.35, xaxis="x1", yaxis="y1", width=0.6),
        go.Scatter(x=ran, y=trace.acc_probs[: len(ran), c].tolist(), name="a_n: accumulated",
                   mode="lines+markers", line=dict(color=class_color(c), width=5), marker=dict(size=14),
                   xaxis="x1", yaxis="y1"),
        skip_bar(0.0, 1.05, 1),
        go.Bar(x=ran, y=trace.halting_probs[: len(ran)].tolist(), name="h_n", marker_color=HALTING_COLOR,
               opacity=0.5, xaxis="x2", yaxis="y2", width=0.6),
        go.Scatter(x=ran, y=trace.remaining_probs[: len(ran)].tolist(), name="p_n",
                   mode="lines+markers", line=dict(color=REMAINING_COLOR, width=5), marker=dict(size=14),
                   xaxis="x2", yaxis="y2"),
        skip_bar(0.0, 1.05, 2),
        go.Scatter(x=ran, y=margin[: len(ran)], name=f"margin ({trace.bound} bound)",
                   mode="lines+markers", line=dict(color="#2ca02c", width=5), marker=dict(size=14),
                   xaxis="x3", yaxis="y3"),
        skip_bar(low, high, 3),
    ]


def _present_title(trace: ExampleTrace, layer: int) -> str:
    if layer >= trace.exit_layer and trace.exit_layer < trace.num_layers:
        first, last = trace.exit_layer + 1, trace.num_layers
        skipped = f"layer {last} skipped" if first == last else f"layers {first} to {last} skipped"
        return (f"Halted at layer {trace.exit_layer}: {skipped}; "
                + ("no later layer can change the answer" if trace.guarantee_holds else "relaxed bound, no guarantee"))
    return f"Layer {layer} of {trace.num_layers}"


def present_figure(trace: ExampleTrace, layer: int | None = None, play: bool = True,
                   height: int = 375) -> go.Figure:
    """Answer, halting and bound side by side up to `layer`; nothing about a later layer is drawn.

    Axes are fixed for every step. With `play`, the figure carries one frame per layer (named "1", "2", ...),
    which the offline copy's controls animate; the page that shows the figure owns the controls, so the
    figure has no Play button of its own that could run ahead of the numbers.
    """
    n_layers = trace.num_layers
    layer = n_layers if layer is None else max(1, min(int(layer), n_layers))
    steps = [_present_traces(trace, k) for k in range(1, n_layers + 1)] if play else None
    fig = go.Figure(data=steps[layer - 1] if play else _present_traces(trace, layer))
    domains = ([0.0, 0.29], [0.355, 0.645], [0.71, 1.0])
    axis_titles = ("probability", "probability", "margin")
    ranges = ([0, 1.05], [0, 1.05], present_margin_range(trace))
    headings = ("The answer", "Halting", "The bound")
    for i in range(3):
        fig.layout[f"xaxis{i + 1}"] = dict(domain=domains[i], range=[0.5, n_layers + 0.5], dtick=1,
                                           anchor=f"y{i + 1}", fixedrange=True, gridcolor=GRID_COLOR)
        fig.layout[f"yaxis{i + 1}"] = dict(range=ranges[i], title=axis_titles[i], anchor=f"x{i + 1}", fixedrange=True,
                                           zeroline=True, zerolinewidth=2, zerolinecolor="#444", gridcolor=GRID_COLOR)
        fig.add_annotation(text=f"<b>{headings[i]}</b>", x=sum(domains[i]) / 2, y=1.0, xref="paper", yref="paper",
                           yanchor="bottom", showarrow=False, font=dict(size=22))
    fig.update_layout(
        title=dict(text=_present_title(trace, layer), x=0.0, y=1.0, yanchor="top", yref="container",
                   font=dict(size=22)),
        # plotly_white's look spelled out: validating a template copies it whole, on every rerun
        font=PRESENT_FONT, paper_bgcolor="white", plot_bgcolor="white", height=height, barmode="overlay",
        # the legend sits below the layer numbers, clear of them
        margin=dict(l=70, r=20, t=64, b=70), legend=dict(orientation="h", y=-0.2, yanchor="top", x=0,
                                                        font=dict(size=18)),
    )
    if play:
        fig.frames = [go.Frame(data=steps[k - 1], name=str(k), layout=dict(title_text=_present_title(trace, k)))
                      for k in range(1, n_layers + 1)]
    return fig


# ---- token-reduction methods (take a TokenTrace) ----

KEPT_COLOR, REMOVED_COLOR = "#1f77b4", "#e6e6e6"


def token_label(token: str) -> str:
    """A word piece as a reader sees it: without the ## that marks it as the continuation of a word."""
    return token[2:] if token.startswith("##") else token


TOKENS_PER_ROW = 32  # the grid wraps after this many tokens, so that each keeps a readable width


def token_survival_figure(trace: TokenTrace, tokens_per_row: int = TOKENS_PER_ROW) -> go.Figure:
    """One square per (layer, input token): dark where the layer still runs on the token, pale where it was removed.

    Long inputs wrap: tokens 1-32 in the first band, 33-64 in the next, ... (128 tokens make four bands),
    every band as wide per token as the first, layer 1 on top of each."""
    from plotly.subplots import make_subplots

    n_tokens, n_layers = len(trace.tokens), trace.num_layers
    bands = max(1, -(-n_tokens // tokens_per_row))
    band_px, gap_px = 22 * n_layers + 10, 100  # a band's squares; room below it for its tilted token labels
    area_px = bands * band_px + (bands - 1) * gap_px
    fig = make_subplots(rows=bands, cols=1, vertical_spacing=gap_px / area_px if bands > 1 else 0.0)
    for band in range(bands):
        lo, hi = band * tokens_per_row, min(n_tokens, (band + 1) * tokens_per_row)
        layers, positions = np.meshgrid(np.arange(1, n_layers + 1), np.arange(lo, hi), indexing="ij")
        for name, mask, color in (("kept", trace.kept, KEPT_COLOR), ("removed", ~trace.kept, REMOVED_COLOR)):
            part = mask[:, lo:hi]  # (N, hi - lo)
            fig.add_scatter(
                x=positions[part], y=layers[part], mode="markers", name=name, legendgroup=name, showlegend=band == 0,
                marker={"symbol": "square", "size": 14, "color": color, "line": {"color": "#999", "width": 0.5}},
                text=[trace.tokens[t] for t in positions[part]],
                hovertemplate="layer %{y}: %{text}<extra>" + name + "</extra>", row=band + 1, col=1,
            )
        fig.update_xaxes(tickvals=list(range(lo, hi)), ticktext=[token_label(t) for t in trace.tokens[lo:hi]],
                         tickangle=-60, range=[lo - 0.5, lo + tokens_per_row - 0.5] if bands > 1 else None,
                         row=band + 1, col=1)
        fig.update_yaxes(title="layer", dtick=1, range=[n_layers + 0.5, 0.5], row=band + 1, col=1)
    title = f"{trace.method}: the tokens each layer runs on" + (f" ({n_tokens} tokens, {tokens_per_row} a row)"
                                                                 if bands > 1 else "")
    fig.update_layout(title=title, font=FONT, template="plotly_white", margin=dict(l=60, r=20, t=90, b=100),
                      height=area_px + 190, legend={"orientation": "h", "y": 1.0,
                                                                            "yanchor": "bottom", "x": 1,
                                                                            "xanchor": "right"})
    return fig


def tokens_per_layer_figure(trace: TokenTrace) -> go.Figure:
    """Tokens each layer runs on, against the full length."""
    layers = np.arange(1, trace.num_layers + 1)
    counts = trace.tokens_per_layer
    fig = go.Figure(go.Bar(x=layers, y=counts, name="tokens kept", marker_color=KEPT_COLOR,
                           text=[str(int(c)) for c in counts], textposition="outside"))
    _add_line_across(fig, f"full length {len(trace.tokens)}", y=len(trace.tokens))
    return _layout(fig, "Tokens each layer runs on", "tokens", trace.num_layers, [0, 1.15 * len(trace.tokens)])


# ---- data-set views (take the trace table written by dact_core.evaluate) ----

def exit_histogram_figure(traces: pd.DataFrame, num_layers: int, highlight=None, selected_layers=()) -> go.Figure:
    """Histogram of exit layers with the accuracy at each exit layer on a second axis. `highlight` (index
    labels of `traces`, e.g. the rows a table shows): their share of each bar is drawn dark over it.
    `selected_layers`: bars drawn as selected (the others faded)."""
    counts = traces["exit_layer"].value_counts().reindex(range(1, num_layers + 1), fill_value=0)
    linked = highlight is not None and len(highlight) < len(traces)
    fig = go.Figure(go.Bar(x=counts.index, y=counts.values, name="all examples" if linked else "examples",
                           marker_color="#9ecae1" if linked else "#1f77b4", customdata=counts.index,
                           text=counts.values, textposition="outside", cliponaxis=False))
    if linked:
        picked = traces.loc[traces.index.isin(highlight), "exit_layer"]
        part = picked.value_counts().reindex(range(1, num_layers + 1), fill_value=0)
        fig.add_bar(x=part.index, y=part.values, name="in the table", marker_color="#08519c", customdata=part.index,
                    hovertemplate="%{y} in the table<extra></extra>")
        fig.update_layout(barmode="overlay")
    if len(selected_layers):
        fig.update_traces(selectedpoints=[k - 1 for k in selected_layers], selector=dict(type="bar"))
    fig = _layout(fig, "Where examples halt (exit layer)", "examples", num_layers,
                  [0, 1.18 * max(1, int(counts.max()))])  # room above the tallest bar for its count
    if "correct" in traces:
        acc = traces.groupby("exit_layer")["correct"].mean().reindex(range(1, num_layers + 1))
        fig.add_scatter(x=acc.index, y=acc.values, name="accuracy at this exit", yaxis="y2", mode="lines+markers",
                        line=dict(color="#2ca02c", width=3))
        # the accuracy gets a band of its own above the bars: laid over them, its line would cross their counts
        fig.update_layout(yaxis=dict(domain=[0, 0.62]),
                          yaxis2=dict(title="accuracy", domain=[0.72, 1], anchor="x", side="right", range=[0, 1.05],
                                      tickformat=".0%", dtick=0.5, gridcolor=GRID_COLOR, automargin=True))
    fig.update_layout(clickmode="event+select", margin=dict(l=60, r=60, t=60, b=90))
    return fig


def accuracy_by_exit_figure(table: pd.DataFrame) -> go.Figure:
    """Compute as confidence: accuracy of the examples that exit at each layer, and the selective-prediction
    curve (accuracy on the examples answered by layer k against their share). `table`: explore.accuracy_by_exit."""
    fig = go.Figure()
    fig.add_bar(x=table.exit_layer, y=table.accuracy, name="accuracy of examples exiting here", marker_color="#2ca02c",
                opacity=0.6, text=[f"{v:.0%}" if v == v else "" for v in table.accuracy], textposition="inside",
                insidetextanchor="start")  # at the bars' feet: on top, the line's markers would cover them
    fig.add_scatter(x=table.exit_layer, y=table.accuracy_answered, name="accuracy of all answered by layer k",
                    mode="lines+markers", line=dict(color="#111", width=3),
                    text=[f"{v:.0%} answered" for v in table.answered_share], hovertemplate="%{y:.1%}, %{text}")
    fig = _layout(fig, "Accuracy by exit layer: early exits are the confident ones", "accuracy",
                  int(table.exit_layer.max()), [0, 1.12])
    fig.update_yaxes(tickformat=".0%", dtick=0.25)
    return fig


def exit_scatter_figure(traces: pd.DataFrame, num_layers: int, x: str = "num_tokens", highlight=None) -> go.Figure:
    """Exit layer against length or confidence, one point per example (jittered), wrong answers in red.
    `highlight` (index labels of `traces`, e.g. the rows picked in a table): ringed in black."""
    rng = np.random.default_rng(0)
    y = traces["exit_layer"].to_numpy() + rng.uniform(-0.25, 0.25, len(traces))
    colors = np.where(traces["correct"].to_numpy(), "#1f77b4", "#d62728") if "correct" in traces else "#1f77b4"
    fig = go.Figure(go.Scattergl(x=traces[x], y=y, mode="markers", marker=dict(size=6, color=colors, opacity=0.5),
                                 customdata=np.asarray(traces.index), text=traces.get("text"),
                                 hovertemplate="%{text}<extra></extra>", name="examples", showlegend=False))
    if highlight is not None and len(highlight):
        ringed = np.flatnonzero(traces.index.isin(highlight))  # positions, to reuse the same jitter
        fig.add_scattergl(x=traces[x].to_numpy()[ringed], y=y[ringed], mode="markers", name="picked in the table",
                          marker=dict(size=13, color="rgba(0,0,0,0)", line=dict(color="#111", width=2)),
                          customdata=np.asarray(traces.index)[ringed], text=traces.get("text", pd.Series(
                              [""] * len(traces), index=traces.index)).to_numpy()[ringed],
                          hovertemplate="%{text}<extra></extra>")
        fig.update_layout(legend=dict(orientation="h", y=-0.25))
    titles = {"num_tokens": "length (word pieces)", "confidence": "confidence at the exit"}
    fig.update_layout(title=f"Exit layer against {titles.get(x, x)} (red: wrong)", font=FONT,
                      template="plotly_white", height=380, margin=dict(l=60, r=20, t=60, b=60),
                      yaxis=dict(title="exit layer", dtick=1, range=[0.5, num_layers + 0.5]),
                      xaxis=dict(title=titles.get(x, x)), dragmode="select")
    return fig


def layers_breakdown_figure(traces: pd.DataFrame, num_layers: int) -> go.Figure:
    """Average executed layers overall, per class and for correct vs wrong answers."""
    groups = {"all": traces["exit_layer"].mean()}
    if "label_name" in traces:
        for name, g in traces.groupby("label_name"):
            groups[f"class {name}"] = g["exit_layer"].mean()
    if "correct" in traces:
        for flag, g in traces.groupby("correct"):
            groups["correct" if flag else "wrong"] = g["exit_layer"].mean()
    fig = go.Figure(go.Bar(x=list(groups), y=list(groups.values()), marker_color="#7f7f7f",
                           text=[f"{v:.2f}" for v in groups.values()], textposition="outside", cliponaxis=False))
    fig.update_layout(title="Average executed layers", font=FONT, template="plotly_white", height=380,
                      yaxis=dict(title="layers", range=[0, num_layers + 1], dtick=1))
    return fig


def mean_curves_figure(traces: pd.DataFrame, num_layers: int, quantity: str = "remaining_prob") -> go.Figure:
    """Mean h_n or p_n curve for the examples of each exit layer."""
    cols = [f"{quantity}_{n}" for n in range(1, num_layers + 1)]
    fig = go.Figure()
    palette = px.colors.sequential.Viridis
    for k, g in traces.groupby("exit_layer"):
        fig.add_scatter(x=list(range(1, num_layers + 1)), y=g[cols].mean().values, mode="lines+markers",
                        name=f"exit {k} (n={len(g)})",
                        line=dict(color=palette[int((k - 1) * (len(palette) - 1) / max(1, num_layers - 1))], width=3))
    label = "p_n" if quantity == "remaining_prob" else "h_n"
    return _layout(fig, f"Mean {label} by exit layer", label, num_layers, [0, 1.05])


METHOD_COLORS = {"reference": "#444444", "DACT-BERT": "#1f77b4", "DeeBERT": "#ff7f0e", "PABEE": "#2ca02c",
                 "static": "#7f7f7f", "AdapLeR": "#9467bd", "token gates": "#8c564b",
                 "DACT-BERT on frozen exits": "#17becf"}


TOKEN_METHODS = ("AdapLeR", "token gates")
X_LABELS = {"avg_layers": "average executed layers", "speedup_batch1": "wall-clock speed-up, batch 1 (x)",
            "speedup_batch32": "throughput ratio, batch 32 (x)", "flops_ratio": "FLOPs / full depth"}


def _base_method(method: str) -> str:
    return method.removesuffix(" int8")


def pareto_front(xs: np.ndarray, ys: np.ndarray, lower_x_is_better: bool) -> np.ndarray:
    """Indices of the points no other point beats on both axes (accuracy up, compute down), in x order."""
    order = np.argsort(xs if lower_x_is_better else -xs, kind="stable")
    front, best = [], -np.inf
    for i in order:
        if ys[i] > best:
            front.append(i)
            best = ys[i]
    return np.array(front, dtype=int)


def bench_figure(points: list[dict], x: str = "avg_layers", methods: list[str] | None = None,
                 highlight: tuple[str, str] | None = None, floor_points_below_reference: float = 6.0) -> go.Figure:
    """Accuracy (%) against compute for the methods of a `dact bench` run, with the Pareto frontier.

    Token methods run every layer, so they are never drawn against layers (only FLOPs or time). The
    y-range shows the informative region (down to `floor_points_below_reference` points under the
    reference); points below it are drawn at the edge as down triangles with their value. `highlight`:
    (method, setting) of the shipped model, drawn as a star. Error bars: the paired 95% interval of the
    difference to the reference, where the bench recorded it; for a point averaged over several seeds, the sample
    spread of its accuracy over the seeds (the mean of the seeds' intervals would not be an interval).
    """
    table = pd.DataFrame(points)
    if "accuracy_diff_low" in table:
        table = table.astype({c: float for c in ("accuracy_diff", "accuracy_diff_low", "accuracy_diff_high")})
    if {"seeds", "accuracy_std", "accuracy_diff_low"} <= set(table.columns):  # the spread as a pseudo interval
        several = table.seeds > 1
        table.loc[several, "accuracy_diff_low"] = table.accuracy_diff[several] - table.accuracy_std[several]
        table.loc[several, "accuracy_diff_high"] = table.accuracy_diff[several] + table.accuracy_std[several]
    table["hover"] = table.setting
    if "seeds" in table:
        table.loc[table.seeds > 1, "hover"] = [f"{setting} ({n:.0f} seeds; bar: ± their spread)"
                                               for setting, n in zip(table.setting, table.seeds) if n > 1]
    if methods is not None:
        table = table[table.method.isin(methods) | (table.method == "reference")]
    if x == "avg_layers":
        table = table[~table.method.map(_base_method).isin(TOKEN_METHODS)]
    table = table.assign(acc=100 * table.accuracy)
    # a reference timed only (untrained head) has no accuracy: the floor then follows the measured points
    ref = table[(table.method == "reference") & table.acc.notna()]
    floor = (float(ref.acc.iloc[0]) - floor_points_below_reference) if len(ref) else float(table.acc.min())
    top, bottom = table.acc.copy(), table.acc.copy()
    if {"accuracy_diff_low", "accuracy_diff_high"} <= set(table.columns):  # room for the interval bars
        top = top + 100 * (table.accuracy_diff_high - table.accuracy_diff).fillna(0)
        bottom = bottom - 100 * (table.accuracy_diff - table.accuracy_diff_low).fillna(0)
    low = max(floor, float(bottom.min()) - 0.5)
    high = float(top.max()) + 0.5
    # off-range points sit on the bottom edge; where several fall at about the same x (every method's one-layer
    # point), they stack upwards with their labels to the right, so that neither markers nor labels overlap
    edge_y = pd.Series(dtype=float)
    span = float(table[x].max() - table[x].min()) or 1.0
    last_x, level = None, 0
    for i, value in table[table.acc < low][x].sort_values(kind="stable").items():
        level = level + 1 if last_x is not None and value - last_x < 0.04 * span else 0
        edge_y[i], last_x = low + 0.05 + level * 0.06 * (high - low), value
    fig = go.Figure()
    for method, rows in table.groupby("method", sort=False):
        rows = rows.sort_values(x)
        color = METHOD_COLORS.get(_base_method(method))
        inside = rows[rows.acc >= low]
        below = rows[rows.acc < low]
        error = None
        if {"accuracy_diff_low", "accuracy_diff_high"} <= set(inside.columns) and method != "reference":
            error = dict(type="data", symmetric=False, color=color, thickness=1.2, width=3,
                         array=100 * (inside.accuracy_diff_high - inside.accuracy_diff).to_numpy(),
                         arrayminus=100 * (inside.accuracy_diff - inside.accuracy_diff_low).to_numpy())
        dash = "dot" if method.endswith(" int8") else "solid"
        fig.add_scatter(x=inside[x], y=inside.acc, mode="markers" if method == "reference" else "lines+markers",
                        name=method, text=inside.hover, error_y=error, legendgroup=method,
                        hovertemplate="%{text}: %{y:.2f}%<extra>" + method + "</extra>",
                        line=dict(color=color, width=3, dash=dash),
                        marker=dict(size=13 if method == "reference" else 9, color=color))
        if len(below):
            fig.add_scatter(x=below[x], y=edge_y[below.index], mode="markers+text", showlegend=False,
                            legendgroup=method, marker=dict(symbol="triangle-down", size=13, color=color),
                            text=[f"{v:.1f}%" for v in below.acc], textposition="middle right", cliponaxis=False,
                            hovertemplate=[f"{sv}: {v:.2f}% (below the range)<extra>{method}</extra>"
                                           for sv, v in zip(below.setting, below.acc)])
    candidates = table[table.method != "reference"]
    if len(candidates) > 1:
        front = pareto_front(candidates[x].to_numpy(float), candidates.acc.to_numpy(float),
                             lower_x_is_better=x in ("avg_layers", "flops_ratio"))
        frontier = candidates.iloc[front]
        fig.add_scatter(x=frontier[x], y=frontier.acc.clip(lower=low), mode="lines", name="Pareto frontier",
                        line=dict(color="#bbbbbb", width=8), opacity=0.5, hoverinfo="skip")
        fig.data = (fig.data[-1],) + fig.data[:-1]  # under the methods
    if highlight is not None:
        star = table[(table.method == highlight[0]) & (table.setting == highlight[1])]
        if len(star):
            fig.add_scatter(x=star[x], y=star.acc, mode="markers", name="shipped model",
                            marker=dict(symbol="star", size=22, color="#ffd400", line=dict(color="#333", width=1.5)))
    fig.update_layout(title=f"Accuracy against {X_LABELS[x]}", font=FONT, template="plotly_white", height=480,
                      legend=dict(orientation="h", y=-0.22), margin=dict(l=60, r=20, t=60, b=70))
    fig.update_xaxes(title=X_LABELS[x], dtick=1 if x == "avg_layers" else None)
    fig.update_yaxes(title="accuracy (%)", range=[low - 0.3, high])
    return fig
