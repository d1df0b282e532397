"""Tensor helpers every model file shares: the forward preamble, pooling, rows leaving a batch, token removal.

Model files import this module and `dact_core.halting`, never each other and never the loader.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import BertForSequenceClassification, BertModel
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_outputs import ModelOutput
from transformers.models.bert.modeling_bert import BertPreTrainedModel
from transformers.utils import can_return_tuple

POOLINGS = ("mean", "cls")
NEG = -1e4  # additive attention bias of a removed or padding key


def checked_config(config_cls, **settings):
    """`config_cls(**settings)`, a setting its own checks refuse raised as a ValueError with the check's one line
    (the strict dataclass wraps it in a multi-line error of its own type)."""
    from huggingface_hub.errors import StrictDataclassClassValidationError

    try:
        return config_cls(**settings)
    except StrictDataclassClassValidationError as err:
        raise ValueError(str(err.__cause__ or err)) from err


def check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


class LayerByLayerModel(BertPreTrainedModel):
    """Base of the project's models: the standard Hugging Face forward, then the model's own layer loop.

    `forward` takes the Hugging Face arguments a layer-by-layer model can honour (input_ids or
    inputs_embeds, attention_mask, token_type_ids, position_ids, labels, return_dict), refuses the
    others with a clear error (head_mask, output_attentions, output_hidden_states) and passes the
    embeddings to `forward_layers`, which each model defines with its own per-call arguments;
    an argument that no one takes is a TypeError, never dropped.
    """

    accepts_loss_kwargs = False  # the Trainer must not pass num_items_in_batch

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        head_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        halt_early: bool = False,
        **method_args,
    ) -> ModelOutput:
        """halt_early: the model's adaptive inference (halting, exiting, physical token removal); without
        it every layer runs on every token and a loss is computed when labels are given."""
        refused = {"head_mask": head_mask is not None, "output_attentions": bool(output_attentions),
                   "output_hidden_states": bool(output_hidden_states)}
        for argument, given in refused.items():
            if given:
                raise ValueError(f"{type(self).__name__} does not support {argument} "
                                 "(its layers run one by one on shrinking inputs)")
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError(f"{type(self).__name__}: pass exactly one of input_ids and inputs_embeds")
        if halt_early and labels is not None:
            raise ValueError("the loss needs every layer: call with halt_early=False to train or score")
        reference = input_ids if input_ids is not None else inputs_embeds[..., 0]  # (B, T)
        if attention_mask is None:
            attention_mask = torch.ones(reference.shape, dtype=torch.long, device=reference.device)  # (B, T)
        hidden = self.bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids,
                                      inputs_embeds=inputs_embeds)  # (B, T, H)
        return self.forward_layers(hidden, attention_mask, labels=labels, halt_early=halt_early, **method_args)

    def forward_layers(self, hidden: torch.Tensor, attention_mask: torch.Tensor, labels=None, halt_early=False):
        raise NotImplementedError

    def layer_inputs(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """What the layers and the pooling take for `attention_mask` (B, T): Hugging Face's attention mask
        (`create_bidirectional_mask`, None where no key is hidden) and the masked-mean weights (B, 1, T)."""
        mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
        return mask, pooling_weights(attention_mask, hidden.dtype)


class PoolerClassifierModel(LayerByLayerModel):
    """A model that answers like BERT's sequence classifier ([CLS] through the pooler, dropout, a linear
    layer), so that it can start from a fine-tuned full-depth reference (the token-reduction methods)."""

    def __init__(self, config):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=True)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def classify(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.bert.pooler(hidden)))  # (B, C)


def layer_with_attention(layer: nn.Module, hidden: torch.Tensor, mask: torch.Tensor | None
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`layer(hidden, mask)` (B, T, H) and its self-attention weights (B, heads, T, T): the layer returns only its
    hidden states, so a forward hook keeps what its attention returns beside them (the weights under the "eager"
    implementation, None under "sdpa")."""
    weights = []
    handle = layer.attention.register_forward_hook(lambda module, args, output: weights.append(output[1]))
    try:
        output = layer(hidden, mask)  # (B, T, H)
    finally:
        handle.remove()
    return output, weights[0]


def pooling_weights(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Masked-mean weights (B, 1, T): 1 / length on real tokens, 0 on padding. Computed once per mask."""
    mask = attention_mask.to(dtype)  # (B, T)
    return (mask / mask.sum(dim=1, keepdim=True).clamp(min=1.0)).unsqueeze(1)  # (B, 1, T)


def pool(hidden: torch.Tensor, weights: torch.Tensor, pooling: str) -> torch.Tensor:
    """hidden (B, T, H) -> (B, H): [CLS], or the masked mean as one batched matmul with `pooling_weights`."""
    if pooling == "cls":
        return hidden[:, 0]
    return torch.bmm(weights, hidden).squeeze(1)  # (B, H)


def keep_rows(keep: torch.Tensor, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Rows still running leave the others behind: index every per-row tensor by `keep` (R,)."""
    return tuple(t[keep] for t in tensors)


def trim_padding(hidden: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop padding columns that no running row needs (inputs are right-padded)."""
    length = int(attention_mask.sum(dim=1).max())
    if length < attention_mask.shape[1] and not attention_mask[:, length:].any():
        return hidden[:, :length], attention_mask[:, :length]
    return hidden, attention_mask


@dataclass
class TokenReductionOutput(ModelOutput):
    """Output of the token-reduction models (AdapLeR, token gates). B = batch, N = layers, T = tokens.

    logits (B, C); prediction (B,): argmax of the logits, the one source of the predicted class;
    tokens_per_layer (B, N): tokens each layer ran on (soft counts in training); exit_layer (B,) is
    always N; kept_tokens (B, N, T), with `output_kept_tokens=True` at inference: input token t is
    among layer n's inputs.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    prediction: torch.Tensor | None = None
    tokens_per_layer: torch.Tensor | None = None
    exit_layer: torch.Tensor | None = None
    kept_tokens: torch.Tensor | None = None


def gather_tokens(hidden: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Physically keep the tokens marked in `keep` (B, T), in order, right-padded to the longest row.

    hidden (B, T, H) -> (B, T', H), the new attention mask (B, T') and `order` (B, T'): the position
    in the old sequence of each new position.
    """
    counts = keep.sum(dim=1)  # (B,)
    length = int(counts.max())
    # stable order: kept tokens first, in their original order
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :length]  # (B, T')
    gathered = torch.gather(hidden, 1, order.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))  # (B, T', H)
    new_mask = (torch.arange(length, device=hidden.device)[None, :] < counts[:, None]).long()  # (B, T')
    return gathered, new_mask, order


class TokenSurvival:
    """Follows the input positions through repeated `gather_tokens` calls, for the inspector.

    kept (B, N, T): input token t is among layer n's inputs.
    """

    def __init__(self, attention_mask: torch.Tensor, num_layers: int):
        batch, length = attention_mask.shape
        self.positions = torch.arange(length, device=attention_mask.device).expand(batch, -1)  # (B, T')
        self.kept = torch.zeros(batch, num_layers, length, dtype=torch.bool, device=attention_mask.device)

    def record(self, layer: int, order: torch.Tensor | None, attention_mask: torch.Tensor) -> None:
        """Layer `layer` (0-based) runs on the current tokens, after an optional gather with `order`."""
        if order is not None:
            self.positions = torch.gather(self.positions, 1, order)  # (B, T')
        rows = torch.arange(self.positions.shape[0], device=self.positions.device)[:, None].expand_as(self.positions)
        real = attention_mask.bool()  # (B, T')
        self.kept[rows[real], layer, self.positions[real]] = True
