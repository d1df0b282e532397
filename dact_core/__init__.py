"""dact_core: DACT-BERT (adaptive depth for BERT), its halting inference, training and evaluation.

Importing the package registers its model types with transformers' Auto classes, the ecosystem's convention: after
`import dact_core`, `AutoModelForSequenceClassification.from_pretrained(folder)` and
`pipeline("text-classification", model=folder)` load a trained folder. That imports torch and transformers; where
they are not installed the registration is skipped, so that `dact_core.traces` and its builders (`dact_core.charts`,
`dact_core.tables`, `dact_core.markup`: NumPy, pandas and plotly only) still import. The `dact` command parses its
arguments in `dact_cli` before importing this package.
"""

from __future__ import annotations

import importlib
from importlib.util import find_spec

if find_spec("torch") and find_spec("transformers"):
    from . import models  # noqa: F401 - registers the model types with the Auto classes

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
