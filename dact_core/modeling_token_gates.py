"""Dynamic BERT with trainable token gates: Jeong & Kwak, arXiv 2102.09727 (methods.md §4).

No code was released; this is the project's reading of the paper:
  * per layer l and sorted position k a gate g_{l,k} = sigmoid(theta_{l,k}) (the paper's clamp to
    [0, 1] has no gradient once theta leaves the interval, so a gate could freeze open);
  * after layer l's self-attention, tokens are sorted by significance (attention each token
    receives from the other tokens, averaged over heads, as in PoWER-BERT) with [CLS] pinned
    first ("mask matching": the k-th sorted token meets the k-th gate), and the k-th sorted
    token's output of layer l is multiplied by g_{l,k} in training;
  * loss CE + lambda sum g + mu sum g (1 - g): sparsity plus the bi-modal term that pushes gates
    to 0 or 1; lambda (`gate_sparsity`) is the user's accuracy/compute knob;
  * inference: after layer l the tokens at sorted positions whose gate is below 0.5 are removed
    physically, so the count kept per layer never increases.
The classifier reads [CLS] through BERT's pooler, so the model starts from a fine-tuned reference.
Attention weights are needed for the significance, so the layers run with eager attention.
"""

from __future__ import annotations

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from torch.nn import functional as F
from transformers import BertConfig, BertModel
from transformers.masking_utils import create_bidirectional_mask
from transformers.models.bert.modeling_bert import BertPreTrainedModel

from .modeling_adapler import AdaplerOutput, TokenSurvival, gather_tokens


@strict
class TokenGateBertConfig(BertConfig):
    """gate_sparsity: lambda; gate_bimodal: mu; gate_init: initial theta (sigmoid(3) = 0.95, nearly open);
    max_gated_length: gates per layer (later sorted positions share the last gate)."""

    model_type = "token-gate-bert"

    gate_sparsity: float = 1e-3
    gate_bimodal: float = 1e-3
    gate_init: float = 3.0
    max_gated_length: int = 128


def significance(attn_weights: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Attention each token receives from the other (real) tokens, averaged over heads: (B, h, T, T) -> (B, T)."""
    received = attn_weights.mean(dim=1)  # (B, T, T) query x key
    received = received * attention_mask[:, :, None]  # only real queries count
    received = received.sum(dim=1) - received.diagonal(dim1=1, dim2=2)  # (B, T) minus self-attention
    received = received.masked_fill(attention_mask == 0, -1.0)  # padding sorts last
    received[:, 0] = float("inf")  # [CLS] pinned first
    return received


class TokenGateBertForSequenceClassification(BertPreTrainedModel):
    config_class = TokenGateBertConfig
    config: TokenGateBertConfig

    def __init__(self, config: TokenGateBertConfig):
        config._attn_implementation = "eager"
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=True)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.gate_logits = nn.Parameter(torch.full((config.num_hidden_layers, config.max_gated_length),
                                                   config.gate_init))  # theta (N, K)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if module is self:
            self.gate_logits.fill_(self.config.gate_init)

    @classmethod
    def from_reference(cls, reference: str, **config_kwargs) -> "TokenGateBertForSequenceClassification":
        from .backbone import derived_config

        config = derived_config(TokenGateBertConfig, reference, **config_kwargs)
        return cls.from_pretrained(reference, config=config, use_safetensors=True, attn_implementation="eager")

    @property
    def gates(self) -> torch.Tensor:
        return torch.sigmoid(self.gate_logits)  # (N, K)

    def _layer(self, layer, hidden, mask):
        """One BERT layer that also returns the attention weights (B, h, T, T)."""
        attn_out, attn_weights = layer.attention(hidden, mask)
        return layer.feed_forward_chunk(attn_out), attn_weights

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, halt_early=False,
                output_kept_tokens=False, **kwargs) -> AdaplerOutput:
        """Gated (training, `halt_early=False`) or physical removal (`halt_early=True`)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)  # (B, T, H)
        if halt_early:
            return self._pruning_forward(hidden, attention_mask, output_kept_tokens)
        batch, length = attention_mask.shape
        gates = self.gates  # (N, K)
        mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
        tokens = []
        for n, layer in enumerate(self.bert.encoder.layer):
            hidden, attn_weights = self._layer(layer, hidden, mask)  # (B, T, H), (B, h, T, T)
            rank = significance(attn_weights, attention_mask).argsort(dim=1, descending=True).argsort(dim=1)  # (B, T)
            token_gate = gates[n][rank.clamp(max=gates.shape[1] - 1)] * attention_mask  # (B, T) the gate each meets
            token_gate[:, 0] = 1.0
            hidden = hidden * token_gate.unsqueeze(-1)  # (B, T, H)
            tokens.append(token_gate.sum(dim=1).detach())
        logits = self.classifier(self.dropout(self.bert.pooler(hidden)))  # (B, C)
        loss = None
        if labels is not None:
            g = gates
            loss = (F.cross_entropy(logits, labels) + self.config.gate_sparsity * g.sum()
                    + self.config.gate_bimodal * (g * (1 - g)).sum())
        exit_layer = torch.full((batch,), self.config.num_hidden_layers, dtype=torch.int64, device=hidden.device)
        return AdaplerOutput(loss=loss, logits=logits, tokens_per_layer=torch.stack(tokens, dim=1),
                             exit_layer=exit_layer)

    def _pruning_forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor,
                         output_kept_tokens: bool = False) -> AdaplerOutput:
        batch, num_layers = hidden.shape[0], self.config.num_hidden_layers
        tokens_per_layer = torch.zeros(batch, num_layers, dtype=torch.int64, device=hidden.device)  # (B, N)
        survival = TokenSurvival(attention_mask, num_layers) if output_kept_tokens else None
        keep_gate = self.gates >= 0.5  # (N, K)
        order = None
        for n, layer in enumerate(self.bert.encoder.layer):
            tokens_per_layer[:, n] = attention_mask.sum(dim=1)
            if survival is not None:
                survival.record(n, order, attention_mask)
            mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
            hidden, attn_weights = self._layer(layer, hidden, mask)  # (B, T, H), (B, h, T, T)
            if n == num_layers - 1:
                break
            rank = significance(attn_weights, attention_mask).argsort(dim=1, descending=True).argsort(dim=1)  # (B, T)
            keep = keep_gate[n][rank.clamp(max=keep_gate.shape[1] - 1)] & attention_mask.bool()  # (B, T)
            keep[:, 0] = True
            hidden, attention_mask, order = gather_tokens(hidden, keep)
        logits = self.classifier(self.dropout(self.bert.pooler(hidden)))
        exit_layer = torch.full((batch,), num_layers, dtype=torch.int64, device=hidden.device)
        return AdaplerOutput(logits=logits, tokens_per_layer=tokens_per_layer, exit_layer=exit_layer,
                             kept_tokens=None if survival is None else survival.kept)
