"""dact_core: DACT-BERT (adaptive depth for BERT), its halting inference, training and evaluation."""

from transformers import AutoConfig, AutoModelForSequenceClassification

from .halting import accumulate, exit_layers_from_trace, halting_margin, layer_weights, should_halt
from .modeling_dact_bert import (
    DactBertConfig,
    DactBertForSequenceClassification,
    DactBertOutput,
)

from .modeling_multi_exit import MultiExitBertConfig, MultiExitBertForSequenceClassification

AutoConfig.register(DactBertConfig.model_type, DactBertConfig, exist_ok=True)
AutoModelForSequenceClassification.register(DactBertConfig, DactBertForSequenceClassification, exist_ok=True)
AutoConfig.register(MultiExitBertConfig.model_type, MultiExitBertConfig, exist_ok=True)
AutoModelForSequenceClassification.register(
    MultiExitBertConfig, MultiExitBertForSequenceClassification, exist_ok=True
)

__all__ = [
    "DactBertConfig",
    "DactBertForSequenceClassification",
    "DactBertOutput",
    "MultiExitBertConfig",
    "MultiExitBertForSequenceClassification",
    "accumulate",
    "exit_layers_from_trace",
    "halting_margin",
    "layer_weights",
    "should_halt",
]
