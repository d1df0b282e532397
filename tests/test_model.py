"""DactBertForSequenceClassification on tiny random models: the halting guarantee and exactness."""

import dataclasses
import numpy as np
import pytest
import torch
from torch import nn
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
    """Batch size 1 keeps the recurrence in Python floats: the same numbers as the full-depth path's tensors."""
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
            # logits and prediction made in Python floats: what the tensor paths derive from the probabilities
            assert torch.equal(halted.logits, halted.probs.clamp(min=1e-12).log().float())
            assert torch.equal(halted.prediction, halted.probs.argmax(-1))
            torch.testing.assert_close(halted.ponder_cost, full.remaining_probs[:, :k].sum(1))
    assert len(seen) > 1  # early exits and later ones


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_layer_inputs_of_one_unpadded_row_are_kept_and_equal_fresh_ones(attention):
    from transformers.masking_utils import create_bidirectional_mask

    from dact_core.models.common import pooling_weights

    model = tiny_model(0, num_labels=2, num_layers=2)
    model.config._attn_implementation = attention
    hidden = torch.randn(1, 5, model.config.hidden_size)  # (1, T, H)
    ones, padded = torch.ones(1, 5, dtype=torch.long), torch.tensor([[1, 1, 1, 0, 0]])
    first, again = model.layer_inputs(hidden, ones), model.layer_inputs(hidden, ones)
    assert first is again  # kept, not rebuilt
    fresh = create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=ones)
    assert (first[0] is None and fresh is None) or torch.equal(first[0], fresh)
    assert torch.equal(first[1], pooling_weights(ones, hidden.dtype))
    mask, weights = model.layer_inputs(hidden, padded)  # padding: built for this call, never kept
    assert mask is not None and weights[0, 0, 3:].eq(0).all()
    assert len(model._unpadded_layer_inputs) == 1
    # kept under inference mode, then used by a call that tracks gradients (training after an evaluation)
    ids = torch.randint(5, model.config.vocab_size, (1, 7))
    with torch.inference_mode():
        model(ids, halt_early=True)
    kept = model.layer_inputs(hidden[:, :1].expand(1, 7, -1), torch.ones_like(ids))
    assert all(t is None or not t.is_inference() for t in kept)
    model(ids, labels=torch.tensor([1])).loss.backward()


def test_manual_layer_loop_reproduces_bert_model():
    model = tiny_model(3)
    bert = BertModel(BertConfig(**{k: v for k, v in model.config.to_dict().items() if k in BertConfig.__dataclass_fields__}), add_pooling_layer=False)
    bert.load_state_dict(model.bert.state_dict())
    bert.eval()
    ids, mask = random_batch(3, 5)
    captured = []
    # the last layer's output module: the project's models call a layer's parts (`run_layer`), not the layer
    handle = model.bert.encoder.layer[-1].output.register_forward_hook(lambda m, i, o: captured.append(o))
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


def test_run_layer_is_the_layer_bit_for_bit():
    from dact_core.models.common import run_layer

    model = tiny_model(2)
    ids, mask = random_batch(3, 6)
    with torch.no_grad():
        hidden = model.bert.embeddings(input_ids=ids)
        attention, _ = model.layer_inputs(hidden, mask)
        for layer in model.bert.encoder.layer:
            assert torch.equal(run_layer(layer, hidden, attention), layer(hidden, attention))
            assert torch.equal(run_layer(layer, hidden, attention, with_attention=True)[0], layer(hidden, attention))
            layer.chunk_size_feed_forward = 1  # a chunking layer takes its own forward
            assert torch.equal(run_layer(layer, hidden, attention), layer(hidden, attention))
            layer.chunk_size_feed_forward = 0
            seen = []  # a hook on the layer is called
            handle = layer.register_forward_hook(lambda module, args, output: seen.append(output))
            run_layer(layer, hidden, attention)
            handle.remove()
            assert len(seen) == 1


def test_a_stock_layer_runs_as_one_sequence_of_operations_bit_for_bit():
    from dact_core.loading import quantize
    from dact_core.models.common import _stock_layer, _stock_layer_parts, run_layer
    from torch.nn.modules import module as torch_module
    from transformers.models.bert.modeling_bert import BertLayer

    model = tiny_model(4)
    assert model.config._attn_implementation == "sdpa"
    ids, mask = random_batch(4, 3)
    with torch.no_grad():
        hidden = model.bert.embeddings(input_ids=ids)
        padded, _ = model.layer_inputs(hidden, mask)
        for layer in model.bert.encoder.layer:
            parts = _stock_layer_parts(layer)
            assert parts is not None
            for rows, attention in ((hidden, padded), (hidden[:1, :5], None)):  # padding; one row, no mask
                expected = layer(rows, attention)
                assert torch.equal(_stock_layer(rows, attention, *parts), expected)
                assert torch.equal(run_layer(layer, rows, attention), expected)
        layer = model.bert.encoder.layer[0]
        seen = []  # a hook on any module the layer would call keeps the modules' own path, and is called
        handle = layer.attention.self.query.register_forward_hook(lambda module, args, output: seen.append(output))
        assert _stock_layer_parts(layer) is None
        run_layer(layer, hidden, padded)
        handle.remove()
        assert len(seen) == 1
        handle = torch_module.register_module_forward_hook(lambda module, args, output: None)  # a global hook
        assert _stock_layer_parts(layer) is None
        handle.remove()
        handle = layer.output.LayerNorm.register_full_backward_hook(lambda module, grad_in, grad_out: None)
        assert _stock_layer_parts(layer) is None
        handle.remove()
        # anything that would make the layer's own call differ keeps the modules' own path: a part in training (its
        # dropout draws), a dropout, forward or compiled call of another kind, a subclass, chunking, a decoder, another
        # attention
        changes = [(layer.attention.self, "training", True), (layer.output.dropout, "training", True),
                   (layer.attention.output, "dropout", nn.Identity()), (layer.intermediate.dense, "forward", print),
                   (layer.attention.self.key, "_compiled_call_impl", print),  # as `module.compile()` leaves it
                   (layer, "__class__", type("MyLayer", (BertLayer,), {})), (layer, "chunk_size_feed_forward", 1),
                   (layer, "is_decoder", True), (model.config, "_attn_implementation", "eager")]
        for owner, name, value in changes:
            kept = owner.__dict__.get(name, getattr(owner, name))
            setattr(owner, name, value)
            assert _stock_layer_parts(layer) is None, name
            if name == "forward":
                del owner.forward
            else:
                setattr(owner, name, kept)
            assert _stock_layer_parts(layer) is not None, name
        quantized = quantize(model, "int8")  # int8 linears run their own forward
        for layer in quantized.bert.encoder.layer:
            assert _stock_layer_parts(layer) is not None
            assert torch.equal(run_layer(layer, hidden, padded), layer(hidden, padded))


def test_a_plain_classifier_layer_by_layer_gives_its_own_logits():
    from transformers import BertForSequenceClassification

    from dact_core.models.common import classify_layer_by_layer

    config = tiny_model(5).config
    torch.manual_seed(5)
    plain = BertForSequenceClassification(BertConfig(**{k: v for k, v in config.to_dict().items()
                                                        if k in BertConfig.__dataclass_fields__})).eval()
    assert plain.config._attn_implementation == "sdpa"
    ids, mask = random_batch(5, 4)
    types = torch.randint(0, 2, ids.shape)
    with torch.no_grad():
        assert torch.equal(classify_layer_by_layer(plain, ids, mask, types),
                           plain(input_ids=ids, attention_mask=mask, token_type_ids=types).logits)
        assert torch.equal(classify_layer_by_layer(plain, ids[:1]), plain(input_ids=ids[:1]).logits)
        with pytest.raises(ValueError, match="evaluation mode"):
            classify_layer_by_layer(plain.train(), ids, mask)
        plain.eval().config.is_decoder = True  # a decoder's own forward builds a causal mask
        with pytest.raises(ValueError, match="encoder"):
            classify_layer_by_layer(plain, ids, mask)
        with pytest.raises(ValueError, match="BertForSequenceClassification"):
            classify_layer_by_layer(tiny_model(5), ids, mask)


def test_embed_is_the_embeddings_bit_for_bit():
    from dact_core.models.common import embed

    model = tiny_model(2)
    embeddings = model.bert.embeddings
    ids, _ = random_batch(3, 6)
    types = torch.randint(0, model.config.type_vocab_size, ids.shape)
    with torch.no_grad():
        for token_types in (None, torch.zeros_like(ids), types):
            for rows in (ids, ids[:1]):
                given = None if token_types is None else token_types[: len(rows)]
                assert torch.equal(embed(embeddings, rows, given), embeddings(input_ids=rows, token_type_ids=given))
        positions = torch.arange(ids.shape[1]).flip(0)[None]  # given positions take the module's forward
        assert torch.equal(embed(embeddings, ids, types, positions),
                           embeddings(input_ids=ids, token_type_ids=types, position_ids=positions))
        original = embeddings.word_embeddings  # a replaced part (an adapter, a quantized table) takes the module
        embeddings.word_embeddings = nn.Embedding(*original.weight.shape, max_norm=1.0)
        assert torch.equal(embed(embeddings, ids), embeddings(input_ids=ids))
        embeddings.word_embeddings = original
        for part in (embeddings, embeddings.word_embeddings):  # a hook (captum's attributions) sees its output
            seen = []
            handle = part.register_forward_hook(lambda module, args, output: seen.append(output))
            embed(embeddings, ids)
            handle.remove()
            assert len(seen) == 1
        embeddings.train()  # dropout: the module's forward, the same draws under the same seed
        embeddings.dropout.p = 0.5
        torch.manual_seed(0)
        dropped = embed(embeddings, ids)
        torch.manual_seed(0)
        assert torch.equal(dropped, embeddings(input_ids=ids)) and not torch.equal(dropped, embeddings.eval()(input_ids=ids))


def test_host_tensors_are_torch_tensor_bit_for_bit():
    from dact_core.models.common import host_tensors

    rng = np.random.default_rng(0)
    doubles = [*rng.standard_normal(50).tolist(), *(10.0 ** rng.uniform(-45, 38, 50)).tolist(), float("nan"), 1e-46, 0.0]
    shapes = [(1, 3), (1, 2, 48), (1,), (1, 3)]  # 103 numbers
    for dtype in (torch.float64, torch.float32, torch.bfloat16, torch.float16):
        pieces = host_tensors(doubles, dtype, torch.device("cpu"), shapes)
        expected = torch.tensor(doubles, dtype=dtype)
        assert [tuple(p.shape) for p in pieces] == shapes and all(p.dtype == dtype for p in pieces)
        made = torch.cat([p.reshape(-1) for p in pieces])
        assert torch.equal(made.view(torch.uint8), expected.view(torch.uint8))
    assert [p.tolist() for p in host_tensors([3, 1], torch.int64, torch.device("cpu"), [(1,), (1,)])] == [[3], [1]]
    with pytest.raises(ValueError, match="3 numbers for shapes"):
        host_tensors([1.0, 2.0, 3.0], torch.float32, torch.device("cpu"), [(1, 2)])


def test_model_output_is_the_constructors_object():
    from dact_core.models.common import model_output
    from dact_core.models.dact_bert.modeling_dact_bert import DactBertOutput
    from dact_core.models.multi_exit.modeling_multi_exit import MultiExitOutput

    def same(a, b):
        assert type(a) is type(b) and list(a.keys()) == list(b.keys()) and a.to_tuple() == b.to_tuple()
        assert all(getattr(a, f.name) is getattr(b, f.name) for f in dataclasses.fields(a))
        assert torch.utils._pytree.tree_flatten(a)[1] == torch.utils._pytree.tree_flatten(b)[1]

    values = {name: torch.randn(2) for name in ("logits", "probs", "prediction", "exit_layer", "ponder_cost")}
    loss = torch.ones(())
    for _ in range(2):  # the first output of a class comes from the constructor, the second does not
        same(model_output(DactBertOutput, **values), DactBertOutput(**values))
        same(model_output(DactBertOutput, loss=loss, **values), DactBertOutput(loss=loss, **values))
        same(model_output(MultiExitOutput, logits=values["logits"]), MultiExitOutput(logits=values["logits"]))
    out = model_output(DactBertOutput, **values)
    out.loss = torch.zeros(())  # a field set later joins the items, as on a constructed output
    assert list(out.keys())[-1] == "loss" and out["loss"] is out.loss and out[0] is values["logits"]
    with pytest.raises(TypeError, match="no field"):
        model_output(DactBertOutput, **values, logit=values["logits"])

    @dataclasses.dataclass
    class Derived(DactBertOutput):  # a class that completes itself: only its constructor builds it
        def __post_init__(self):
            super().__post_init__()
            if self.prediction is None and self.probs is not None:
                self.prediction = self.probs.argmax(-1)

    for _ in range(2):
        assert model_output(Derived, probs=values["probs"], logits=values["logits"]).prediction is not None


def test_all_true_and_any_true_read_a_mask_as_torch_does():
    from dact_core.models.common import all_true, any_true

    for mask in (torch.ones(1, 5, dtype=torch.long), torch.tensor([[1, 1, 0]]), torch.ones(1, 4, dtype=torch.bool),
                 torch.tensor([[True, False]]), torch.ones(2, 3, dtype=torch.float16), torch.ones(1, 6)[:, ::2],
                 torch.zeros(1, 0, dtype=torch.long), torch._neg_view(torch.ones(1, 3)), torch.tensor([[float("nan"), 0.0]]),
                 torch.tensor([[float("nan"), 2.0]], dtype=torch.float64)):
        assert all_true(mask) is bool(mask.all()) and any_true(mask) is bool(mask.any())
        assert any_true(1 - mask.long()) is bool((1 - mask.long()).any())
        with torch.inference_mode():
            assert all_true(mask.clone()) is bool(mask.all()) and any_true(mask.clone()) is bool(mask.any())


def test_stacked_heads_follow_every_weight_change():
    model = tiny_model(2)
    module = model.dact[0]
    pooled = torch.randn(4, model.config.hidden_size)

    def separate():  # y_n and h_n from the two heads on their own
        z = torch.relu(module.dense(pooled))
        return module.answer(z).softmax(-1), torch.sigmoid(module.halting(z)).squeeze(-1)

    def check():
        with torch.no_grad():
            for got, want in zip(module(pooled), separate()):
                torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)

    check()
    with torch.no_grad():
        module.halting.bias.add_(3.0)  # in place, as an optimizer step does
    check()
    module.load_state_dict({k: v * 2 for k, v in module.state_dict().items()})
    check()
    model.double()
    pooled = pooled.double()
    check()
    training = module(pooled)[1].sum()  # with gradients: the stacked weights are built in the graph
    training.backward()
    assert module.halting.weight.grad.abs().sum() > 0 and not module.answer.weight.grad.any()


def test_the_attention_function_is_read_off_the_config_field_or_its_property():
    from dact_core.models.common import _attention_implementation

    config = tiny_model(1).config
    for value in ("eager", "sdpa"):
        config._attn_implementation = value
        assert _attention_implementation(config) == config._attn_implementation == value

    class ConfigWithoutTheField:  # another config class: the property itself is read
        _attn_implementation = "flex_attention"

    assert _attention_implementation(ConfigWithoutTheField()) == "flex_attention"
    model = tiny_model(1)
    model.set_attn_implementation("eager")  # writes the field itself, past the property's setter
    assert _attention_implementation(model.config) == "eager"


def test_weights_kept_outside_the_parameters_run_through_the_modules_bit_for_bit():
    from dact_core.models.common import _stock_layer_parts, run_layer

    def as_buffer(module, name):  # the same numbers, kept as a buffer instead of a parameter
        value = getattr(module, name).detach().clone()
        delattr(module, name)
        module.register_buffer(name, value)

    model = tiny_model(6)
    ids, mask = random_batch(6, 3)
    with torch.no_grad():
        hidden = model.bert.embeddings(input_ids=ids)
        attention, _ = model.layer_inputs(hidden, mask)
        first, second = model.bert.encoder.layer[:2]
        as_buffer(first.attention.self.query, "weight")  # a linear: called as its module, the rest stays one sequence
        assert _stock_layer_parts(first) is not None
        assert torch.equal(run_layer(first, hidden, attention), first(hidden, attention))
        as_buffer(second.output.LayerNorm, "bias")  # a LayerNorm: the layer runs through its modules
        assert _stock_layer_parts(second) is None
        assert torch.equal(run_layer(second, hidden, attention), second(hidden, attention))
        query = second.attention.self.query
        second.attention.self._modules.pop("query")
        second.attention.self.query = query.forward  # not a module: no parts, and no error
        assert _stock_layer_parts(second) is None
        dact = model.dact[0]
        pooled = torch.randn(3, model.config.hidden_size)
        expected = dact(pooled)
        as_buffer(dact.halting, "bias")  # the DACT module calls its linears one by one: the same numbers
        assert all(torch.equal(a, b) for a, b in zip(dact(pooled), expected))
