"""The recurrence and the halting bounds as pure math (methods.md §1.2, §1.4)."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dact_core.halting import accumulate, accumulate_step, exit_layers_from_trace, halting_margin, layer_weights


def random_trace(seed: int, batch: int, layers: int, classes: int, sharp: float = 8.0):
    gen = torch.Generator().manual_seed(seed)
    layer_probs = (torch.randn(batch, layers, classes, generator=gen, dtype=torch.float64) * sharp).softmax(-1)
    halting_probs = torch.sigmoid(torch.randn(batch, layers, generator=gen, dtype=torch.float64) * 3)
    return layer_probs, halting_probs


def test_recurrence_facts():
    y, h = random_trace(0, 16, 6, 3)
    a, p = accumulate(y, h)
    torch.testing.assert_close(a[:, 0], y[:, 0])  # a_1 = y_1
    torch.testing.assert_close(a.sum(-1), torch.ones(16, 6, dtype=torch.float64))  # every a_n is a distribution
    torch.testing.assert_close(p, torch.cumprod(h, dim=1))  # p_n = h_1 ... h_n
    w = layer_weights(p)
    torch.testing.assert_close(w.sum(-1), torch.ones(16, dtype=torch.float64))
    torch.testing.assert_close((w.unsqueeze(-1) * y).sum(1), a[:, -1])  # Y = sum_n w_n y_n


def test_last_halting_value_never_enters_the_answer():
    y, h = random_trace(1, 4, 5, 2)
    h2 = h.clone()
    h2[:, -1] = torch.rand(4, dtype=torch.float64)
    torch.testing.assert_close(accumulate(y, h)[0][:, -1], accumulate(y, h2)[0][:, -1])


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    layers=st.integers(2, 12),
    classes=st.integers(2, 6),
    sharp=st.floats(0.5, 30.0),
)
def test_halted_prediction_equals_full_depth_prediction(seed, layers, classes, sharp):
    y, h = random_trace(seed, 32, layers, classes, sharp)
    a, p = accumulate(y, h)
    final = a[:, -1].argmax(-1)
    exits = {}
    for bound in ("tight", "paper"):
        exits[bound] = exit_layers_from_trace(a, p, bound)
        at_exit = a[torch.arange(32), exits[bound] - 1].argmax(-1)
        assert torch.equal(at_exit, final), bound
    assert (exits["tight"] <= exits["paper"]).all()


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 10_000), layers=st.integers(2, 10), classes=st.integers(2, 5))
def test_worst_case_continuation_cannot_flip_a_halted_answer(seed, layers, classes):
    """After a halt, the adversary (h = 1, every later layer all-in on the runner-up) still loses."""
    y, h = random_trace(seed, 64, layers, classes, sharp=20.0)
    a, p = accumulate(y, h)
    exits = exit_layers_from_trace(a, p, "tight")
    for i in range(64):
        n = int(exits[i])
        if n == layers:
            continue
        acc, rem = a[i, n - 1 : n], p[i, n - 1 : n]
        top, runner_up = acc[0].topk(2).indices
        for _ in range(layers - n):
            worst = torch.nn.functional.one_hot(runner_up, classes).to(acc.dtype)[None]
            acc, rem = accumulate_step(acc, rem, worst, torch.ones_like(rem))
        assert int(acc[0].argmax()) == int(top)


def test_paper_bound_implies_tight_bound():
    y, h = random_trace(3, 4096, 6, 3, sharp=15.0)
    a, p = accumulate(y, h)
    for d in range(1, 6):
        paper = halting_margin(a[:, 0], p[:, 0], d, "paper") > 0
        tight = halting_margin(a[:, 0], p[:, 0], d, "tight") > 0
        assert paper.any()  # the sample reaches the interesting region
        assert not (paper & ~tight).any()


def test_two_class_tight_bound_reads_half():
    y, h = random_trace(4, 2048, 4, 2, sharp=10.0)
    a, p = accumulate(y, h)
    for d in (1, 2, 3):
        tight = halting_margin(a[:, 0], p[:, 0], d, "tight") > 0
        simple = a[:, 0].max(-1).values * (1 - p[:, 0]) ** d > 0.5
        mismatch = tight != simple
        # equal up to rounding at the boundary
        assert mismatch.sum() <= 1


def test_every_example_halts_at_the_last_layer_and_ties_do_not_halt_early():
    a = torch.full((2, 3, 2), 0.5, dtype=torch.float64)  # a tie at every layer
    p = torch.full((2, 3), 1e-9, dtype=torch.float64)
    assert exit_layers_from_trace(a, p, "tight").tolist() == [3, 3]


def test_relaxation_zero_halts_at_once_and_unknown_bound_is_refused():
    y, h = random_trace(5, 8, 6, 3)
    a, p = accumulate(y, h)
    assert (exit_layers_from_trace(a, p, "tight", relaxation=0.0) == 1).all()
    try:
        halting_margin(a[:, 0], p[:, 0], 1, "loose")
    except ValueError as err:
        assert "loose" in str(err)
    else:
        raise AssertionError("an unknown bound must be refused")
