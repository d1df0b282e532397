"""Loading tasks: formats, column detection, and clear errors for bad files."""

import json

import pandas as pd
import pytest

from dact_core.data import DataError, load_task


def write_tsv(path, rows, header=("sentence", "label")):
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def test_tsv_with_integer_labels_and_names(tmp_path):
    f = write_tsv(tmp_path / "d.tsv", [("good film", 1), ("bad film", 0), ("fine", 1)])
    task = load_task(str(f), label_names=["negative", "positive"])
    assert task.text_columns == ("sentence",)
    assert task.dataset["label"] == [1, 0, 1]
    assert task.id2label == {0: "negative", 1: "positive"}
    assert task.texts(1) == "bad film"


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet"])
def test_other_formats_and_string_labels(tmp_path, fmt):
    frame = pd.DataFrame({"text": ["stocks fell", "team won", "new chip"], "label": ["Business", "Sports", "Sci"]})
    path = tmp_path / f"d.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "json":
        path.write_text(json.dumps(frame.to_dict(orient="records")))
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)
    task = load_task(str(path))
    assert task.label_names == ["Business", "Sci", "Sports"]
    assert task.dataset["label"] == [0, 2, 1]


def test_sentence_pairs_are_detected(tmp_path):
    f = write_tsv(tmp_path / "p.tsv", [("a man", "a person", 1), ("x", "y", 0)], ("sentence1", "sentence2", "label"))
    task = load_task(str(f))
    assert task.text_columns == ("sentence1", "sentence2")
    assert task.texts(0) == ("a man", "a person")


def test_max_rows_and_given_columns(tmp_path):
    f = write_tsv(tmp_path / "d.tsv", [(f"row {i}", i % 2, "x") for i in range(10)], ("body", "y", "other"))
    task = load_task(str(f), text_columns="body", label_column="y", max_rows=4)
    assert len(task) == 4 and task.dataset["label"] == [0, 1, 0, 1]


@pytest.mark.parametrize(
    "content, kwargs, message",
    [
        ("", {}, "empty"),
        ("sentence\tlabel\n", {}, "no rows"),
        ("words\tlabel\nhello\t1\n", {}, "no text column"),
        ("sentence\tlabel\nhello\t1\n", {"text_columns": "review"}, "missing text column"),
        ("sentence\tstars\nhello\t1\n", {}, "no label column"),
        ("sentence\tstars\nhello\t1\n", {"label_column": "label"}, "missing label column"),
        ("sentence\tlabel\nhello\t7\n", {"label_names": ["negative", "positive"]}, "outside 0..1"),
        ("sentence\tlabel\nhello\tmaybe\n", {"label_names": ["negative", "positive"]}, "unexpected label"),
        ("sentence\tlabel\nhello\t1\n\t0\n", {}, "row 2 has an empty"),
        ("sentence\tlabel\nhello\tyes\nhi\tyes\n", {}, "at least 2 labels"),
    ],
)
def test_bad_files_get_specific_errors(tmp_path, content, kwargs, message):
    f = tmp_path / "bad.tsv"
    f.write_text(content)
    with pytest.raises(DataError, match=message):
        load_task(str(f), **kwargs)


def test_non_utf8_file(tmp_path):
    f = tmp_path / "latin.tsv"
    f.write_bytes("sentence\tlabel\ncaf\u00e9 cr\u00e8me\t1\nna\u00efve\t0\n".encode("latin-1"))
    with pytest.raises(DataError, match="UTF-8"):
        load_task(str(f))


def test_missing_file_and_unsupported_type(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_task(str(tmp_path / "nope.tsv"))
    odd = tmp_path / "data.xlsx"
    odd.write_text("x")
    with pytest.raises(DataError, match="unsupported file type"):
        load_task(str(odd))


def test_hub_name_offline_gives_a_clear_error():
    with pytest.raises(DataError, match="could not load hub data set 'glue/sst2'"):
        load_task("glue/sst2", split="validation")


def test_unlabelled_sets_and_no_label_choice():
    import pandas as pd

    from dact_core.data import task_from_pandas

    frame = pd.DataFrame({"sentence": ["a fine film", "a dull film"], "label": [-1, -1]})
    task = task_from_pandas(frame, "hub test split", "sentence", require_labels=False)
    assert "label" not in task.dataset.column_names  # -1 everywhere means "no labels"
    frame = pd.DataFrame({"text": ["a fine film", "a dull film"], "label": ["positive", "negative"]})
    chosen = task_from_pandas(frame, "upload", "text", None, ["negative", "positive"], require_labels=False,
                              detect_label=False)
    assert "label" not in chosen.dataset.column_names  # the user said: no labels
    detected = task_from_pandas(frame, "upload", "text", None, ["negative", "positive"], require_labels=False)
    assert detected.dataset["label"] == [1, 0]


def test_a_header_row_that_is_data_is_recognised():
    from dact_core.data import header_looks_like_data, propose_columns, read_table

    raw = b"Wow... Loved this place.\t1\nCrust is not good.\t0\nNot tasty at all.\t0\n"
    assert header_looks_like_data(read_table("x.tsv", raw))
    frame = read_table("x.tsv", raw, header=False)
    assert len(frame) == 3 and frame["column 1"][0] == "Wow... Loved this place."
    assert propose_columns(frame, ["negative", "positive"])[1:] == ("column 1", "column 2")
    assert not header_looks_like_data(read_table("y.csv", b"sentence,label,source\na film,0,web\na mess,1,web\n"))


def test_file_labels_match_model_labels_by_name():
    from dact_core.data import match_labels

    assert match_labels(["pos", "NEG", "Positive", "1", "meh", "9"], ["negative", "positive"]) == {
        "pos": "positive", "NEG": "negative", "Positive": "positive", "1": "positive", "meh": None, "9": None}
    assert match_labels(["sci", "world"], ["World", "Sports", "Business", "Sci/Tech"]) == {
        "sci": "Sci/Tech", "world": "World"}
