"""`dact report` and the findings in words, on small result folders written here (no model runs)."""

import json
from pathlib import Path

import pytest

from dact_core import report


def _point(method, setting, accuracy, layers, speed, diff=None, low=None, high=None, seeds=1, **extra):
    return {"method": method, "setting": setting, "accuracy": accuracy, "avg_layers": layers,
            "flops_ratio": layers / 6, "speedup_batch1": speed, "speedup_batch32": speed * 0.9,
            "accuracy_diff": diff, "accuracy_diff_low": low, "accuracy_diff_high": high, "seeds": seeds, **extra}


def _model(method, setting, source, seed, diff, low, high, paired, accuracy=0.9):
    return {"method": method, "setting": setting, "source": source, "seed": seed, "accuracy": accuracy,
            "accuracy_diff": diff, "accuracy_diff_low": low, "accuracy_diff_high": high, "paired_reference": paired}


TRAINED = {
    "title": "SST-2 dev: a trained reference",
    "command": "dact bench --data dev.tsv --reference runs/ref --dact runs/dact --multi-exit runs/multi --output-dir o",
    "settings": {"runtime": "onnx", "device": "cpu", "num_examples": 872, "threads": 2, "data": "dev.tsv"},
    "targets": {"dact_batch1_efficiency": {"status": "missed"}},  # older benches: never shown
    "points": [
        _point("reference", "full depth", 0.90, 6.0, 1.0, 0.0, 0.0, 0.0),
        _point("DACT-BERT", "tau=0.07", 0.886, 2.85, 1.70, -0.014, -0.030, 0.002),  # interval includes zero
        _point("DeeBERT", "S=0.3", 0.908, 3.0, 1.9, 0.008, 0.002, 0.014),  # excludes zero: DeeBERT ahead
        _point("PABEE", "t=1", 0.85, 2.1, 2.5, -0.05, -0.07, -0.03),  # excludes zero: the reference ahead
    ],
}

TIMING_ONLY = {
    "title": "SST-2 dev on ONNX Runtime", "settings": {"runtime": "onnx", "device": "cpu", "quantize": "int8"},
    "points": [
        _point("reference", "same size, untrained head", None, 6.0, 1.0, speedup_batch1_vs_torch=2.0),
        _point("DACT-BERT", "tau=0.07", 0.8888, 2.85, 1.70, speedup_batch1_vs_torch=3.4),
        _point("reference int8", "same size, untrained head", None, 6.0, 1.0, speedup_batch1_vs_torch=4.3),
        _point("DACT-BERT int8", "tau=0.07", 0.8888, 3.01, 1.40, 0.0, -0.0103, 0.0103, speedup_batch1_vs_torch=6.0),
    ],
    "models": [
        _model("reference", "same size, untrained head", "", None, None, None, None, "", accuracy=None),
        _model("DACT-BERT", "tau=0.07", "models/dact", None, None, None, None, "", accuracy=0.8888),
        _model("reference int8", "same size, untrained head", "", None, None, None, None, "", accuracy=None),
        _model("DACT-BERT int8", "tau=0.07", "models/dact", None, 0.0, -0.0103, 0.0103, "models/dact", 0.8888),
    ],
}


def _write(folder, record):
    folder.mkdir(parents=True)
    (folder / "bench.json").write_text(json.dumps(record))
    return folder


def test_a_difference_is_claimed_only_where_its_interval_excludes_zero():
    found = report.findings(report.bench_from_record("trained", TRAINED))
    assert found.headline == (
        "DACT-BERT at tau=0.07 runs 2.85 of 6 layers on average (48% of the full-depth FLOPs), 1.70x faster at batch "
        "size 1 than the full-depth reference on ONNX Runtime on the CPU; its accuracy differs from the reference by "
        "\u22121.4 points [\u22123.0, +0.2]: no difference shown.")
    assert found.claims == [
        "DeeBERT at S=0.3 (3.00 layers on average, 1.90x faster at batch size 1): 0.8 points more accurate than the "
        "reference [+0.2, +1.4].",
        "PABEE at t=1 (2.10 layers on average, 2.50x faster at batch size 1): 5.0 points less accurate than the "
        "reference [\u22127.0, \u22123.0]."]
    assert found.no_difference is None and found.not_compared is None


def test_a_point_whose_interval_includes_zero_is_no_difference_shown():
    record = {**TRAINED, "points": [TRAINED["points"][0], TRAINED["points"][2],
                                    _point("static", "k=3", 0.895, 3.0, 2.0, -0.005, -0.02, 0.01)]}
    found = report.findings(report.bench_from_record("b", record))
    assert found.headline.startswith("DeeBERT at S=0.3 runs")  # no DACT-BERT: the first other method
    assert found.claims == []
    assert found.no_difference == ("No difference in accuracy shown from the reference for static at k=3 (each "
                                   "interval includes zero).")


def test_an_unmeasured_accuracy_enters_no_sentence_and_reads_not_measured():
    bench = report.bench_from_record("onnx", TIMING_ONLY)
    found = report.findings(bench)
    assert found.headline == (
        "DACT-BERT at tau=0.07 runs 2.85 of 6 layers on average (48% of the full-depth FLOPs), 1.70x faster at batch "
        "size 1 than the same-size model at full depth on ONNX Runtime on the CPU (3.40x faster than that model in "
        "eager PyTorch float32); its accuracy, 88.9%, is not compared with a reference: the full-depth model here has "
        "an untrained head and is only timed.")
    # the int8 copy against its own float model, not against the reference
    assert found.no_difference == ("No difference in accuracy shown from the same model in float32 for DACT-BERT int8 "
                                   "at tau=0.07 (each interval includes zero).")
    assert not any("nan" in line.lower() for line in found.lines())
    rows = report.table_markdown(bench).splitlines()[2:]
    assert rows[0].startswith("| reference | same size, untrained head | not measured | not measured | 6.00 |")
    assert "| 88.88 | not compared |" in rows[1]
    assert "+0.00 \\[\u22121.03, +1.03\\] vs float32" in rows[3]
    assert rows[1].endswith("| 3.40 |")  # the speed-up against eager PyTorch, where the bench timed it
    assert "nan" not in report.table_markdown(bench).lower()


def test_several_seeds_are_claimed_only_where_every_seed_agrees():
    def record(highs):
        models = [_model("reference", "full depth", f"runs/ref{s}", s, 0.0, 0.0, 0.0, f"runs/ref{s}") for s in (42, 43)]
        models += [_model("DACT-BERT", "tau=0.1", f"runs/dact{s}", s, -0.01, -0.02, high, f"runs/ref{s}")
                   for s, high in zip((42, 43), highs)]
        return {"title": "seeds", "settings": {}, "models": models, "points": [
            _point("reference", "full depth", 0.9, 6.0, 1.0, seeds=2),
            # an older summary kept the mean of the seeds' interval ends: not an interval, never read
            _point("DACT-BERT", "tau=0.1", 0.89, 2.1, 2.5, -0.01, -0.02, -0.001, seeds=2)]}

    agree = report.findings(report.bench_from_record("a", record([-0.004, -0.003])))
    assert agree.headline.endswith(
        "it is 1.0 points less accurate than its own seed's reference on average over 2 seeds, and less accurate in "
        "each seed ([\u22122.0, \u22120.4], [\u22122.0, \u22120.3]).")
    assert "on PyTorch on the CPU" in agree.headline  # benches before --runtime ran on PyTorch
    split = report.findings(report.bench_from_record("b", record([-0.004, 0.003])))
    assert "no difference shown from its own seed's reference" in split.headline
    assert "less accurate" not in split.headline
    table = report.table_markdown(report.bench_from_record("b", record([-0.004, 0.003])))
    assert "\u22121.00 (mean of 2 seeds)" in table


def test_the_page_lists_each_folder_s_command_title_figures_and_plots(tmp_path):
    trained = _write(tmp_path / "results" / "bench-trained", TRAINED)
    (trained / "accuracy_vs_layers.html").write_text("<html></html>")
    onnx = _write(tmp_path / "results" / "bench-onnx", {**TIMING_ONLY, "title": "<b>ONNX</b> | run"})
    page = tmp_path / "docs" / "results.md"
    (tmp_path / "docs" / "results").mkdir(parents=True)
    (tmp_path / "docs" / "results" / "bench-gone-accuracy-vs-layers.png").write_bytes(b"old")
    command = "dact report results/bench-trained results/bench-onnx --output docs/results.md"
    figures = report.write_report([report.load_bench(trained), report.load_bench(onnx)], page, command=command)
    text = page.read_text()
    assert command in text
    assert "generated" in text
    assert TRAINED["command"] in text  # the command that wrote the folder
    assert "The command that produced it is not recorded" in text  # the folder that kept none
    assert "## SST-2 dev: a trained reference" in text
    assert "## &lt;b&gt;ONNX&lt;/b&gt; \\| run" in text and "<b>" not in text  # a title is text, not HTML
    assert "targets" not in text.lower() and "missed" not in text
    assert sorted(p.name for p in figures) == [
        "bench-onnx-accuracy-vs-layers.png", "bench-onnx-accuracy-vs-speedup-batch1.png",
        "bench-trained-accuracy-vs-layers.png", "bench-trained-accuracy-vs-speedup-batch1.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in figures)
    assert "(results/bench-trained-accuracy-vs-layers.png)" in text
    assert "(../results/bench-trained/accuracy_vs_layers.html)" in text  # the interactive plot, where there is one
    assert "bench-onnx/accuracy_vs_layers.html" not in text
    assert not (tmp_path / "docs" / "results" / "bench-gone-accuracy-vs-layers.png").exists()  # no stale figure
    assert "nan" not in text.lower()


def test_dact_report_command(tmp_path, capsys, monkeypatch):
    from dact_core.cli import main

    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "bench-trained", TRAINED)
    assert main(["report", "bench-trained", "--output", "docs/results.md"]) == 0
    text = (tmp_path / "docs" / "results.md").read_text()
    assert "dact report bench-trained --output docs/results.md" in text  # the page names the command that wrote it
    assert (tmp_path / "docs" / "results" / "bench-trained-accuracy-vs-layers.png").exists()
    (tmp_path / "empty").mkdir()
    capsys.readouterr()
    assert main(["report", "bench-trained", "empty", "--output", "docs/results.md"]) == 2
    err = capsys.readouterr().err
    assert err == "dact report: error: empty: no bench.json (not a folder that `dact bench` wrote)\n"
    assert main(["report", "bench-trained", "--output", "docs/results"]) == 2  # the figures' folder, not a page
    assert "give a Markdown file (.md)" in capsys.readouterr().err and not (tmp_path / "docs" / "results").is_file()


def test_the_results_order_and_the_result_opened_first(tmp_path):
    names = ["bench-z", "bench-b", "sweep"]
    assert report.read_index(tmp_path) == []
    (tmp_path / "index.json").write_text(json.dumps(["bench-b", "bench-missing", "bench-z"]))
    index = report.read_index(tmp_path)
    assert report.ordered_names(names, index) == ["bench-b", "bench-z", "sweep"]
    assert report.default_name(names, index) == "bench-b"
    assert report.default_name(names, index, "sweep") == "sweep"
    assert report.default_name(names, index, "nope") == "bench-b"
    assert report.default_name(names, []) == "bench-z"
    assert report.display_titles({"a": {"title": "Run"}, "b": {"title": "Run"}, "c": {}}) == {
        "a": "Run (a)", "b": "Run (b)", "c": "c"}
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(ValueError, match="index.json: not valid JSON"):
        report.read_index(tmp_path)


SHIPPED_RESULTS = Path(__file__).resolve().parents[1] / "assets" / "results"


@pytest.mark.parametrize("folder", report.read_index(SHIPPED_RESULTS))
def test_the_shipped_results_read_in_words(folder):
    """The canonical folders as committed (those assets/results/index.json lists): their findings are whole sentences
    with no NaN in them."""
    bench = report.load_bench(SHIPPED_RESULTS / folder)
    found = report.findings(bench)
    assert found.headline and found.headline.startswith("DACT-BERT at ")
    assert not any("nan" in line.lower() for line in found.lines())


def _examples(points, n=400):
    """examples.parquet's rows for (method, setting, seed, layers, flops per example, correct) points, in bench order."""
    import numpy as np
    import pandas as pd

    frames = []
    for i, (method, setting, seed, layers, gflops, correct) in enumerate(points):
        frames.append(pd.DataFrame({
            "point": np.full(n, i, dtype=np.int16), "method": method, "setting": setting, "source": f"runs/{method}",
            "seed": pd.array([seed] * n, dtype="Int32"), "example": np.arange(n, dtype=np.int32),
            "correct": pd.array(correct, dtype="boolean"), "exit_layer": np.asarray(layers, dtype=np.int8),
            "gflops": np.full(n, gflops, dtype=np.float32)}))
    return pd.concat(frames, ignore_index=True)


def _correct(share, n=400, shift=0):
    """n answers of which the first share * n are right (moved by `shift`, so that two sets differ on examples)."""
    import numpy as np

    return np.roll(np.arange(n) < round(share * n), shift)


def _layers(mean, n=400):
    """Exit layers whose mean is `mean` (two neighbouring integers)."""
    import numpy as np

    low = int(mean)
    return np.where(np.arange(n) < round((mean - low) * n), low + 1, low)


def test_the_point_at_matched_compute_is_the_closest_that_costs_no_more():
    import pandas as pd

    values = pd.Series({"a": 2.2, "b": 2.9, "c": 3.05, "d": 4.0})
    assert report.matched_point(3.0, values, 0.5) == "b"  # c is closer but runs more layers
    assert report.matched_point(2.95, values.drop("b"), 0.5) == "c"  # nothing cheaper within 0.5: the closest
    assert report.matched_point(1.0, values, 0.5) == "a"  # every point costs more: the closest of them
    assert report.matched_point(2.9, values, 0.5) == "b"  # the same compute counts as no more
    assert report.matched_point(0.5, pd.Series({"x": 0.38, "y": 0.52}), 0.1) == "y"  # 0.38 is 0.12 below: too far


def test_dact_bert_is_compared_with_each_method_at_matched_compute():
    ref = _correct(0.90)
    examples = _examples([
        ("reference", "full depth", 42, [6] * 400, 6.0, ref),
        ("DACT-BERT", "tau=0.07", 42, _layers(2.7), 2.7, _correct(0.88)),
        ("DeeBERT", "S=0.1", 42, _layers(4.5), 4.5, _correct(0.89)),
        ("DeeBERT", "S=0.3", 42, _layers(2.5), 2.5, _correct(0.80)),  # 8 points worse on the same examples
        ("DeeBERT", "S=0.5", 42, _layers(2.75), 2.75, _correct(0.95)),  # closer, but more layers
        ("PABEE", "t=2", 42, _layers(2.6), 2.6, _correct(0.97)),  # 9 points better
        ("static", "k=3", 42, [3] * 400, 3.0, _correct(0.88, shift=200)),  # as accurate, on other examples
        ("AdapLeR", "phi=0.01", 42, [6] * 400, 2.4, _correct(0.88, shift=7)),  # 40% of the FLOPs
        ("DeeBERT int8", "S=0.3", 42, _layers(2.7), 2.7, _correct(0.5)),  # an int8 copy: never matched
    ])
    pairs = report.matched_comparisons(examples)
    assert [(p.rival, p.verdict) for p in pairs] == [
        ("static at k=3", "none"), ("DeeBERT at S=0.3", "ahead"), ("PABEE at t=2", "behind"),
        ("AdapLeR at phi=0.01", "none")]
    deebert, pabee, adapler = pairs[1], pairs[2], pairs[3]
    assert deebert.diff == pytest.approx(0.08) and deebert.low > 0
    assert adapler.measure == "flops_ratio" and adapler.rival_compute == pytest.approx(0.4)
    sentences = report.matched_sentences(examples)
    assert sentences[1] == ("DACT-BERT at tau=0.07 (2.70 layers) against DeeBERT at S=0.3 (2.50 layers): DACT-BERT is "
                            f"8.0 points more accurate {report._interval(deebert.low, deebert.high)}.")
    assert sentences[2].startswith("DACT-BERT at tau=0.07 (2.70 layers) against PABEE at t=2 (2.60 layers): DACT-BERT "
                                   "is 9.0 points less accurate [\u2212")
    assert sentences[0].startswith("DACT-BERT at tau=0.07 (2.70 layers) against static at k=3 (3.00 layers): no "
                                   "difference in accuracy shown (+0.0 points [\u2212")
    assert sentences[3].startswith("DACT-BERT at tau=0.07 (45% of the FLOPs) against AdapLeR at phi=0.01 (40% of the "
                                   "FLOPs): no difference in accuracy shown")
    table = report.matched_table(pairs).splitlines()
    assert table[3].endswith("| DACT-BERT ahead |") and table[4].endswith("| PABEE ahead |")
    assert table[2].endswith("| no difference shown |")


def test_each_seed_is_matched_with_the_other_method_of_its_own_seed():
    examples = _examples([
        ("reference", "full depth", 42, [6] * 400, 6.0, _correct(0.9)),
        ("DACT-BERT", "tau=0.07", 42, _layers(3.0), 3.0, _correct(0.9)),
        ("DACT-BERT", "tau=0.07", 43, _layers(3.0), 3.0, _correct(0.7)),
        ("DeeBERT", "S=0.3", 42, _layers(3.0), 3.0, _correct(0.9)),
        ("DeeBERT", "S=0.3", 43, _layers(2.9), 2.9, _correct(0.7)),
    ])
    pairs = report.matched_comparisons(examples)
    assert [(p.dact, p.rival, p.diff) for p in pairs] == [
        ("DACT-BERT at tau=0.07 seed 42", "DeeBERT at S=0.3 seed 42", 0.0),
        ("DACT-BERT at tau=0.07 seed 43", "DeeBERT at S=0.3 seed 43", 0.0)]


def test_the_page_compares_at_matched_compute_only_where_examples_are_stored(tmp_path):
    stored = _write(tmp_path / "bench-stored", TRAINED)
    _examples([
        ("reference", "full depth", None, [6] * 400, 6.0, _correct(0.9)),
        ("DACT-BERT", "tau=0.07", None, _layers(2.85), 2.85, _correct(0.886)),
        ("DeeBERT", "S=0.3", None, _layers(3.0), 3.0, _correct(0.886, shift=100)),
        ("PABEE", "t=1", None, _layers(2.1), 2.1, _correct(0.85)),
    ]).to_parquet(stored / "examples.parquet")
    older = _write(tmp_path / "bench-older", {**TRAINED, "title": "older"})
    alone = _write(tmp_path / "bench-alone", {**TRAINED, "title": "alone", "points": TRAINED["points"][:2]})
    page = tmp_path / "results.md"
    report.write_report([report.load_bench(f) for f in (stored, older, alone)], page)
    text = page.read_text()
    stored_part, older_part = text.split("## older")
    assert "### At matched compute" in stored_part and report.NOT_STORED not in stored_part
    assert ("- DACT-BERT at tau=0.07 (2.85 layers) against DeeBERT at S=0.3 (3.00 layers): no difference in accuracy shown"
            in stored_part)  # no cheaper DeeBERT point: the closest
    assert "against PABEE at t=1 (2.10 layers): DACT-BERT is 3.5 points more accurate" in stored_part
    assert "| DACT-BERT point | its compute | matched point |" in stored_part
    older_part, alone_part = older_part.split("## alone")
    assert "### At matched compute" in older_part and report.NOT_STORED in older_part
    assert "At matched compute" not in alone_part  # only the reference beside DACT-BERT: nothing to pair
    assert "nan" not in text.lower()


def test_the_readme_block_shows_the_matched_points_and_keeps_the_rest(tmp_path, capsys, monkeypatch):
    from dact_core.cli import main

    monkeypatch.chdir(tmp_path)
    stored = _write(tmp_path / "bench-stored", {**TRAINED, "points": [
        *TRAINED["points"], _point("DeeBERT", "S=0.6", 0.85, 2.5, 2.3, -0.05, -0.07, -0.03)]})
    _examples([
        ("reference", "full depth", None, [6] * 400, 6.0, _correct(0.9)),
        ("DACT-BERT", "tau=0.07", None, _layers(2.85), 2.85, _correct(0.886)),
        ("DeeBERT", "S=0.3", None, _layers(3.0), 3.0, _correct(0.886, shift=100)),
        ("PABEE", "t=1", None, _layers(2.1), 2.1, _correct(0.85)),
        ("DeeBERT", "S=0.6", None, _layers(2.5), 2.5, _correct(0.85)),
    ]).to_parquet(stored / "examples.parquet")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Tool\n\n## Results\n\n{report.README_START}\nold\n{report.README_END}\n\n## Citation\n")
    assert main(["report", "bench-stored", "--output", "docs/results.md", "--readme", "README.md"]) == 0
    text = readme.read_text()
    assert text.startswith("# Tool\n\n## Results\n\n") and text.endswith(f"{report.README_END}\n\n## Citation\n")
    assert "\nold\n" not in text and "dact report bench-stored --output docs/results.md --readme README.md" in text
    block = text[text.index(report.README_START):text.index(report.README_END)]
    assert "| DeeBERT | S=0.6 |" in block  # matched to DACT-BERT's 2.85 layers: the closest that costs no more
    assert "| DeeBERT | S=0.3 |" not in block and "| PABEE | t=1 |" in block and "| reference | full depth |" in block
    _, low, high = report.paired_interval(_correct(0.886), _correct(0.85))
    interval = report.markdown_text(report._interval(low, high))
    assert (f"At matched compute, DACT-BERT at tau=0.07 (2.85 layers) against DeeBERT at S=0.6 (2.50 layers), "
            f"DACT-BERT ahead by 3.5 points {interval}") in block
    assert f"against PABEE at t=1 (2.10 layers), DACT-BERT ahead by 3.5 points {interval}." in block
    assert "| PABEE | t=1 | 85.00 |" in block and "| 2.50 |" in block  # the bench's timed speed-ups in the table
    legend = block[block.index("Setting:"):]
    assert "DACT-BERT, ponder penalty tau" in legend and "PABEE, patience t" in legend and "AdapLeR" not in legend
    readme.write_text("# Tool without the markers\n")
    capsys.readouterr()
    assert main(["report", "bench-stored", "--output", "docs/other.md", "--readme", "README.md"]) == 2
    assert "the README has no results block" in capsys.readouterr().err
    assert not (tmp_path / "docs" / "other.md").exists()  # nothing written


def test_the_short_table_keeps_the_quantized_copies_of_dact_bert_and_the_reference():
    """With per-example results stored, the README's table still shows the int8 points beside the float ones: the
    engine bench's one finding about precision is in them."""
    bench = report.load_bench(SHIPPED_RESULTS / "bench-sst2-onnx")
    assert bench.examples is not None
    shown = set(report.headline_points(bench)["method"])
    assert {"reference", "DACT-BERT", "reference int8", "DACT-BERT int8"} <= shown
