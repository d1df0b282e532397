"""DactBertForSequenceClassification on tiny random models: the halting guarantee and exactness."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoConfig, AutoModelForSequenceClassification, BertConfig, BertModel

from conftest import random_batch, tiny_config, tiny_model
from dact_core import DactBertForSequenceClassification


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 100_000),
    num_labels=st.integers(2, 5),
    num_layers=st.integers(2, 6),
    batch=st.integers(1, 12),
    pooling=st.sampled_from(["mean", "cls"]),
)
def test_halted_equals_full_depth_under_both_bounds(seed, num_labels, num_layers, batch, pooling):
    model = tiny_model(seed, num_labels, num_layers, pooling=pooling)
    ids, mask = random_batch(seed, batch)
    exits = {}
    with torch.no_grad():
        full = model(ids, mask)
        for bound in ("tight", "paper"):
            model.config.halting_bound = bound
            halted = model(ids, mask, halt_early=True)
            assert torch.equal(halted.probs.argmax(-1), full.probs.argmax(-1))
            exits[bound] = halted.exit_layer
            # the exit layer read off the full trace is the one halting inference took
            full_exit = model(ids, mask).exit_layer
            assert torch.equal(full_exit, halted.exit_layer)
    assert (exits["tight"] <= exits["paper"]).all()


def test_examples_halt_at_many_layers():
    """The sharpened tiny models exercise early exits, not only the last layer."""
    seen = set()
    for seed in range(10):
        with torch.no_grad():
            seen |= set(tiny_model(seed, num_layers=4)(*random_batch(seed, 16), halt_early=True).exit_layer.tolist())
    assert seen == {1, 2, 3, 4}


def test_halting_trace_matches_full_trace_up_to_exit_and_is_nan_after():
    model = tiny_model(7, num_labels=3, num_layers=5)
    ids, mask = random_batch(7, 16)
    with torch.no_grad():
        full, halted = model(ids, mask), model(ids, mask, halt_early=True)
    for i, exit_layer in enumerate(halted.exit_layer.tolist()):
        for name in ("layer_probs", "halting_probs", "remaining_probs", "acc_probs"):
            h, f = getattr(halted, name)[i], getattr(full, name)[i]
            torch.testing.assert_close(h[:exit_layer], f[:exit_layer], rtol=1e-5, atol=1e-5)
            assert torch.isnan(h[exit_layer:]).all()
        torch.testing.assert_close(halted.probs[i], full.acc_probs[i, exit_layer - 1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(full.acc_probs.sum(-1), torch.ones_like(full.remaining_probs))


@pytest.mark.parametrize("bound", ["tight", "paper"])
def test_batch_equals_single_runs(bound):
    model = tiny_model(11, num_labels=3, num_layers=4, halting_bound=bound)
    ids, mask = random_batch(11, 9)
    with torch.no_grad():
        batched = model(ids, mask, halt_early=True)
        for i in range(9):
            n = int(mask[i].sum())
            single = model(ids[i : i + 1, :n], mask[i : i + 1, :n], halt_early=True)
            assert int(single.exit_layer) == int(batched.exit_layer[i])
            assert int(single.probs.argmax()) == int(batched.probs[i].argmax())
            torch.testing.assert_close(single.probs[0], batched.probs[i], rtol=1e-5, atol=1e-5)


def test_single_example_halting_trace_is_the_full_trace_bit_for_bit():
    """One example halting: the numbers of its own full-depth trace, to the last bit, and NaN after its exit."""
    seen = set()
    for seed in range(4):
        model, (ids, mask) = tiny_model(seed, num_labels=3, num_layers=4), random_batch(seed, 6)
        for i in range(6):
            n = int(mask[i].sum())
            x = dict(input_ids=ids[i : i + 1, :n], attention_mask=mask[i : i + 1, :n])
            with torch.no_grad():
                full, halted = model(**x), model(**x, halt_early=True)
            k = int(halted.exit_layer)
            seen.add(k)
            assert k == int(full.exit_layer)
            for name in ("layer_probs", "halting_probs", "remaining_probs", "acc_probs"):
                assert torch.equal(getattr(halted, name)[:, :k], getattr(full, name)[:, :k]), name
                assert getattr(halted, name).dtype == getattr(full, name).dtype
                assert torch.isnan(getattr(halted, name)[:, k:]).all()
            assert torch.equal(halted.probs, full.acc_probs[:, k - 1])
            assert torch.equal(halted.logits, halted.probs.clamp(min=1e-12).log().float())
            assert torch.equal(halted.prediction, halted.probs.argmax(-1))
            torch.testing.assert_close(halted.ponder_cost, full.remaining_probs[:, :k].sum(1))
    assert len(seen) > 1  # early exits and later ones


def test_manual_layer_loop_reproduces_bert_model():
    model = tiny_model(3)
    bert = BertModel(BertConfig(**{k: v for k, v in model.config.to_dict().items() if k in BertConfig.__dataclass_fields__}), add_pooling_layer=False)
    bert.load_state_dict(model.bert.state_dict())
    bert.eval()
    ids, mask = random_batch(3, 5)
    captured = []
    handle = model.bert.encoder.layer[-1].register_forward_hook(lambda m, i, o: captured.append(o))
    with torch.no_grad():
        model(ids, mask)
        reference = bert(ids, attention_mask=mask).last_hidden_state
    handle.remove()
    keep = mask.bool()
    torch.testing.assert_close(captured[0][keep], reference[keep], rtol=1e-5, atol=1e-5)


def test_save_load_round_trip(tmp_path):
    model = tiny_model(5, num_labels=3, ponder_penalty=0.05, halting_bound="paper")
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert AutoConfig.from_pretrained(tmp_path).model_type == "dact-bert"
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path, use_safetensors=True).eval()
    assert isinstance(loaded, DactBertForSequenceClassification)
    assert loaded.config.halting_bound == "paper" and loaded.config.ponder_penalty == 0.05
    ids, mask = random_batch(5, 6)
    with torch.no_grad():
        a, b = model(ids, mask), loaded(ids, mask)
    assert torch.equal(a.probs, b.probs) and torch.equal(a.exit_layer, b.exit_layer)


def test_loss_trains_every_part_and_ponder_penalty_counts():
    model = tiny_model(2, num_labels=2).train()
    ids, mask = random_batch(2, 8)
    labels = torch.randint(0, 2, (8,))
    out = model(ids, mask, labels=labels)
    out.loss.backward()
    assert model.dact[0].halting.weight.grad.abs().sum() > 0
    assert model.bert.encoder.layer[0].attention.self.query.weight.grad.abs().sum() > 0
    model.config.ponder_penalty = 0.0
    no_ponder = model(ids, mask, labels=labels).loss
    model.config.ponder_penalty = 0.5
    with_ponder = model(ids, mask, labels=labels).loss
    torch.testing.assert_close(with_ponder - no_ponder, (0.5 * out.ponder_cost.mean()).float(), rtol=1e-4, atol=1e-5)


def test_distillation_adds_each_layers_kl_to_the_teacher():
    model = tiny_model(3, num_labels=3).eval()  # no dropout: the same forward twice gives the same numbers
    ids, mask = random_batch(3, 6)
    labels = torch.randint(0, 3, (6,))
    teacher = torch.softmax(torch.randn(6, 3), dim=-1)  # (B, C)
    base = model(ids, mask, labels=labels)
    model.config.distill_weight = 0.4
    distilled = model(ids, mask, labels=labels, teacher_probs=teacher)
    y = base.layer_probs.clamp(min=1e-8)  # (B, N, C)
    kl = (teacher[:, None] * (teacher[:, None].log() - y.log())).sum(-1).mean()  # mean over examples and layers
    torch.testing.assert_close(distilled.loss - base.loss, 0.4 * kl, rtol=1e-4, atol=1e-6)
    model.config.distill_temperature = 3.0  # both softened to softmax(log p / 3), the KL scaled by 9
    soft_y = (y.log() / 3).softmax(-1)  # (B, N, C)
    soft_t = (teacher.log() / 3).softmax(-1)[:, None]  # (B, 1, C)
    soft_kl = (soft_t * (soft_t.log() - soft_y.log())).sum(-1).mean()
    softened = model(ids, mask, labels=labels, teacher_probs=teacher).loss
    torch.testing.assert_close(softened - base.loss, 0.4 * 9 * soft_kl, rtol=1e-4, atol=1e-6)
    model.config.distill_temperature = 1.0
    (distilled.loss - base.loss).backward()  # the term alone: it reaches every layer's answer, not the halting units
    assert all(dact.answer.weight.grad.abs().sum() > 0 for dact in model.dact)
    assert all(not dact.halting.weight.grad.any() for dact in model.dact)
    # scored later without its targets (evaluation mode), a distilled model leaves the term out; training refuses
    torch.testing.assert_close(model(ids, mask, labels=labels).loss, base.loss)
    with pytest.raises(ValueError, match="training needs teacher_probs"):
        model.train()(ids, mask, labels=labels)
    with pytest.raises(ValueError, match="pass the labels too"):
        model(ids, mask, teacher_probs=teacher)
    with pytest.raises(ValueError, match=r"teacher_probs must be \(batch, classes\) = \(6, 3\), got \(6, 2\)"):
        model(ids, mask, labels=labels, teacher_probs=teacher[:, :2])
    with pytest.raises(Exception, match="distill_weight"):
        tiny_config(distill_weight=-0.1)
    with pytest.raises(Exception, match="distill_temperature"):
        tiny_config(distill_temperature=0.0)


def test_halting_with_labels_is_refused():
    model = tiny_model(1)
    ids, mask = random_batch(1, 2)
    with pytest.raises(ValueError, match="full-depth|every layer"):
        model(ids, mask, labels=torch.tensor([0, 1]), halt_early=True)


def test_relaxation_halts_earlier_and_config_validates():
    model = tiny_model(9, num_layers=5)
    ids, mask = random_batch(9, 32)
    with torch.no_grad():
        exact = model(ids, mask, halt_early=True).exit_layer
        model.config.halting_relaxation = 0.3
        relaxed = model(ids, mask, halt_early=True).exit_layer
    assert (relaxed <= exact).all() and (relaxed < exact).any()
    assert not model.config.guarantee_holds
    for bad in (dict(pooling="max"), dict(halting_bound="loose"), dict(halting_relaxation=1.5), dict(num_labels=1)):
        with pytest.raises(Exception, match=next(iter(bad))):  # each error names the setting it refuses
            tiny_config(**bad)


def test_halting_bias_initialisation():
    model = DactBertForSequenceClassification(tiny_config(halting_bias_init=-1.5))
    assert torch.equal(model.dact[2].halting.bias.detach(), torch.tensor([-1.5]))


def test_per_call_setting_overrides_without_touching_the_config():
    model = tiny_model(13, num_layers=5)
    ids, mask = random_batch(13, 16)
    with torch.no_grad():
        per_call = model(ids, mask, halt_early=True, halting_bound="paper", halting_relaxation=0.5)
        assert model.config.halting_bound == "tight" and model.config.halting_relaxation == 1.0
        model.config.halting_bound, model.config.halting_relaxation = "paper", 0.5
        via_config = model(ids, mask, halt_early=True)
    assert torch.equal(per_call.exit_layer, via_config.exit_layer)
    with pytest.raises(ValueError, match="relaxation"):
        model(ids, mask, halt_early=True, halting_relaxation=2.0)


def test_evaluate_reports_the_setting_it_ran(tiny_tokenizer, tmp_path):
    from dact_core.data import load_task
    from dact_core.evaluate import evaluate

    data = tmp_path / "d.tsv"
    data.write_text("sentence\tlabel\n" + "".join(f"the film was {w}\t{i % 2}\n" for i, w in
                                                   enumerate(["good", "bad", "dull", "great"] * 5)))
    model = tiny_model(14, num_labels=2)
    task = load_task(str(data))
    relaxed = evaluate(model, tiny_tokenizer, task, progress=False,
                       setting=dict(halting_bound="tight", halting_relaxation=0.5))
    assert relaxed.metrics["setting"]["halting_bound"] == "tight" and relaxed.metrics["guarantee_holds"] is False
    exact = evaluate(model, tiny_tokenizer, task, progress=False)
    assert exact.metrics["agree_with_full_depth"] == 20 and exact.metrics["guarantee_holds"] is True
    assert relaxed.metrics["avg_layers"] <= exact.metrics["avg_layers"]


def test_an_int8_model_halts_on_its_own_full_depth_answers():
    from dact_core.loading import quantize

    model = quantize(tiny_model(4, num_labels=3, num_layers=4), "int8")
    assert type(model.bert.encoder.layer[0].attention.self.query).__module__.startswith("torch.ao")
    ids, mask = random_batch(4, 6)
    with torch.no_grad():
        for i in range(6):  # one row at a time: int8 activations are scaled per tensor, so rows in a batch interact
            x = dict(input_ids=ids[i : i + 1, : int(mask[i].sum())])
            full, halted = model(**x), model(**x, halt_early=True)
            assert torch.equal(halted.exit_layer, full.exit_layer) and torch.equal(halted.prediction, full.prediction)
