"""AdapLeR and the trainable token gates on tiny random models: soft training, physical removal."""

import pytest
import torch
from huggingface_hub.dataclasses import StrictDataclassClassValidationError
from transformers import BertConfig, BertForSequenceClassification

from conftest import random_batch, tiny_config
from dact_core import (
    AdaplerBertConfig,
    AdaplerBertForSequenceClassification,
    TokenGateBertConfig,
    TokenGateBertForSequenceClassification,
)
from dact_core.models.adapler import saliency_targets
from dact_core.models.common import NEG, gather_tokens
from dact_core.models.token_gates.modeling_token_gates import significance


def bert_settings(**extra):
    settings = {k: v for k, v in tiny_config().to_dict().items() if k in BertConfig.__dataclass_fields__}
    settings.update(extra)
    return settings


def sharp_adapler(seed: int, **extra) -> AdaplerBertForSequenceClassification:
    """A tiny AdapLeR whose scores are sharp, so that some tokens fall under eta / n."""
    torch.manual_seed(seed)
    model = AdaplerBertForSequenceClassification(AdaplerBertConfig(**bert_settings(eta_init=0.9, **extra))).eval()
    with torch.no_grad():
        for cp in model.predictors.values():
            cp.score.weight.mul_(200)
    return model


def test_gather_tokens_keeps_order_and_pads():
    hidden = torch.arange(2 * 5, dtype=torch.float32).reshape(2, 5, 1)
    keep = torch.tensor([[True, False, True, True, False], [True, False, False, False, False]])
    out, mask, order = gather_tokens(hidden, keep)
    assert out[0, :, 0].tolist() == [0, 2, 3] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert out[1, 0, 0] == 5


def test_gather_tokens_of_one_row_equals_its_row_in_a_batch():
    torch.manual_seed(0)
    for length in (1, 2, 7, 30):
        hidden, keep = torch.randn(1, length, 4), torch.rand(1, length) < 0.5  # (1, T, H), (1, T)
        keep[:, 0] = True
        one = gather_tokens(hidden, keep)
        batched = gather_tokens(torch.cat([hidden, hidden.flip(1)]), torch.cat([keep, torch.ones_like(keep)]))
        width = int(keep.sum())
        for single, in_batch in zip(one, batched):
            assert single.dtype == in_batch.dtype and torch.equal(single, in_batch[:1, :width])


def test_adapler_soft_training_reaches_every_part():
    torch.manual_seed(0)
    model = AdaplerBertForSequenceClassification(AdaplerBertConfig(**bert_settings())).train()
    ids, mask = random_batch(0, 6)
    saliency = torch.rand(ids.shape) * mask
    out = model(ids, mask, labels=torch.randint(0, 2, (6,)), saliency=saliency)
    out.loss.backward()
    assert model.eta.grad.abs().sum() > 0
    assert model.predictors["2"].dense.weight.grad.abs().sum() > 0
    assert model.bert.encoder.layer[0].attention.self.query.weight.grad.abs().sum() > 0


def test_adapler_removal_rule_batch_equals_single_and_never_drops_cls():
    model = sharp_adapler(seed=1)
    ids, mask = random_batch(1, 8)
    with torch.no_grad():
        batched = model(ids, mask, halt_early=True)
        tokens = batched.tokens_per_layer
        assert (tokens[:, 1:] <= tokens[:, :-1]).all() and (tokens >= 1).all()
        assert (tokens[:, -1] < mask.sum(1)).any()
        for i in range(8):
            n = int(mask[i].sum())
            single = model(ids[i : i + 1, :n], mask[i : i + 1, :n], halt_early=True)
            torch.testing.assert_close(single.logits[0], batched.logits[i], rtol=1e-4, atol=1e-4)
            assert torch.equal(single.tokens_per_layer[0], tokens[i])
        model.eta.fill_(-1.0)  # clamped to 0.01: a lower threshold keeps at least as many tokens
        kept = model(ids, mask, halt_early=True).tokens_per_layer
    assert (kept >= tokens).all() and (kept > tokens).any()


def test_adapler_drops_tokens_only_before_its_removal_layers():
    model = sharp_adapler(seed=3, removal_layers=[1, 3])
    assert sorted(model.predictors) == ["0", "2"] and model.eta.shape == (2,)
    ids, mask = random_batch(3, 8)
    with torch.no_grad():
        for out in (model(ids, mask, halt_early=True), model(ids[:1, : int(mask[0].sum())], halt_early=True)):
            tokens = out.tokens_per_layer  # (B, N)
            assert (tokens[:, 1] == tokens[:, 0]).all() and (tokens[:, 3:] == tokens[:, 2:3]).all()
        assert (model(ids, mask, halt_early=True).tokens_per_layer[:, 2] < mask.sum(1)).any()
    model.train()
    out = model(ids, mask, labels=torch.randint(0, 2, (8,)), saliency=torch.rand(ids.shape) * mask)
    soft = out.tokens_per_layer  # (B, N) soft counts: they fall only where a layer drops tokens
    assert torch.equal(soft[:, 1], soft[:, 0]) and torch.equal(soft[:, 3], soft[:, 2])
    out.loss.backward()
    assert model.eta.grad.abs().sum() > 0 and model.predictors["2"].dense.weight.grad.abs().sum() > 0


def test_adapler_with_fewer_removal_layers_keeps_their_weights():
    model = sharp_adapler(seed=4)
    with torch.no_grad():
        model.eta.copy_(torch.tensor([0.9, 0.8, 0.7, 0.6]))
    derived = model.with_removal_layers([1, 3])
    assert derived.config.removal_layers == [1, 3] and derived.eta.tolist() == pytest.approx([0.9, 0.7])
    assert torch.equal(derived.predictors["2"].dense.weight, model.predictors["2"].dense.weight)
    with pytest.raises(ValueError, match="cannot keep"):
        derived.with_removal_layers([2])
    with pytest.raises(ValueError, match=r"^removal_layers must be increasing layer numbers in 1..4, at least one, got \[3, 1\]$"):
        model.with_removal_layers([3, 1])
    ids, mask = random_batch(4, 8)
    with torch.no_grad():
        for n in ("1", "3"):  # uniform scores 1/n >= eta/n: the left-out layers dropped nothing in the source
            model.predictors[n].score.weight.zero_()
        for one in (slice(None), slice(0, 1)):
            source, fewer = model(ids[one], mask[one], halt_early=True), derived(ids[one], mask[one], halt_early=True)
            assert torch.equal(source.tokens_per_layer, fewer.tokens_per_layer)
            torch.testing.assert_close(source.logits, fewer.logits, rtol=0, atol=1e-6)
            assert (fewer.tokens_per_layer[:, 2] < mask[one].sum(1)).any()


def test_adapler_with_removal_layers_saves_and_loads(tmp_path):
    from transformers import AutoModelForSequenceClassification

    from dact_core.loading import quantize

    model = sharp_adapler(seed=5, removal_layers=[2])
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path, use_safetensors=True).eval()
    assert loaded.config.removal_layers == [2] and sorted(loaded.predictors) == ["1"]
    ids, mask = random_batch(5, 4)
    with torch.no_grad():
        assert torch.equal(loaded(ids, mask, halt_early=True).logits, model(ids, mask, halt_early=True).logits)
    with pytest.raises(ValueError, match="derive the copy first, then quantize"):
        quantize(model, "int8").with_removal_layers([2])


def test_adapler_removal_layers_are_their_own_recipe_in_the_bench():
    from dact_core.methods import methods_of

    def setting(**extra):
        config = AdaplerBertConfig(length_weight=0.002, **extra)
        [(label, _)] = methods_of(config)[0].points(config)
        return label

    assert setting() == "phi=0.002" and setting(removal_layers=[1, 2]) == "phi=0.002, layers 1,2"


@pytest.mark.parametrize("layers", [[], [0, 1], [2, 1], [1, 1], [1, 7]])
def test_adapler_refuses_bad_removal_layers(layers):
    with pytest.raises(StrictDataclassClassValidationError, match="removal_layers must be increasing"):
        AdaplerBertConfig(**bert_settings(removal_layers=layers))


def test_saliency_targets_with_captum():
    torch.manual_seed(2)
    reference = BertForSequenceClassification(BertConfig(**bert_settings())).eval()
    ids, mask = random_batch(2, 4)
    scores = saliency_targets(reference, ids, mask, torch.tensor([0, 1, 0, 1]))
    assert scores.shape == ids.shape and (scores[mask == 0] == 0).all() and (scores[mask == 1] > 0).all()


def test_token_gates_training_and_removal(tmp_path):
    torch.manual_seed(3)
    model = TokenGateBertForSequenceClassification(TokenGateBertConfig(**bert_settings(max_gated_length=64)))
    ids, mask = random_batch(3, 6)
    model.train()
    out = model(ids, mask, labels=torch.randint(0, 2, (6,)))
    out.loss.backward()
    assert model.gate_logits.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        full, pruned = model(ids, mask), model(ids, mask, halt_early=True)
        torch.testing.assert_close(full.logits, pruned.logits, rtol=1e-4, atol=1e-4)  # gates ~open: same answer
        model.gate_logits[:, 4:] = -5.0  # close every gate after the 4th sorted position
        pruned = model(ids, mask, halt_early=True)
    assert (pruned.tokens_per_layer[:, 1:] <= 4).all()
    assert (pruned.tokens_per_layer[:, 0] == mask.sum(1)).all()
    model.save_pretrained(tmp_path)
    from transformers import AutoModelForSequenceClassification

    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path, use_safetensors=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids, mask, halt_early=True).logits, pruned.logits)


def test_a_layer_with_its_attention_is_the_layers_own_call():
    from transformers.models.bert.modeling_bert import BertLayer

    from dact_core.models.common import layer_with_attention

    torch.manual_seed(0)
    config = BertConfig(**bert_settings())
    config._attn_implementation = "eager"  # the attention returns its weights only under eager
    layer = BertLayer(config).eval()
    hidden, mask = torch.randn(2, 5, config.hidden_size), torch.zeros(2, 1, 1, 5)  # (B, T, H), (B, 1, 1, T)
    mask[1, ..., 3:] = NEG  # the second row's last two keys are hidden
    seen = []  # a hook on the layer (captum's, a user's) sees the call
    handle = layer.register_forward_hook(lambda module, args, output: seen.append(output))
    with torch.no_grad():
        output, weights = layer_with_attention(layer, hidden, mask)
    handle.remove()
    assert len(seen) == 1 and torch.equal(output, seen[0])
    with torch.no_grad():
        assert torch.equal(output, layer(hidden, mask)) and torch.equal(weights, layer.attention(hidden, mask)[1])
    assert weights.shape == (2, config.num_attention_heads, 5, 5) and weights[1, ..., 3:].eq(0).all()


def test_significance_pins_cls_and_sinks_padding():
    weights = torch.softmax(torch.randn(1, 2, 4, 4), dim=-1)
    mask = torch.tensor([[1, 1, 1, 0]])
    order = significance(weights, mask.float(), mask.bool()).argsort(dim=1, descending=True)[0].tolist()
    assert order[0] == 0 and order[-1] == 3


def test_kept_tokens_follow_the_removals(tiny_token_models_dir):
    from dact_core.loading import load_model

    ids, mask = random_batch(4, 6)
    for name in ("adapler", "gates"):
        model, _ = load_model(str(tiny_token_models_dir / name))
        with torch.no_grad():
            out = model(ids, mask, halt_early=True, output_kept_tokens=True)
            plain = model(ids, mask, halt_early=True)
        kept = out.kept_tokens  # (B, N, T)
        assert plain.kept_tokens is None and torch.equal(out.logits, plain.logits)
        assert torch.equal(kept.sum(-1), out.tokens_per_layer)
        assert kept[:, :, 0].all()  # [CLS] stays
        assert not (kept & (mask == 0)[:, None, :]).any()  # padding is never among a layer's inputs
        assert (kept[:, 1:] <= kept[:, :-1]).all()  # a removed token never returns
        assert (out.tokens_per_layer[:, -1] < mask.sum(1)).any()  # these models do remove tokens
        for i in range(6):
            n = int(mask[i].sum())
            with torch.no_grad():
                single = model(ids[i : i + 1, :n], mask[i : i + 1, :n], halt_early=True, output_kept_tokens=True)
            assert torch.equal(single.kept_tokens[0], kept[i, :, :n])


def test_token_inspector_trace(tiny_token_models_dir):
    from dact_core.loading import load_model
    from dact_core.inspector import InputError, TokenInspector

    model, tokenizer = load_model(str(tiny_token_models_dir / "gates"))
    trace = TokenInspector(model, tokenizer).trace("the film was not very funny but the actors were great")
    assert trace.method == "token gates" and trace.kept.shape == (4, len(trace.tokens))
    assert trace.kept[0].all() and trace.tokens_per_layer[1:].max() <= 3
    assert 0 < trace.compute_share < 1 and abs(trace.probs.sum() - 1) < 1e-5
    with pytest.raises(InputError, match="empty"):
        TokenInspector(model, tokenizer).trace("  ")
    with pytest.raises(TypeError, match="adapler-bert or token-gate-bert"):
        TokenInspector(BertForSequenceClassification(BertConfig(**bert_settings())), tokenizer)


def test_adapler_soft_removal_becomes_the_hard_rule_when_sharp(tiny_token_models_dir):
    from dact_core.loading import load_model

    model, _ = load_model(str(tiny_token_models_dir / "adapler"))
    ids, mask = random_batch(5, 6)
    model.config.sharpness = 1e5
    with torch.no_grad():
        soft, hard = model(ids, mask), model(ids, mask, halt_early=True)
    torch.testing.assert_close(soft.tokens_per_layer, hard.tokens_per_layer.float(), atol=1e-3, rtol=0)
    torch.testing.assert_close(soft.logits, hard.logits, atol=1e-3, rtol=1e-3)


def test_token_gates_soft_path_equals_the_hard_path_at_saturated_gates(tiny_token_models_dir):
    """Training must see what inference does: same tokens per layer, same answer, once the gates are 0 or 1."""
    from dact_core.loading import load_model

    model, _ = load_model(str(tiny_token_models_dir / "gates"))
    with torch.no_grad():
        model.gate_logits.fill_(60.0)
        model.gate_logits[0, 4:] = -60.0  # after layer 1 keep 4 tokens
        model.gate_logits[2, 2:] = -60.0  # after layer 3 keep 2
    ids, mask = random_batch(9, 8)
    with torch.no_grad():
        soft, hard = model(ids, mask), model(ids, mask, halt_early=True)
    torch.testing.assert_close(soft.tokens_per_layer, hard.tokens_per_layer.float(), atol=1e-6, rtol=0)
    assert (hard.tokens_per_layer[:, 1] <= 4).all() and (hard.tokens_per_layer[:, 3] <= 2).all()
    torch.testing.assert_close(soft.logits, hard.logits, atol=1e-4, rtol=1e-4)


def test_token_gates_loss_ignores_the_unused_last_row_and_the_config_is_left_alone():
    config = TokenGateBertConfig(max_gated_length=64, **bert_settings())
    before = config._attn_implementation
    model = TokenGateBertForSequenceClassification(config)
    assert config._attn_implementation == before and model.config._attn_implementation == "eager"
    ids, mask = random_batch(3, 4)
    model.train()
    model(ids, mask, labels=torch.tensor([0, 1, 0, 1])).loss.backward()
    grad = model.gate_logits.grad
    assert grad[:-1].abs().sum() > 0 and grad[-1].abs().sum() == 0  # no layer follows the last one


def test_checkpoints_are_chosen_on_the_inference_path(tiny_token_models_dir):
    """The Trainer's evaluation step runs physical removal, not the soft training path."""
    from transformers import TrainingArguments

    from dact_core.loading import load_model
    from dact_core.train import DactTrainer

    model, _ = load_model(str(tiny_token_models_dir / "adapler"))
    ids, mask = random_batch(11, 12)
    forward = model.forward

    def inference_only(*args, halt_early=False, **kwargs):
        assert halt_early, "the evaluation step ran the soft training path"
        return forward(*args, halt_early=halt_early, **kwargs)

    model.forward = inference_only
    args = TrainingArguments(output_dir="unused", report_to=[], use_cpu=True)
    trainer = DactTrainer(model=model, args=args)
    _, (prediction, exit_layer), _ = trainer.prediction_step(model, {"input_ids": ids, "attention_mask": mask,
                                                                     "labels": torch.zeros(12, dtype=torch.long)},
                                                             prediction_loss_only=False)
    with torch.no_grad():
        hard = model(ids, mask, halt_early=True)
    assert torch.equal(prediction, hard.logits.argmax(-1)) and (exit_layer == 4).all()
