from .modeling_dact_bert import DactBertConfig, DactBertForSequenceClassification, DactBertOutput

__all__ = ["DactBertConfig", "DactBertForSequenceClassification", "DactBertOutput"]
