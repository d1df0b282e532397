"""`dact train`'s settings, importable without torch: the command line reads their defaults before it imports
anything heavy.

Each field is one `dact train` option: its flag is the field's name with dashes (`--learning-rate`), its type the
field's, its default the field's default, and its help text `metadata["help"]`. A field whose option needs more
than that names it in its metadata: `flag`, `type` (a parser of the command-line text), `action`, `choices`;
`cli: False` keeps a field off the command line; `section` starts a group of options in `dact train --help`, down to
the next field that names one. `dact_cli.add_options` reads this table.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, dataclass, field

# `dact_core.methods.TRAIN_METHODS`, named here so that parsing needs no torch (a test keeps the two equal)
TRAIN_METHODS = ("reference", "dact", "multi-exit", "adapler", "token-gates")


def comma_list(text: str) -> list[str]:
    return text.split(",")


def layer_numbers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer numbers such as 1,2,3, got {text!r}") from None


def option(default=MISSING, *, help: str, default_factory=MISSING, **cli):  # noqa: A002 - argparse's own name
    """A field with its command-line option: `help`, and the option's other settings in `cli` (see the module)."""
    return field(default=default, default_factory=default_factory, metadata={"help": help, **cli})


@dataclass
class TrainConfig:
    """Everything `dact train` needs; written next to the model as training_config.json."""

    # the data (the same options as `dact eval`'s)
    data: str = option(section="data and output",
                       help="a .csv/.tsv/.json/.jsonl/.parquet file, or a hub name (glue/sst2)")
    output_dir: str = option(help="the new model's folder")
    split: str | None = option(None, help="split of a hub data set (default: train)")
    text_columns: list[str] | None = option(None, help="text column (twice for pairs)", flag="--text-column",
                                            action="append")
    label_column: str | None = option(None, help="label column (default: detected from common names)")
    label_names: list[str] | None = option(None, type=comma_list,
                                           help="comma-separated names of integer labels 0..C-1, e.g. "
                                           "negative,positive")
    max_rows: int | None = option(None, help="use only the first N rows")
    validation_fraction: float = option(0.1, help="share of the rows held out to validate and pick the best checkpoint")
    seed: int = option(42, help="seed of the validation split, the initialisation and the data order")
    # what to train, and from what
    method: str = option("dact", section="method", choices=TRAIN_METHODS, help=(
        "dact: DACT-BERT; reference: a plain full-depth BERT classifier, the accuracy to match; multi-exit: one classifier per "
        "layer for the DeeBERT / PABEE / static early-exit rules; adapler / token-gates: token reduction, started "
        "from a reference given with --init-from"))
    backbone: str | None = option(None, help="BERT checkpoint name or path (default: packaged MiniLM)")
    init_from: str | None = option(None, help=(
        "adapler / token-gates: the fine-tuned reference to start from; dact, multi-exit, reference: a trained model "
        "of the same method to train further; dact from a multi-exit model: DACT-BERT whose answers are its exits, "
        "with the exits and the encoder frozen: only the DACT modules' hidden layer and halting unit learn "
        "(--pooling, --layer-loss-weight, --learning-rate and --freeze-word-embeddings then have no effect)"))
    resume: bool = option(False, help=(
        "continue an interrupted run in --output-dir from its last checkpoint (saved at every validation), with "
        "the same settings; a finished reference stage is kept"))
    # optimisation
    max_length: int = option(128, section="training", help="tokens per input; longer inputs are truncated")
    epochs: float = option(1.0, help="training epochs; for dact, of its DACT-BERT stage")
    max_steps: int = option(-1, help="stop after this many steps; -1: the epochs decide")
    batch_size: int = option(32, help="examples per training step")
    learning_rate: float = option(5e-5, help="learning rate of the backbone")
    dact_learning_rate: float = option(1e-3, help="dact: learning rate of the DACT modules")
    weight_decay: float = option(0.01, help="AdamW weight decay")
    warmup_ratio: float = option(0.06, help="share of the steps with a linear learning-rate warm-up")
    eval_steps: int | None = option(500, help="validate and keep the best checkpoint every this many steps; 0: once "
                                    "per epoch")
    freeze_word_embeddings: bool = option(False, help=(
        "keep the backbone's word embeddings (about half of MiniLM's weights) as they are; `dact export` then leaves "
        "them out of the compact copy"))
    # DACT-BERT (DactBertConfig); the defaults are the shipped SST-2 model's recipe
    reference_epochs: float = option(3.0, section="DACT-BERT (--method dact)", help=(
        "dact: first fine-tune a full-depth reference for this many epochs (kept in OUTPUT_DIR/reference) and start "
        "DACT-BERT from its encoder; 0 starts from the backbone"))
    ponder_penalty: float = option(0.07, help="dact: tau, the accuracy / depth trade-off")
    halting_bias_init: float = option(2.0, help="dact: the halting units' starting bias; h = sigmoid(bias) starts at "
                                      "0.88 for 2")
    dact_hidden_size: int | None = option(None, help="dact: width of each DACT module's hidden layer (default: half "
                                          "the model's hidden size)")
    pooling: str = option("mean", choices=("mean", "cls"), help="dact: the vector each layer's DACT module reads: "
                          "the tokens' masked mean or [CLS]")
    layer_loss_weight: float = option(0.5, help="dact: weight of every layer's own cross-entropy, added to the "
                                      "paper's loss")
    distill_weight: float = option(0.0, help=(
        "dact: weight of the mean over layers of KL(reference || y_n), each layer's answer against the fine-tuned "
        "reference's probabilities (the first stage, or --backbone RUN/reference)"))
    distill_temperature: float = option(1.0, help="dact: T of that loss: both answers softened to "
                                        "softmax(log p / T), the KL scaled by T^2")
    # token reduction (AdapLeR, trainable token gates)
    knob_learning_rate: float = option(0.02, section="token reduction (--method adapler, token-gates)",
                                       help="adapler / token-gates: learning rate of the AdapLeR thresholds "
                                       "and the token gates")
    kl_weight: float = option(0.1, help="adapler: gamma, the weight of the contribution predictors' KL to the saliency")
    length_weight: float = option(0.01, help="adapler: phi, the weight of the share of tokens kept alive")
    eta_init: float = option(0.25, help=(
        "adapler: the thresholds' start: a token is dropped when its score is below eta / (tokens alive); learned at "
        "--knob-learning-rate, fixed with 0; in [0.01, 1]"))
    removal_layers: list[int] | None = option(None, type=layer_numbers, help=(
        "adapler: the layers (1-based, comma-separated, e.g. 1,2,3) before which tokens may be dropped; no predictor "
        "runs before the others (default: every layer)"))
    gate_sparsity: float = option(1e-3, help="token-gates: lambda, the weight of the sum of the gates: the accuracy / "
                                  "compute knob")
    gate_bimodal: float = option(1e-3, help="token-gates: mu, the weight of the term g (1 - g) that pushes gates to 0 "
                                 "or 1")
    command: list[str] = option(default_factory=lambda: ["dact", *sys.argv[1:]], cli=False,
                                help="the command line, recorded with the model")
