"""dact_core: DACT-BERT (adaptive depth for BERT), its halting inference, training and evaluation.

Imports are lazy: `dact_core.traces` and `dact_core.charts` load without torch, and
`from dact_core import DactBertForSequenceClassification` loads the models (and registers them
with the Auto classes) on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    **dict.fromkeys(
        ("DactBertConfig", "DactBertForSequenceClassification", "DactBertOutput", "AdaplerBertConfig",
         "AdaplerBertForSequenceClassification", "MultiExitBertConfig", "MultiExitBertForSequenceClassification",
         "TokenGateBertConfig", "TokenGateBertForSequenceClassification"),
        "dact_core.models",
    ),
    **dict.fromkeys(("accumulate", "exit_layers_from_trace", "halting_margin", "layer_weights", "should_halt"),
                    "dact_core.halting"),
    **dict.fromkeys(("load_model", "CheckpointError"), "dact_core.loading"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dact_core' has no attribute {name!r}")
