"""DACT-BERT: Differentiable Adaptive Computation Time on the Transformer blocks of BERT.

Eyzaguirre, del Rio, Araujo, Soto, "DACT-BERT: Differentiable Adaptive Computation Time for an
Efficient BERT Inference" (NLP Power! workshop, ACL 2022). Formulas: ../shared/docs/methods.md §1.

One config, one module per layer, one model. Two forward paths share the same layers:
  * full depth (training, reference): every layer runs, everything stays differentiable;
  * halting (`halt_early=True`): each example stops after the first layer where the halting bound
    holds; halted rows leave the batch, so later layers run only on the rows still going.

Departure from the paper, on purpose: the vector that feeds each DACT module is configurable
(`pooling="cls" | "mean"`). The packaged MiniLM backbone was trained with mean pooling and its
early-layer [CLS] carries no class information, so the default is the masked mean of token states.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from torch.nn import functional as F
from transformers import BertConfig, BertModel
from transformers.modeling_outputs import ModelOutput

from ...halting import BOUNDS, accumulate, accumulate_step, exit_layers_from_trace, should_halt
from ..common import LayerByLayerModel, check_pooling, keep_rows, pool, trim_padding

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
        """The output of both paths; the logits and the prediction are derived from probs (a_N, float64)."""
        return cls(loss=loss, logits=probs.clamp(min=1e-12).log().to(dtype), probs=probs,
                   prediction=probs.argmax(dim=-1), exit_layer=exit_layer, layer_probs=layer_probs,
                   halting_probs=halting_probs, remaining_probs=remaining_probs, acc_probs=acc_probs,
                   ponder_cost=ponder_cost)


class HaltingUnit(nn.Linear):
    """The linear unit behind h_n; its own class so `_init_weights` can set its bias."""


class DactModule(nn.Module):
    """After layer n: z = ReLU(W1 x + b1);  y_n = softmax(Wy z + by);  h_n = sigmoid(wh z + bh).
    With answer_head "linear": y_n = softmax(Wy x + by), from the pooled vector x itself."""

    def __init__(self, config: DactBertConfig):
        super().__init__()
        width = config.dact_hidden_size or config.hidden_size // 2
        self.answer_from_pooled = config.answer_head == "linear"
        self.dense = nn.Linear(config.hidden_size, width)
        self.answer = nn.Linear(config.hidden_size if self.answer_from_pooled else width, config.num_labels)
        self.halting = HaltingUnit(width, 1)

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = F.relu(self.dense(pooled))  # (B, W)
        layer_prob = self.answer(pooled if self.answer_from_pooled else z).softmax(dim=-1)  # (B, C)  y_n
        halting_prob = torch.sigmoid(self.halting(z)).squeeze(-1)  # (B,)  h_n
        return layer_prob, halting_prob


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
            hidden = layer(hidden, mask)  # (B, T, H)
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

        The per-layer quantities are collected in lists and laid out as (B, N, ...) once at the end.
        """
        batch, num_layers, num_classes = hidden.shape[0], self.num_layers, self.config.num_labels
        probs = hidden.new_zeros((batch, num_classes), dtype=torch.float64)  # (B, C)
        exit_layer = torch.full((batch,), num_layers, dtype=torch.int64, device=hidden.device)  # (B,)
        records = []  # per layer: (rows or None when every row ran, y_n, h_n, a_n, p_n)

        rows = None  # original index of each running row; None while all rows run
        acc_prob = hidden.new_zeros((batch, num_classes), dtype=torch.float64)  # (R, C)  a_0
        remaining_prob = hidden.new_ones(batch, dtype=torch.float64)  # (R,)  p_0
        mask, weights = self.layer_inputs(hidden, attention_mask)  # (R, 1, T)
        for n, (layer, dact) in enumerate(zip(self.bert.encoder.layer, self.dact)):
            hidden = layer(hidden, mask)  # (R, T, H)
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
