"""DACT-BERT: Differentiable Adaptive Computation Time on the Transformer blocks of BERT.

Eyzaguirre, del Rio, Araujo, Soto, "DACT-BERT: Differentiable Adaptive Computation Time for an
Efficient BERT Inference" (NLP Power! workshop, ACL 2022). Formulas: ../shared/docs/methods.md §1.

One config, one module per layer, one model. Two forward paths share the same layers:
  * full depth (training, reference): every layer runs, everything stays differentiable;
  * halting (`halt_early=True`): each example stops after the first layer where the halting bound
    holds; halted rows leave the batch, so later layers run only on the rows still going (a single
    example takes a loop of its own, with the recurrence in Python floats).

Departure from the paper, on purpose: the vector that feeds each DACT module is configurable
(`pooling="cls" | "mean"`). The packaged MiniLM backbone was trained with mean pooling and its
early-layer [CLS] carries no class information, so the default is the masked mean of token states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from torch.nn import functional as F
from transformers import BertConfig, BertModel
from transformers.modeling_outputs import ModelOutput

from ...halting import (BOUNDS, accumulate, accumulate_step, accumulate_step_one, exit_layers_from_trace, should_halt,
                        should_halt_one)
from ..common import (LayerByLayerModel, check_pooling, host_tensors, keep_rows, model_output, pool, run_layer,
                      trim_padding)

ANSWER_HEADS = ("mlp", "linear")


@strict
class DactBertConfig(BertConfig):
    """BertConfig plus the DACT settings.

    ponder_penalty: tau in L = NLL(a_N) + tau * mean(sum_n p_n); trades accuracy for compute.
    halting_bias_init: initial bias of every halting unit (h = sigmoid(bias) at start; +2 -> h~0.88,
        the model starts close to "answer = last layer").
    dact_hidden_size: width of the hidden layer of each DACT module (default H / 2).
    pooling: which vector of each layer feeds its DACT module, "mean" (masked mean of tokens) or "cls".
    halting_bound: bound used by halting inference, "tight" (default) or "paper"; both guarantee
        that the halted prediction equals the full-depth prediction.
    halting_relaxation: scales the number of layers left in the bound; 1.0 keeps the guarantee,
        anything lower halts earlier and no longer guarantees it.
    layer_loss_weight: weight of an optional auxiliary loss, the mean cross-entropy of every
        layer's own answer y_n (0 = the paper's loss, where y_n learns only through a_N).
    distill_weight: weight of an optional auxiliary loss, the mean over layers of KL(t || y_n), where t are a
        teacher's probabilities for each training example (`teacher_probs`, e.g. the fine-tuned full-depth
        reference's): every layer's answer learns the reference's whole answer, not only the gold label.
    distill_temperature: T of that loss: both answers are softened to softmax(log p / T) before the KL, which is
        scaled by T^2 so that its gradients keep their size (Hinton et al., 2015); 1 compares them as they are.
    answer_head: "mlp" (the paper: y_n from the module's hidden layer, like h_n) or "linear" (y_n read
        straight off the pooled vector: the shape of a multi-exit model's exits, so DACT's halting units
        can be trained on a multi-exit model's frozen exits; see `dact train --init-from`).
    """

    model_type = "dact-bert"

    ponder_penalty: float = 0.01
    halting_bias_init: float = 2.0
    dact_hidden_size: int | None = None
    pooling: str = "mean"
    halting_bound: str = "tight"
    halting_relaxation: float = 1.0
    layer_loss_weight: float = 0.0
    distill_weight: float = 0.0
    distill_temperature: float = 1.0
    answer_head: str = "mlp"

    def validate_dact_settings(self):
        check_pooling(self.pooling)
        if self.answer_head not in ANSWER_HEADS:
            raise ValueError(f"answer_head must be one of {ANSWER_HEADS}, got {self.answer_head!r}")
        if self.halting_bound not in BOUNDS:
            raise ValueError(f"halting_bound must be one of {BOUNDS}, got {self.halting_bound!r}")
        if not 0.0 <= self.halting_relaxation <= 1.0:
            raise ValueError(f"halting_relaxation must lie in [0, 1], got {self.halting_relaxation}")
        if self.ponder_penalty < 0:
            raise ValueError(f"ponder_penalty must be >= 0, got {self.ponder_penalty}")
        if self.distill_weight < 0:
            raise ValueError(f"distill_weight must be >= 0, got {self.distill_weight}")
        if self.distill_temperature <= 0:
            raise ValueError(f"distill_temperature must be > 0, got {self.distill_temperature}")
        if self.num_labels < 2:
            raise ValueError("DACT-BERT classifies: num_labels must be at least 2")

    @property
    def guarantee_holds(self) -> bool:
        return self.halting_relaxation == 1.0


@dataclass
class DactBertOutput(ModelOutput):
    """Outputs of DactBertForSequenceClassification. B = batch, N = layers, C = classes.

    In the halting path, entries for layers after an example's exit are NaN (never computed).

    loss: NLL of the final answer + ponder penalty (+ optional per-layer loss), when labels are given.
    logits (B, C): log of the final probabilities (a_N, or a at the exit layer when halting).
    probs (B, C): the final answer as probabilities (float64).
    prediction (B,): argmax of probs, the one source of the predicted class (the float32 logits may
        tie where the float64 probabilities do not).
    exit_layer (B,): 1-based layer where halting inference stops (read off the trace in the
        full-depth path: the decision depends only on a_n and p_n).
    layer_probs (B, N, C): y_n, each layer's own answer.
    halting_probs (B, N): h_n.
    remaining_probs (B, N): p_n = h_1 ... h_n.
    acc_probs (B, N, C): a_n, the accumulated answer after layer n.
    ponder_cost (B,): sum_n p_n.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    probs: torch.Tensor | None = None
    prediction: torch.Tensor | None = None
    exit_layer: torch.Tensor | None = None
    layer_probs: torch.Tensor | None = None
    halting_probs: torch.Tensor | None = None
    remaining_probs: torch.Tensor | None = None
    acc_probs: torch.Tensor | None = None
    ponder_cost: torch.Tensor | None = None

    @classmethod
    def of(cls, probs, exit_layer, layer_probs, halting_probs, remaining_probs, acc_probs, ponder_cost, dtype,
           loss=None) -> "DactBertOutput":
        """The output of the tensor paths; the logits and the prediction are derived from probs (a_N, float64).
        One example's halting path lays out the same fields itself, in Python floats."""
        return model_output(cls, loss=loss, logits=probs.clamp(min=1e-12).log().to(dtype), probs=probs,
                            prediction=probs.argmax(dim=-1), exit_layer=exit_layer, layer_probs=layer_probs,
                            halting_probs=halting_probs, remaining_probs=remaining_probs, acc_probs=acc_probs,
                            ponder_cost=ponder_cost)


class HaltingUnit(nn.Linear):
    """The linear unit behind h_n; its own class so `_init_weights` can set its bias."""


class DactModule(nn.Module):
    """After layer n: z = ReLU(W1 x + b1);  y_n = softmax(Wy z + by);  h_n = sigmoid(wh z + bh).
    With answer_head "linear": y_n = softmax(Wy x + by), from the pooled vector x itself.

    With the "mlp" head, y_n's logits and h_n's come from one matrix product with [Wy; wh] stacked, in every path
    (training, full depth, halting), so each path computes the same numbers: at batch 1 each separate call costs its
    dispatch whatever its size. The stacked weights are kept between calls that track no gradient and rebuilt when
    a weight changes (an optimizer step, loading, `.to()`)."""

    def __init__(self, config: DactBertConfig):
        super().__init__()
        width = config.dact_hidden_size or config.hidden_size // 2
        self.answer_from_pooled = config.answer_head == "linear"
        self.dense = nn.Linear(config.hidden_size, width)
        self.answer = nn.Linear(config.hidden_size if self.answer_from_pooled else width, config.num_labels)
        self.halting = HaltingUnit(width, 1)
        self._stacked_heads = None  # (the four weights' addresses and versions, weight (C + 1, W), bias (C + 1,))

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # submodules and weights read once, off the modules' own dictionaries: through the attribute machinery each
        # read costs about a microsecond, a visible share of the few microseconds each operation here takes at batch 1
        modules = self._modules
        dense, answer, halting = modules["dense"], modules["answer"], modules["halting"]
        # an int8 linear keeps no weight among its parameters; a weight or bias kept elsewhere (a buffer, a
        # parametrization) is read by the module's own call
        dense_weights, answer_weights, halting_weights = dense._parameters, answer._parameters, halting._parameters
        if (self.answer_from_pooled or "weight" not in dense_weights or "bias" not in dense_weights
                or "weight" not in answer_weights or "bias" not in answer_weights
                or "weight" not in halting_weights or "bias" not in halting_weights):
            z = F.relu(dense(pooled))  # (B, W)
            layer_prob = answer(pooled if self.answer_from_pooled else z).softmax(dim=-1)  # (B, C)
            return layer_prob, torch.sigmoid(halting(z)).squeeze(-1)  # (B, C), (B,)
        z = F.relu(F.linear(pooled, dense_weights["weight"], dense_weights["bias"]))  # (B, W)
        heads = self._heads(answer_weights["weight"], halting_weights["weight"], answer_weights["bias"],
                            halting_weights["bias"])
        logits = F.linear(z, *heads)  # (B, C + 1)
        return logits[:, :-1].softmax(dim=-1), logits[:, -1].sigmoid()  # (B, C), (B,): y_n, h_n

    def _heads(self, answer_weight, halting_weight, answer_bias, halting_bias) -> tuple[torch.Tensor, torch.Tensor]:
        """[Wy; wh] (C + 1, W) and [by; bh] (C + 1,) from the four current weights."""
        if torch.is_grad_enabled() and (answer_weight.requires_grad or halting_weight.requires_grad
                                        or answer_bias.requires_grad or halting_bias.requires_grad):
            return torch.cat((answer_weight, halting_weight)), torch.cat((answer_bias, halting_bias))
        # a weight changed in place (a step, loading) has a new version; one replaced, a new address
        key = (answer_weight.data_ptr(), halting_weight.data_ptr(), answer_bias.data_ptr(), halting_bias.data_ptr(),
               answer_weight._version, halting_weight._version, answer_bias._version, halting_bias._version)
        if self._stacked_heads is None or self._stacked_heads[0] != key:
            # ordinary tensors even under torch.inference_mode, like the kept layer inputs
            with torch.inference_mode(False), torch.no_grad():
                self._stacked_heads = (key, torch.cat((answer_weight, halting_weight)),
                                       torch.cat((answer_bias, halting_bias)))
        return self._stacked_heads[1:]

    def _apply(self, fn, *args, **kwargs):
        self._stacked_heads = None  # `.to()`, `.half()`: new weights, possibly at a freed weight's address or dtype
        return super()._apply(fn, *args, **kwargs)


class DactBertPreTrainedModel(LayerByLayerModel):
    config_class = DactBertConfig
    config: DactBertConfig

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, HaltingUnit):
            nn.init.constant_(module.bias, self.config.halting_bias_init)


class DactBertForSequenceClassification(DactBertPreTrainedModel):
    def __init__(self, config: DactBertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dact = nn.ModuleList([DactModule(config) for _ in range(config.num_hidden_layers)])
        self.post_init()

    @property
    def num_layers(self) -> int:
        return self.config.num_hidden_layers

    def forward_layers(
        self,
        hidden: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        halt_early: bool = False,
        halting_bound: str | None = None,
        halting_relaxation: float | None = None,
        teacher_probs: torch.Tensor | None = None,
    ) -> DactBertOutput:
        """Every layer (training, traces) or halting inference. halting_bound / halting_relaxation override
        the config's for this call only (the model object may be shared, e.g. by several app sessions).
        teacher_probs (B, C): the targets of the distillation loss (config.distill_weight), with the labels; without
        them a model in evaluation mode leaves that term out of its loss, and one in training refuses."""
        bound = self.config.halting_bound if halting_bound is None else halting_bound
        relaxation = self.config.halting_relaxation if halting_relaxation is None else float(halting_relaxation)
        if bound not in BOUNDS or not 0.0 <= relaxation <= 1.0:
            raise ValueError(f"halting bound must be one of {BOUNDS} and relaxation in [0, 1]; got {bound!r}, {relaxation}")
        if teacher_probs is not None:
            if labels is None:
                raise ValueError("teacher_probs serve the training loss: pass the labels too (and every layer runs)")
            if teacher_probs.shape != (hidden.shape[0], self.config.num_labels):
                raise ValueError(f"teacher_probs must be (batch, classes) = {(hidden.shape[0], self.config.num_labels)}, "
                                 f"got {tuple(teacher_probs.shape)}")
        # a distilled model scored later (evaluation, a loss with the labels only) leaves the term out; training
        # without its targets would silently train another recipe
        if self.training and labels is not None and self.config.distill_weight > 0 and teacher_probs is None:
            raise ValueError(f"distill_weight is {self.config.distill_weight}: training needs teacher_probs (B, C)")
        if halt_early:
            return self._halting_forward(hidden, attention_mask, bound, relaxation)

        mask, weights = self.layer_inputs(hidden, attention_mask)  # (B, 1, T)
        layer_probs, halting_probs = [], []
        for layer, dact in zip(self.bert.encoder.layer, self.dact):
            hidden = run_layer(layer, hidden, mask)  # (B, T, H)
            layer_prob, halting_prob = dact(pool(hidden, weights, self.config.pooling))  # (B, C), (B,)
            layer_probs.append(layer_prob)
            halting_probs.append(halting_prob)
        layer_probs = torch.stack(layer_probs, dim=1)  # (B, N, C)
        halting_probs = torch.stack(halting_probs, dim=1)  # (B, N)
        acc_probs, remaining_probs = accumulate(layer_probs, halting_probs)  # (B, N, C) f64, (B, N) f64
        probs = acc_probs[:, -1]  # (B, C)  a_N
        ponder_cost = remaining_probs.sum(dim=1)  # (B,)

        loss = None
        if labels is not None:
            log_probs = probs.clamp(min=1e-8).log()  # (B, C)
            loss = F.nll_loss(log_probs, labels) + self.config.ponder_penalty * ponder_cost.mean()
            distilling = self.config.distill_weight > 0 and teacher_probs is not None
            if self.config.layer_loss_weight > 0 or distilling:
                layer_log_probs = layer_probs.clamp(min=1e-8).log()  # (B, N, C)
            if self.config.layer_loss_weight > 0:
                per_layer = F.nll_loss(layer_log_probs.flatten(0, 1), labels.repeat_interleave(self.num_layers))
                loss = loss + self.config.layer_loss_weight * per_layer
            if distilling:
                temperature = self.config.distill_temperature
                student = (layer_log_probs / temperature).log_softmax(dim=-1)  # (B, N, C)
                teacher = (teacher_probs.to(layer_probs.dtype).clamp(min=1e-8).log() / temperature).softmax(dim=-1)
                targets = teacher.unsqueeze(1).expand_as(student)  # (B, N, C)
                # mean over examples and layers of KL(t || y_n), both softened by T
                distill = F.kl_div(student.flatten(0, 1), targets.flatten(0, 1), reduction="batchmean")
                loss = loss + self.config.distill_weight * temperature ** 2 * distill
            loss = loss.to(hidden.dtype)

        exit_layer = exit_layers_from_trace(acc_probs.detach(), remaining_probs.detach(), bound, relaxation)
        return DactBertOutput.of(probs, exit_layer, layer_probs, halting_probs, remaining_probs, acc_probs, ponder_cost,
                                 hidden.dtype, loss)

    def _halting_forward(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, bound: str, relaxation: float
    ) -> DactBertOutput:
        """Run layer by layer; after each, rows whose bound holds are frozen and leave the batch.

        Per-layer work is kept to a few kernels: the per-layer quantities are collected in lists and laid out
        as (B, N, ...) once at the end. A single example takes `_halting_forward_one`.
        """
        if hidden.shape[0] == 1:
            return self._halting_forward_one(hidden, attention_mask, bound, relaxation)
        batch, num_layers, num_classes = hidden.shape[0], self.num_layers, self.config.num_labels
        probs = hidden.new_zeros((batch, num_classes), dtype=torch.float64)  # (B, C)
        exit_layer = torch.full((batch,), num_layers, dtype=torch.int64, device=hidden.device)  # (B,)
        records = []  # per layer: (rows or None when every row ran, y_n, h_n, a_n, p_n)

        rows = None  # original index of each running row; None while all rows run
        acc_prob = hidden.new_zeros((batch, num_classes), dtype=torch.float64)  # (R, C)  a_0
        remaining_prob = hidden.new_ones(batch, dtype=torch.float64)  # (R,)  p_0
        mask, weights = self.layer_inputs(hidden, attention_mask)  # (R, 1, T)
        for n, (layer, dact) in enumerate(zip(self.bert.encoder.layer, self.dact)):
            hidden = run_layer(layer, hidden, mask)  # (R, T, H)
            layer_prob, halting_prob = dact(pool(hidden, weights, self.config.pooling))  # (R, C), (R,)
            acc_prob, remaining_prob = accumulate_step(acc_prob, remaining_prob, layer_prob, halting_prob)
            records.append((rows, layer_prob, halting_prob, acc_prob, remaining_prob))
            if n + 1 == num_layers:  # every row still running stops here
                _write_rows(probs, rows, acc_prob)
                break
            halt = should_halt(acc_prob, remaining_prob, n + 1, num_layers, bound, relaxation)  # (R,)
            # the host must know how many rows halted to shape the next layer's batch: this read waits for
            # the device; trimming the padding (only when rows leave) reads the lengths too
            num_halted = int(halt.sum())
            if num_halted == halt.shape[0]:
                _write_rows(probs, rows, acc_prob)
                _write_rows(exit_layer, rows, n + 1)
                break
            if num_halted:
                if rows is None:
                    rows = torch.arange(batch, device=hidden.device)  # (R,)
                probs[rows[halt]] = acc_prob[halt]
                exit_layer[rows[halt]] = n + 1
                rows, hidden, attention_mask, acc_prob, remaining_prob = keep_rows(
                    ~halt, rows, hidden, attention_mask, acc_prob, remaining_prob
                )
                hidden, attention_mask = trim_padding(hidden, attention_mask)
                # the attention mask and the pooling weights change only when rows leave
                mask, weights = self.layer_inputs(hidden, attention_mask)

        layer_probs, halting_probs, acc_probs, remaining_probs = (
            _layout_by_layer([(r[0], r[i]) for r in records], batch, num_layers) for i in range(1, 5)
        )
        ponder_cost = remaining_probs.nan_to_num(0.0).sum(dim=1)  # (B,) sum of p_n over executed layers
        return DactBertOutput.of(probs, exit_layer, layer_probs, halting_probs, remaining_probs, acc_probs, ponder_cost,
                                 hidden.dtype)

    def _halting_forward_one(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, bound: str, relaxation: float
    ) -> DactBertOutput:
        """The halting path for one example: the same layers and DACT modules, with the recurrence and the bound in
        Python floats (float64, the tensor path's operations in its order). At batch size 1 every tensor operation
        costs its dispatch whatever its size, and the tensor bookkeeping was most of the time beyond the layers."""
        num_layers, dtype, pooling = self.num_layers, hidden.dtype, self.config.pooling
        acc_prob, remaining_prob = [0.0] * self.config.num_labels, 1.0  # a_0, p_0
        layer_probs, halting_probs, acc_probs, remaining_probs = [], [], [], []  # per executed layer
        mask, weights = self.layer_inputs(hidden, attention_mask)  # (1, 1, T)
        for n, (layer, dact) in enumerate(zip(self.bert.encoder.layer, self.dact)):
            hidden = run_layer(layer, hidden, mask)  # (1, T, H)
            layer_prob, halting_prob = dact(pool(hidden, weights, pooling))  # (1, C), (1,)
            layer_probs.append(layer_prob.tolist()[0])  # y_n in the model's dtype, exact as Python floats
            halting_probs.append(halting_prob.item())
            acc_prob, remaining_prob = accumulate_step_one(acc_prob, remaining_prob, layer_probs[-1], halting_probs[-1])
            acc_probs.append(acc_prob)
            remaining_probs.append(remaining_prob)
            if should_halt_one(acc_prob, remaining_prob, n + 1, num_layers, bound, relaxation):
                break

        # the output laid out from three flat lists of Python numbers, one per dtype (`host_tensors`): each tensor
        # operation costs its dispatch, and at batch 1 that was a visible share of a call that stops after one layer
        num_classes, ran, nan = len(acc_prob), len(layer_probs), float("nan")
        never_ran = [nan] * (num_layers - ran)  # layers never run: NaN, as in the batched path
        per_class = never_ran * num_classes
        probs, remaining_probs, acc_probs, ponder_cost = host_tensors(
            [*acc_prob, *remaining_probs, *never_ran, *(a for row in acc_probs for a in row), *per_class,
             sum(remaining_probs)], torch.float64, hidden.device,
            [(1, num_classes), (1, num_layers), (1, num_layers, num_classes), (1,)])
        layer_probs, halting_probs, logits = host_tensors(
            [*(y for row in layer_probs for y in row), *per_class, *halting_probs, *never_ran,
             *(math.log(max(a, 1e-12)) for a in acc_prob)], dtype, hidden.device,
            [(1, num_layers, num_classes), (1, num_layers), (1, num_classes)])
        # the first largest entry, as torch.argmax picks it
        exit_layer, prediction = host_tensors([ran, max(range(num_classes), key=acc_prob.__getitem__)], torch.int64,
                                              hidden.device, [(1,), (1,)])
        return model_output(DactBertOutput, logits=logits, probs=probs, prediction=prediction, exit_layer=exit_layer,
                            layer_probs=layer_probs, halting_probs=halting_probs, remaining_probs=remaining_probs,
                            acc_probs=acc_probs, ponder_cost=ponder_cost)


def _write_rows(target: torch.Tensor, rows: torch.Tensor | None, value) -> None:
    """target[rows] = value, where rows None means every row."""
    if rows is None:
        target[:] = value
    else:
        target[rows] = value


def _layout_by_layer(per_layer: list, batch: int, num_layers: int) -> torch.Tensor:
    """[(rows or None, value (R, ...))] for layers 1..k -> (B, N, ...), NaN where a row did not run."""
    full = [value for rows, value in per_layer if rows is None]  # a prefix: rows only ever leave
    first = per_layer[0][1]
    out = torch.stack(full, dim=1) if full else first.new_empty((batch, 0, *first.shape[1:]))  # (B, k, ...)
    if len(per_layer) == num_layers and len(full) == num_layers:
        return out
    nan = first.new_full((batch, num_layers - len(full), *first.shape[1:]), float("nan"))  # (B, N - k, ...)
    out = torch.cat([out, nan], dim=1)  # (B, N, ...)
    for n in range(len(full), len(per_layer)):
        rows, value = per_layer[n]
        out[rows, n] = value
    return out
