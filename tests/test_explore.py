"""Exploring trace tables without the model: another bound by arithmetic, filters, accuracy by exit."""

import numpy as np
import pandas as pd
import pytest

from conftest import WORDS, tiny_model
from dact_core.data import task_from_pandas
from dact_core.evaluate import evaluate
from dact_core.explore import accuracy_by_exit, filter_traces, read_traces, rehalt


@pytest.fixture
def evaluated(tiny_tokenizer):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"sentence": [" ".join(rng.choice(WORDS, rng.integers(2, 14))) for _ in range(120)],
                          "label": rng.integers(0, 3, 120)})
    model = tiny_model(21, num_labels=3, num_layers=5)
    task = task_from_pandas(frame, "t", "sentence", "label")
    return model, tiny_tokenizer, task


@pytest.mark.parametrize("bound, relaxation", [("tight", 1.0), ("paper", 1.0), ("tight", 0.4), ("paper", 0.0)])
def test_rehalt_equals_running_the_model_under_that_setting(evaluated, bound, relaxation):
    model, tokenizer, task = evaluated
    base = evaluate(model, tokenizer, task, progress=False).traces
    direct = evaluate(model, tokenizer, task, progress=False,
                      setting=dict(halting_bound=bound, halting_relaxation=relaxation)).traces
    again = rehalt(base, bound, relaxation)
    assert (again.exit_layer == direct.exit_layer).all()
    assert (again.prediction == direct.prediction).all()
    assert (again.agrees_with_full_depth == direct.agrees_with_full_depth).all()
    np.testing.assert_allclose(again.confidence, direct.confidence, rtol=1e-6)
    assert (again.margin[again.exit_layer < 5] > 0).all()  # halted where the margin crossed 0


def test_accuracy_by_exit_and_filters(evaluated):
    model, tokenizer, task = evaluated
    traces = rehalt(evaluate(model, tokenizer, task, progress=False).traces, "tight", 0.3)
    table = accuracy_by_exit(traces, 5)
    assert table.examples.sum() == 120 and table.answered_share.iloc[-1] == 1.0
    overall = traces.correct.mean()
    assert table.accuracy_answered.iloc[-1] == pytest.approx(overall)
    wrong = filter_traces(traces, wrong_only=True)
    assert len(wrong) == (~traces.correct).sum() and not wrong.correct.any()
    differ = filter_traces(traces, disagreements_only=True)
    assert (~differ.agrees_with_full_depth).all() and len(differ) == (~traces.agrees_with_full_depth).sum()
    some = filter_traces(traces, classes=["1"], exit_layers=(2, 4), lengths=(3, 8))
    assert some.label_name.eq("1").all() and some.exit_layer.between(2, 4).all() and some.num_tokens.between(3, 8).all()


def test_read_traces_files_and_shard_folders(evaluated, tmp_path):
    model, tokenizer, task = evaluated
    traces = evaluate(model, tokenizer, task, progress=False).traces
    traces.iloc[:50].to_parquet(tmp_path / "traces-shard0.parquet")
    traces.iloc[50:].to_parquet(tmp_path / "traces-shard1.parquet")
    pd.testing.assert_frame_equal(read_traces(tmp_path), traces)
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a traces file"):
        read_traces(tmp_path / "other.csv")


@pytest.mark.parametrize("relaxation", [1.0, 0.3])
def test_one_full_depth_pass_gives_what_the_halting_path_gives(evaluated, relaxation):
    model, tokenizer, task = evaluated
    setting = dict(halting_bound="tight", halting_relaxation=relaxation)
    both = evaluate(model, tokenizer, task, progress=False, setting=setting)
    once = evaluate(model, tokenizer, task, progress=False, setting=setting, halting_pass=False)
    assert once.metrics["halting_path_run"] is False and both.metrics["halting_path_run"] is True
    for column in ("exit_layer", "prediction", "agrees_with_full_depth", "exit_layer_tight"):
        assert (once.traces[column] == both.traces[column]).all(), column
    np.testing.assert_allclose(once.traces.confidence, both.traces.confidence, rtol=1e-9)
