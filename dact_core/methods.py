"""The one registry of methods: what each model family is, how it trains, and how its inference is called.

A *family* is one kind of trained model (one `model_type`); a *method* is one curve of the
benchmark: a family plus an inference rule and its operating points. The multi-exit family gives
three methods (static, DeeBERT, PABEE) from one trained model. Everything else (train, eval, bench,
predict, the inspector, the app) looks methods up here instead of testing model types itself.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

KINDS = ("depth", "tokens", "plain")
ENTROPY_THRESHOLDS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass(frozen=True)
class Family:
    """One kind of trained model."""

    model_type: str  # config.model_type ("bert" for the plain reference)
    train_name: str  # `dact train --method` value
    display: str  # name in tables and the app
    kind: str  # "depth" (skips layers), "tokens" (drops tokens) or "plain" (full depth)
    model_class: str  # "module:Class", imported on first use
    starts_from: str  # "backbone" (a pretrained BERT) or "reference" (a fine-tuned full-depth classifier)
    knob: Callable[[object], str]  # the trained accuracy/compute knob, read off the config

    @property
    def halts(self) -> bool:
        """Inference runs the family's own adaptive path (`halt_early=True`)."""
        return self.kind != "plain"

    def load_class(self):
        module, name = self.model_class.split(":")
        return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Method:
    """One benchmark curve: a family run with one inference rule at several operating points."""

    name: str
    family: str  # model_type
    knob: str  # what moves along the curve
    points: Callable[[object], list[tuple[str, dict]]]  # config -> [(setting label, per-call inference arguments)]
    applies: Callable[[object], bool] = lambda config: True  # which of the family's trained models give this curve


def _on_frozen_exits(config) -> bool:
    """DACT-BERT whose answers are a multi-exit model's frozen exits (only its halting units were trained)."""
    return getattr(config, "answer_head", "mlp") == "linear"


def _adapler_knob(config) -> str:
    """The length weight, and the layers that drop tokens when not every layer does (another recipe)."""
    layers = getattr(config, "removal_layers", None)
    return f"phi={config.length_weight:g}" + (f", layers {','.join(map(str, layers))}" if layers else "")


def _dact_points(config) -> list[tuple[str, dict]]:
    return [(f"tau={config.ponder_penalty:g}", {"halting_bound": "tight", "halting_relaxation": 1.0})]


FAMILIES = {
    f.model_type: f
    for f in (
        Family("bert", "reference", "reference", "plain", "transformers:BertForSequenceClassification", "backbone",
               lambda c: "full depth"),
        Family("dact-bert", "dact", "DACT-BERT", "depth", "dact_core.models:DactBertForSequenceClassification",
               "backbone", lambda c: f"tau={c.ponder_penalty:g}"),
        Family("multi-exit-bert", "multi-exit", "multi-exit", "depth",
               "dact_core.models:MultiExitBertForSequenceClassification", "backbone", lambda c: "exit rule"),
        Family("adapler-bert", "adapler", "AdapLeR", "tokens", "dact_core.models:AdaplerBertForSequenceClassification",
               "reference", _adapler_knob),
        Family("token-gate-bert", "token-gates", "token gates", "tokens",
               "dact_core.models:TokenGateBertForSequenceClassification", "reference",
               lambda c: f"lambda={c.gate_sparsity:g}, mu={c.gate_bimodal:g}"),
    )
}
TRAIN_METHODS = {f.train_name: f for f in FAMILIES.values()}

METHODS = {
    m.name: m
    for m in (
        Method("reference", "bert", "none", lambda c: [("full depth", {})]),
        Method("DACT-BERT", "dact-bert", "ponder penalty tau (trained)", _dact_points,
               applies=lambda c: not _on_frozen_exits(c)),
        Method("DACT-BERT on frozen exits", "dact-bert", "ponder penalty tau (halting units trained)", _dact_points,
               applies=_on_frozen_exits),
        Method("static", "multi-exit-bert", "exit layer k",
               lambda c: [(f"k={k}", {"exit_rule": "static", "exit_layer": k})
                          for k in range(1, c.num_hidden_layers + 1)]),
        Method("DeeBERT", "multi-exit-bert", "entropy threshold S",
               lambda c: [(f"S={s:g}", {"exit_rule": "entropy", "exit_threshold": s}) for s in ENTROPY_THRESHOLDS]),
        Method("PABEE", "multi-exit-bert", "patience t",
               lambda c: [(f"t={t}", {"exit_rule": "patience", "exit_patience": t})
                          for t in range(1, c.num_hidden_layers)]),
        Method("AdapLeR", "adapler-bert", "length weight phi (trained)",
               lambda c: [(FAMILIES["adapler-bert"].knob(c), {})]),
        Method("token gates", "token-gate-bert", "gate sparsity lambda and bimodal weight mu (trained)",
               lambda c: [(FAMILIES["token-gate-bert"].knob(c), {})]),
    )
}


def family_of(model_or_config) -> Family:
    """The family of a model or config; any other sequence classifier counts as a plain full-depth model."""
    config = getattr(model_or_config, "config", model_or_config)
    return FAMILIES.get(getattr(config, "model_type", None), FAMILIES["bert"])


def methods_of(model_or_config) -> list[Method]:
    """The benchmark methods a trained model provides (the reference for any plain classifier)."""
    family, config = family_of(model_or_config), getattr(model_or_config, "config", model_or_config)
    return [m for m in METHODS.values() if m.family == family.model_type and m.applies(config)]


def infer(model, inputs: dict, **setting):
    """The inference call of every method: the family's adaptive path, or a plain forward pass.

    `setting` holds per-call inference arguments (halting bound, exit rule, ...); a plain model takes none.
    """
    if family_of(model).halts:
        return model(**inputs, halt_early=True, **setting)
    if setting:
        raise ValueError(f"a plain classifier takes no inference setting, got {sorted(setting)}")
    return model(**inputs)


def prediction_of(output):
    """The predicted class (B,): the model's own `prediction` where it has one, else the logits' argmax."""
    prediction = getattr(output, "prediction", None)
    return output.logits.argmax(dim=-1) if prediction is None else prediction
