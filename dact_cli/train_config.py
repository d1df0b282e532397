"""`dact train`'s settings, importable without torch: the command line reads their defaults before it imports
anything heavy."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass
class TrainConfig:
    """Everything `dact train` needs; written next to the model as training_config.json."""

    data: str
    output_dir: str
    backbone: str | None = None  # None: the packaged MiniLM
    text_columns: list[str] | None = None
    label_column: str | None = None
    label_names: list[str] | None = None  # names for integer labels 0..C-1, e.g. negative,positive
    max_rows: int | None = None
    validation_fraction: float = 0.1
    seed: int = 42
    max_length: int = 128
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 32
    learning_rate: float = 5e-5  # backbone
    dact_learning_rate: float = 1e-3  # DACT modules
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    freeze_word_embeddings: bool = False
    eval_steps: int | None = 500  # validate (and keep the best checkpoint) every this many steps; None: per epoch
    # DACT settings (DactBertConfig); the defaults are the shipped SST-2 model's recipe
    reference_epochs: float = 3.0  # dact: first fine-tune a full-depth reference (kept in output_dir/reference)
    #   for this many epochs and start DACT-BERT from its encoder; 0: start from the backbone itself
    ponder_penalty: float = 0.07
    halting_bias_init: float = 2.0
    dact_hidden_size: int | None = None
    pooling: str = "mean"
    layer_loss_weight: float = 0.5
    distill_weight: float = 0.0  # dact: weight of KL(reference || y_n) per layer; the teacher is the fine-tuned
    #   reference DACT-BERT starts from (the first stage, or --backbone RUN/reference)
    distill_temperature: float = 1.0  # dact: both answers softened by T before that KL (scaled by T^2)
    method: str = "dact"  # "dact", "reference" (plain full-depth classifier), "multi-exit", "adapler", "token-gates"
    init_from: str | None = None  # adapler/token-gates: the reference to start from; others: a model to train
    #   further; dact from a multi-exit model: halting units trained on its frozen exits (`dact_on_frozen_exits`)
    # token methods (AdapLeR, trainable token gates)
    knob_learning_rate: float = 0.02  # AdapLeR thresholds eta, token gate parameters
    kl_weight: float = 0.1  # AdapLeR gamma
    length_weight: float = 0.01  # AdapLeR phi
    eta_init: float = 0.25  # AdapLeR thresholds' start (token t dropped when its score < eta / n); learned at
    #   knob_learning_rate, fixed with 0
    removal_layers: list[int] | None = None  # AdapLeR: the layers (1-based) before which tokens may be dropped; None: all
    gate_sparsity: float = 1e-3  # token gates lambda
    gate_bimodal: float = 1e-3  # token gates mu
    resume: bool = False  # continue an interrupted run from the last checkpoint in output_dir
    command: list[str] = field(default_factory=lambda: ["dact", *sys.argv[1:]])
