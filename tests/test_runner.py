"""The one runner and the one registry: every family, pairs, devices, unlabelled data, Hugging Face arguments."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from conftest import WORDS, random_batch, tiny_config, tiny_model
from dact_core.cli import main
from dact_core.methods import FAMILIES, METHODS, family_of, infer, prediction_of
from dact_core.runner import run
from test_multi_exit import tiny_multi_exit

LABELS = dict(id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})


def plain_reference(seed=0):
    torch.manual_seed(seed)
    settings = {k: v for k, v in tiny_config().to_dict().items()
                if k in BertConfig.__dataclass_fields__ and k != "model_type"}
    return BertForSequenceClassification(BertConfig(**{**settings, **LABELS})).eval()


@pytest.fixture
def folders(tmp_path, tiny_tokenizer, tiny_token_models_dir):
    """A plain reference, a multi-exit model and (compact) token models, saved with the tiny tokenizer."""
    out = {"gates": tiny_token_models_dir / "gates", "adapler": tiny_token_models_dir / "adapler"}
    for name, model in (("reference", plain_reference()), ("multi", tiny_multi_exit(3, num_labels=2, **LABELS))):
        out[name] = tmp_path / name
        model.save_pretrained(out[name])
        tiny_tokenizer.save_pretrained(out[name])
    return out


def test_registry_covers_every_family_and_method():
    assert {f.kind for f in FAMILIES.values()} == {"plain", "depth", "tokens"}
    assert all(m.family in FAMILIES for m in METHODS.values())
    assert family_of(plain_reference()).display == "reference"
    assert [m.name for m in METHODS.values() if m.family == "multi-exit-bert"] == ["static", "DeeBERT", "PABEE"]
    with pytest.raises(ValueError, match="no inference setting"):
        infer(plain_reference(), {"input_ids": torch.tensor([[2, 5, 3]])}, halting_bound="tight")


def test_prediction_has_one_source():
    model = tiny_model(4, num_labels=3)
    ids, mask = random_batch(4, 16)
    with torch.no_grad():
        for out in (model(ids, mask), model(ids, mask, halt_early=True)):
            assert torch.equal(prediction_of(out), out.probs.argmax(-1))  # float64 a_N, not float32 logits
    ref = plain_reference()
    with torch.no_grad():
        out = ref(ids, mask)
    assert torch.equal(prediction_of(out), out.logits.argmax(-1))


def test_runner_matches_each_model_called_by_hand(tiny_tokenizer):
    texts = [" ".join(np.random.default_rng(i).choice(WORDS, 3 + i % 9)) for i in range(30)]
    models = [plain_reference(), tiny_model(5, num_labels=2, **LABELS), tiny_multi_exit(2, num_labels=2, **LABELS)]
    for model in models:
        result = run(model, tiny_tokenizer, texts, batch_size=7)
        for i in (0, 13, 29):
            enc = tiny_tokenizer(texts[i], return_tensors="pt")
            with torch.no_grad():
                single = infer(model, enc)
            assert result.prediction[i] == int(prediction_of(single)[0])
        assert (result.tokens_per_layer[:, 0] == result.num_tokens).all()
    with pytest.raises(ValueError, match="empty"):
        run(models[0], tiny_tokenizer, ["a film", "  "])


def test_eval_of_every_family_on_unlabelled_pairs(tmp_path, folders, tiny_model_dir, capsys):
    data = tmp_path / "pairs.tsv"
    rows = [(" ".join(WORDS[i : i + 3]), " ".join(WORDS[i + 3 : i + 8])) for i in range(12)]
    data.write_text("premise\thypothesis\n" + "".join(f"{a}\t{b}\n" for a, b in rows))
    for name in ("reference", "multi", "gates", "dact"):
        folder = tiny_model_dir if name == "dact" else folders[name]
        out = tmp_path / f"ev-{name}"
        assert main(["eval", "--model", str(folder), "--data", str(data), "--output-dir", str(out),
                     "--device", "cpu"]) == 0, capsys.readouterr().err
        traces = pd.read_parquet(out / "traces.parquet")
        assert len(traces) == 12 and "correct" not in traces
        assert traces.text[0] == f"{rows[0][0]} [SEP] {rows[0][1]}"  # both texts of the pair were read
        # the pair is tokenised as a pair: more tokens than the first text alone
        assert traces.num_tokens[0] == len(rows[0][0].split()) + len(rows[0][1].split()) + 3
    assert "accuracy" not in json.loads((tmp_path / "ev-gates" / "metrics.json").read_text())


def test_predict_works_for_every_family(folders, tiny_model_dir, capsys):
    for folder in (folders["reference"], folders["multi"], folders["gates"], folders["adapler"], tiny_model_dir):
        assert main(["predict", "--model", str(folder), "a great film", "--device", "cpu"]) == 0, capsys.readouterr().err
        assert "prediction:" in capsys.readouterr().out
    assert main(["predict", "--model", str(folders["gates"]), "a film", "--bound", "paper"]) == 2
    assert "apply to DACT-BERT" in capsys.readouterr().err
    assert main(["predict", "--model", str(tiny_model_dir), "a film", "--device", "tpu9"]) == 2
    assert "unknown device" in capsys.readouterr().err


def test_forward_takes_the_hugging_face_arguments_it_can_honour(tiny_token_models_dir):
    from dact_core.loading import load_model

    ids, mask = random_batch(6, 5)
    models = [tiny_model(6), tiny_multi_exit(6), load_model(str(tiny_token_models_dir / "adapler"))[0],
              load_model(str(tiny_token_models_dir / "gates"))[0]]
    for model in models:
        with torch.no_grad():
            by_ids = model(ids, mask, halt_early=True)
            embeds = model.bert.embeddings.word_embeddings(ids)
            by_embeds = model(inputs_embeds=embeds, attention_mask=mask, halt_early=True)
            torch.testing.assert_close(by_embeds.logits, by_ids.logits)
            positions = torch.arange(ids.shape[1]).expand_as(ids)
            torch.testing.assert_close(model(ids, mask, position_ids=positions, halt_early=True).logits, by_ids.logits)
            as_tuple = model(ids, mask, return_dict=False)
            assert isinstance(as_tuple, tuple)
        for argument in (dict(output_attentions=True), dict(output_hidden_states=True),
                         dict(head_mask=torch.ones(4))):
            with pytest.raises(ValueError, match=next(iter(argument))):
                model(ids, mask, **argument)
        with pytest.raises(TypeError):
            model(ids, mask, use_cache=True)  # unknown arguments are refused, never dropped


def test_int8_keeps_the_guarantee_against_its_own_full_depth(tmp_path, tiny_model_dir, folders, capsys):
    data = tmp_path / "d.tsv"
    data.write_text("sentence\tlabel\n" + "".join(f"{' '.join(WORDS[i % 20 : i % 20 + 4 + i % 5])}\t{i % 2}\n"
                                                 for i in range(40)))
    out = tmp_path / "ev"
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(data), "--output-dir", str(out),
                 "--quantize", "int8"]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["quantization"] == "int8" and metrics["agree_with_full_depth"] == 40
    assert "int8 == float" in printed
    traces = pd.read_parquet(out / "traces.parquet")
    assert (traces.agrees_with_float == (traces.prediction == traces.float_prediction)).all()
    assert metrics["agree_with_float"] == int(traces.agrees_with_float.sum())
    for folder in (folders["reference"], folders["gates"], folders["multi"]):
        assert main(["predict", "--model", str(folder), "a great film", "--quantize", "int8"]) == 0

    from dact_core.loading import load_model

    model, _ = load_model(str(tiny_model_dir), quantization="int8")
    assert model.quantization == "int8" and type(model.dact[0].dense).__module__.startswith("torch.ao")
    float_model, _ = load_model(str(tiny_model_dir))
    assert isinstance(float_model.dact[0].dense, torch.nn.Linear) and not hasattr(float_model, "quantization")
