"""The DACT recurrence and the halting bounds (methods.md §1.2 and §1.4).

Pure functions. The model's halting path, the exit layers read off a full-depth trace
(evaluation, the inspector, the app) and the margins shown per layer all compute the bound with
`halting_margin`, so every answer to "when does an example halt" comes from that one formula.

The recurrence runs in float64: the bounds compare quantities that can sit within float32
rounding of each other, and the guarantee "halted prediction == full-depth prediction" should
not hinge on the last bit. The cost is negligible (B x C numbers per layer).
"""

from __future__ import annotations

import torch

BOUNDS = ("tight", "paper")


def accumulate_step(
    acc_prob: torch.Tensor, remaining_prob: torch.Tensor, layer_prob: torch.Tensor, halting_prob: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of a_n = y_n p_{n-1} + a_{n-1} (1 - p_{n-1});  p_n = h_n p_{n-1}.

    acc_prob (B, C) and remaining_prob (B,) are a_{n-1} and p_{n-1}; layer_prob (B, C) is y_n and
    halting_prob (B,) is h_n. Start from a_0 = 0, p_0 = 1.
    """
    # a_n = a_{n-1} + p_{n-1} (y_n - a_{n-1}), the same sum regrouped
    acc_prob = acc_prob + remaining_prob.unsqueeze(-1) * (layer_prob.to(acc_prob.dtype) - acc_prob)  # (B, C)
    remaining_prob = halting_prob.to(remaining_prob.dtype) * remaining_prob  # (B,)
    return acc_prob, remaining_prob


def accumulate(layer_probs: torch.Tensor, halting_probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole recurrence over N layers: layer_probs (B, N, C), halting_probs (B, N) -> a (B, N, C), p (B, N)."""
    batch, num_layers, num_classes = layer_probs.shape
    acc_prob = layer_probs.new_zeros(batch, num_classes, dtype=torch.float64)  # (B, C)  a_0
    remaining_prob = layer_probs.new_ones(batch, dtype=torch.float64)  # (B,)  p_0
    accs, remainings = [], []
    for n in range(num_layers):
        acc_prob, remaining_prob = accumulate_step(acc_prob, remaining_prob, layer_probs[:, n], halting_probs[:, n])
        accs.append(acc_prob)
        remainings.append(remaining_prob)
    return torch.stack(accs, dim=1), torch.stack(remainings, dim=1)  # (B, N, C), (B, N)


def layer_weights(remaining_probs: torch.Tensor) -> torch.Tensor:
    """Weight of each y_n in the final answer a_N: w_n = p_{n-1} prod_{k=n}^{N-1} (1 - p_k).

    remaining_probs (..., N) holds p_1..p_N; returns (..., N) weights that sum to 1.
    """
    p = remaining_probs.to(torch.float64)
    p_prev = torch.cat([torch.ones_like(p[..., :1]), p[..., :-1]], dim=-1)  # (..., N)  p_0..p_{N-1}
    keep = 1 - p[..., :-1]  # (..., N-1)  (1 - p_1) .. (1 - p_{N-1})
    # suffix products: tail[n] = prod_{k=n+1}^{N-1} (1 - p_k) in 1-based terms
    tail = torch.flip(torch.cumprod(torch.flip(keep, [-1]), dim=-1), [-1])  # (..., N-1)
    tail = torch.cat([tail, torch.ones_like(p[..., :1])], dim=-1)  # (..., N)
    return p_prev * tail


def halting_margin(
    acc_prob: torch.Tensor, remaining_prob: torch.Tensor, layers_left: float | torch.Tensor, bound: str = "tight"
) -> torch.Tensor:
    """How far each example is from halting: the bound holds (halt) iff the margin is > 0.

    tight:  (1 - p_n)^d (a_n[c*] + 1 - a_n[c_ru]) - 1
    paper:  a_n[c*] (1 - p_n)^d - (a_n[c_ru] + p_n d)

    acc_prob (..., C), remaining_prob (...,) -> (...,). `layers_left` is d = N - n (possibly
    scaled by a relaxation factor, which voids the guarantee).
    """
    if bound not in BOUNDS:
        raise ValueError(f"unknown halting bound {bound!r}; expected one of {BOUNDS}")
    acc_prob = acc_prob.to(torch.float64)
    remaining_prob = remaining_prob.to(torch.float64)
    top2 = acc_prob.topk(2, dim=-1).values  # (..., 2)
    return bound_margin(top2[..., 0], top2[..., 1], remaining_prob, layers_left, bound)  # (...,)


def bound_margin(top, runner_up, remaining_prob, layers_left, bound: str = "tight"):
    """`halting_margin` from a_n's two largest entries a_n[c*], a_n[c_ru] (...,) and p_n (...,): the one formula of
    both bounds, on torch tensors or NumPy arrays alike (the ONNX Runtime engine's loop runs in NumPy)."""
    decay = (1 - remaining_prob) ** layers_left  # (...,)
    if bound == "tight":
        return decay * (top + 1 - runner_up) - 1
    if bound == "paper":
        return top * decay - (runner_up + remaining_prob * layers_left)
    raise ValueError(f"unknown halting bound {bound!r}; expected one of {BOUNDS}")


def margins_by_layer(
    acc_probs: torch.Tensor, remaining_probs: torch.Tensor, bound: str = "tight", relaxation: float = 1.0
) -> torch.Tensor:
    """The margin after every layer of a full-depth trace: acc_probs (..., N, C), remaining_probs (..., N) -> (..., N).

    After layer n the bound looks at d = (N - n) * relaxation layers left (d = 0 after the last layer).
    """
    num_layers = remaining_probs.shape[-1]
    layers_left = (num_layers - torch.arange(1, num_layers + 1, dtype=torch.float64)) * relaxation  # (N,)
    return halting_margin(acc_probs, remaining_probs, layers_left.to(remaining_probs.device), bound)


def should_halt(
    acc_prob: torch.Tensor,
    remaining_prob: torch.Tensor,
    layer: int,
    num_layers: int,
    bound: str = "tight",
    relaxation: float = 1.0,
) -> torch.Tensor:
    """Bool (...,): halt after 1-based `layer`. Every example halts after the last layer.

    `relaxation` in [0, 1] scales the number of layers left; 1.0 keeps the guarantee.
    """
    if layer >= num_layers:
        return torch.ones(remaining_prob.shape, dtype=torch.bool, device=remaining_prob.device)
    layers_left = (num_layers - layer) * relaxation
    return halting_margin(acc_prob, remaining_prob, layers_left, bound) > 0


def exit_layers_from_trace(
    acc_probs: torch.Tensor, remaining_probs: torch.Tensor, bound: str = "tight", relaxation: float = 1.0
) -> torch.Tensor:
    """1-based exit layer (B,) that halting inference would choose, read off a full-depth trace.

    Valid because the decision after layer n depends only on (a_n, p_n), which do not depend on
    later layers. acc_probs (B, N, C), remaining_probs (B, N).
    """
    num_layers = remaining_probs.shape[-1]
    halts = torch.stack(
        [
            should_halt(acc_probs[:, n], remaining_probs[:, n], n + 1, num_layers, bound, relaxation)
            for n in range(num_layers)
        ],
        dim=1,
    )  # (B, N)
    return halts.to(torch.int64).argmax(dim=1) + 1  # first True; the last column is always True
