"""The ONNX Runtime engine on tiny random models: the guarantee on the engine, engine == torch, batch == single, rows
leaving the batch, int8, the multi-exit and plain models, the checked graph cache, loading and shipping."""

import json

import numpy as np
import pytest
import torch

from conftest import random_batch, tiny_config, tiny_model
from dact_core import onnx_runtime as engine

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("DACT_CACHE_DIR", str(folder))
    return folder / "onnx"


def _ort(model, quantization=None):
    return engine.from_torch(model, quantization, threads=1, progress=False)


def test_halted_equals_full_depth_on_the_engine():
    seen = set()
    for seed in range(8):
        ort = _ort(tiny_model(seed, num_labels=2 + seed % 2, num_layers=4))
        ids, mask = random_batch(seed, 16)
        for bound in ("tight", "paper"):
            full = ort(input_ids=ids, attention_mask=mask, halting_bound=bound)
            halted = ort(input_ids=ids, attention_mask=mask, halt_early=True, halting_bound=bound)
            assert torch.equal(halted.prediction, full.prediction)
            assert torch.equal(halted.exit_layer, full.exit_layer)  # read off the full trace: the same decision
            seen |= set(halted.exit_layer.tolist())
            for row, exit_layer in enumerate(halted.exit_layer.tolist()):  # the trace up to the exit, NaN after it
                assert torch.isnan(halted.layer_probs[row, exit_layer:]).all()
                assert torch.allclose(halted.acc_probs[row, :exit_layer], full.acc_probs[row, :exit_layer], atol=1e-6)
    assert seen == {1, 2, 3, 4}  # rows left the batch after every layer


def test_engine_equals_torch():
    model = tiny_model(2, num_labels=2, num_layers=4)
    ort = _ort(model)
    ids, mask = random_batch(3, 16)
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask)
        expected_halted = model(input_ids=ids, attention_mask=mask, halt_early=True)
    got = ort(input_ids=ids, attention_mask=mask)
    got_halted = ort(input_ids=ids, attention_mask=mask, halt_early=True)
    for name in ("layer_probs", "halting_probs", "acc_probs", "remaining_probs", "probs", "ponder_cost"):
        assert torch.allclose(getattr(got, name).double(), getattr(expected, name).double(), atol=1e-5), name
    assert torch.equal(got.prediction, expected.prediction)
    assert torch.equal(got_halted.exit_layer, expected_halted.exit_layer)
    assert torch.equal(got_halted.prediction, expected_halted.prediction)
    assert got.logits.dtype == expected.logits.dtype and got.probs.dtype == torch.float64


def test_batch_equals_single_on_the_engine():
    ort = _ort(tiny_model(4, num_labels=2, num_layers=4))
    ids, mask = random_batch(11, 10)
    batched = ort(input_ids=ids, attention_mask=mask, halt_early=True)
    for row in range(ids.shape[0]):
        length = int(mask[row].sum())
        single = ort(input_ids=ids[row:row + 1, :length], halt_early=True)
        assert int(single.exit_layer) == int(batched.exit_layer[row])
        assert int(single.prediction) == int(batched.prediction[row])
        assert np.allclose(single.probs.numpy(), batched.probs[row:row + 1].numpy(), atol=1e-6)


def test_int8_engine_halts_on_its_own_full_depth_answer():
    model = tiny_model(5, num_labels=3, num_layers=4)
    ort8 = _ort(model, "int8")
    assert ort8.quantization == "int8"
    ids, mask = random_batch(2, 12)
    for row in range(ids.shape[0]):  # one row at a time: dynamic int8 quantizes activations per tensor
        length = int(mask[row].sum())
        x = ids[row:row + 1, :length]
        assert torch.equal(ort8(input_ids=x, halt_early=True).prediction, ort8(input_ids=x).prediction)


def test_multi_exit_engine_equals_torch():
    from dact_core.models import MultiExitBertConfig, MultiExitBertForSequenceClassification

    torch.manual_seed(0)
    settings = {k: v for k, v in tiny_config(num_labels=3).to_dict().items()
                if k in MultiExitBertConfig.__dataclass_fields__ and k != "model_type"}
    model = MultiExitBertForSequenceClassification(MultiExitBertConfig(**settings)).eval()
    with torch.no_grad():
        for head in model.exits:
            head.weight.mul_(30)
    ort = _ort(model)
    ids, mask = random_batch(5, 20)
    for setting in ({"exit_rule": "entropy", "exit_threshold": 0.5}, {"exit_rule": "patience", "exit_patience": 1},
                    {"exit_rule": "static", "exit_layer": 2}):
        with torch.no_grad():
            expected = model(input_ids=ids, attention_mask=mask, halt_early=True, **setting)
        got = ort(input_ids=ids, attention_mask=mask, halt_early=True, **setting)
        assert torch.equal(got.exit_layer, expected.exit_layer), setting
        assert torch.equal(got.prediction, expected.prediction), setting
        assert torch.allclose(got.logits, expected.logits, atol=1e-5)


def test_plain_classifier_engine_equals_torch():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    settings = {k: v for k, v in tiny_config().to_dict().items()
                if k in BertConfig.__dataclass_fields__ and k != "model_type"}
    model = BertForSequenceClassification(BertConfig(**settings)).eval()
    ort = _ort(model)
    ids, mask = random_batch(1, 9)
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(ort(input_ids=ids, attention_mask=mask).logits, expected, atol=1e-5)


def test_graphs_are_cached_and_a_stale_set_is_rebuilt(cache_dir):
    model = tiny_model(6)
    _ort(model)
    folders = list(cache_dir.iterdir())
    assert len(folders) == 1 and (folders[0] / engine.MANIFEST).is_file()
    mtime = (folders[0] / "layer_1.onnx").stat().st_mtime_ns
    _ort(model)  # read from the cache
    assert (folders[0] / "layer_1.onnx").stat().st_mtime_ns == mtime
    with torch.no_grad():
        model.dact[0].halting.bias.add_(1.0)  # other weights: another key, another set
    ort = _ort(model)
    assert len(list(cache_dir.iterdir())) == 2
    ids, mask = random_batch(0, 6)
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask)
    assert torch.allclose(ort(input_ids=ids, attention_mask=mask).halting_probs, expected.halting_probs, atol=1e-5)


def test_a_tampered_graph_is_never_loaded(cache_dir, capsys):
    model = tiny_model(7)
    _ort(model)
    folder = next(cache_dir.iterdir())
    genuine = (folder / "layer_2.onnx").read_bytes()
    other = _ort(tiny_model(8))  # a valid graph of other weights, put in its place
    del other
    impostor = next(f for f in cache_dir.iterdir() if f != folder) / "layer_2.onnx"
    (folder / "layer_2.onnx").write_bytes(impostor.read_bytes())
    ort = _ort(model)
    assert "does not match its recorded sha256" in capsys.readouterr().err
    assert (folder / "layer_2.onnx").read_bytes() == genuine  # rebuilt from the weights
    ids, mask = random_batch(4, 6)
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask)
    assert torch.allclose(ort(input_ids=ids, attention_mask=mask).acc_probs, expected.acc_probs, atol=1e-5)


def test_load_model_runtimes(tiny_model_dir, tiny_token_models_dir):
    from dact_core.loading import load_model

    ort, tokenizer = load_model(str(tiny_model_dir), runtime="onnx", threads=1)
    assert isinstance(ort, engine.ORTDactBertForSequenceClassification) and ort.device.type == "cpu"
    torch_model, _ = load_model(str(tiny_model_dir))
    assert isinstance(torch_model, torch.nn.Module)
    auto, _ = load_model(str(tiny_model_dir), runtime="auto")
    assert isinstance(auto, engine.ORTModel)
    with pytest.raises(ValueError, match="torch runtime only"):
        load_model(str(tiny_token_models_dir / "adapler"), runtime="onnx")
    gates, _ = load_model(str(tiny_token_models_dir / "gates"), runtime="auto")  # stays on torch
    assert isinstance(gates, torch.nn.Module)
    with pytest.raises(ValueError, match="unknown runtime"):
        load_model(str(tiny_model_dir), runtime="tensorrt")
    with pytest.raises(ValueError, match="inference only"):
        ort(**tokenizer(["the film"], return_tensors="pt"), labels=torch.tensor([1]))


def test_runner_is_the_same_on_both_engines(tiny_model_dir):
    from dact_core.loading import load_model
    from dact_core.runner import run

    texts = ["the film was good", "a dull mess but charming actors", "not very funny", "loved it"] * 3
    ort, tokenizer = load_model(str(tiny_model_dir), runtime="onnx", threads=1)
    model, _ = load_model(str(tiny_model_dir))
    a = run(model, tokenizer, texts, batch_size=5, full_depth=True)
    b = run(ort, tokenizer, texts, batch_size=5, full_depth=True)
    assert np.array_equal(a.prediction, b.prediction) and np.array_equal(a.exit_layer, b.exit_layer)
    assert np.array_equal(b.prediction, b.full_depth_prediction)
    assert np.allclose(a.acc_probs, b.acc_probs, atol=1e-5)


def test_exported_graphs_ship_beside_the_model(tiny_model_dir, tmp_path, cache_dir):
    from dact_core.export import export_onnx
    from dact_core.loading import load_model

    written = export_onnx(tiny_model_dir, quantizations=(None, "int8"))
    assert {p.name for p in written} == {"onnx", "onnx-int8"}
    manifest = json.loads((tiny_model_dir / "onnx" / engine.MANIFEST).read_text())
    assert set(manifest["graphs"]) == {f"layer_{n}.onnx" for n in range(1, 5)}
    load_model(str(tiny_model_dir), runtime="onnx", threads=1)
    load_model(str(tiny_model_dir), runtime="onnx", quantization="int8", threads=1)
    assert not cache_dir.exists()  # both read from the shipped sets, nothing built


def test_eval_compares_the_engine_with_torch(tiny_model_dir, tmp_path, capsys):
    from dact_core.cli import main

    data = tmp_path / "data.tsv"
    data.write_text("sentence\tlabel\n" + "".join(f"{text}\t{i % 2}\n" for i, text in enumerate(
        ["the film was good", "a dull mess", "not very funny but charming", "loved the actors", "boring plot"] * 4)))
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(data), "--runtime", "onnx", "--threads", "1",
                 "--compare-torch", "--label-column", "label", "--output-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "halted == full     20/20" in out and "onnx == torch      20/20 predictions, 20/20 exit layers" in out
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["agree_with_torch"] == 20 and metrics["exit_layer_agree_with_torch"] == 20
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(data), "--runtime", "torch",
                 "--compare-torch"]) == 2
    assert "the model runs on torch" in capsys.readouterr().err
