"""Early-exit baselines (DeeBERT entropy, PABEE patience, static) on tiny random models."""

import pytest
import torch

from conftest import WORDS, random_batch
from dact_core import MultiExitBertConfig, MultiExitBertForSequenceClassification
from dact_core.models.multi_exit.modeling_multi_exit import ExitRule, exit_layers_from_logits


def tiny_multi_exit(seed=0, num_labels=3, num_layers=5, **kwargs):
    torch.manual_seed(seed)
    cfg = MultiExitBertConfig(vocab_size=len(WORDS) + 5, hidden_size=32, num_hidden_layers=num_layers,
                              num_attention_heads=4, intermediate_size=37, max_position_embeddings=64,
                              num_labels=num_labels, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                              **kwargs)
    model = MultiExitBertForSequenceClassification(cfg).eval()
    with torch.no_grad():
        for head in model.exits:
            head.weight.mul_(30)
    return model


SETTINGS = [dict(exit_rule="static", exit_layer=k) for k in (1, 3, 5)] + [
    dict(exit_rule="entropy", exit_threshold=s) for s in (0.05, 0.3, 0.8)
] + [dict(exit_rule="patience", exit_patience=t) for t in (1, 2, 3)]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_exiting_forward_matches_the_rule_on_the_full_trace(setting):
    model = tiny_multi_exit(1)
    for key, value in setting.items():
        setattr(model.config, key, value)
    ids, mask = random_batch(1, 24)
    with torch.no_grad():
        full = model(ids, mask)
        exited = model(ids, mask, halt_early=True)
    assert torch.equal(exited.exit_layer, full.exit_layer)
    rows = torch.arange(24)
    torch.testing.assert_close(exited.logits, full.layer_logits[rows, exited.exit_layer - 1], rtol=1e-4, atol=1e-4)
    if setting["exit_rule"] == "static":
        assert (exited.exit_layer == setting["exit_layer"]).all()


def test_rules_by_hand():
    rule = ExitRule("patience", patience=2)
    confident, unsure = [4.0, -4.0], [0.1, 0.0]
    flip = [-4.0, 4.0]
    logits = torch.tensor([
        [confident, confident, confident, confident],  # same answer from layer 1: counter 1 at 2, 2 at 3
        [confident, flip, confident, flip],  # never agrees twice: runs to the end
    ])
    assert exit_layers_from_logits(rule, logits).tolist() == [3, 4]
    rule = ExitRule("entropy", threshold=0.1)
    logits = torch.tensor([[unsure, confident, unsure, unsure], [unsure, unsure, unsure, unsure]])
    assert exit_layers_from_logits(rule, logits).tolist() == [2, 4]


def test_weighted_loss_and_round_trip(tmp_path):
    model = tiny_multi_exit(2, num_labels=2).train()
    ids, mask = random_batch(2, 8)
    labels = torch.randint(0, 2, (8,))
    out = model(ids, mask, labels=labels)
    n = 5
    expected = sum((i + 1) * torch.nn.functional.cross_entropy(out.layer_logits[:, i], labels) for i in range(n))
    torch.testing.assert_close(out.loss, expected / (n * (n + 1) / 2))
    out.loss.backward()
    assert model.exits[0].weight.grad.abs().sum() > 0
    model.eval().save_pretrained(tmp_path)
    from transformers import AutoModelForSequenceClassification

    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path, use_safetensors=True).eval()
    with torch.no_grad():
        assert torch.equal(loaded(ids, mask).layer_logits, model(ids, mask).layer_logits)


def test_bad_settings_are_refused():
    with pytest.raises(Exception, match="exit_rule"):
        MultiExitBertConfig(exit_rule="vote")
    with pytest.raises(Exception, match="exit_layer"):
        MultiExitBertConfig(num_hidden_layers=4, exit_layer=7)


def test_dact_halting_units_on_frozen_exits():
    """DACT-BERT built on a multi-exit model: its y_n are the exits' answers, and only the halting units learn."""
    from dact_core.train import dact_on_frozen_exits

    multi = tiny_multi_exit(5, num_labels=3, num_layers=4)
    labels = dict(num_labels=3, id2label=multi.config.id2label, label2id=multi.config.label2id)
    names = [multi.config.id2label[i] for i in range(3)]
    model = dact_on_frozen_exits(multi, dict(**labels, ponder_penalty=0.1, halting_bias_init=2.0,
                                             dact_hidden_size=None, pooling="mean", layer_loss_weight=0.5), names)
    assert model.config.layer_loss_weight == 0.0  # the answers it would train are frozen
    assert model.config.answer_head == "linear"
    ids, mask = random_batch(5, 10)
    with torch.no_grad():
        exits, dact = multi(ids, mask), model.eval()(ids, mask)
    torch.testing.assert_close(dact.layer_probs, exits.layer_logits.softmax(-1))
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"dact.{n}.{part}.{w}" for n in range(4) for part in ("dense", "halting")
                         for w in ("weight", "bias")}
    model.train()(ids, mask, labels=torch.arange(10) % 3).loss.backward()
    assert all(p.grad is not None for name, p in model.named_parameters() if name in trainable)
    with torch.no_grad():  # the guarantee holds as for any DACT-BERT
        assert torch.equal(model.eval()(ids, mask, halt_early=True).prediction, dact.prediction)
    model.train()
    with torch.no_grad():  # no dropout in the frozen part: training sees the exits' inference answers
        torch.testing.assert_close(model(ids, mask).layer_probs, dact.layer_probs)
    from dact_core.methods import methods_of  # its own curve in the bench, apart from DACT-BERT trained whole
    assert [m.name for m in methods_of(model)] == ["DACT-BERT on frozen exits"]
    assert [m.name for m in methods_of(tiny_multi_exit(0))] == ["static", "DeeBERT", "PABEE"]
