"""Early-exit baselines on the same backbone (methods.md §2): one classifier per layer, trained once.

The exit rule is chosen at inference, so one trained model gives a whole curve:
  * "static":   always answer with exit k (the frontier any adaptive method must beat);
  * "entropy":  DeeBERT (Xin et al., ACL 2020): exit at the first layer i < N whose answer has
                entropy H(softmax z_i) < S (nats);
  * "patience": PABEE (Zhou et al., NeurIPS 2020): a counter grows while argmax z_i equals
                argmax z_{i-1} and resets otherwise; exit when it reaches the patience t.
Training uses PABEE's weighted loss sum_i i CE(z_i, y) / sum_i i (deeper exits weigh more).
Each classifier reads the same pooled vector as DACT-BERT (masked mean by default). Batched
inference drops exited rows, like DACT-BERT's halting path. The exit rule and its knob come from
the config or, for one call, from forward's `exit_rule` / `exit_layer` / `exit_threshold` /
`exit_patience` (one loaded model serves every operating point without being changed).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from torch.nn import functional as F
from transformers import BertConfig, BertModel
from transformers.modeling_outputs import ModelOutput

from ..common import LayerByLayerModel, check_pooling, keep_rows, pool, trim_padding

EXIT_RULES = ("static", "entropy", "patience")


@strict
class MultiExitBertConfig(BertConfig):
    """BertConfig plus the exit rule used by `halt_early=True` inference.

    exit_rule: "static" (exit_layer k), "entropy" (DeeBERT, exit_threshold S) or "patience"
        (PABEE, exit_patience t).
    """

    model_type = "multi-exit-bert"

    pooling: str = "mean"
    exit_rule: str = "static"
    exit_layer: int = -1  # static k; -1 means the last layer
    exit_threshold: float = 0.0
    exit_patience: int = 1

    def validate_exit_settings(self):
        check_pooling(self.pooling)
        ExitRule.resolve(self)


@dataclass(frozen=True)
class ExitRule:
    """One exit rule and its knob (see MultiExitBertConfig)."""

    rule: str = "static"
    layer: int = -1
    threshold: float = 0.0
    patience: int = 1

    @classmethod
    def resolve(cls, config: MultiExitBertConfig, rule=None, layer=None, threshold=None, patience=None) -> "ExitRule":
        """The config's rule, with any per-call value overriding it; checked."""
        resolved = cls(config.exit_rule if rule is None else rule, config.exit_layer if layer is None else int(layer),
                       config.exit_threshold if threshold is None else float(threshold),
                       config.exit_patience if patience is None else int(patience))
        n = config.num_hidden_layers
        if resolved.rule not in EXIT_RULES:
            raise ValueError(f"exit_rule must be one of {EXIT_RULES}, got {resolved.rule!r}")
        if resolved.layer != -1 and not 1 <= resolved.layer <= n:
            raise ValueError(f"exit_layer must be -1 or in 1..{n}, got {resolved.layer}")
        if resolved.patience < 1:
            raise ValueError(f"exit_patience must be >= 1, got {resolved.patience}")
        return resolved


@dataclass
class MultiExitOutput(ModelOutput):
    """loss; logits (B, C) at the exit; prediction (B,) their argmax; exit_layer (B,) 1-based;
    layer_logits (B, N, C), NaN after the exit."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    prediction: torch.Tensor | None = None
    exit_layer: torch.Tensor | None = None
    layer_logits: torch.Tensor | None = None


class ExitState:
    """Per-row bookkeeping of an exit rule across layers (PABEE's counter needs the previous answer)."""

    def __init__(self, rule: ExitRule, num_layers: int, batch: int, device):
        self.rule = rule
        self.num_layers = num_layers
        self.counter = torch.zeros(batch, dtype=torch.int64, device=device)  # (R,)
        self.previous = torch.full((batch,), -1, dtype=torch.int64, device=device)  # (R,)

    def step(self, layer: int, logits: torch.Tensor) -> torch.Tensor:
        """Bool (R,): exit after 1-based `layer` given this layer's logits (R, C)."""
        cfg = self.rule
        if layer >= self.num_layers:
            return torch.ones(logits.shape[0], dtype=torch.bool, device=logits.device)
        if cfg.rule == "static":
            k = self.num_layers if cfg.layer == -1 else cfg.layer
            return torch.full((logits.shape[0],), layer >= k, dtype=torch.bool, device=logits.device)
        if cfg.rule == "entropy":
            log_p = logits.float().log_softmax(-1)  # (R, C)
            entropy = -(log_p.exp() * log_p).sum(-1)  # (R,)
            return entropy < cfg.threshold
        answer = logits.argmax(-1)  # (R,)
        self.counter = torch.where(answer == self.previous, self.counter + 1, torch.zeros_like(self.counter))
        self.previous = answer
        return self.counter >= cfg.patience

    def keep(self, keep: torch.Tensor) -> None:
        self.counter, self.previous = keep_rows(keep, self.counter, self.previous)


def exit_layers_from_logits(rule: ExitRule, layer_logits: torch.Tensor) -> torch.Tensor:
    """1-based exit layer (B,) that halting inference would take, read off all layers' logits (B, N, C)."""
    batch, num_layers, _ = layer_logits.shape
    state = ExitState(rule, num_layers, batch, layer_logits.device)
    exit_layer = torch.zeros(batch, dtype=torch.int64, device=layer_logits.device)
    for n in range(num_layers):
        stop = state.step(n + 1, layer_logits[:, n]) & (exit_layer == 0)
        exit_layer[stop] = n + 1
    return exit_layer


class MultiExitBertForSequenceClassification(LayerByLayerModel):
    config_class = MultiExitBertConfig
    config: MultiExitBertConfig

    def __init__(self, config: MultiExitBertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.exits = nn.ModuleList(
            [nn.Linear(config.hidden_size, config.num_labels) for _ in range(config.num_hidden_layers)]
        )
        self.post_init()

    def forward_layers(
        self,
        hidden: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        halt_early: bool = False,
        exit_rule: str | None = None,
        exit_layer: int | None = None,
        exit_threshold: float | None = None,
        exit_patience: int | None = None,
    ) -> MultiExitOutput:
        """Every exit (training, traces) or exiting inference; exit_* override the config's rule for this call."""
        rule = ExitRule.resolve(self.config, exit_rule, exit_layer, exit_threshold, exit_patience)
        if halt_early:
            return self._exiting_forward(hidden, attention_mask, rule)
        mask, weights = self.layer_inputs(hidden, attention_mask)  # (B, 1, T)
        layer_logits = []
        for layer, head in zip(self.bert.encoder.layer, self.exits):
            hidden = layer(hidden, mask)  # (B, T, H)
            layer_logits.append(head(self.dropout(pool(hidden, weights, self.config.pooling))))  # (B, C)
        layer_logits = torch.stack(layer_logits, dim=1)  # (B, N, C)
        loss = None
        if labels is not None:
            n = layer_logits.shape[1]
            depth = torch.arange(1, n + 1, dtype=layer_logits.dtype, device=layer_logits.device)  # (N,)
            per_layer = torch.stack([F.cross_entropy(layer_logits[:, i], labels) for i in range(n)])  # (N,)
            loss = (depth * per_layer).sum() / depth.sum()
        exit_layer = exit_layers_from_logits(rule, layer_logits.detach())  # (B,)
        logits = layer_logits[torch.arange(layer_logits.shape[0]), exit_layer - 1]  # (B, C)
        return MultiExitOutput(loss=loss, logits=logits, prediction=logits.argmax(-1), exit_layer=exit_layer,
                               layer_logits=layer_logits)

    def _exiting_forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor, rule: ExitRule) -> MultiExitOutput:
        batch, num_layers, num_classes = hidden.shape[0], self.config.num_hidden_layers, self.config.num_labels
        layer_logits = hidden.new_full((batch, num_layers, num_classes), float("nan"))  # (B, N, C)
        logits = hidden.new_zeros((batch, num_classes))  # (B, C)
        exit_layer = torch.zeros(batch, dtype=torch.int64, device=hidden.device)  # (B,)
        rows = torch.arange(batch, device=hidden.device)  # (R,)
        state = ExitState(rule, num_layers, batch, hidden.device)
        mask, weights = self.layer_inputs(hidden, attention_mask)  # (R, 1, T)
        for n, (layer, head) in enumerate(zip(self.bert.encoder.layer, self.exits)):
            hidden = layer(hidden, mask)  # (R, T, H)
            z = head(pool(hidden, weights, self.config.pooling))  # (R, C)
            layer_logits[rows, n] = z
            stop = state.step(n + 1, z)  # (R,)
            num_stopped = int(stop.sum())
            if num_stopped:
                logits[rows[stop]] = z[stop]
                exit_layer[rows[stop]] = n + 1
            if num_stopped == len(rows):
                break
            if num_stopped:
                rows, hidden, attention_mask = keep_rows(~stop, rows, hidden, attention_mask)
                state.keep(~stop)
                hidden, attention_mask = trim_padding(hidden, attention_mask)
                mask, weights = self.layer_inputs(hidden, attention_mask)
        return MultiExitOutput(logits=logits, prediction=logits.argmax(-1), exit_layer=exit_layer,
                               layer_logits=layer_logits)
