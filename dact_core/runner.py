"""The one batched runner: every inference of the project (eval, bench, predict, the inspector, the app) is `run`.

Inputs are tokenised chunk by chunk and batched in length order (so large sets stream and padding
stays small), moved to the model's device, run through the method's own inference call
(`methods.infer`), and the outputs come back to the CPU as NumPy arrays in input order.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .methods import family_of, infer, prediction_of
from .traces import RunResult

Text = str | tuple[str, str]


class InputError(ValueError):
    """Text the model cannot take; the message says why."""


def model_device(model) -> torch.device:
    """Where the model's inputs go (a torch model's `device`; the ONNX Runtime engine's is the CPU)."""
    return model.device


def synchronize(device: torch.device) -> None:
    """Wait for queued device work, so that a clock reading covers it (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def tokenize(tokenizer, texts: Sequence[Text], max_length: int | None, padding: bool = False, **kwargs):
    """Tokenise single texts or pairs (a pair is a tuple of two strings); max_length None: no truncation."""
    columns = list(zip(*texts)) if texts and isinstance(texts[0], tuple) else [list(texts)]
    return tokenizer(*columns, truncation=max_length is not None, max_length=max_length, padding=padding,
                     verbose=False, **kwargs)


def check_texts(texts: Sequence[Text]) -> None:
    for i, text in enumerate(texts):
        parts = text if isinstance(text, tuple) else (text,)
        if not all(isinstance(p, str) and p.strip() for p in parts):
            raise InputError("the text is empty" if len(texts) == 1 else f"input {i + 1} is empty")


def length_batches(tokenizer, texts: Sequence[Text], batch_size: int, max_length: int, chunk_size: int = 2048):
    """(indices, encoding, lengths before truncation): length-sorted batches, tokenised chunk by chunk."""
    for start in range(0, len(texts), chunk_size):
        chunk = texts[start : start + chunk_size]
        lengths = np.array([len(ids) for ids in tokenize(tokenizer, chunk, None)["input_ids"]])  # (c,)
        order = np.argsort(-lengths, kind="stable")
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            enc = tokenize(tokenizer, [chunk[i] for i in idx], max_length, padding=True, return_tensors="pt")
            yield start + idx, enc, lengths[idx]


@torch.inference_mode()
def run(
    model,
    tokenizer,
    texts: Sequence[Text],
    setting: dict | None = None,
    batch_size: int = 64,
    max_length: int = 128,
    full_depth: bool = False,
    halting_pass: bool = True,
    kept_tokens: bool = False,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run the method's inference on every input; returns NumPy results in input order.

    setting: per-call inference arguments (e.g. halting_bound / halting_relaxation for DACT-BERT, an
        exit rule for the multi-exit model); see `methods.METHODS`.
    full_depth: DACT-BERT only: also run every layer and keep the full trace (y_n, h_n, p_n, a_n) and
        the full-depth answer, which the guarantee is about.
    halting_pass: with full_depth, False reads the exits and answers off the full-depth trace instead of
        also running the halting path (half the work; the decision after layer n depends only on a_n and
        p_n, so they are the same, but the agreement is then derived, not checked).
    kept_tokens: token methods only: which input tokens each layer ran on.
    on_progress(done, total): called after every batch (the app's progress bar).

    A dynamically quantized model (int8) runs one input at a time: it quantizes activations with one
    scale per batch, so in a batch a row's numbers depend on its neighbours, and rows leaving the batch
    at a halt change the others' numbers, which breaks "halted == full depth" (seen on SST-2 dev at batch 64).
    """
    setting = dict(setting or {})
    family = family_of(model)
    if full_depth and family.model_type != "dact-bert":
        raise ValueError(f"full_depth traces exist for DACT-BERT only, not for {family.display}")
    if kept_tokens and family.kind != "tokens":
        raise ValueError(f"kept_tokens exist for token-reduction models only, not for {family.display}")
    check_texts(texts)
    if getattr(model, "quantization", None):
        batch_size = 1
    model.eval()
    config = model.config
    device = model_device(model)
    max_length = min(max_length, config.max_position_embeddings)
    n, num_layers, num_classes = len(texts), config.num_hidden_layers, config.num_labels
    result = RunResult(
        prediction=np.zeros(n, dtype=np.int64),
        probs=np.zeros((n, num_classes)),
        exit_layer=np.full(n, num_layers, dtype=np.int64),
        tokens_per_layer=np.zeros((n, num_layers), dtype=np.float64),
        num_tokens=np.zeros(n, dtype=np.int64),
        max_length=max_length,
        seconds=0.0,
        kept_tokens=[None] * n if kept_tokens else [],
    )
    if full_depth:
        result.full_depth_prediction = np.zeros(n, dtype=np.int64)
        result.layer_probs, result.acc_probs = np.zeros((n, num_layers, num_classes)), np.zeros((n, num_layers, num_classes))
        result.halting_probs, result.remaining_probs = np.zeros((n, num_layers)), np.zeros((n, num_layers))
    extra = {"output_kept_tokens": True} if kept_tokens else {}
    layers = np.arange(1, num_layers + 1)
    bar = tqdm(total=n, desc="inference", unit="ex", disable=not progress)
    for idx, enc, lengths in length_batches(tokenizer, texts, batch_size, max_length):
        enc = enc.to(device)
        synchronize(device)
        start = time.perf_counter()
        if full_depth and not halting_pass:
            out = trace = model(**enc, **setting)  # the exits and answers are read off this trace below
        else:
            out = infer(model, enc, **setting, **extra)
        synchronize(device)
        result.seconds += time.perf_counter() - start
        if full_depth and not halting_pass:  # the answer at each row's exit layer, a_exit
            probs = out.acc_probs[torch.arange(len(idx), device=device), out.exit_layer - 1]  # (b, C)
            result.prediction[idx] = probs.argmax(-1).cpu().numpy()
        else:
            result.prediction[idx] = prediction_of(out).cpu().numpy()
            probs = out.probs if getattr(out, "probs", None) is not None else out.logits.float().softmax(-1)
        result.probs[idx] = probs.cpu().numpy()
        result.num_tokens[idx] = lengths
        exit_layer = getattr(out, "exit_layer", None)
        if exit_layer is not None:
            result.exit_layer[idx] = exit_layer.cpu().numpy()
        if getattr(out, "tokens_per_layer", None) is not None:
            result.tokens_per_layer[idx] = out.tokens_per_layer.cpu().numpy()
        else:  # every executed layer runs on the whole (unpadded, truncated) input
            used = enc["attention_mask"].sum(dim=1).cpu().numpy()  # (b,)
            result.tokens_per_layer[idx] = np.where(layers[None] <= result.exit_layer[idx][:, None], used[:, None], 0)
        if kept_tokens:
            for row, kept, length in zip(idx, out.kept_tokens.cpu().numpy(), enc["attention_mask"].sum(1).tolist()):
                result.kept_tokens[row] = kept[:, :length]  # (N, T_i)
        if full_depth:
            if halting_pass:
                trace = model(**enc, **setting)
            result.full_depth_prediction[idx] = trace.prediction.cpu().numpy()
            result.layer_probs[idx] = trace.layer_probs.float().cpu().numpy()
            result.halting_probs[idx] = trace.halting_probs.float().cpu().numpy()
            result.remaining_probs[idx] = trace.remaining_probs.cpu().numpy()
            result.acc_probs[idx] = trace.acc_probs.cpu().numpy()
        bar.update(len(idx))
        if on_progress is not None:
            on_progress(int(bar.n), n)
    bar.close()
    return result
