"""Plain trace dataclasses (NumPy only, importable without torch): what inference returns and charts draw.

RunResult: one batched run over many inputs (`dact_core.runner.run`).
ExampleTrace / TokenTrace / TokenAttribution: one input, for the inspector and the app's charts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RunResult:
    """One batched run, one row per input in input order (n inputs, N layers, C classes)."""

    prediction: np.ndarray  # (n,) the method's answer
    probs: np.ndarray  # (n, C) its probabilities
    exit_layer: np.ndarray  # (n,) 1-based; N for methods that run every layer
    tokens_per_layer: np.ndarray  # (n, N) tokens each layer ran on (0 after the exit)
    num_tokens: np.ndarray  # (n,) length before truncation
    max_length: int
    seconds: float  # time spent in the model's inference calls
    # DACT-BERT with full_depth=True: the full-depth trace (the guarantee is about its answer)
    full_depth_prediction: np.ndarray | None = None  # (n,)
    layer_probs: np.ndarray | None = None  # (n, N, C) y_n
    halting_probs: np.ndarray | None = None  # (n, N) h_n
    remaining_probs: np.ndarray | None = None  # (n, N) p_n
    acc_probs: np.ndarray | None = None  # (n, N, C) a_n
    # token methods with kept_tokens=True: (N, T_i) bool per input, token t among layer n's inputs
    kept_tokens: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.prediction)

    @property
    def truncated(self) -> np.ndarray:
        return self.num_tokens > self.max_length


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
    def margin(self) -> np.ndarray:
        """(N,) the margin of the bound this trace halted under (`bound`): > 0 where it holds."""
        return self.margin_tight if self.bound == "tight" else self.margin_paper

    @property
    def prediction_name(self) -> str:
        return self.label_names[self.prediction]

    def weights_at(self, layer: int) -> np.ndarray:
        """Weight of each y_1..y_layer in the answer a_layer: p_{n-1} prod_{j=n}^{layer-1} (1 - p_j); sums to 1."""
        p = self.remaining_probs[:layer]  # (k,)
        p_prev = np.concatenate([[1.0], p[:-1]])  # (k,) p_0 .. p_{k-1}
        keep = 1 - p[:-1]  # (k-1,) (1 - p_1) .. (1 - p_{k-1})
        tail = np.append(np.cumprod(keep[::-1])[::-1], 1.0)  # (k,) prod_{j=n}^{k-1} (1 - p_j) for n = 1..k
        return p_prev * tail


@dataclass
class TokenAttribution:
    tokens: list[str]
    scores: np.ndarray  # (T,) summed over the hidden dimension; positive supports the target
    target: int
    layer: int  # 1-based layer whose accumulated answer a_n is explained
    convergence_delta: float


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
