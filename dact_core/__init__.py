"""dact_core: DACT-BERT (adaptive depth for BERT), its halting inference, training and evaluation."""

from transformers import AutoConfig, AutoModelForSequenceClassification

from .halting import accumulate, exit_layers_from_trace, halting_margin, layer_weights, should_halt
from .modeling_dact_bert import (
    DactBertConfig,
    DactBertForSequenceClassification,
    DactBertOutput,
)

AutoConfig.register(DactBertConfig.model_type, DactBertConfig, exist_ok=True)
AutoModelForSequenceClassification.register(DactBertConfig, DactBertForSequenceClassification, exist_ok=True)

__all__ = [
    "DactBertConfig",
    "DactBertForSequenceClassification",
    "DactBertOutput",
    "accumulate",
    "exit_layers_from_trace",
    "halting_margin",
    "layer_weights",
    "should_halt",
]
