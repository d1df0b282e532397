"""Chart, table and HTML builders are plain functions of traces: testable without Streamlit or a browser."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_model
from dact_core import charts, markup, tables
from dact_core.inspector import DactInspector, InputError, TokenAttribution


@pytest.fixture
def inspector(tiny_tokenizer):
    model = tiny_model(3, num_labels=3, id2label={0: "bad", 1: "meh", 2: "good"},
                       label2id={"bad": 0, "meh": 1, "good": 2})
    return DactInspector(model, tiny_tokenizer)


def test_trace_is_plain_and_consistent(inspector):
    trace = inspector.trace("the film was good but slow")
    assert isinstance(trace.acc_probs, np.ndarray) and trace.acc_probs.shape == (4, 3)
    np.testing.assert_allclose(trace.acc_probs.sum(1), 1.0, atol=1e-9)
    np.testing.assert_allclose(trace.layer_weights.sum(), 1.0, atol=1e-9)
    assert trace.prediction == trace.full_depth_prediction
    assert trace.exit_layer == trace.exit_layer_tight <= trace.exit_layer_paper
    assert (trace.margin_tight[trace.exit_layer - 1] > 0) or trace.exit_layer == 4
    assert trace.tokens[0] == "[CLS]"
    with pytest.raises(InputError, match="empty"):
        inspector.trace("  ")


def test_inspect_figures(inspector):
    trace = inspector.trace("the film was good but slow")
    for build in (charts.halting_figure, charts.answer_evolution_figure, charts.bound_figure,
                  charts.layer_weight_figure):
        fig = build(trace)
        assert fig.layout.xaxis.dtick == 1
        assert any(shape.x0 == trace.exit_layer for shape in fig.layout.shapes)  # the exit marker
        assert "series,x,y" in tables.figure_csv(fig)
    evolution = charts.answer_evolution_figure(trace, upto_layer=2)
    assert all(len(t.x) == 2 for t in evolution.data)
    colours = {t.name: t.line.color for t in evolution.data}
    assert colours["a_n good"] == colours["y_n good"] == charts.class_color(2)
    animation = charts.answer_animation_figure(trace)
    assert len(animation.frames) == 4 and animation.layout.updatemenus[0].buttons[0].label == "Play"


def test_relaxed_setting_is_flagged_in_the_bound_chart(inspector):
    trace = inspector.trace("good good good", relaxation=0.5)
    assert not trace.guarantee_holds
    assert "no guarantee" in charts.bound_figure(trace).layout.title.text


def test_attribution_html_escapes_user_text():
    attribution = TokenAttribution(tokens=["[CLS]", "<script>", "##x", "&", "[SEP]"],
                                   scores=np.array([0.0, 0.5, -0.2, 0.1, 0.0]), target=0, layer=2,
                                   convergence_delta=0.0)
    html = markup.attribution_html(attribution)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;" in html
    assert "[CLS]" not in html


def test_text_and_present_html_escape_user_text(inspector):
    trace = dataclasses.replace(inspector.trace("a film"), text="<b>bold</b> & co", tokens=["[CLS]", "<i>", "[SEP]"])
    pieces = markup.tokens_html(trace.tokens, trace.num_tokens, trace.max_length)
    assert "<i>" not in pieces and "&lt;i&gt;" in pieces
    for page in (markup.present_text_html(trace), markup.offline_html(trace)):
        assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page
        assert "<i>" not in page and "&lt;i&gt;" in page


def test_attributions_with_captum(inspector):
    attribution = inspector.attribute("the film was good", layer=2, n_steps=8)
    assert attribution.layer == 2 and len(attribution.scores) == len(attribution.tokens)
    assert np.abs(attribution.scores).sum() > 0
    with pytest.raises(InputError, match="layer"):
        inspector.attribute("the film", layer=9)


def test_unknown_words_get_attributions(inspector):
    """The baseline keeps only [CLS] and [SEP]: an [UNK] differs from its baseline and can get a share."""
    attribution = inspector.attribute("the film was zzqx good", n_steps=8)
    unk = attribution.tokens.index("[UNK]")
    assert attribution.scores[unk] != 0
    assert attribution.scores[0] == 0 and attribution.scores[-1] == 0  # [CLS] and [SEP] equal their baseline


def test_dataset_figures():
    rng = np.random.default_rng(0)
    traces = pd.DataFrame({
        "exit_layer": rng.integers(1, 5, 50), "correct": rng.random(50) > 0.3,
        "label_name": rng.choice(["bad", "good"], 50),
        **{f"remaining_prob_{n}": rng.random(50) for n in range(1, 5)},
        **{f"halting_prob_{n}": rng.random(50) for n in range(1, 5)},
    })
    hist = charts.exit_histogram_figure(traces, 4)
    assert list(hist.data[0].x) == [1, 2, 3, 4] and sum(hist.data[0].y) == 50
    assert hist.layout.yaxis2.title.text == "accuracy" and hist.layout.yaxis.title.text == "examples"
    # linked views: the table's rows shade each bar; rows picked in the table are ringed in the scatter
    wrong = traces.index[~traces.correct]
    linked = charts.exit_histogram_figure(traces, 4, highlight=wrong)
    shaded = next(t for t in linked.data if t.name == "in the table")
    assert list(shaded.y) == [int((~traces.correct & (traces.exit_layer == k)).sum()) for k in range(1, 5)]
    assert all(part <= whole for part, whole in zip(shaded.y, linked.data[0].y))
    picked = charts.exit_histogram_figure(traces, 4, highlight=wrong, selected_layers=[2, 4])
    assert [list(t.selectedpoints) for t in picked.data if t.type == "bar"] == [[1, 3], [1, 3]]
    traces["num_tokens"] = rng.integers(3, 40, 50)
    scatter = charts.exit_scatter_figure(traces, 4, highlight=traces.index[[3, 7]])
    rings = next(t for t in scatter.data if t.name == "picked in the table")
    assert list(rings.customdata) == [3, 7] and list(rings.y) == [scatter.data[0].y[3], scatter.data[0].y[7]]
    breakdown = charts.layers_breakdown_figure(traces, 4)
    assert {"all", "class bad", "class good", "correct", "wrong"} == set(breakdown.data[0].x)
    curves = charts.mean_curves_figure(traces, 4, "halting_prob")
    assert len(curves.data) == traces.exit_layer.nunique()


def test_bench_figure():
    points = [
        {"method": "reference", "setting": "full depth", "accuracy": 0.9, "avg_layers": 6, "speedup_batch1": 1.0},
        {"method": "DACT-BERT", "setting": "tau=0.05", "accuracy": 0.89, "avg_layers": 3, "speedup_batch1": 1.9},
        {"method": "DACT-BERT", "setting": "tau=0.01", "accuracy": 0.9, "avg_layers": 4.5, "speedup_batch1": 1.3},
        {"method": "PABEE", "setting": "t=2", "accuracy": 0.88, "avg_layers": 3.5, "speedup_batch1": 1.6},
    ]
    fig = charts.bench_figure(points)
    methods = [t for t in fig.data if t.name != "Pareto frontier"]
    assert [t.name for t in methods] == ["reference", "DACT-BERT", "PABEE"]
    assert list(methods[1].x) == [3, 4.5]
    by_speed = [t for t in charts.bench_figure(points, "speedup_batch1").data if t.name == "DACT-BERT"]
    assert list(by_speed[0].x) == [1.3, 1.9]


def test_bench_figure_draws_every_point_beside_a_reference_that_is_only_timed():
    points = [
        {"method": "reference", "setting": "same size, untrained head", "accuracy": None, "avg_layers": 6},
        {"method": "DACT-BERT", "setting": "tau=0.07", "accuracy": 0.8888, "avg_layers": 2.85},
        {"method": "DACT-BERT int8", "setting": "tau=0.07", "accuracy": 0.8888, "avg_layers": 3.01},
    ]
    traces = {t.name: t for t in charts.bench_figure(points).data}
    assert list(traces["DACT-BERT"].x) == [2.85] and list(traces["DACT-BERT int8"].x) == [3.01]
    assert list(traces["reference"].x) == []  # no accuracy to draw


def test_bench_figure_bars_of_several_seeds_are_their_spread():
    interval = dict(accuracy_diff=-0.01, accuracy_diff_low=-0.03, accuracy_diff_high=0.01)
    points = [
        {"method": "reference", "setting": "full depth", "accuracy": 0.9, "avg_layers": 6, "seeds": 3,
         "accuracy_std": 0.01, "accuracy_diff": None, "accuracy_diff_low": None, "accuracy_diff_high": None},
        {"method": "DACT-BERT", "setting": "tau=0.07", "accuracy": 0.89, "avg_layers": 3, "seeds": 3,
         "accuracy_std": 0.005, **interval},  # the interval ends averaged over seeds: not drawn
        {"method": "PABEE", "setting": "t=2", "accuracy": 0.88, "avg_layers": 3.5, "seeds": 1, "accuracy_std": 0.0,
         **interval},
    ]
    traces = {t.name: t for t in charts.bench_figure(points).data}
    assert list(traces["DACT-BERT"].error_y.array) == pytest.approx([0.5])
    assert list(traces["DACT-BERT"].error_y.arrayminus) == pytest.approx([0.5])
    assert "3 seeds" in traces["DACT-BERT"].text[0]
    assert list(traces["PABEE"].error_y.array) == pytest.approx([2.0]) and traces["PABEE"].text[0] == "t=2"


def token_trace():
    from dact_core.inspector import TokenTrace

    kept = np.array([[1, 1, 1, 1, 1], [1, 0, 1, 1, 1], [1, 0, 1, 0, 1]], dtype=bool)
    return TokenTrace(text="x", method="AdapLeR", tokens=["[CLS]", "<b>bold</b>", "film", "##s", "[SEP]"],
                      label_names=["bad", "good"], kept=kept, probs=np.array([0.3, 0.7]), prediction=1,
                      num_tokens=5, max_length=128)


def test_token_survival_charts():
    trace = token_trace()
    fig = charts.token_survival_figure(trace)
    kept, removed = fig.data
    assert (kept.name, removed.name) == ("kept", "removed")
    assert len(kept.x) == 12 and len(removed.x) == 3 and set(removed.y) == {2, 3}
    assert list(fig.layout.xaxis.ticktext) == ["[CLS]", "<b>bold</b>", "film", "s", "[SEP]"]
    assert "removed,1,2" in tables.figure_csv(fig).replace("\r", "")
    # a long input wraps into bands of 32 tokens, each token as wide as in the first band
    long = dataclasses.replace(trace, tokens=["[CLS]", *[f"w{i}" for i in range(126)], "[SEP]"],
                               kept=np.ones((3, 128), bool))
    wrapped = charts.token_survival_figure(long)
    axes = [wrapped.layout[f"xaxis{i if i > 1 else ''}"] for i in range(1, 5)]
    assert [len(a.tickvals) for a in axes] == [32] * 4 and list(axes[3].range) == [95.5, 127.5]
    assert sum(len(t.x) for t in wrapped.data) == 3 * 128
    bars = charts.tokens_per_layer_figure(trace)
    assert list(bars.data[0].y) == [5, 4, 3]
    assert trace.compute_share == pytest.approx(12 / 15)


def test_survival_html_escapes_and_strikes_removed_tokens():
    html = markup.survival_html(token_trace(), 3)
    assert "<b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert html.count("line-through") == 2  # the two tokens removed before layer 3
    assert "films" not in html and ">film</span><span" in html  # word pieces join without a space
    assert markup.survival_html(token_trace(), 1).count("line-through") == 0


def test_stepping_reveals_nothing_early(inspector):
    """Before the stepper reaches the exit no exit line; the margin axis never rescales; weights are a_k's."""
    import torch

    from dact_core.halting import layer_weights

    trace = inspector.trace("the plot was dull but the actors were great")
    early = [charts.halting_figure(trace, 1), charts.answer_evolution_figure(trace, 1), charts.bound_figure(trace, 1)]
    if trace.exit_layer > 1:
        assert all(not fig.layout.shapes or all(s.type != "line" or s.x0 != trace.exit_layer for s in fig.layout.shapes)
                   for fig in early)
    assert charts.bound_figure(trace, 1).layout.yaxis.range == charts.bound_figure(trace, trace.num_layers).layout.yaxis.range
    for k in range(1, trace.num_layers + 1):
        expected = layer_weights(torch.from_numpy(trace.remaining_probs[:k])).numpy()
        np.testing.assert_allclose(trace.weights_at(k), expected, atol=1e-12)
        np.testing.assert_allclose(charts.layer_weight_figure(trace, k).data[0].y, expected, atol=1e-12)
    present = charts.present_figure(trace, 1)
    assert len(present.frames) == trace.num_layers and all(len(f.data) == len(present.data) for f in present.frames)
    assert max(present.data[1].x) == 1  # nothing after layer 1 is drawn
    html = markup.offline_html(trace)
    assert 'src="http' not in html and "Plotly.addFrames" in html  # plotly.js inline, frames included


def test_bench_figure_reads_well():
    points = [
        {"method": "reference", "setting": "full depth", "accuracy": 0.89, "avg_layers": 6, "flops_ratio": 1.0},
        {"method": "DACT-BERT", "setting": "tau=0.05", "accuracy": 0.885, "avg_layers": 3.3, "flops_ratio": 0.55,
         "accuracy_diff": -0.005, "accuracy_diff_low": -0.01, "accuracy_diff_high": 0.0},
        {"method": "DACT-BERT", "setting": "tau=0.1", "accuracy": 0.875, "avg_layers": 2.1, "flops_ratio": 0.35,
         "accuracy_diff": -0.015, "accuracy_diff_low": -0.02, "accuracy_diff_high": -0.01},
        {"method": "token gates", "setting": "lambda=0.005", "accuracy": 0.25, "avg_layers": 6, "flops_ratio": 0.2},
    ]
    by_layers = charts.bench_figure(points, "avg_layers", highlight=("DACT-BERT", "tau=0.05"))
    assert "token gates" not in {t.name for t in by_layers.data}  # token methods never against layers
    assert "Pareto frontier" in {t.name for t in by_layers.data} and "shipped model" in {t.name for t in by_layers.data}
    low, high = by_layers.layout.yaxis.range
    assert low > 80 and high < 91  # the informative region, not 20 to 90
    by_flops = charts.bench_figure(points, "flops_ratio")
    edge = [t for t in by_flops.data if t.marker and t.marker.symbol == "triangle-down"]
    assert edge and list(edge[0].text) == ["25.0%"]  # the collapsed point is marked at the edge with its value
    # two methods collapsing at the same depth: their edge markers stack instead of covering each other
    points.append({"method": "static", "setting": "k=1", "accuracy": 0.5, "avg_layers": 1, "flops_ratio": 0.17})
    points.append({"method": "DeeBERT", "setting": "S=0.7", "accuracy": 0.51, "avg_layers": 1, "flops_ratio": 0.17})
    stacked = [t for t in charts.bench_figure(points, "avg_layers").data if t.marker.symbol == "triangle-down"]
    assert len(stacked) == 2 and stacked[0].x[0] == stacked[1].x[0] and stacked[0].y[0] != stacked[1].y[0]
    dact = next(t for t in by_flops.data if t.name == "DACT-BERT")
    np.testing.assert_allclose(dact.error_y.array, [0.5, 0.5])  # interval of the difference, in points
    np.testing.assert_allclose(charts.pareto_front(np.array([1.0, 2, 3]), np.array([3.0, 2, 4]), True), [0, 2])


def test_bench_caption_says_how_the_bench_was_timed():
    by_input = {"title": "SST-2", "settings": {"timer": "interleaved"}}  # before timer blocks: no timer_block
    assert tables.bench_caption(by_input) == "SST-2 (timer: interleaved, input by input)"
    blocks = {"title": "SST-2", "settings": {"timer": "interleaved", "timer_block": 10}}
    assert tables.bench_caption(blocks) == "SST-2 (timer: interleaved, blocks of 10 inputs)"
    assert tables.bench_caption({**blocks, "title": "SST-2; timer in blocks of 10"}) == "SST-2; timer in blocks of 10"
    median = {"title": "SST-2", "settings": {"timer": "interleaved", "timer_block": 10, "timer_statistic": "median of rounds"}}
    assert tables.bench_caption(median) == "SST-2 (timer: interleaved, blocks of 10 inputs, median of rounds)"
    named = "SST-2; timer in blocks of 10, median of rounds"
    assert tables.bench_caption({**median, "title": named}) == named
    assert tables.bench_caption({**median, "title": "SST-2; timer in blocks of 10"}) == (
        "SST-2; timer in blocks of 10 (timer: interleaved, blocks of 10 inputs, median of rounds)")
    assert tables.bench_caption({**by_input, "title": "SST-2, interleaved timer"}) == (
        "SST-2, interleaved timer (timer: interleaved, input by input)")


def test_bench_table_of_several_seeds_shows_means_not_averaged_intervals():
    points = [{"method": "reference", "setting": "full depth", "accuracy": 0.89, "accuracy_std": 0.011, "seeds": 3,
               "accuracy_diff": -0.007, "accuracy_diff_low": -0.02, "accuracy_diff_high": 0.0},  # against seed 42's
              {"method": "DACT-BERT", "setting": "tau=0.07", "accuracy": 0.8907, "accuracy_std": 0.0054, "seeds": 3,
               "accuracy_diff": -0.0008, "accuracy_diff_low": -0.02, "accuracy_diff_high": 0.02},
              {"method": "AdapLeR", "setting": "phi=0.002", "accuracy": 0.88, "accuracy_std": 0.0, "seeds": 1,
               "accuracy_diff": -0.01, "accuracy_diff_low": -0.015, "accuracy_diff_high": -0.005}]
    table = tables.bench_table(points).set_index("setting")
    column = "vs reference (points, 95% CI)"
    assert table.loc["full depth", column] == "" and table.loc["tau=0.07", column] == "-0.08 (mean of 3 seeds)"
    assert table.loc["phi=0.002", column] == "-1.00 [-1.50, -0.50]"
    assert table.loc["tau=0.07", "spread (points)"] == "± 0.54" and table.loc["phi=0.002", "spread (points)"] == ""
    assert "speedup batch1 vs torch" not in table  # a bench from before that column
    points[1]["speedup_batch1_vs_torch"] = 3.4612
    assert tables.bench_table(points).set_index("setting").loc["tau=0.07", "speedup batch1 vs torch"] == 3.46


def test_charts_keep_labels_apart_at_a_narrow_width(inspector):
    """At 1280 px: the accuracy line had the histogram's counts under it, the selective-prediction line the bars'
    percentages; the margin chart's axis title fell off its left edge (no template, so no automatic margin)."""
    from dact_core import explore

    rng = np.random.default_rng(0)
    traces = pd.DataFrame({"exit_layer": rng.integers(1, 5, 80), "correct": rng.random(80) > 0.2})
    hist = charts.exit_histogram_figure(traces, 4)
    assert hist.layout.yaxis.domain[1] < hist.layout.yaxis2.domain[0]  # a band each: no line over the counts
    by_exit = charts.accuracy_by_exit_figure(explore.accuracy_by_exit(traces, 4))
    assert by_exit.data[0].textposition == "inside"
    trace = inspector.trace("the film was good")
    assert charts.bound_figure(trace).layout.yaxis.automargin
    assert "keep going" in charts.halting_figure(trace).data[0].name  # a tall h_n bar means the model goes on
