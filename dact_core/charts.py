"""Plotly figure builders. Each takes a trace (or a trace table / results dict), never the model,
and returns a `go.Figure`, so they are testable without Streamlit.

Conventions: integer layer axes (dtick=1), one colour per class used everywhere, large fonts for
projectors, the exit layer marked by a dashed vertical line.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from .traces import ExampleTrace, TokenAttribution, TokenTrace

CLASS_COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
HALTING_COLOR, REMAINING_COLOR, WEIGHT_COLOR = "#7f7f7f", "#111111", "#9467bd"
FONT = dict(size=16)


def class_color(index: int) -> str:
    return CLASS_COLORS[index % len(CLASS_COLORS)]


def _layout(fig: go.Figure, title: str, y_title: str, num_layers: int, y_range=None) -> go.Figure:
    fig.update_layout(
        title=title, font=FONT, template="plotly_white", legend=dict(orientation="h", y=-0.22),
        margin=dict(l=60, r=20, t=60, b=60), height=380,
    )
    fig.update_xaxes(title="layer", dtick=1, range=[0.5, num_layers + 0.5])
    fig.update_yaxes(title=y_title, range=y_range)
    return fig


def _mark_exit(fig: go.Figure, exit_layer: int, label: str = "exit") -> None:
    fig.add_vline(x=exit_layer, line_dash="dash", line_color="#444", annotation_text=f"{label} (layer {exit_layer})",
                  annotation_position="top")


def _visible_layers(trace: ExampleTrace, upto_layer: int | None) -> np.ndarray:
    last = trace.num_layers if upto_layer is None else max(1, min(int(upto_layer), trace.num_layers))
    return np.arange(1, last + 1)


def halting_figure(trace: ExampleTrace, upto_layer: int | None = None) -> go.Figure:
    """h_n and p_n per layer, with the exit layer marked."""
    layers = _visible_layers(trace, upto_layer)
    k = len(layers)
    fig = go.Figure()
    fig.add_bar(x=layers, y=trace.halting_probs[:k], name="halting value h_n", marker_color=HALTING_COLOR, opacity=0.6)
    fig.add_scatter(x=layers, y=trace.remaining_probs[:k], name="remaining p_n", mode="lines+markers",
                    line=dict(color=REMAINING_COLOR, width=3))
    _mark_exit(fig, trace.exit_layer)
    return _layout(fig, "Halting: h_n and p_n = h_1 ... h_n", "probability", trace.num_layers, [0, 1.05])


def answer_evolution_figure(trace: ExampleTrace, upto_layer: int | None = None) -> go.Figure:
    """Accumulated answer a_n (solid) beside each layer's own answer y_n (dotted), one colour per class."""
    layers = _visible_layers(trace, upto_layer)
    k = len(layers)
    fig = go.Figure()
    for c, name in enumerate(trace.label_names):
        fig.add_scatter(x=layers, y=trace.acc_probs[:k, c], name=f"a_n {name}", mode="lines+markers",
                        line=dict(color=class_color(c), width=4))
        fig.add_scatter(x=layers, y=trace.layer_probs[:k, c], name=f"y_n {name}", mode="lines+markers",
                        line=dict(color=class_color(c), width=2, dash="dot"), marker=dict(symbol="circle-open"))
    _mark_exit(fig, trace.exit_layer)
    return _layout(fig, "The answer layer by layer: accumulated a_n and each layer's y_n", "probability",
                   trace.num_layers, [0, 1.05])


def bound_figure(trace: ExampleTrace, upto_layer: int | None = None) -> go.Figure:
    """The halting margin per layer under both bounds; the example halts where a margin crosses 0."""
    layers = _visible_layers(trace, upto_layer)
    k = len(layers)
    fig = go.Figure()
    fig.add_scatter(x=layers, y=trace.margin_tight[:k], name="tight bound", mode="lines+markers",
                    line=dict(color="#2ca02c", width=3))
    fig.add_scatter(x=layers, y=trace.margin_paper[:k], name="paper bound", mode="lines+markers",
                    line=dict(color="#ff7f0e", width=3, dash="dash"))
    fig.add_hline(y=0, line_color="#444", annotation_text="halts above 0", annotation_position="bottom right")
    _mark_exit(fig, trace.exit_layer)
    title = "Distance to halting (margin of each bound)"
    if not trace.guarantee_holds:
        title += f" - relaxed x{trace.relaxation:g}, no guarantee"
    return _layout(fig, title, "margin (halt when > 0)", trace.num_layers)


def layer_weight_figure(trace: ExampleTrace, upto_layer: int | None = None) -> go.Figure:
    """Each layer's weight w_n in the full-depth answer a_N."""
    layers = _visible_layers(trace, upto_layer)
    fig = go.Figure(go.Bar(x=layers, y=trace.layer_weights[: len(layers)], marker_color=WEIGHT_COLOR,
                           name="weight w_n", text=[f"{w:.2f}" for w in trace.layer_weights[: len(layers)]],
                           textposition="outside"))
    _mark_exit(fig, trace.exit_layer)
    return _layout(fig, "Weight of each layer's answer in the final answer", "weight w_n", trace.num_layers, [0, 1.1])


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
        text = html.escape(token[2:] if token.startswith("##") else token)
        joiner = "" if token.startswith("##") else " "
        spans.append(
            f'{joiner}<span title="{float(score):+.4f}" style="background: rgba({rgb},{alpha:.2f}); '
            f'padding: 1px 3px; border-radius: 3px">{text}</span>'
        )
    return '<div style="font-size: 1.3em; line-height: 2.0">' + "".join(spans).strip() + "</div>"


# ---- token-reduction methods (take a TokenTrace) ----

KEPT_COLOR, REMOVED_COLOR = "#1f77b4", "#e6e6e6"


def _token_label(token: str) -> str:
    return token[2:] if token.startswith("##") else token


def token_survival_figure(trace: TokenTrace) -> go.Figure:
    """One square per (layer, input token): dark where the layer still runs on the token, pale where it was removed."""
    layers, positions = np.meshgrid(np.arange(1, trace.num_layers + 1), np.arange(len(trace.tokens)), indexing="ij")
    fig = go.Figure()
    for name, mask, color in (("kept", trace.kept, KEPT_COLOR), ("removed", ~trace.kept, REMOVED_COLOR)):
        fig.add_scatter(
            x=positions[mask], y=layers[mask], mode="markers", name=name,
            marker={"symbol": "square", "size": 14, "color": color, "line": {"color": "#999", "width": 0.5}},
            text=[trace.tokens[t] for t in positions[mask]],
            hovertemplate="layer %{y}: %{text}<extra>" + name + "</extra>",
        )
    fig = _layout(fig, f"{trace.method}: the tokens each layer runs on", "layer", trace.num_layers)
    fig.update_xaxes(title=None, tickvals=list(range(len(trace.tokens))),
                     ticktext=[_token_label(t) for t in trace.tokens], tickangle=-60, range=None, dtick=None)
    fig.update_yaxes(dtick=1, range=[trace.num_layers + 0.5, 0.5])  # layer 1 on top, as the text flows down
    fig.update_layout(height=300 + 12 * trace.num_layers, legend={"orientation": "h", "y": 1.12})
    return fig


def tokens_per_layer_figure(trace: TokenTrace) -> go.Figure:
    """Tokens each layer runs on, against the full length."""
    layers = np.arange(1, trace.num_layers + 1)
    counts = trace.tokens_per_layer
    fig = go.Figure(go.Bar(x=layers, y=counts, name="tokens kept", marker_color=KEPT_COLOR,
                           text=[str(int(c)) for c in counts], textposition="outside"))
    fig.add_hline(y=len(trace.tokens), line_dash="dash", line_color="#444",
                  annotation_text=f"full length {len(trace.tokens)}")
    return _layout(fig, "Tokens each layer runs on", "tokens", trace.num_layers, [0, 1.15 * len(trace.tokens)])


def survival_html(trace: TokenTrace, layer: int) -> str:
    """The text as layer `layer` (1-based) sees it: removed tokens struck through and faded; HTML-escaped."""
    kept = trace.kept[max(1, min(int(layer), trace.num_layers)) - 1]
    spans = []
    for token, alive in zip(trace.tokens, kept):
        if token == "[PAD]":
            continue
        text = html.escape(_token_label(token))
        joiner = "" if token.startswith("##") else " "
        style = ("background: rgba(31,119,180,0.18); padding: 1px 3px; border-radius: 3px" if alive
                 else "color: #aaa; text-decoration: line-through; padding: 1px 3px")
        spans.append(f'{joiner}<span style="{style}">{text}</span>')
    return '<div style="font-size: 1.3em; line-height: 2.0">' + "".join(spans).strip() + "</div>"


# ---- data-set views (take the trace table written by dact_core.evaluate) ----

def exit_histogram_figure(traces: pd.DataFrame, num_layers: int) -> go.Figure:
    """Histogram of exit layers with the accuracy at each exit layer on a second axis."""
    counts = traces["exit_layer"].value_counts().reindex(range(1, num_layers + 1), fill_value=0)
    fig = go.Figure(go.Bar(x=counts.index, y=counts.values, name="examples", marker_color="#1f77b4",
                           customdata=counts.index, text=counts.values, textposition="outside"))
    fig = _layout(fig, "Where examples halt (exit layer)", "examples", num_layers)
    if "correct" in traces:
        acc = traces.groupby("exit_layer")["correct"].mean().reindex(range(1, num_layers + 1))
        fig.add_scatter(x=acc.index, y=acc.values, name="accuracy at this exit", yaxis="y2", mode="lines+markers",
                        line=dict(color="#2ca02c", width=3))
        fig.update_layout(yaxis2=dict(title="accuracy", overlaying="y", side="right", range=[0, 1.05]))
    fig.update_layout(clickmode="event+select")
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
                           text=[f"{v:.2f}" for v in groups.values()], textposition="outside"))
    fig.update_layout(title="Average executed layers", font=FONT, template="plotly_white", height=380,
                      yaxis=dict(title="layers", range=[0, num_layers + 0.5], dtick=1))
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


def sweep_figure(results: dict) -> go.Figure:
    """Accuracy against average executed layers: the ponder-penalty sweep, other methods, the reference."""
    fig = go.Figure()
    sweep = pd.DataFrame(results.get("dact", []))
    if len(sweep):
        sweep = sweep.sort_values("avg_layers_tight")
        fig.add_scatter(x=sweep["avg_layers_tight"], y=100 * sweep["accuracy"], mode="lines+markers+text",
                        name="DACT-BERT (tight bound)", text=[f"tau={t:g}" for t in sweep["ponder_penalty"]],
                        textposition="top center", line=dict(color="#1f77b4", width=3), marker=dict(size=11))
        if "avg_layers_paper" in sweep:
            fig.add_scatter(x=sweep["avg_layers_paper"], y=100 * sweep["accuracy"], mode="markers",
                            name="same models, paper bound", marker=dict(color="#ff7f0e", size=9, symbol="x"))
    for method, points in results.get("methods", {}).items():
        pts = pd.DataFrame(points).sort_values("avg_layers")
        fig.add_scatter(x=pts["avg_layers"], y=100 * pts["accuracy"], mode="lines+markers", name=method)
    ref = results.get("reference")
    if ref:
        fig.add_hline(y=100 * ref["accuracy"], line_dash="dash", line_color="#444",
                      annotation_text=f"full-depth reference {100 * ref['accuracy']:.1f}")
    num_layers = results.get("num_layers", 6)
    fig = _layout(fig, results.get("title", "Accuracy against compute"), "accuracy (%)", num_layers)
    fig.update_xaxes(title="average executed layers", range=[0.5, num_layers + 0.5])
    return fig


METHOD_COLORS = {"reference": "#444444", "DACT-BERT": "#1f77b4", "DeeBERT": "#ff7f0e", "PABEE": "#2ca02c",
                 "static": "#7f7f7f", "AdapLeR": "#9467bd", "token gates": "#8c564b"}


def bench_figure(points: list[dict], x: str = "avg_layers") -> go.Figure:
    """Accuracy against compute for every method of a `dact bench` run (x: avg_layers, speedup_batch1,
    speedup_batch32 or flops_ratio)."""
    table = pd.DataFrame(points)
    labels = {"avg_layers": "average executed layers", "speedup_batch1": "wall-clock speed-up, batch 1 (x)",
              "speedup_batch32": "throughput ratio, batch 32 (x)", "flops_ratio": "FLOPs / full depth"}
    fig = go.Figure()
    for method, rows in table.groupby("method", sort=False):
        rows = rows.sort_values(x)
        mode = "markers" if method == "reference" else "lines+markers"
        fig.add_scatter(x=rows[x], y=100 * rows["accuracy"], mode=mode, name=method, text=rows["setting"],
                        hovertemplate="%{text}: %{y:.2f}%<extra>" + method + "</extra>",
                        line=dict(color=METHOD_COLORS.get(method), width=3),
                        marker=dict(size=12 if method == "reference" else 8, color=METHOD_COLORS.get(method)))
    fig.update_layout(title=f"Accuracy against {labels[x]}", font=FONT, template="plotly_white", height=440,
                      legend=dict(orientation="h", y=-0.2), margin=dict(l=60, r=20, t=60, b=60))
    fig.update_xaxes(title=labels[x], dtick=1 if x == "avg_layers" else None)
    fig.update_yaxes(title="accuracy (%)")
    return fig


def figure_csv(fig: go.Figure) -> str:
    """The data behind a figure's traces as CSV (one row per point), for the download buttons."""
    rows = []
    for tr in fig.data:
        xs = tr.x if tr.x is not None else []
        ys = tr.y if tr.y is not None else []
        for x, y in zip(xs, ys):
            rows.append({"series": tr.name, "x": x, "y": y})
    return pd.DataFrame(rows, columns=["series", "x", "y"]).to_csv(index=False)
