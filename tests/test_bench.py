"""`dact bench` end to end on tiny random models, and the FLOPs formula."""

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from conftest import WORDS, tiny_config, tiny_model
from dact_core import (
    AdaplerBertConfig,
    AdaplerBertForSequenceClassification,
    TokenGateBertConfig,
    TokenGateBertForSequenceClassification,
)
from dact_core.bench import layer_flops
from dact_core.cli import main
from test_multi_exit import tiny_multi_exit


def test_layer_flops_formula():
    # n = 10 tokens, H = 4, I = 8: 2 [10 (64 + 64) + 2 * 100 * 4] = 2 [1280 + 800]
    assert layer_flops(np.array([10]), 4, 8)[0] == 2 * (1280 + 800)
    assert layer_flops(np.array([0]), 4, 8)[0] == 0


@pytest.fixture
def bench_inputs(tmp_path, tiny_tokenizer):
    labels = dict(id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    folders = {}
    torch.manual_seed(0)
    settings = {k: v for k, v in tiny_config().to_dict().items() if k in BertConfig.__dataclass_fields__}
    settings.update(num_labels=2, **labels)
    cfg = BertConfig(**settings)
    token_cfg = {k: v for k, v in settings.items()}
    models = {"reference": BertForSequenceClassification(cfg),
              "adapler": AdaplerBertForSequenceClassification(AdaplerBertConfig(**token_cfg)),
              "gates": TokenGateBertForSequenceClassification(TokenGateBertConfig(max_gated_length=64, **token_cfg)),
              "dact": tiny_model(4, num_labels=2, **labels),
              "multi": tiny_multi_exit(4, num_labels=2, num_layers=4, **labels)}
    for name, model in models.items():
        folders[name] = tmp_path / name
        model.save_pretrained(folders[name])
        tiny_tokenizer.save_pretrained(folders[name])
    rng = np.random.default_rng(0)
    rows = [(" ".join(rng.choice(WORDS, rng.integers(2, 15))), i % 2) for i in range(40)]
    data = tmp_path / "d.tsv"
    data.write_text("sentence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in rows))
    return folders, data


def test_bench_command(tmp_path, bench_inputs, capsys, monkeypatch):
    from dact_core import bench, timing

    folders, data = bench_inputs
    out = tmp_path / "bench"
    threads = torch.get_num_threads()
    blocks = []  # the timer's block at batch 1 and batch 32, as the bench passes it

    def recording_timer(*args, **kwargs):
        blocks.append(kwargs.get("block"))
        return timing.interleaved_times(*args, **kwargs)

    monkeypatch.setattr(bench, "interleaved_times", recording_timer)
    code = main(["bench", "--data", str(data), "--reference", str(folders["reference"]), "--dact", str(folders["dact"]),
                 "--multi-exit", str(folders["multi"]), "--token-methods", str(folders["adapler"]), str(folders["gates"]),
                 "--output-dir", str(out), "--latency-examples", "5", "--throughput-examples", "64",
                 "--threads", str(threads + 1), "--quantize", "int8", "--timer-block", "2"])
    assert code == 0
    assert torch.get_num_threads() == threads  # the bench gives the caller's thread count back
    table = pd.read_csv(out / "bench.csv")
    ref = table[table.method == "reference"].iloc[0]
    assert ref.flops_ratio == 1 and ref.avg_layers == 4
    dact = table[table.method == "DACT-BERT"].iloc[0]
    assert dact.accuracy_diff_low <= dact.accuracy_diff <= dact.accuracy_diff_high
    np.testing.assert_allclose(dact.efficiency_batch1, dact.speedup_batch1 / dact.ideal_speedup_batch1)
    static = table[table.method == "static"].set_index("setting")
    assert list(static.avg_layers) == [1, 2, 3, 4]
    np.testing.assert_allclose(static.flops_ratio, [0.25, 0.5, 0.75, 1.0])
    methods = {"reference", "DACT-BERT", "static", "DeeBERT", "PABEE", "AdapLeR", "token gates"}
    assert set(table.method) == methods | {f"{m} int8" for m in methods}
    gates = table[table.method == "token gates"].iloc[0]
    assert gates.avg_layers == 4 and 0 < gates.flops_ratio <= 1.0
    summary = json.loads((out / "bench.json").read_text())
    assert set(summary) == {"title", "command", "settings", "points", "models"}  # measurements only, no verdicts
    assert dact.efficiency_batch1_low <= dact.efficiency_batch1 <= dact.efficiency_batch1_high
    assert summary["settings"]["timer"] == "interleaved" and summary["settings"]["quantize"] == "int8"
    assert summary["settings"]["timer_block"] == 2 and blocks == [2, 2]
    assert summary["settings"]["timer_statistic"] == "median of rounds"
    int8_row = table[table.method == "DACT-BERT int8"].iloc[0]
    # an int8 point's speed is taken against the int8 reference, its accuracy against its own float model's point
    ref8 = table[table.method == "reference int8"].iloc[0]
    np.testing.assert_allclose(int8_row.speedup_batch1, ref8.latency_ms_batch1 / int8_row.latency_ms_batch1)
    assert int8_row.paired_reference == dact.source
    assert summary["settings"]["runtime"] == "torch"  # the token-reduction models run on torch: every model does
    assert summary["settings"]["num_examples"] == 40 and summary["settings"]["throughput_examples"] == 64
    assert (out / "accuracy_vs_layers.html").exists()
    assert "| DACT-BERT |" in capsys.readouterr().out
    # the reference was also timed as eager PyTorch: every point has its speed-up against it
    assert np.isfinite(table[["speedup_batch1_vs_torch", "speedup_batch32_vs_torch"]]).all().all()
    assert "NaN" not in (out / "bench.json").read_text()
    # the command line that wrote the folder, for `dact report` to show how to rerun it
    assert summary["command"].startswith("dact bench --data ") and "--timer-block 2" in summary["command"]
    # every point on every example, in bench.csv's order, with the numbers bench.csv averages
    examples = pd.read_parquet(out / "examples.parquet")
    assert len(examples) == 40 * len(table) and list(examples["example"][:40]) == list(range(40))
    assert {c: str(t) for c, t in examples.dtypes.items()} == {
        "point": "int16", "method": "category", "setting": "category", "source": "category", "seed": "Int32",
        "example": "int32", "correct": "boolean", "exit_layer": "int8", "gflops": "float32"}
    per_point = examples.groupby("point").agg(method=("method", "first"), setting=("setting", "first"),
                                              accuracy=("correct", "mean"), layers=("exit_layer", "mean"),
                                              gflops=("gflops", "sum"))
    assert list(per_point.method) == list(table.method) and list(per_point.setting) == list(table.setting)
    np.testing.assert_allclose(per_point.accuracy, table.accuracy)
    np.testing.assert_allclose(per_point.layers, table.avg_layers)
    np.testing.assert_allclose(per_point.gflops / per_point.gflops.iloc[0], table.flops_ratio, rtol=1e-5)
    from dact_core.report import matched_comparisons

    assert [(p.dact, p.rival_method) for p in matched_comparisons(examples)] == [
        (f"DACT-BERT at {dact.setting}", rival) for rival in ("static", "DeeBERT", "PABEE", "AdapLeR", "token gates")]


def test_paired_interval():
    from dact_core.bench import paired_interval

    better = np.ones(200)
    half = np.tile([1.0, 0.0], 100)
    diff, low, high = paired_interval(better, half)
    assert diff == 0.5 and 0.35 < low < 0.5 < high < 0.65
    assert paired_interval(half, better) == pytest.approx((-0.5, -high, -low))  # first minus second
    diff, low, high = paired_interval(half, half[::-1].copy())  # same accuracy, different examples
    assert diff == 0.0 and low < 0 < high


def test_interleaved_timer_runs_every_path_on_each_input_in_turn():
    from dact_core.timing import interleaved_times

    calls = []
    paths = [lambda x, p=p: calls.append((p, x)) for p in range(3)]
    seconds = interleaved_times(paths, ["a", "b"], rounds=2, warmup=0, progress=False, block=1)
    assert seconds.shape == (3, 2, 2) and (seconds >= 0).all()
    # input by input: all three paths on "a", then all three on "b"; who goes first rotates
    assert [x for _, x in calls] == ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3
    assert [p for p, _ in calls[:6]] == [0, 1, 2, 1, 2, 0]


def test_interleaved_timer_in_blocks_runs_each_path_on_a_block_in_turn(monkeypatch):
    from dact_core import timing

    calls, clock = [], [0.0]

    def path(p):
        def call(x):  # path p on input x takes 10 * p + x seconds of a fake clock
            calls.append((p, x))
            clock[0] += 10 * p + x
        return call

    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    seconds = timing.interleaved_times([path(p) for p in range(3)], [1, 2, 3, 4, 5], rounds=2, warmup=0,
                                       progress=False, block=2)
    # each call's time lands at its own path, round and input
    np.testing.assert_array_equal(seconds, [[[1, 2, 3, 4, 5]] * 2, [[11, 12, 13, 14, 15]] * 2,
                                            [[21, 22, 23, 24, 25]] * 2])
    # blocks of two inputs, the last one alone; who opens a turn moves by one from turn to turn
    assert calls[:6] == [(0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 2)]
    assert [p for p, x in calls[6:12]] == [1, 1, 2, 2, 0, 0] and [x for p, x in calls[12:15]] == [5, 5, 5]
    assert [p for p, _ in calls[15:21]] == [0, 0, 1, 1, 2, 2]  # round 2 goes on from where round 1 stopped

    def longest_run(order):
        runs = [len(list(group)) for _, group in itertools.groupby(order)]
        return max(runs)

    # no path runs two turns in a row, so a turn's calls follow another path's, whatever the number of paths
    for n_paths in (2, 3, 4):
        calls.clear()
        timing.interleaved_times([path(p) for p in range(n_paths)], list(range(7)), rounds=3, warmup=0,
                                 progress=False, block=3)
        assert longest_run([p for p, _ in calls]) == 3
        calls.clear()
        timing.interleaved_times([path(p) for p in range(n_paths)], [1, 2], rounds=2, warmup=0, progress=False,
                                 block=5)  # a block longer than the inputs: one turn of both inputs per path
        assert longest_run([p for p, _ in calls]) == 2
    with pytest.raises(ValueError, match="block must be at least 1"):
        timing.interleaved_times([path(0)], [1], block=0, progress=False)


def test_the_bench_credits_each_input_with_its_median_over_the_rounds(tmp_path, bench_inputs, monkeypatch):
    from dact_core import bench

    folders, data = bench_inputs
    sizes = []  # (paths, inputs) of each timing: batch 1, then batch 32

    def fake_timer(paths, inputs, rounds, **kwargs):  # path p takes p + 1 seconds on every input...
        sizes.append((len(paths), len(inputs)))
        seconds = np.ones((len(paths), rounds, len(inputs))) * (np.arange(len(paths)) + 1.0)[:, None, None]
        seconds[0, 1, 0] = 1000.0  # ...but the reference stalled once
        return seconds

    monkeypatch.setattr(bench, "interleaved_times", fake_timer)
    assert main(["bench", "--data", str(data), "--reference", str(folders["reference"]), "--dact",
                 str(folders["dact"]), "--output-dir", str(tmp_path / "out"), "--latency-examples", "5",
                 "--throughput-examples", "64"]) == 0
    table = pd.read_csv(tmp_path / "out" / "bench.csv").set_index("method")
    (_, singles), (_, batches) = sizes
    assert table.loc["DACT-BERT", "speedup_batch1"] == 0.5 and table.loc["DACT-BERT", "speedup_batch32"] == 0.5
    assert table.loc["reference", "latency_ms_batch1"] == 1000.0 and table.loc["DACT-BERT", "latency_ms_batch1"] == 2000.0
    # the 40 examples in length-sorted batches of 32 (two batches), each batch credited with its median
    assert singles == 5 and batches == 2
    assert table.loc["reference", "throughput_batch32"] == 40 / 2 and table.loc["DACT-BERT", "throughput_batch32"] == 40 / 4
    # the third path is the reference as eager PyTorch float32 (3 s an input): every point's speed-up against it
    assert sizes[0][0] == 3
    assert table.loc["reference", "speedup_batch1_vs_torch"] == 3.0
    assert table.loc["DACT-BERT", "speedup_batch1_vs_torch"] == 1.5
    assert table.loc["DACT-BERT", "speedup_batch32_vs_torch"] == 1.5


def test_a_stalled_call_does_not_enter_a_paths_total():
    from dact_core.timing import round_median

    seconds = np.array([[[1.0, 2.0], [1.1, 2.1], [0.9, 1.9]],  # path 0: three rounds of two inputs
                        [[0.5, 1.0], [9.0, 1.1], [0.6, 0.9]]])  # path 1: its first input stalled in round 2
    np.testing.assert_allclose(round_median(seconds), [[1.0, 2.0], [0.6, 1.0]])
    # the stall would have made path 1 look slower than path 0 in a total over the rounds
    assert seconds[1].sum() > seconds[0].sum() and round_median(seconds)[1].sum() < round_median(seconds)[0].sum()


def test_bench_refuses_a_timer_block_below_one(tmp_path, bench_inputs, capsys):
    folders, data = bench_inputs
    code = main(["bench", "--data", str(data), "--reference", str(folders["reference"]),
                 "--output-dir", str(tmp_path / "out"), "--timer-block", "0"])
    assert code == 2 and "--timer-block must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    code = main(["bench", "--data", str(data), "--reference", str(folders["reference"]),
                 "--output-dir", str(tmp_path / "out"), "--rounds", "0"])
    assert code == 2 and "--rounds must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    from dact_cli import build_parser

    default = build_parser().parse_args(["bench", "--data", "d", "--reference", "r", "--output-dir", "o"])
    assert default.timer_block == 10


def test_each_seed_is_compared_with_the_reference_of_its_own_seed(tmp_path, bench_inputs, tiny_tokenizer):
    folders, data = bench_inputs
    torch.manual_seed(1)  # a second reference and DACT-BERT model, seed 43, with other weights
    second = {"reference": BertForSequenceClassification(BertConfig.from_pretrained(folders["reference"])),
              "dact": tiny_model(4, num_labels=2, id2label={0: "negative", 1: "positive"},
                                 label2id={"negative": 0, "positive": 1})}
    for name, model in second.items():
        folders[f"{name}43"] = tmp_path / f"{name}43"
        model.save_pretrained(folders[f"{name}43"])
        tiny_tokenizer.save_pretrained(folders[f"{name}43"])
    for name, seed in (("reference", 42), ("dact", 42), ("reference43", 43), ("dact43", 43)):
        (folders[name] / "training_config.json").write_text(json.dumps({"train_config": {"seed": seed}}))
    out = tmp_path / "bench-seeds"
    assert main(["bench", "--data", str(data), "--reference", str(folders["reference"]), str(folders["reference43"]),
                 "--dact", str(folders["dact"]), str(folders["dact43"]), "--output-dir", str(out),
                 "--latency-examples", "3", "--throughput-examples", "32"]) == 0
    table = pd.read_csv(out / "bench.csv")
    by_source = table.set_index("source")
    accuracy = by_source.accuracy
    for dact, reference in (("dact", "reference"), ("dact43", "reference43")):
        row = by_source.loc[str(folders[dact])]
        assert row.paired_reference == str(folders[reference])
        np.testing.assert_allclose(row.accuracy_diff, accuracy[str(folders[dact])] - accuracy[str(folders[reference])])
    # the references themselves stay compared with the first one: the spread between seeds shows
    assert by_source.loc[str(folders["reference43"])].paired_reference == str(folders["reference"])
    # each row records which weights it measured
    from dact_core.loading import weights_fingerprint
    for name in ("reference", "dact", "dact43"):
        assert by_source.loc[str(folders[name])].weights_sha256 == weights_fingerprint(folders[name])
    assert weights_fingerprint(folders["dact"]) != weights_fingerprint(folders["reference"])


def test_seeds_are_averaged_and_recipes_kept_apart():
    from dact_core.bench import seed_summary, table_markdown

    rows = [("reference", "full depth", "runs/ref", 42, 0.90),
            ("DACT-BERT", "tau=0.1", "runs/dact", 42, 0.88), ("DACT-BERT", "tau=0.1", "runs/dact-seed43", 43, 0.86),
            ("AdapLeR", "phi=0.002", "assets/adapler", 42, 0.87), ("AdapLeR", "phi=0.002", "runs/adapler-4ep", 42, 0.89)]
    table = pd.DataFrame([dict(method=m, setting=s, source=src, seed=seed, accuracy=acc, accuracy_diff=acc - 0.9,
                               accuracy_diff_low=acc - 0.91, accuracy_diff_high=acc - 0.89, avg_layers=6.0,
                               flops_ratio=1.0, speedup_batch1=1.0, efficiency_batch1=1.0, speedup_batch32=1.0,
                               latency_ms_batch1=1.0) for m, s, src, seed, acc in rows])
    summary = seed_summary(table).set_index("setting")
    assert summary.loc["tau=0.1", "seeds"] == 2 and summary.loc["tau=0.1", "accuracy"] == pytest.approx(0.87)
    # the mean of two intervals' ends is not an interval: left empty; one seed keeps its own
    assert np.isnan(summary.loc["tau=0.1", "accuracy_diff_low"]) and np.isnan(summary.loc["tau=0.1", "accuracy_diff_high"])
    assert summary.loc["full depth", "accuracy_diff_low"] == pytest.approx(-0.01)
    # two recipes of one setting and seed are two rows, named by their folders
    assert summary.loc["phi=0.002 (adapler)", "seeds"] == 1 and summary.loc["phi=0.002 (adapler-4ep)", "accuracy"] == 0.89
    markdown = table_markdown(seed_summary(table))
    assert "(2 seeds)" in markdown and "(adapler-4ep)" in markdown and "3 seeds" not in markdown
    # two references of one seed in folders of one name; a model without a seed beside a seeded one
    more = pd.concat([table, table.iloc[[0]].assign(source="runs/dact/ref"),
                      table.iloc[[4]].assign(source="runs/adapler-noseed", seed=np.nan)], ignore_index=True)
    summary = seed_summary(more).set_index("setting")
    assert {"full depth (runs/ref)", "full depth (dact/ref)"} <= set(summary.index)
    assert summary.loc["phi=0.002 (adapler-noseed)", "seeds"] == 1
    # a model without a seed beside one seeded model of the same setting: two recipes, not two seeds
    pair = seed_summary(table.iloc[[0, 3, 4]].assign(seed=[42, np.nan, 42])).set_index("setting")
    assert list(pair["seeds"]) == [1, 1, 1] and "phi=0.002 (adapler-4ep)" in pair.index


def _bench_folder(folder, rows, num_examples=872, timer_block=None, timer_statistic=None):
    """A bench folder as `dact bench` writes it, with the columns the merge reads; each row's difference is taken
    against `paired` (a reference folder)."""
    folder.mkdir()
    pd.DataFrame([dict(method=m, setting=s, source=src, seed=seed, accuracy=acc, accuracy_diff=diff,
                       accuracy_diff_low=diff - 0.01, accuracy_diff_high=diff + 0.01, paired_reference=paired,
                       avg_layers=layers, speedup_batch1=speed, efficiency_batch1=0.9, speedup_batch32=1.5,
                       weights_sha256=sha)
                  for m, s, src, seed, acc, diff, paired, layers, speed, sha in rows]).to_csv(folder / "bench.csv",
                                                                                          index=False)
    settings = {"data": "dev.tsv", "split": None, "max_rows": None, "num_examples": num_examples, "device": "cpu",
                "quantize": None, "threads": 2, "timer": "interleaved"}
    if timer_block is not None:  # benches before timer blocks did not record it
        settings["timer_block"] = timer_block
    if timer_statistic is not None:  # nor those before the round median their statistic
        settings["timer_statistic"] = timer_statistic
    (folder / "bench.json").write_text(json.dumps({"settings": settings}))
    return folder


def test_benches_of_different_seeds_merge_into_one_table(tmp_path):
    from dact_core.bench import merge_benches, seeds_markdown

    two = _bench_folder(tmp_path / "seeds", [
        ("reference", "full depth", "runs/ref42", 42, 0.90, 0.0, "runs/ref42", 6.0, 1.0, "a"),
        ("reference", "full depth", "runs/ref43", 43, 0.88, -0.02, "runs/ref42", 6.0, 1.0, "b"),  # another seed's
        ("DACT-BERT", "tau=0.07", "runs/dact42", 42, 0.89, -0.01, "runs/ref42", 2.8, 1.9, "c"),
        ("DACT-BERT", "tau=0.07", "runs/dact43", 43, 0.90, 0.02, "runs/ref43", 2.9, 1.8, "d"),
        ("PABEE", "t=2", "runs/pabee45", 45, 0.87, -0.03, "runs/ref42", 3.2, 1.8, "h")])  # seed 45 has no reference
    one = _bench_folder(tmp_path / "seed44", [
        ("reference", "full depth", "runs/ref44", 44, 0.91, 0.0, "runs/ref44", 6.0, 1.0, "e"),
        ("DACT-BERT", "tau=0.07", "runs/dact44", 44, 0.88, -0.03, "runs/ref44", 3.0, 2.0, "f")])
    merged = merge_benches([two, one])
    assert len(merged) == 7 and set(merged["bench"]) == {"seeds", "seed44"}
    # kept only against the reference of the model's own seed
    assert merged.loc[merged["method"] != "DACT-BERT", "accuracy_diff"].isna().all()
    assert merged.loc[merged["method"] == "DACT-BERT", "accuracy_diff"].notna().all()
    rows = {line.split(" | ")[0].strip("| "): line for line in seeds_markdown(merged).splitlines()[2:]}
    assert rows["DACT-BERT"] == ("| DACT-BERT | tau=0.07 | 89.00 (-1.00 [-2.00, +0.00]) | 90.00 (+2.00 [+1.00, +3.00]) "
                                 "| 88.00 (-3.00 [-4.00, -2.00]) | - | 89.00 ± 1.00 (3) | -0.67 (3) | 2.90 "
                                 "| 1.80 to 2.00 | 90% | 1.50 |")
    assert rows["reference"] == ("| reference | full depth | 90.00 | 88.00 | 91.00 | - | 89.67 ± 1.53 (3) | - | 6.00 "
                                 "| 1.00 | - | 1.50 |")
    # one folder twice, one model in two benches, a seed in two benches, benches of other examples, an older
    # bench: each refused with a one-line reason
    with pytest.raises(ValueError, match="given once"):
        merge_benches([one, one])
    again = _bench_folder(tmp_path / "again", [("reference", "full depth", "x", 46, 0.9, 0.0, "x", 6.0, 1.0, "e")])
    with pytest.raises(ValueError, match="same model is in several benches"):
        merge_benches([one, again])
    retrained = _bench_folder(tmp_path / "retrained", [
        ("reference", "full depth", "runs/ref44b", 44, 0.9, 0.0, "runs/ref44b", 6.0, 1.0, "g")])
    with pytest.raises(ValueError, match="one method, setting and seed in several models"):
        merge_benches([one, retrained])
    other = _bench_folder(tmp_path / "other", [("reference", "full depth", "y", 1, 0.5, 0.0, "y", 6.0, 1.0, "i")],
                          num_examples=100)
    with pytest.raises(ValueError, match="not measured alike \\(num_examples differ\\)"):
        merge_benches([one, other])
    # a bench timed in blocks of inputs and one timed input by input (the benches before blocks, which did not
    # record it) were not timed alike; a bench that records block 1 was
    blocks = _bench_folder(tmp_path / "blocks", [("reference", "full depth", "w", 47, 0.9, 0.0, "w", 6.0, 1.0, "k")],
                           timer_block=10)
    with pytest.raises(ValueError, match="not measured alike \\(timer_block differ\\)"):
        merge_benches([one, blocks])
    by_input = _bench_folder(tmp_path / "by_input", [("reference", "full depth", "v", 48, 0.9, 0.0, "v", 6.0, 1.0, "l")],
                             timer_block=1)
    assert len(merge_benches([one, by_input])) == 3
    # the same for the round median against the earlier sum over rounds
    median = _bench_folder(tmp_path / "median", [("reference", "full depth", "u", 49, 0.9, 0.0, "u", 6.0, 1.0, "m")],
                           timer_statistic="median of rounds")
    with pytest.raises(ValueError, match="not measured alike \\(timer_statistic differ\\)"):
        merge_benches([one, median])
    summed = _bench_folder(tmp_path / "summed", [("reference", "full depth", "t", 50, 0.9, 0.0, "t", 6.0, 1.0, "n")],
                           timer_statistic="sum of rounds")
    assert len(merge_benches([one, summed])) == 3
    unseeded = _bench_folder(tmp_path / "unseeded", [("reference", "full depth", "z", None, 0.5, 0.0, "z", 6.0, 1.0, "j")])
    with pytest.raises(ValueError, match="without a recorded seed"):
        merge_benches([one, unseeded])
    with pytest.raises(ValueError, match="not a dact bench folder"):
        merge_benches([tmp_path])


def test_bench_on_onnx_runtime_without_a_trained_reference(tmp_path, bench_inputs, monkeypatch):
    monkeypatch.setenv("DACT_CACHE_DIR", str(tmp_path / "cache"))
    folders, data = bench_inputs
    out = tmp_path / "bench-onnx"
    code = main(["bench", "--data", str(data), "--dact", str(folders["dact"]), "--multi-exit", str(folders["multi"]),
                 "--output-dir", str(out), "--latency-examples", "4", "--throughput-examples", "32", "--threads", "1",
                 "--quantize", "int8", "--rounds", "1"])
    assert code == 0
    table = pd.read_csv(out / "bench.csv")
    summary = json.loads((out / "bench.json").read_text())
    assert summary["settings"]["runtime"] == "onnx"
    reference = table[table.method == "reference"].iloc[0]
    assert reference.setting == "same size, untrained head" and np.isnan(reference.accuracy)
    dact = table[table.method == "DACT-BERT"].iloc[0]
    assert np.isnan(dact.accuracy_diff)  # nothing trained to compare with
    dact8 = table[table.method == "DACT-BERT int8"].iloc[0]
    assert dact8.paired_reference == dact.source and np.isfinite(dact8.accuracy_diff)
    ref8 = table[table.method == "reference int8"].iloc[0]
    np.testing.assert_allclose(dact8.speedup_batch1, ref8.latency_ms_batch1 / dact8.latency_ms_batch1)
    np.testing.assert_allclose(dact.speedup_batch1, reference.latency_ms_batch1 / dact.latency_ms_batch1)
    assert np.isfinite(table.speedup_batch1_vs_torch).all()
    examples = pd.read_parquet(out / "examples.parquet")
    untrained = examples["method"].isin(["reference", "reference int8"])
    assert examples.loc[untrained, "correct"].isna().all() and examples.loc[~untrained, "correct"].notna().all()
    assert main(["bench", "--data", str(data), "--token-methods", str(folders["adapler"]), "--runtime", "onnx",
                 "--output-dir", str(tmp_path / "refused")]) == 2
