"""Dynamic BERT with trainable token gates: Jeong & Kwak, arXiv 2102.09727 (methods.md §4).

No code was released; this is the project's reading of the paper:
  * per layer l < N and sorted position k a gate g_{l,k} = sigmoid(theta_{l,k}) (the paper's clamp to
    [0, 1] has no gradient once theta leaves the interval, so a gate could freeze open);
  * after layer l's self-attention, the tokens layer l ran on are sorted by significance (attention
    each token receives from the other tokens, averaged over heads, as in PoWER-BERT) with [CLS]
    pinned first ("mask matching": the k-th sorted token meets the k-th gate); the gate decides
    whether the token goes on to layer l + 1;
  * inference removes the tokens whose gate is below 0.5 physically, so the count kept per layer
    never increases; training matches it softly: a token's alive mass is the product of the gates it
    met, and its log is added to the attention scores of every query (as AdapLeR's soft removal), so
    a gated token fades out as a key exactly where inference drops it. At saturated gates (0 or 1)
    the two paths give the same logits and the same tokens per layer;
  * loss CE + lambda sum g + mu sum g (1 - g) over the gates that are used (layers 1..N-1): sparsity
    plus the bi-modal term that pushes gates to 0 or 1; lambda (`gate_sparsity`) is the user's
    accuracy/compute knob. No layer follows the last one, so its row of gates is never used (it stays
    in the parameter so that checkpoints keep one row per layer).
The classifier reads [CLS] through BERT's pooler, so the model starts from a fine-tuned reference.
Attention weights are needed for the significance, so the layers run with eager attention.
"""

from __future__ import annotations

import copy

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from torch.nn import functional as F
from transformers import BertConfig

from ..common import (NEG, PoolerClassifierModel, TokenReductionOutput, TokenSurvival, gather_tokens,
                      layer_with_attention)

GONE = -50.0  # log alive mass below which a token counts as removed in soft training (no float32 subnormals)


@strict
class TokenGateBertConfig(BertConfig):
    """gate_sparsity: lambda; gate_bimodal: mu; gate_init: initial theta (sigmoid(3) = 0.95, nearly open);
    max_gated_length: gates per layer (later sorted positions share the last gate)."""

    model_type = "token-gate-bert"

    gate_sparsity: float = 1e-3
    gate_bimodal: float = 1e-3
    gate_init: float = 3.0
    max_gated_length: int = 128


def significance(attn_weights: torch.Tensor, query_weight: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Attention each token receives from the other tokens, averaged over heads: (B, h, T, T) -> (B, T).

    query_weight (B, T): how much each query counts (1 for a token the layer runs on, its alive mass in
    soft training, 0 on padding); candidates (B, T) bool: tokens still in the running, the others sort last.
    """
    received = attn_weights.mean(dim=1)  # (B, T, T) query x key
    received = received * query_weight[:, :, None]
    received = received.sum(dim=1) - received.diagonal(dim1=1, dim2=2)  # (B, T) minus self-attention
    received = received.masked_fill(~candidates, -1.0)
    received[:, 0] = float("inf")  # [CLS] pinned first
    return received


def sorted_position(scores: torch.Tensor, num_gates: int) -> torch.Tensor:
    """Rank of every token by descending significance (B, T), capped at the last gate."""
    return scores.argsort(dim=1, descending=True).argsort(dim=1).clamp(max=num_gates - 1)


class TokenGateBertForSequenceClassification(PoolerClassifierModel):
    config_class = TokenGateBertConfig
    config: TokenGateBertConfig

    def __init__(self, config: TokenGateBertConfig):
        config = copy.deepcopy(config)  # eager attention on our own copy: the caller's config is left alone
        config._attn_implementation = "eager"
        super().__init__(config)
        self.gate_logits = nn.Parameter(torch.full((config.num_hidden_layers, config.max_gated_length),
                                                   config.gate_init))  # theta (N, K); row N is never used
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if module is self:
            self.gate_logits.fill_(self.config.gate_init)

    @property
    def gates(self) -> torch.Tensor:
        return torch.sigmoid(self.gate_logits)  # (N, K)

    def forward_layers(
        self,
        hidden: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        halt_early: bool = False,
        output_kept_tokens: bool = False,
    ) -> TokenReductionOutput:
        """Soft gating (training, `halt_early=False`) or physical removal (`halt_early=True`)."""
        if halt_early:
            return self._pruning_forward(hidden, attention_mask, output_kept_tokens)
        num_layers = self.config.num_hidden_layers
        gates = self.gates  # (N, K)
        real = attention_mask.bool()  # (B, T)
        log_alive = torch.where(real, 0.0, NEG).to(hidden.dtype)  # (B, T) log alive mass as a key
        running = real.clone()  # (B, T) the tokens inference would still run on
        tokens = []
        for n, layer in enumerate(self.bert.encoder.layer):
            alive = log_alive.exp()  # (B, T)
            tokens.append(alive.sum(dim=1))
            bias = log_alive[:, None, None, :]  # (B, 1, 1, T)
            hidden, attn_weights = layer_with_attention(layer, hidden, bias)  # (B, T, H), (B, h, T, T)
            if n == num_layers - 1:
                break
            position = sorted_position(significance(attn_weights.detach(), alive.detach(), running), gates.shape[1])
            token_gate = gates[n][position]  # (B, T) the gate each token meets
            token_gate = torch.where(running, token_gate, 1.0)  # removed tokens stay removed (log mass NEG)
            token_gate[:, 0] = 1.0  # [CLS] stays
            running = running & (token_gate >= 0.5)
            log_alive = log_alive + token_gate.clamp(min=1e-30).log()
            log_alive = torch.where(log_alive < GONE, NEG, log_alive)  # a token that far gone counts as removed
        logits = self.classify(hidden)
        loss = None
        if labels is not None:
            used = gates[:-1]  # (N - 1, K)
            loss = (F.cross_entropy(logits, labels) + self.config.gate_sparsity * used.sum()
                    + self.config.gate_bimodal * (used * (1 - used)).sum())
        exit_layer = torch.full((hidden.shape[0],), num_layers, dtype=torch.int64, device=hidden.device)
        return TokenReductionOutput(loss=loss, logits=logits, prediction=logits.argmax(-1),
                                    tokens_per_layer=torch.stack(tokens, dim=1).detach(), exit_layer=exit_layer)

    def _pruning_forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor,
                         output_kept_tokens: bool = False) -> TokenReductionOutput:
        batch, num_layers = hidden.shape[0], self.config.num_hidden_layers
        tokens_per_layer = torch.zeros(batch, num_layers, dtype=torch.int64, device=hidden.device)  # (B, N)
        survival = TokenSurvival(attention_mask, num_layers) if output_kept_tokens else None
        keep_gate = self.gates >= 0.5  # (N, K)
        order = None
        for n, layer in enumerate(self.bert.encoder.layer):
            tokens_per_layer[:, n] = attention_mask.sum(dim=1)
            if survival is not None:
                survival.record(n, order, attention_mask)
            mask, _ = self.layer_inputs(hidden, attention_mask)
            hidden, attn_weights = layer_with_attention(layer, hidden, mask)  # (B, T, H), (B, h, T, T)
            if n == num_layers - 1:
                break
            real = attention_mask.bool()  # (B, T)
            position = sorted_position(significance(attn_weights, attention_mask.to(hidden.dtype), real),
                                       keep_gate.shape[1])
            keep = keep_gate[n][position] & real  # (B, T)
            keep[:, 0] = True
            hidden, attention_mask, order = gather_tokens(hidden, keep)
        logits = self.classify(hidden)  # (B, C)
        exit_layer = torch.full((batch,), num_layers, dtype=torch.int64, device=hidden.device)
        return TokenReductionOutput(logits=logits, prediction=logits.argmax(-1), tokens_per_layer=tokens_per_layer,
                                    exit_layer=exit_layer, kept_tokens=None if survival is None else survival.kept)
