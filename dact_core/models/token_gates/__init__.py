from .modeling_token_gates import TokenGateBertConfig, TokenGateBertForSequenceClassification

__all__ = ["TokenGateBertConfig", "TokenGateBertForSequenceClassification"]
