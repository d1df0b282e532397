from .modeling_adapler import AdaplerBertConfig, AdaplerBertForSequenceClassification, saliency_targets

__all__ = ["AdaplerBertConfig", "AdaplerBertForSequenceClassification", "saliency_targets"]
