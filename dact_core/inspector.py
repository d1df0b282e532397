"""Inspection of one input: run the model on text and return a plain trace (NumPy, no tensors).

`DactInspector(model, tokenizer).trace(text)` gives every per-layer quantity the app draws;
`.attribute(text, ...)` gives token attributions (captum Integrated Gradients) for the final
answer or the answer at any layer. `TokenInspector` does the same for the token-reduction
methods (AdapLeR, token gates): which tokens each layer still runs on. Chart builders
(`dact_core.charts`) take these traces, never the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .halting import exit_layers_from_trace, halting_margin, layer_weights
from .modeling_dact_bert import DactBertForSequenceClassification


class InputError(ValueError):
    """Text the model cannot take; the message says why."""


@dataclass
class ExampleTrace:
    """Everything about one input, layer by layer (N layers, C classes; layers are 1-based in names)."""

    text: str
    tokens: list[str]
    label_names: list[str]
    layer_probs: np.ndarray  # (N, C) y_n
    halting_probs: np.ndarray  # (N,) h_n
    remaining_probs: np.ndarray  # (N,) p_n
    acc_probs: np.ndarray  # (N, C) a_n
    layer_weights: np.ndarray  # (N,) weight of y_n in the final answer
    margin_tight: np.ndarray  # (N,) > 0 where the tight bound holds
    margin_paper: np.ndarray  # (N,) > 0 where the paper bound holds
    exit_layer: int  # where halting inference stopped, under the chosen setting
    exit_layer_tight: int
    exit_layer_paper: int
    prediction: int  # halting inference's answer
    full_depth_prediction: int
    bound: str
    relaxation: float
    num_tokens: int  # before truncation
    max_length: int

    @property
    def num_layers(self) -> int:
        return len(self.halting_probs)

    @property
    def truncated(self) -> bool:
        return self.num_tokens > self.max_length

    @property
    def guarantee_holds(self) -> bool:
        return self.relaxation == 1.0

    @property
    def prediction_name(self) -> str:
        return self.label_names[self.prediction]


@dataclass
class TokenAttribution:
    tokens: list[str]
    scores: np.ndarray  # (T,) summed over the hidden dimension; positive supports the target
    target: int
    layer: int  # 1-based layer whose accumulated answer a_n is explained
    convergence_delta: float


def encode_text(tokenizer, text: str, max_length: int):
    """Tokenized text (truncated to max_length) and its length before truncation; empty text is refused."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("the text is empty")
    num_tokens = len(tokenizer(text, truncation=False, verbose=False)["input_ids"])
    enc = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
    return enc, num_tokens


class DactInspector:
    def __init__(self, model: DactBertForSequenceClassification, tokenizer, max_length: int = 128):
        if not isinstance(model, DactBertForSequenceClassification):
            raise TypeError("DactInspector needs a DACT-BERT model")
        self.model = model.eval()
        self.tokenizer = tokenizer
        config = model.config
        self.max_length = min(max_length, config.max_position_embeddings)
        self.label_names = [config.id2label[i] for i in range(config.num_labels)]

    def _encode(self, text: str):
        return encode_text(self.tokenizer, text, self.max_length)

    @torch.inference_mode()
    def trace(self, text: str, bound: str | None = None, relaxation: float | None = None) -> ExampleTrace:
        """Full-depth trace of every layer plus what halting inference does under the given setting."""
        config = self.model.config
        bound = bound or config.halting_bound
        relaxation = config.halting_relaxation if relaxation is None else float(relaxation)
        if not 0.0 <= relaxation <= 1.0:
            raise InputError(f"relaxation must lie in [0, 1], got {relaxation}")
        enc, num_tokens = self._encode(text)
        setting = dict(halting_bound=bound, halting_relaxation=relaxation)
        full = self.model(**enc, **setting)
        halted = self.model(**enc, halt_early=True, **setting)
        acc, rem = full.acc_probs[0], full.remaining_probs[0]  # (N, C), (N,)
        n_layers = rem.shape[0]
        layers_left = [(n_layers - n - 1) * relaxation for n in range(n_layers)]
        margins = {
            b: np.array([float(halting_margin(acc[n], rem[n], layers_left[n], b)) for n in range(n_layers)])
            for b in ("tight", "paper")
        }
        exits = {b: int(exit_layers_from_trace(acc[None], rem[None], b, relaxation)[0]) for b in ("tight", "paper")}
        return ExampleTrace(
            text=text,
            tokens=self.tokenizer.convert_ids_to_tokens(enc["input_ids"][0]),
            label_names=self.label_names,
            layer_probs=full.layer_probs[0].float().numpy(),
            halting_probs=full.halting_probs[0].float().numpy(),
            remaining_probs=rem.numpy(),
            acc_probs=acc.numpy(),
            layer_weights=layer_weights(rem).numpy(),
            margin_tight=margins["tight"],
            margin_paper=margins["paper"],
            exit_layer=int(halted.exit_layer[0]),
            exit_layer_tight=exits["tight"],
            exit_layer_paper=exits["paper"],
            prediction=int(halted.probs[0].argmax()),
            full_depth_prediction=int(full.probs[0].argmax()),
            bound=bound,
            relaxation=relaxation,
            num_tokens=num_tokens,
            max_length=self.max_length,
        )

    def attribute(
        self, text: str, target: int | None = None, layer: int | None = None, n_steps: int = 32,
        internal_batch_size: int | None = 16,
    ) -> TokenAttribution:
        """Integrated Gradients on the word embeddings for a_layer[target] (default: the final answer a_N).

        The baseline replaces every token but [CLS]/[SEP] with [PAD].
        """
        from captum.attr import LayerIntegratedGradients

        enc, _ = self._encode(text)
        input_ids, attention_mask = enc["input_ids"], enc["attention_mask"]
        n_layers = self.model.config.num_hidden_layers
        layer = n_layers if layer is None else int(layer)
        if not 1 <= layer <= n_layers:
            raise InputError(f"layer must lie in 1..{n_layers}, got {layer}")
        if target is None:
            with torch.inference_mode():
                target = int(self.model(input_ids, attention_mask).acc_probs[0, layer - 1].argmax())

        def forward(ids, mask):
            return self.model(ids, mask).acc_probs[:, layer - 1, target].float()  # (B,)

        special = torch.tensor(self.tokenizer.all_special_ids)
        baseline = torch.where(
            torch.isin(input_ids, special) & (input_ids != self.tokenizer.pad_token_id),
            input_ids,
            torch.full_like(input_ids, self.tokenizer.pad_token_id),
        )
        ig = LayerIntegratedGradients(forward, self.model.bert.embeddings.word_embeddings)
        scores, delta = ig.attribute(
            input_ids,
            baselines=baseline,
            additional_forward_args=(attention_mask,),
            n_steps=n_steps,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=True,
        )
        return TokenAttribution(
            tokens=self.tokenizer.convert_ids_to_tokens(input_ids[0]),
            scores=scores[0].sum(-1).detach().numpy(),
            target=target,
            layer=layer,
            convergence_delta=float(delta.abs().max()),
        )


TOKEN_METHOD_NAMES = {"adapler-bert": "AdapLeR", "token-gate-bert": "token gates"}


@dataclass
class TokenTrace:
    """Which input tokens each layer of a token-reduction model runs on (N layers, T tokens)."""

    text: str
    method: str  # "AdapLeR" or "token gates"
    tokens: list[str]
    label_names: list[str]
    kept: np.ndarray  # (N, T) bool: token t is among layer n's inputs
    probs: np.ndarray  # (C,) the answer of the pruned model
    prediction: int
    num_tokens: int  # before truncation
    max_length: int

    @property
    def num_layers(self) -> int:
        return self.kept.shape[0]

    @property
    def tokens_per_layer(self) -> np.ndarray:
        return self.kept.sum(axis=1)  # (N,)

    @property
    def compute_share(self) -> float:
        """Tokens processed over all layers, as a share of the full model's (linear-cost view)."""
        return float(self.kept.sum() / self.kept.size)

    @property
    def truncated(self) -> bool:
        return self.num_tokens > self.max_length

    @property
    def prediction_name(self) -> str:
        return self.label_names[self.prediction]


class TokenInspector:
    """Runs a token-reduction model (AdapLeR or token gates) with physical token removal on one text."""

    def __init__(self, model, tokenizer, max_length: int = 128):
        model_type = getattr(model.config, "model_type", None)
        if model_type not in TOKEN_METHOD_NAMES:
            raise TypeError(f"TokenInspector needs an AdapLeR or token-gate model, got {model_type!r}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.method = TOKEN_METHOD_NAMES[model_type]
        self.max_length = min(max_length, model.config.max_position_embeddings)
        self.label_names = [model.config.id2label[i] for i in range(model.config.num_labels)]

    @torch.inference_mode()
    def trace(self, text: str) -> TokenTrace:
        enc, num_tokens = encode_text(self.tokenizer, text, self.max_length)
        out = self.model(**enc, halt_early=True, output_kept_tokens=True)
        probs = out.logits[0].float().softmax(-1).numpy()  # (C,)
        return TokenTrace(
            text=text,
            method=self.method,
            tokens=self.tokenizer.convert_ids_to_tokens(enc["input_ids"][0]),
            label_names=self.label_names,
            kept=out.kept_tokens[0].numpy(),
            probs=probs,
            prediction=int(probs.argmax()),
            num_tokens=num_tokens,
            max_length=self.max_length,
        )
