"""App wiring with Streamlit's AppTest, on a tiny model (DACT_MODEL points the app at it)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app" / "main.py")


@pytest.fixture
def app(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("DACT_MODEL", str(tiny_model_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def test_inspect_page_default_example(app):
    assert app.title[0].value == "Inspect one input"
    labels = [m.label for m in app.metric]
    assert {"Prediction", "Exit layer", "Full-depth answer", "Halted == full depth"} <= set(labels)
    assert {m.label: m.value for m in app.metric}["Halted == full depth"] == "yes"
    assert app.slider(key="inspect_upto").value == 4


def test_inspect_empty_text_relaxation_and_attributions(app):
    app.text_area(key="inspect_text").set_value("   ").run()
    assert not app.exception
    assert any("Type a sentence" in i.value for i in app.info)
    app.text_area(key="inspect_text").set_value("the plot was dull but the actors were great").run()
    app.slider(key="inspect_relax").set_value(0.5).run()
    assert not app.exception
    assert any("guarantee no longer holds" in w.value for w in app.warning)
    app.toggle(key="ig_on").set_value(True).run()
    assert not app.exception
    assert any("Final answer" in m.value for m in app.markdown)


def test_inspect_long_text_is_truncated_with_a_notice(app):
    app.text_area(key="inspect_text").set_value(" ".join(["great film"] * 100)).run()
    assert not app.exception
    assert any("only the first" in w.value for w in app.warning)


def test_curated_example_selection(app):
    choice = app.selectbox(key="inspect_example").options[5]
    app.selectbox(key="inspect_example").set_value(choice).run()
    assert app.text_area(key="inspect_text").value == choice.split(": ", 1)[1]


def test_dataset_page_demo_set(app):
    app.switch_page("views/dataset.py").run()
    app.radio(key="ds_source").set_value("Curated sentences").run()
    assert not app.exception
    labels = {m.label: m.value for m in app.metric}
    assert labels["Halted == full depth"].startswith(labels["Examples"])
    assert len(app.get("download_button")) >= 2


def test_dataset_page_hub_error_is_a_message(app, monkeypatch):
    monkeypatch.setenv("DACT_ALLOW_HUB", "1")
    app.switch_page("views/dataset.py").run()
    app.radio(key="ds_source").set_value("Hub data set").run()
    app.text_input(key="ds_hub_name").set_value("glue/sst2").run()
    app.button(key="ds_hub_load").click().run()
    assert not app.exception
    assert any("could not load hub data set" in e.value for e in app.error)


def _compare_page(tiny_model_dir, monkeypatch, results_dir) -> AppTest:
    """The Compare page on the tiny model, over the results in `results_dir`."""
    monkeypatch.setenv("DACT_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("DACT_RESULTS_DIR", str(results_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("views/compare.py").run()
    assert not at.exception
    return at


def test_compare_page_offers_bench_runs_by_title(tiny_model_dir, monkeypatch, tmp_path):
    import json

    (tmp_path / "bench-x").mkdir()
    (tmp_path / "stray.json").write_text("{}")  # not a bench run: not offered
    (tmp_path / "bench-x" / "bench.json").write_text(json.dumps({"title": "t", "targets": {"x": 1}, "points": [
        {"method": "reference", "setting": "full depth", "accuracy": 0.9, "avg_layers": 6, "speedup_batch1": 1,
         "speedup_batch32": 1, "flops_ratio": 1}]}))
    at = _compare_page(tiny_model_dir, monkeypatch, tmp_path)
    assert at.selectbox(key="cmp_results").options == ["t"]  # bench runs only, by their titles
    assert not at.exception and len(at.dataframe) == 1 and at.radio(key="cmp_axis").value == "avg_layers"
    at.radio(key="cmp_axis").set_value("speedup_batch1").run()
    assert not at.exception
    assert at.caption[0].value == ("t (timer not recorded: a median of per-example times, paths timed one after the "
                                   "other)")
    assert not at.subheader  # no targets, and no sentence where there is only the reference


def test_compare_page_opens_on_the_indexed_result_with_its_findings_in_words(tiny_model_dir, monkeypatch, tmp_path):
    import json

    def bench(title, diff, low, high):
        return {"title": title, "settings": {"runtime": "onnx", "device": "cpu"}, "points": [
            {"method": "reference", "setting": "full depth", "accuracy": 0.9, "avg_layers": 6, "flops_ratio": 1,
             "speedup_batch1": 1, "speedup_batch32": 1},
            {"method": "DACT-BERT", "setting": "tau=0.07", "accuracy": 0.9 + diff, "avg_layers": 2.5,
             "flops_ratio": 0.45, "speedup_batch1": 1.8, "speedup_batch32": 1.6, "accuracy_diff": diff,
             "accuracy_diff_low": low, "accuracy_diff_high": high},
            {"method": "DeeBERT", "setting": "S=0.3", "accuracy": 0.908, "avg_layers": 3.0, "flops_ratio": 0.5,
             "speedup_batch1": 1.7, "speedup_batch32": 1.5, "accuracy_diff": 0.008, "accuracy_diff_low": 0.002,
             "accuracy_diff_high": 0.014}]}

    runs = {"bench-a": bench("Run A", -0.014, -0.03, 0.002), "bench-b": bench("Run B", -0.01, -0.02, -0.004)}
    for name, record in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "bench.json").write_text(json.dumps(record))
    (tmp_path / "index.json").write_text(json.dumps(["bench-b", "bench-a"]))
    from test_report import _correct, _examples, _layers

    _examples([("reference", "full depth", None, [6] * 400, 6.0, _correct(0.9)),  # bench-b's examples, not bench-a's
               ("DACT-BERT", "tau=0.07", None, _layers(2.5), 2.5, _correct(0.89)),
               ("DeeBERT", "S=0.3", None, _layers(3.0), 3.0, _correct(0.95))]).to_parquet(
        tmp_path / "bench-b" / "examples.parquet")
    at = _compare_page(tiny_model_dir, monkeypatch, tmp_path)
    box = at.selectbox(key="cmp_results")
    assert box.options == ["Run B", "Run A"] and box.value == "bench-b"  # the index's order; index.json is no result
    text = [m.value for m in at.markdown]
    assert any("less accurate than the reference" in t and t.startswith("**DACT") for t in text), text
    assert any("DeeBERT at S=0.3" in t and "0.8 points more accurate than the reference" in t for t in text), text
    assert any(t.startswith("At matched compute:") and "against DeeBERT at S=0.3 (3.00 layers): DACT-BERT is 6.0 "
               "points less accurate" in t and "over the full-depth model: 1.80x and 1.70x." in t for t in text), text
    assert at.expander[0].label == "Every point against the reference, in words (1)"  # DeeBERT's claim, folded
    box.set_value("bench-a").run()
    text = [m.value for m in at.markdown]
    assert any("no difference shown" in t for t in text) and not any("less accurate" in t for t in text), text
    assert not any("matched compute" in t for t in text)  # no per-example results: nothing said
    monkeypatch.setenv("DACT_RESULTS_DEFAULT", "bench-a")  # names the result to open on, over the index
    assert _compare_page(tiny_model_dir, monkeypatch, tmp_path).selectbox(key="cmp_results").value == "bench-a"


def test_about_page(app):
    app.switch_page("views/about.py").run()
    assert not app.exception
    assert len(app.get("graphviz_chart")) == 1


def _upload(app, name, content):
    app.switch_page("views/dataset.py").run()
    app.radio(key="ds_source").set_value("Upload a CSV/TSV file").run()
    app.file_uploader(key="ds_upload").set_value((name, content, "text/csv")).run()
    assert not app.exception


def test_dataset_upload_with_columns_chosen(app):
    rows = "".join(f"{i},{'great fun' if i % 2 else 'dull mess'} number {i},{'positive' if i % 2 else 'negative'}\n"
                   for i in range(30))
    _upload(app, "reviews.csv", ("id,review,sentiment\n" + rows).encode())
    assert "id" not in app.selectbox(key="ds_text_col").options  # an integer id is never offered as text
    assert app.selectbox(key="ds_text_col").value == "review"
    assert app.selectbox(key="ds_label_col").value == "sentiment"  # proposed, shown, not yet used
    assert not any(m.label == "Examples" for m in app.metric)
    app.button(key="ds_run").click().run()
    assert not app.exception
    labels = {m.label: m.value for m in app.metric}
    assert labels["Examples"] == "30" and labels["Halted == full depth"] == "30 / 30"
    assert "Accuracy" in labels


def test_dataset_upload_maps_string_labels(app):
    rows = "".join(f"{'great fun' if i % 2 else 'dull mess'};{'good' if i % 2 else 'bad'}\n" for i in range(12))
    _upload(app, "semi.csv", ("text;stars\n" + rows).encode())  # semicolons are detected
    app.selectbox(key="ds_label_col").set_value("stars").run()
    app.selectbox(key="ds_map_good").set_value("positive").run()
    app.selectbox(key="ds_map_bad").set_value("negative").run()
    app.button(key="ds_run").click().run()
    assert not app.exception and {m.label: m.value for m in app.metric}["Examples"] == "12"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("latin.csv", "text,label\ncaf\u00e9,positive\n".encode("latin-1"), "not valid UTF-8"),
        ("empty.csv", b"", "empty"),
        ("ragged.csv", b"text,label\nfine film,positive\nbad, awful film,negative,extra\n", "different numbers"),
        ("numbers.csv", b"a,b\n1,2\n3,4\n", "no text column"),
    ],
)
def test_dataset_upload_errors_are_messages(app, name, content, message):
    _upload(app, name, content)
    assert any(message in e.value for e in app.error), [e.value for e in app.error]


def test_dataset_free_text_label_column_is_refused(app):
    rows = "".join(f"film number {i},review text {i} is long\n" for i in range(60))
    _upload(app, "two-texts.csv", ("title,body\n" + rows).encode())
    app.selectbox(key="ds_label_col").set_value("title" if app.selectbox(key="ds_text_col").value == "body"
                                                else "body").run()
    assert any("holds text, not labels" in e.value for e in app.error)


def test_dataset_bound_change_does_not_call_the_model(app, monkeypatch):
    app.switch_page("views/dataset.py").run()
    app.radio(key="ds_source").set_value("Curated sentences").run()
    assert not app.exception
    import dact_core.evaluate as evaluate_module

    def no_model(*args, **kwargs):
        raise AssertionError("the model ran again")

    monkeypatch.setattr(evaluate_module, "evaluate", no_model)
    app.slider(key="ds_relax").set_value(0.3).run()
    app.radio(key="ds_bound").set_value("paper").run()
    assert not app.exception
    app.toggle(key="ds_differ").set_value(True).run()
    assert not app.exception


def test_dataset_hub_box_refuses_paths(app, monkeypatch, tmp_path):
    monkeypatch.setenv("DACT_ALLOW_HUB", "1")
    monkeypatch.setenv("DACT_SERVER_PATHS", str(tmp_path))  # a path is refused even where paths are allowed
    app.switch_page("views/dataset.py").run()
    app.radio(key="ds_source").set_value("Hub data set").run()
    app.text_input(key="ds_hub_name").set_value("/etc/passwd.csv").run()
    app.button(key="ds_hub_load").click().run()
    assert any("not a hub name" in e.value for e in app.error)


def test_dataset_upload_too_many_rows(app):
    _upload(app, "big.csv", b"text,label\n" + b"ok film,positive\n" * 20_001)
    assert any("at most 20,000" in e.value for e in app.error)


def test_inspect_page_token_method(tiny_model_dir, tiny_token_models_dir, monkeypatch):
    monkeypatch.setenv("DACT_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("DACT_MODELS_DIR", str(tiny_token_models_dir))
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    options = app.selectbox(key="inspect_model").options
    assert options[0].startswith("DACT_MODEL") and "token gates (gates)" in options and "AdapLeR (adapler)" in options
    app.selectbox(key="inspect_model").set_value("token gates (gates)").run()
    assert not app.exception
    labels = {m.label: m.value for m in app.metric}
    assert labels["Tokens at the last layer"].startswith("3 of")
    assert app.slider(key="inspect_token_layer").value == 4
    app.slider(key="inspect_token_layer").set_value(2).run()
    assert not app.exception and any("line-through" in h.proto.body for h in app.get("html"))
    # (escaping of user text in these HTML views is tested on the builders, test_charts.py: this tiny
    # tokenizer turns any markup into [UNK], so no markup could reach the page here)
    app.text_area(key="inspect_text").set_value("<script>alert(1)</script> bad plot").run()
    assert not app.exception and any("[UNK]" in h.proto.body for h in app.get("html"))


def test_switching_model_after_picking_an_example(tiny_model_dir, tiny_token_models_dir, monkeypatch):
    monkeypatch.setenv("DACT_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("DACT_MODELS_DIR", str(tiny_token_models_dir))
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    choice = app.selectbox(key="inspect_example").options[3]
    app.selectbox(key="inspect_example").set_value(choice).run()
    app.selectbox(key="inspect_model").set_value("AdapLeR (adapler)").run()
    assert not app.exception
    assert app.text_area(key="inspect_text").value == choice.split(": ", 1)[1]  # the text stays
    assert any(m.label == "Tokens at the last layer" for m in app.metric)


def test_inspect_page_int8(app):
    import models

    app.toggle(key="inspect_int8").set_value(True).run()
    assert not app.exception
    model = models.get_inspector(None, "int8").model
    assert model.runtime == "onnx" and model.quantization == "int8"  # the page ran the int8 engine
    labels = {m.label: m.value for m in app.metric}
    assert labels["Halted == full depth"] == "yes"  # against the int8 model's own full depth


def test_url_state_opens_the_text_and_layer(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("DACT_MODEL", str(tiny_model_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["text"] = "an utterly dull film"
    at.query_params["layer"] = "2"
    at.run()
    assert not at.exception
    assert at.text_area(key="inspect_text").value == "an utterly dull film"
    assert at.slider(key="inspect_upto").value == 2
    at.text_area(key="inspect_text").set_value("a great film").run()
    assert at.query_params["text"] in ("a great film", ["a great film"])
    at.switch_page("views/present.py").run()  # the text follows to the Present page
    assert not at.exception and at.text_area(key="present_text").value == "a great film"


def test_present_page_steps_past_the_exit(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("DACT_MODEL", str(tiny_model_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["layer"] = "1"
    at.run()
    at.switch_page("views/present.py").run()
    assert not at.exception
    assert next(m.value for m in at.metric if m.label == "Layer") == "1 of 4"
    for _ in range(3):
        at.button(key="present_next").click().run()
    assert next(m.value for m in at.metric if m.label == "Layer") == "4 of 4"
    assert at.button(key="present_next").disabled
    assert at.query_params["layer"] in ("4", ["4"])


def test_two_inputs_side_by_side_and_no_stray_output(app):
    app.text_input(key="inspect_other").set_value("bad").run()
    assert not app.exception
    assert sum(m.label == "Exit layer" for m in app.metric) == 3  # the main input and the two compared
    for page in ("views/inspect.py", "views/present.py", "views/dataset.py", "views/compare.py", "views/about.py"):
        app.switch_page(page).run()
        assert not app.exception
        assert not any(getattr(e, "value", None) is None and e.type == "json" for e in app.main)


def test_dataset_opens_traces_of_dact_eval_without_the_model(app, tmp_path, tiny_model_dir):
    from dact_core.cli import main

    data = tmp_path / "d.tsv"
    data.write_text("sentence\tlabel\n" + "".join(f"the film was {w}\t{i % 2}\n" for i, w in
                                                   enumerate(["good", "bad", "dull", "great"] * 6)))
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(data), "--output-dir", str(tmp_path / "ev")]) == 0
    app.switch_page("views/dataset.py").run()
    app.radio(key="ds_source").set_value("Traces of dact eval").run()
    assert app.text_input(key="ds_traces_path").disabled  # no server paths unless the app allows them
    raw = (tmp_path / "ev" / "traces.parquet").read_bytes()
    app.file_uploader(key="ds_traces").set_value(("traces.parquet", raw, "application/octet-stream")).run()
    assert not app.exception
    labels = {m.label: m.value for m in app.metric}
    assert labels["Examples"] == "24" and labels["Halted == full depth"] == "24 / 24"
    app.slider(key="ds_relax").set_value(0.2).run()
    assert not app.exception


def test_the_shipped_point_is_found_by_the_measured_weights_not_by_its_setting_or_folder(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(APP).parent))
    import sources
    from dact_core.loading import DEFAULT_MODEL_DIR, weights_fingerprint

    def bench(**dact):
        return {"title": "SST-2 dev", "models": [{"method": "reference", "setting": "full depth", "source": "runs/ref"},
                                                 {"method": "DACT-BERT", "setting": "tau=0.07", **dact}]}

    shipped = weights_fingerprint(DEFAULT_MODEL_DIR)
    assert len(shipped) == 64
    assert sources.shipped_point(bench(source="runs/sst2/dact", weights_sha256=shipped)) == ("DACT-BERT", "tau=0.07")
    # the shipped folder, measured when it held other weights (or with no fingerprint recorded): not the shipped model
    assert sources.shipped_point(bench(source="assets/models/dact-sst2", weights_sha256="0" * 64)) is None
    assert sources.shipped_point(bench(source="assets/models/dact-sst2")) is None


def test_inspect_headline_follows_the_layer_slider(app):
    app.slider(key="inspect_upto").set_value(1).run()
    assert not app.exception
    assert any(m.label == "Answer at layer 1 (a_1)" for m in app.metric)


def test_inspect_warns_when_the_text_is_mostly_unknown_word_pieces(app):
    app.text_area(key="inspect_text").set_value("这部电影一点也不差").run()
    assert not app.exception
    assert any("unknown to the model's vocabulary" in w.value for w in app.warning)
    app.text_area(key="inspect_text").set_value("the plot was dull but the actors were great").run()
    assert not any("unknown to the model's vocabulary" in w.value for w in app.warning)


def test_dataset_results_are_shared_by_sessions(tiny_model_dir, monkeypatch):
    import dact_core.evaluate

    monkeypatch.setenv("DACT_MODEL", str(tiny_model_dir))
    calls = []
    real = dact_core.evaluate.evaluate
    monkeypatch.setattr(dact_core.evaluate, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    for _ in range(2):  # two visitors (or a reload): a new session each
        at = AppTest.from_file(APP, default_timeout=120)
        at.switch_page("views/dataset.py").run()
        assert not at.exception
        assert {m.label for m in at.metric} >= {"Examples", "Accuracy"}
    assert len(calls) == 1


def _eval_traces(tmp_path, model_dir, texts):
    import pandas as pd

    from dact_core.cli import main

    data = tmp_path / "d.tsv"
    data.write_text("sentence\tlabel\n" + "".join(f"{t}\t{i % 2}\n" for i, t in enumerate(texts)))
    assert main(["eval", "--model", str(model_dir), "--data", str(data), "--output-dir", str(tmp_path / "ev")]) == 0
    return pd.read_parquet(tmp_path / "ev" / "traces.parquet")


def _open_traces(app, name, raw):
    app.switch_page("views/dataset.py").run()
    app.radio(key="ds_source").set_value("Traces of dact eval").run()
    app.file_uploader(key="ds_traces").set_value((name, raw, "text/csv")).run()
    assert not app.exception, app.exception


def test_dataset_traces_without_token_counts_open(app, tmp_path, tiny_model_dir):
    traces = _eval_traces(tmp_path, tiny_model_dir, [f"the film was {w}" for w in ["good", "bad", "dull"] * 4])
    _open_traces(app, "traces.csv", traces.drop(columns=["num_tokens"]).to_csv(index=False).encode())
    assert {m.label: m.value for m in app.metric}["Examples"] == "12"


def test_dataset_says_how_many_rows_were_cut(app, tmp_path, tiny_model_dir):
    long = " ".join(["the film was good"] * 40)  # 160 word pieces: over the 128 the model reads
    traces = _eval_traces(tmp_path, tiny_model_dir, [long, "a dull film", long, "it was great"])
    assert traces.truncated.sum() == 2
    _open_traces(app, "traces.csv", traces.to_csv(index=False).encode())
    assert any("2 of 4 rows are longer than the model's input" in i.value for i in app.info)


def test_compare_table_reaches_the_browser_as_numbers(tiny_model_dir, monkeypatch, tmp_path):
    import json
    import logging

    (tmp_path / "bench-x").mkdir()
    (tmp_path / "bench-x" / "bench.json").write_text(json.dumps({"title": "t", "points": [  # a timing-only reference
        {"method": "reference", "setting": "same size", "accuracy": float("nan"), "avg_layers": 6,
         "speedup_batch1": 1, "speedup_batch32": 1, "flops_ratio": 1},
        {"method": "DACT-BERT", "setting": "tau=0.07", "accuracy": 0.88, "avg_layers": 2.9, "speedup_batch1": 1.7,
         "speedup_batch32": 1.6, "flops_ratio": 0.5}]}))
    monkeypatch.setenv("DACT_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("DACT_RESULTS_DIR", str(tmp_path))
    fallbacks = []
    handler = logging.Handler()
    handler.emit = lambda record: fallbacks.append(record.getMessage())
    logger = logging.getLogger("streamlit.dataframe_util")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        at.switch_page("views/compare.py").run()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert not at.exception and len(at.dataframe) == 1
    assert not [m for m in fallbacks if "Arrow table was unsuccessful" in m]


def test_dataset_hub_is_off_unless_the_app_was_started_with_it(app, monkeypatch):
    monkeypatch.delenv("DACT_ALLOW_HUB", raising=False)
    app.switch_page("views/dataset.py").run()
    app.radio(key="ds_source").set_value("Hub data set").run()
    assert not app.exception
    assert not [t for t in app.text_input if t.key == "ds_hub_name"]
    assert any("Hub data sets are off" in i.value for i in app.info)


def test_dataset_server_paths_stay_inside_the_named_folders(app, monkeypatch, tmp_path, tiny_model_dir):
    traces = _eval_traces(tmp_path, tiny_model_dir, [f"the film was {w}" for w in ["good", "bad", "dull"] * 4])
    (tmp_path / "allowed").mkdir()
    (tmp_path / "other").mkdir()
    traces.to_csv(tmp_path / "allowed" / "traces.csv", index=False)
    traces.to_csv(tmp_path / "other" / "traces.csv", index=False)
    monkeypatch.setenv("DACT_SERVER_PATHS", str(tmp_path / "allowed"))
    app.switch_page("views/dataset.py").run()
    app.radio(key="ds_source").set_value("Traces of dact eval").run()
    for where in (tmp_path / "other" / "traces.csv", tmp_path / "allowed" / ".." / "other" / "traces.csv"):
        app.text_input(key="ds_traces_path").set_value(str(where)).run()
        assert not app.exception
        assert any("not inside the folders this app may read" in e.value for e in app.error)
    app.text_input(key="ds_traces_path").set_value(str(tmp_path / "allowed" / "traces.csv")).run()
    assert not app.exception and {m.label: m.value for m in app.metric}["Examples"] == "12"
