from .modeling_multi_exit import EXIT_RULES, ExitRule, MultiExitBertConfig, MultiExitBertForSequenceClassification

__all__ = ["EXIT_RULES", "ExitRule", "MultiExitBertConfig", "MultiExitBertForSequenceClassification"]
