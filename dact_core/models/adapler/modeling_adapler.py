"""AdapLeR (Modarressi, Mohebbi, Pilehvar, ACL 2022): drop tokens layer by layer (methods.md §3).

Before each layer a Contribution Predictor (CP) scores every alive token,
logit_t = w2 GELU(W1 h_t + b1) + b2 (W1: H -> 32), s = softmax over the alive tokens, and token t
is dropped when s_t < eta_l / n_l (n_l alive tokens; 1/n is a uniform score). [CLS] is never dropped
and a dropped token never returns. The classifier reads [CLS] after the last layer (BERT's pooler),
so the model starts from a fine-tuned full-depth reference.

Training (soft removal): a token's "alive" mass is the running product of
sigmoid(lambda (n_l s_t - eta_l)); its log (a sum of log-sigmoids, exact, no floor) is added to the
attention scores of every query, so a dropped token fades out of attention while everything stays
differentiable. lambda (sharpness) is annealed upward per epoch (100, 1000, ...).
Our reading: the paper writes sigmoid(lambda (s_t - eta_l / n_l)); we multiply the difference by n_l (a score relative to the uniform 1/n), since with scores near
1/n ~ 0.02 a sharpness of 10 or 100 would leave every token half alive and training would not see
the removal that inference does. Both have the same hard limit. Losses:
    CE + gamma sum_l (N + 1 - l) KL(target_l || s^l)       -> network and CPs
    CE + phi sum_l (soft number of alive tokens)/length     -> the thresholds eta_l
Routing (our reading of the paper's two optimisers): the removal mask sees s detached, so the CPs
learn from the KL term only and the thresholds from CE and the length term. target_l is the
saliency (gradient x input at the embedding output, L2 over the hidden size, from the reference
model; see `saliency_targets`) renormalised over the tokens still alive.
Inference removes tokens physically: kept tokens are gathered, so later layers run on fewer.
Our option: `removal_layers` names the layers (1-based) before which tokens may be dropped (default every
layer); before any other layer nothing is scored, so its predictor and threshold do not exist. With
fixed thresholds the later layers drop almost nothing, and at batch 1 each predictor costs about as
much as a layer's matrix products on a few tokens.
"""

from __future__ import annotations

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from torch.nn import functional as F
from transformers import BertConfig

from ..common import NEG, PoolerClassifierModel, TokenReductionOutput, TokenSurvival, checked_config, gather_tokens

GONE = -50.0  # log alive mass below which a token counts as removed in soft training


@strict
class AdaplerBertConfig(BertConfig):
    """cp_hidden_size: width of each Contribution Predictor; kl_weight: gamma; length_weight: phi;
    eta_init: initial threshold multiplier; sharpness: lambda of the soft removal (annealed in training);
    removal_layers: the layers (1-based, increasing) before which tokens may be dropped, None: every layer."""

    model_type = "adapler-bert"

    cp_hidden_size: int = 32
    kl_weight: float = 0.1
    length_weight: float = 0.01
    eta_init: float = 0.25
    sharpness: float = 100.0
    removal_layers: list[int] | None = None

    def validate_removal_layers(self):
        layers = self.removal_layers
        if layers is not None and (not layers or sorted(set(layers)) != list(layers)
                                   or not 1 <= layers[0] <= layers[-1] <= self.num_hidden_layers):
            raise ValueError(f"removal_layers must be increasing layer numbers in 1..{self.num_hidden_layers}, "
                             f"at least one, got {layers}")

    @property
    def removal_indices(self) -> list[int]:
        """0-based indices of the layers before which tokens may be dropped."""
        layers = self.removal_layers or range(1, self.num_hidden_layers + 1)
        return [layer - 1 for layer in layers]


class ContributionPredictor(nn.Module):
    def __init__(self, config: AdaplerBertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.cp_hidden_size)
        self.score = nn.Linear(config.cp_hidden_size, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.score(F.gelu(self.dense(hidden))).squeeze(-1)  # (B, T)


def masked_softmax(logits: torch.Tensor, log_alive: torch.Tensor) -> torch.Tensor:
    """Softmax over the alive tokens (log_alive: (B, T) log of the alive mass, NEG on padding)."""
    return (logits + log_alive).softmax(dim=-1)  # (B, T)


class AdaplerBertForSequenceClassification(PoolerClassifierModel):
    config_class = AdaplerBertConfig
    config: AdaplerBertConfig

    def __init__(self, config: AdaplerBertConfig):
        super().__init__(config)
        # keyed by the 0-based layer index, so that with every layer the weights are named as in a ModuleList
        self.predictors = nn.ModuleDict({str(n): ContributionPredictor(config) for n in config.removal_indices})
        self.eta = nn.Parameter(torch.full((len(self.predictors),), config.eta_init))  # one per predictor
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if module is self:
            self.eta.fill_(self.config.eta_init)

    def with_removal_layers(self, layers: list[int]) -> "AdaplerBertForSequenceClassification":
        """A copy that drops tokens before only these layers (1-based, a subset of this model's): the other
        predictors and thresholds are left out, every kept weight is this model's. Nothing is retrained."""
        if not isinstance(self.eta, nn.Parameter) or not isinstance(self.classifier, nn.Linear):
            raise ValueError("with_removal_layers takes a float model: derive the copy first, then quantize it")
        had = self.config.removal_indices
        config = checked_config(AdaplerBertConfig, **{**self.config.to_dict(), "removal_layers": list(layers)})
        if not set(config.removal_indices) <= set(had):
            raise ValueError(f"this model drops tokens before layers {[n + 1 for n in had]}; cannot keep {list(layers)}")
        state = {k: v for k, v in self.state_dict().items()
                 if not k.startswith("predictors.") or int(k.split(".")[1]) in config.removal_indices}
        state["eta"] = self.eta.detach()[[had.index(n) for n in config.removal_indices]]  # (k,)
        derived = type(self)(config).to(self.eta.device, self.eta.dtype).train(self.training)
        derived.load_state_dict(state, strict=True)
        return derived

    def removal_steps(self, thresholds: list) -> dict:
        """0-based layer index -> (its contribution predictor, its threshold) for the layers that drop tokens."""
        return {int(n): step for n, step in zip(self.predictors, zip(self.predictors.values(), thresholds))}

    def forward_layers(
        self,
        hidden: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        halt_early: bool = False,
        saliency: torch.Tensor | None = None,
        output_kept_tokens: bool = False,
    ) -> TokenReductionOutput:
        """Soft removal (training, `halt_early=False`) or physical removal (`halt_early=True`).
        saliency (B, T): the targets of the contribution predictors (training only)."""
        if halt_early:
            return self._pruning_forward(hidden, attention_mask, output_kept_tokens)
        num_layers = self.config.num_hidden_layers
        pad = attention_mask.to(hidden.dtype)  # (B, T)
        # the alive mass is kept as its log, summed exactly: a floor such as log(1e-9) would leave a
        # dropped token a fixed, finite attention bias that training learns to overcome
        log_alive = torch.where(pad > 0, 0.0, NEG)  # (B, T)
        is_cls = torch.zeros_like(pad, dtype=torch.bool)
        is_cls[:, 0] = True
        kl_terms, length_terms, tokens = [], [], []
        steps = self.removal_steps(self.eta.clamp(0.01, 1.0))
        alive = pad
        for n, layer in enumerate(self.bert.encoder.layer):
            if n in steps:
                predictor, eta = steps[n]
                scores = masked_softmax(predictor(hidden), log_alive)  # (B, T)
                n_alive = log_alive.exp().sum(dim=1, keepdim=True)  # (B, 1)
                # s_t < eta / n  <=>  n s_t < eta: comparing n s_t keeps the sharpness independent of the length
                log_keep = F.logsigmoid(self.config.sharpness * (scores.detach() * n_alive.detach() - eta))  # (B, T)
                log_alive = torch.where(is_cls | (pad == 0), log_alive, log_alive + log_keep)  # never returns
                # below e^-50 a token is gone: snapping it to NEG keeps exp() clear of float32 subnormals,
                # which would slow every attention product by an order of magnitude on a CPU
                log_alive = torch.where(log_alive < GONE, NEG, log_alive)  # (B, T)
                alive = log_alive.exp()  # (B, T)
                if saliency is not None:
                    target = saliency * alive.detach()  # (B, T)
                    target = target / target.sum(dim=1, keepdim=True).clamp(min=1e-9)
                    kl = (target * (target.clamp(min=1e-9).log() - scores.clamp(min=1e-9).log())).sum(dim=1)  # (B,)
                    kl_terms.append((num_layers - n) * kl)  # weight N + 1 - l for 1-based l
            tokens.append(alive.sum(dim=1))
            length_terms.append(alive.sum(dim=1) / pad.sum(dim=1))  # (B,) share of tokens still alive
            hidden = layer(hidden, log_alive[:, None, None, :].to(hidden.dtype))  # (B, T, H)
        logits = self.classify(hidden)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits, labels)
            loss = loss + self.config.length_weight * torch.stack(length_terms, dim=1).sum(dim=1).mean()
            if kl_terms:
                loss = loss + self.config.kl_weight * torch.stack(kl_terms, dim=1).sum(dim=1).mean()
        tokens_per_layer = torch.stack(tokens, dim=1).detach()  # (B, N) soft counts
        exit_layer = torch.full((hidden.shape[0],), num_layers, dtype=torch.int64, device=hidden.device)
        return TokenReductionOutput(loss=loss, logits=logits, prediction=logits.argmax(-1),
                                    tokens_per_layer=tokens_per_layer, exit_layer=exit_layer)

    def _pruning_forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor,
                         output_kept_tokens: bool = False) -> TokenReductionOutput:
        batch, num_layers = hidden.shape[0], self.config.num_hidden_layers
        tokens_per_layer = torch.zeros(batch, num_layers, dtype=torch.int64, device=hidden.device)  # (B, N)
        survival = TokenSurvival(attention_mask, num_layers) if output_kept_tokens else None
        steps = self.removal_steps(self.eta.clamp(0.01, 1.0))
        for n, layer in enumerate(self.bert.encoder.layer):
            order = None  # (B, T') kept positions where this layer drops tokens
            if n in steps:
                predictor, eta = steps[n]
                alive = attention_mask.to(hidden.dtype)  # (B, T)
                scores = masked_softmax(predictor(hidden), torch.where(alive > 0, 0.0, NEG))  # (B, T)
                keep = (scores >= eta / alive.sum(dim=1, keepdim=True)) & attention_mask.bool()  # (B, T)
                keep[:, 0] = True  # [CLS] stays
                hidden, attention_mask, order = gather_tokens(hidden, keep)
            tokens_per_layer[:, n] = attention_mask.sum(dim=1)
            if survival is not None:
                survival.record(n, order, attention_mask)
            mask, _ = self.layer_inputs(hidden, attention_mask)
            hidden = layer(hidden, mask)  # (B, T', H)
        exit_layer = torch.full((batch,), num_layers, dtype=torch.int64, device=hidden.device)
        logits = self.classify(hidden)  # (B, C)
        return TokenReductionOutput(logits=logits, prediction=logits.argmax(-1), tokens_per_layer=tokens_per_layer,
                                    exit_layer=exit_layer, kept_tokens=None if survival is None else survival.kept)


def saliency_targets(reference_model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     labels: torch.Tensor) -> torch.Tensor:
    """Gradient x input of the gold-label logit at the embedding output, L2 over the hidden size.

    captum's LayerGradientXActivation on the embeddings module; returns (B, T), zero on padding.
    """
    from captum.attr import LayerGradientXActivation

    def forward(ids, mask):
        return reference_model(input_ids=ids, attention_mask=mask).logits

    attribution = LayerGradientXActivation(forward, reference_model.bert.embeddings)
    scores = attribution.attribute(input_ids, target=labels, additional_forward_args=(attention_mask,))  # (B, T, H)
    return scores.norm(dim=-1).detach() * attention_mask  # (B, T)
