"""dact_core: DACT-BERT (adaptive depth for BERT), its halting inference, training and evaluation."""

from transformers import AutoConfig, AutoModelForSequenceClassification

from .halting import accumulate, exit_layers_from_trace, halting_margin, layer_weights, should_halt
from .modeling_dact_bert import (
    DactBertConfig,
    DactBertForSequenceClassification,
    DactBertOutput,
)

from .modeling_adapler import AdaplerBertConfig, AdaplerBertForSequenceClassification
from .modeling_multi_exit import MultiExitBertConfig, MultiExitBertForSequenceClassification
from .modeling_token_gates import TokenGateBertConfig, TokenGateBertForSequenceClassification

for _config, _model in (
    (DactBertConfig, DactBertForSequenceClassification),
    (MultiExitBertConfig, MultiExitBertForSequenceClassification),
    (AdaplerBertConfig, AdaplerBertForSequenceClassification),
    (TokenGateBertConfig, TokenGateBertForSequenceClassification),
):
    AutoConfig.register(_config.model_type, _config, exist_ok=True)
    AutoModelForSequenceClassification.register(_config, _model, exist_ok=True)

__all__ = [
    "DactBertConfig",
    "DactBertForSequenceClassification",
    "DactBertOutput",
    "AdaplerBertConfig",
    "AdaplerBertForSequenceClassification",
    "MultiExitBertConfig",
    "MultiExitBertForSequenceClassification",
    "TokenGateBertConfig",
    "TokenGateBertForSequenceClassification",
    "accumulate",
    "exit_layers_from_trace",
    "halting_margin",
    "layer_weights",
    "should_halt",
]
