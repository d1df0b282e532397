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
