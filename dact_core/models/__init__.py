"""The models, one folder each (config and model in `modeling_<name>.py`), registered with the Auto classes.

  dact_bert/    DACT-BERT: adaptive depth with a halting guarantee (the project's model)
  multi_exit/   one classifier per layer: static, DeeBERT and PABEE early exit
  adapler/      AdapLeR: contribution predictors drop tokens before each layer (or the chosen ones)
  token_gates/  trainable token gates (our reading of Jeong & Kwak)
  common.py     tensor helpers they share
"""

from transformers import AutoConfig, AutoModelForSequenceClassification

from .adapler import AdaplerBertConfig, AdaplerBertForSequenceClassification
from .dact_bert import DactBertConfig, DactBertForSequenceClassification, DactBertOutput
from .multi_exit import MultiExitBertConfig, MultiExitBertForSequenceClassification
from .token_gates import TokenGateBertConfig, TokenGateBertForSequenceClassification

for _config, _model in (
    (DactBertConfig, DactBertForSequenceClassification),
    (MultiExitBertConfig, MultiExitBertForSequenceClassification),
    (AdaplerBertConfig, AdaplerBertForSequenceClassification),
    (TokenGateBertConfig, TokenGateBertForSequenceClassification),
):
    AutoConfig.register(_config.model_type, _config, exist_ok=True)
    AutoModelForSequenceClassification.register(_config, _model, exist_ok=True)

__all__ = [
    "AdaplerBertConfig",
    "AdaplerBertForSequenceClassification",
    "DactBertConfig",
    "DactBertForSequenceClassification",
    "DactBertOutput",
    "MultiExitBertConfig",
    "MultiExitBertForSequenceClassification",
    "TokenGateBertConfig",
    "TokenGateBertForSequenceClassification",
]
