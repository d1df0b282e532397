"""Inspection of one input: run the model on text and return a plain trace (NumPy, no tensors).

`DactInspector(model, tokenizer).trace(text)` gives every per-layer quantity the app draws;
`.attribute(text, ...)` gives token attributions (captum Integrated Gradients) for the final
answer or the answer at any layer. `TokenInspector` does the same for the token-reduction
methods (AdapLeR, token gates): which tokens each layer still runs on. Both run through the one
runner (`dact_core.runner.run`); chart builders (`dact_core.charts`) take these traces, never the model.
"""

from __future__ import annotations

import torch

from .halting import BOUNDS, exit_layers_from_trace, layer_weights, margins_by_layer
from .methods import family_of
from .runner import InputError, model_device, run, tokenize
from .traces import ExampleTrace, TokenAttribution, TokenTrace

__all__ = ["DactInspector", "TokenInspector", "InputError", "inspector_for"]


class _Inspector:
    """What both inspectors share: the model, its tokenizer, the label names, the length limit."""

    kinds: tuple[str, ...] = ()

    def __init__(self, model, tokenizer, max_length: int = 128):
        family = family_of(model)
        if family.model_type not in self.kinds:
            raise TypeError(f"{type(self).__name__} needs a {' or '.join(self.kinds)} model, got {family.display}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.method = family.display
        config = model.config
        self.max_length = min(max_length, config.max_position_embeddings)
        self.label_names = [config.id2label[i] for i in range(config.num_labels)]

    def tokens(self, text: str) -> list[str]:
        """The word pieces the model reads (after truncation)."""
        ids = tokenize(self.tokenizer, [text], self.max_length)["input_ids"][0]
        return self.tokenizer.convert_ids_to_tokens(ids)


class DactInspector(_Inspector):
    kinds = ("dact-bert",)

    def trace(self, text: str, bound: str | None = None, relaxation: float | None = None) -> ExampleTrace:
        """Full-depth trace of every layer plus what halting inference does under the given setting."""
        config = self.model.config
        bound = bound or config.halting_bound
        relaxation = config.halting_relaxation if relaxation is None else float(relaxation)
        if not 0.0 <= relaxation <= 1.0:
            raise InputError(f"relaxation must lie in [0, 1], got {relaxation}")
        setting = dict(halting_bound=bound, halting_relaxation=relaxation)
        result = run(self.model, self.tokenizer, [text], setting, max_length=self.max_length, full_depth=True)
        acc, rem = torch.from_numpy(result.acc_probs), torch.from_numpy(result.remaining_probs)  # (1, N, C), (1, N)
        margins = {b: margins_by_layer(acc[0], rem[0], b, relaxation).numpy() for b in BOUNDS}
        exits = {b: int(exit_layers_from_trace(acc, rem, b, relaxation)[0]) for b in BOUNDS}
        return ExampleTrace(
            text=text,
            tokens=self.tokens(text),
            label_names=self.label_names,
            layer_probs=result.layer_probs[0],
            halting_probs=result.halting_probs[0],
            remaining_probs=result.remaining_probs[0],
            acc_probs=result.acc_probs[0],
            layer_weights=layer_weights(rem[0]).numpy(),
            margin_tight=margins["tight"],
            margin_paper=margins["paper"],
            exit_layer=int(result.exit_layer[0]),
            exit_layer_tight=exits["tight"],
            exit_layer_paper=exits["paper"],
            prediction=int(result.prediction[0]),
            full_depth_prediction=int(result.full_depth_prediction[0]),
            bound=bound,
            relaxation=relaxation,
            num_tokens=int(result.num_tokens[0]),
            max_length=self.max_length,
        )

    def attribute(
        self, text: str, target: int | None = None, layer: int | None = None, n_steps: int = 32,
        internal_batch_size: int | None = 16,
    ) -> TokenAttribution:
        """Integrated Gradients on the word embeddings for a_layer[target] (default: the final answer a_N).

        The baseline keeps [CLS] and [SEP] (the frame every input has) and replaces every other token
        with [PAD], [UNK] included: an unknown word is part of the input and gets its share.
        """
        from captum.attr import LayerIntegratedGradients

        if not isinstance(text, str) or not text.strip():
            raise InputError("the text is empty")
        enc = tokenize(self.tokenizer, [text], self.max_length, return_tensors="pt").to(model_device(self.model))
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

        frame = torch.tensor([self.tokenizer.cls_token_id, self.tokenizer.sep_token_id], device=input_ids.device)
        baseline = torch.where(torch.isin(input_ids, frame), input_ids,
                               torch.full_like(input_ids, self.tokenizer.pad_token_id))  # (1, T)
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
            scores=scores[0].sum(-1).detach().cpu().numpy(),
            target=target,
            layer=layer,
            convergence_delta=float(delta.abs().max()),
        )


class TokenInspector(_Inspector):
    """Runs a token-reduction model (AdapLeR or token gates) with physical token removal on one text."""

    kinds = ("adapler-bert", "token-gate-bert")

    def trace(self, text: str) -> TokenTrace:
        result = run(self.model, self.tokenizer, [text], max_length=self.max_length, kept_tokens=True)
        return TokenTrace(
            text=text,
            method=self.method,
            tokens=self.tokens(text),
            label_names=self.label_names,
            kept=result.kept_tokens[0],
            probs=result.probs[0],
            prediction=int(result.prediction[0]),
            num_tokens=int(result.num_tokens[0]),
            max_length=self.max_length,
        )


def inspector_for(model, tokenizer, max_length: int = 128) -> DactInspector | TokenInspector:
    """The inspector of a model's family (DACT-BERT or a token method)."""
    kind = family_of(model).model_type
    if kind in DactInspector.kinds:
        return DactInspector(model, tokenizer, max_length)
    return TokenInspector(model, tokenizer, max_length)
