"""`dact export`: compact checkpoints (float16, word embeddings read back from the backbone)."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import random_batch
from dact_core.loading import SHARED_WEIGHTS_FILE, CheckpointError, load_model
from dact_core.cli import main

KEY = "bert.embeddings.word_embeddings.weight"


def test_export_round_trip_and_size(tiny_token_models_dir, tmp_path, capsys):
    raw, compact = tmp_path / "raw-gates", tiny_token_models_dir / "gates"
    assert KEY not in load_file(compact / "model.safetensors")
    assert KEY in json.loads((compact / SHARED_WEIGHTS_FILE).read_text())["tensors"]
    assert (compact / "model.safetensors").stat().st_size < 0.6 * (raw / "model.safetensors").stat().st_size
    original, _ = load_model(str(raw))
    loaded, _ = load_model(str(compact))
    assert torch.equal(loaded.state_dict()[KEY], original.state_dict()[KEY])
    ids, mask = random_batch(0, 5)
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids, mask, halt_early=True).logits,
                                   original(ids, mask, halt_early=True).logits, rtol=1e-2, atol=1e-2)
    assert main(["export", "--model", str(raw), "--output-dir", str(tmp_path / "again"), "--float32"]) == 0
    assert "read from the backbone at load time: " + KEY in capsys.readouterr().out


def test_compact_checkpoint_refuses_a_different_backbone(tiny_token_models_dir, tiny_backbone):
    weights = load_file(tiny_backbone / "model.safetensors")
    name = next(k for k in weights if k.endswith("word_embeddings.weight"))
    weights[name] = weights[name] + 1e-3
    save_file(weights, tiny_backbone / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="differs from the one this model was trained with"):
        load_model(str(tiny_token_models_dir / "adapler"))


def test_compact_checkpoint_with_missing_weights_is_refused(tiny_token_models_dir):
    folder = tiny_token_models_dir / "gates"
    weights = load_file(folder / "model.safetensors")
    del weights["classifier.weight"]
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="classifier.weight"):
        load_model(str(folder))
    (folder / SHARED_WEIGHTS_FILE).write_text("{ not json")
    with pytest.raises(CheckpointError, match="could not read"):
        load_model(str(folder))


def test_export_never_deletes_what_it_did_not_write(tiny_token_models_dir, tmp_path, capsys):
    raw = tmp_path / "raw-gates"
    before = sorted(p.name for p in raw.iterdir())
    # into the model folder itself: refused, with or without --overwrite, and nothing is touched
    for extra in ([], ["--overwrite"]):
        assert main(["export", "--model", str(raw), "--output-dir", str(raw), *extra]) == 2
        assert "is the model folder itself" in capsys.readouterr().err
    assert sorted(p.name for p in raw.iterdir()) == before
    # into a folder that holds other files: refused unless --overwrite, and then the other files stay
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    assert main(["export", "--model", str(raw), "--output-dir", str(busy)]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert main(["export", "--model", str(raw), "--output-dir", str(busy), "--overwrite"]) == 0
    assert (busy / "notes.txt").read_text() == "keep me" and (busy / "model.safetensors").exists()
    load_model(str(busy))


def test_eval_and_train_refuse_an_output_folder_with_files(tiny_model_dir, tmp_path, capsys):
    data = tmp_path / "d.tsv"
    data.write_text("sentence\tlabel\nthe film was good\t1\nthe film was bad\t0\n")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "metrics.json").write_text("{}")
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(data), "--output-dir", str(busy)]) == 2
    assert "already holds files" in capsys.readouterr().err and (busy / "metrics.json").read_text() == "{}"
    assert main(["train", "--data", str(data), "--output-dir", str(busy)]) == 2
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(data), "--output-dir", str(busy),
                 "--overwrite"]) == 0


# --- the model card (README.md) ---------------------------------------------------------------------------------

def _front_matter(card_path):
    import yaml

    text = card_path.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


@pytest.fixture
def tiny_eval(tiny_model_dir, tmp_path):
    """A `dact eval` output folder of the tiny model on a few labelled rows."""
    data = tmp_path / "dev.tsv"
    data.write_text("sentence\tlabel\nthe film was good\t1\nthe film was bad\t0\na brilliant story\t1\n"
                    "a dull mess\t0\nloved the actors\t1\n")
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(data), "--runtime", "torch",
                 "--output-dir", str(out)]) == 0
    return out


def test_card_numbers_come_from_the_evaluation(tiny_model_dir, tiny_eval, tmp_path, capsys):
    from huggingface_hub import ModelCard

    metrics = json.loads((tiny_eval / "metrics.json").read_text())
    # dact eval records the data file, the model and the command that made its numbers
    assert metrics["source"].endswith("dev.tsv") and metrics["model"] == str(tiny_model_dir)
    assert metrics["command"].startswith(f"dact eval --model {tiny_model_dir} --data ")
    (tiny_model_dir / "training_config.json").write_text(json.dumps(
        {"train_config": {"backbone": None, "data": "glue/sst2"},
         "command": "dact train --data glue/sst2 --output-dir x"}))
    out = tmp_path / "exported"
    assert main(["export", "--model", str(tiny_model_dir), "--output-dir", str(out), "--eval-dir", str(tiny_eval)]) == 0
    assert "1 evaluation(s) attached" in capsys.readouterr().out
    card = ModelCard.load(out / "README.md")
    front = _front_matter(out / "README.md")
    assert front["library_name"] == "transformers" and front["pipeline_tag"] == "text-classification"
    assert {"dact-bert", "early-exit", "adaptive-computation"} <= set(front["tags"]) and front["license"]
    assert front["base_model"] == "sentence-transformers/all-MiniLM-L6-v2" and front["datasets"] == ["nyu-mll/glue"]
    values = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert values["accuracy"] == metrics["accuracy"] and values["avg_layers"] == metrics["avg_layers"]
    assert values["halted_equals_full_depth"] == metrics["agree_with_full_depth"] / metrics["num_examples"] == 1.0
    assert front["model-index"][0]["results"][0]["metrics"][0]["value"] == metrics["accuracy"]
    # the body's table is made from the same metrics, with the command that measured them and the training command
    row = f"| {metrics['num_examples']} | {100 * metrics['accuracy']:.2f} | {metrics['avg_layers']:.2f} of 4"
    assert row in card.text
    assert metrics["command"] in card.text and "dact train --data glue/sst2 --output-dir x" in card.text
    assert f"dact export --model {tiny_model_dir} --output-dir {out} --eval-dir {tiny_eval}" in card.text
    assert "0 negative, 1 positive" in card.text and "load_model(" in card.text


def test_card_without_evaluation_states_no_numbers(tiny_model_dir, tmp_path, capsys):
    from huggingface_hub import ModelCard

    out = tmp_path / "exported"
    assert main(["export", "--model", str(tiny_model_dir), "--output-dir", str(out)]) == 0
    assert "no evaluation attached" in capsys.readouterr().out
    card = ModelCard.load(out / "README.md")
    assert "model-index" not in _front_matter(out / "README.md") and not card.data.eval_results
    assert "No evaluation is attached" in card.text and "accuracy (%)" not in card.text
    assert "No training record" in card.text and "base_model" not in _front_matter(out / "README.md")


def test_card_refuses_bad_evaluations_and_writes_nothing(tiny_model_dir, tiny_eval, tmp_path, capsys):
    empty = tmp_path / "empty-eval"
    empty.mkdir()
    out = tmp_path / "exported"
    assert main(["export", "--model", str(tiny_model_dir), "--output-dir", str(out), "--eval-dir", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no metrics.json" in err and not out.exists()
    other = tmp_path / "other-eval"
    other.mkdir()
    metrics = json.loads((tiny_eval / "metrics.json").read_text())
    (other / "metrics.json").write_text(json.dumps({**metrics, "model_type": "adapler-bert"}))
    assert metrics["weights"]  # `dact eval` records which weights it evaluated
    retrained = tmp_path / "retrained-eval"
    retrained.mkdir()
    (retrained / "metrics.json").write_text(json.dumps({**metrics, "weights": "0" * 64, "model": "runs/elsewhere"}))
    quantized = tmp_path / "int8-eval"
    quantized.mkdir()
    (quantized / "metrics.json").write_text(json.dumps({**metrics, "quantization": "int8"}))
    before = (tiny_model_dir / "config.json").read_text()
    for bad in (empty, other, retrained, quantized):
        assert main(["export", "--model", str(tiny_model_dir), "--card-only", "--eval-dir", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "an evaluation of a adapler-bert model" in err
    assert "an evaluation of other weights (runs/elsewhere)" in err and "an evaluation of a int8 copy" in err
    assert not (tiny_model_dir / "README.md").exists() and (tiny_model_dir / "config.json").read_text() == before


def test_card_only_rewrites_the_card_in_place(tiny_model_dir, tiny_eval, capsys):
    from huggingface_hub import ModelCard

    weights = (tiny_model_dir / "model.safetensors").read_bytes()
    (tiny_model_dir / "README.md").write_text("an old card with an old number: 99.99\n")
    (tiny_model_dir / "NOTES.md").write_text("how it was chosen\n")
    assert main(["export", "--model", str(tiny_model_dir), "--card-only", "--eval-dir", str(tiny_eval)]) == 0
    card = ModelCard.load(tiny_model_dir / "README.md")
    accuracy = json.loads((tiny_eval / "metrics.json").read_text())["accuracy"]
    assert [r.metric_value for r in card.data.eval_results if r.metric_type == "accuracy"] == [accuracy]
    assert "99.99" not in card.text and "[NOTES.md](NOTES.md)" in card.text
    assert (tiny_model_dir / "model.safetensors").read_bytes() == weights
    assert main(["export", "--model", str(tiny_model_dir), "--card-only", "--output-dir", "x"]) == 2
    assert "drop --output-dir" in capsys.readouterr().err
    assert main(["export", "--model", str(tiny_model_dir)]) == 2
    assert "--output-dir is required" in capsys.readouterr().err
