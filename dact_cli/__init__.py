"""The `dact` command's entry point (also `python -m dact_core`): train, eval, predict, bench, report, export, app.

It parses the arguments before importing anything heavy: `import dact_core` imports torch and transformers to
register the model types (seconds), which `dact --help` and a mistyped option should not wait for. This
package imports only the standard library; the commands themselves live in `dact_core.cli`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from .train_config import TrainConfig

# `dact_core.methods.TRAIN_METHODS`, named here so that parsing needs no torch (a test keeps the two equal)
TRAIN_METHODS = ("reference", "dact", "multi-exit", "adapler", "token-gates")

DEVICE_HELP = "cpu, cuda or cuda:N (default: CUDA when present, else the CPU)"


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="trained model folder or hub name (default: the shipped model)")
    p.add_argument("--device", default=None, help=DEVICE_HELP)
    p.add_argument("--quantize", choices=["int8"], default=None,
                   help="dynamic int8 quantization of the Linear layers (CPU); the halting guarantee then holds "
                   "against the quantized model's own full-depth answer")
    _add_runtime_args(p)
    p.add_argument("--bound", choices=["tight", "paper"], default=None, help="halting bound (default: the model's)")
    p.add_argument(
        "--relaxation",
        type=float,
        default=None,
        help="scale the layers-left term of the bound by this factor in [0, 1]; below 1 halts earlier "
        "and drops the guarantee that halted == full-depth prediction",
    )


def _add_runtime_args(p: argparse.ArgumentParser, threads_default: int | None = None) -> None:
    p.add_argument("--runtime", choices=["onnx", "torch"], default=None,
                   help="onnx: ONNX Runtime, its graphs built from the weights on first use and cached; torch: the "
                   "PyTorch model (default: onnx on a CPU for DACT-BERT, multi-exit and plain models, else torch)")
    p.add_argument("--threads", type=_positive_int, default=threads_default,
                   help="intra-op threads (default: " + (f"{threads_default}" if threads_default else "every core") + ")")


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="a .csv/.tsv/.json/.jsonl/.parquet file, or a hub name (glue/sst2)")
    p.add_argument("--split", default=None, help="split of a hub data set")
    p.add_argument("--text-column", action="append", dest="text_columns", help="text column (twice for pairs)")
    p.add_argument("--label-column", default=None)
    p.add_argument("--max-rows", type=int, default=None, help="use only the first N rows")


TRAIN_NUMBERS = (
    "validation_fraction seed max_length epochs max_steps batch_size learning_rate dact_learning_rate "
    "weight_decay warmup_ratio eval_steps reference_epochs ponder_penalty halting_bias_init dact_hidden_size "
    "layer_loss_weight distill_weight distill_temperature knob_learning_rate kl_weight length_weight eta_init gate_sparsity gate_bimodal"
).split()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dact", description="DACT-BERT: adaptive-depth BERT")
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("train", help="fine-tune DACT-BERT with the Hugging Face Trainer")
    _add_data_args(tr)
    tr.add_argument("--output-dir", required=True)
    tr.add_argument("--backbone", default=None, help="BERT checkpoint name or path (default: packaged MiniLM)")
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    helps = {
        "reference_epochs": "dact: first fine-tune a full-depth reference for this many epochs (kept in "
        "OUTPUT_DIR/reference) and start DACT-BERT from its encoder; 0 starts from the backbone (default: %(default)s)",
        "ponder_penalty": "dact: tau, the accuracy / depth trade-off (default: %(default)s)",
        "layer_loss_weight": "dact: weight of every layer's own cross-entropy, added to the paper's loss "
        "(default: %(default)s)",
        "distill_weight": "dact: weight of the mean over layers of KL(reference || y_n), each layer's answer against "
        "the fine-tuned reference's probabilities (the first stage, or --backbone RUN/reference) (default: %(default)s)",
        "distill_temperature": "dact: T of that loss: both answers softened to softmax(log p / T), the KL scaled by "
        "T^2 (default: %(default)s)",
        "eta_init": "adapler: the thresholds' start: a token is dropped when its score is below eta / (tokens alive); "
        "learned at --knob-learning-rate, fixed with 0; in [0.01, 1] (default: %(default)s)",
        "eval_steps": "validate and keep the best checkpoint every this many steps; 0: once per epoch "
        "(default: %(default)s)",
    }
    for name in TRAIN_NUMBERS:
        kind = int if name in ("seed", "max_length", "max_steps", "batch_size", "eval_steps", "dact_hidden_size") else float
        tr.add_argument("--" + name.replace("_", "-"), type=kind, default=defaults[name], help=helps.get(name))
    tr.add_argument("--pooling", choices=["mean", "cls"], default=defaults["pooling"])
    tr.add_argument("--label-names", default=None, help="comma-separated names of integer labels 0..C-1")
    tr.add_argument("--removal-layers", type=_layer_numbers, default=None,
                    help="adapler: the layers (1-based, comma-separated, e.g. 1,2,3) before which tokens may be "
                    "dropped; no predictor runs before the others (default: every layer)")
    tr.add_argument(
        "--method", choices=TRAIN_METHODS, default="dact",
        help="dact (default); reference: a plain full-depth BERT classifier, the accuracy to match; "
        "multi-exit: one classifier per layer for the DeeBERT / PABEE / static early-exit rules; "
        "adapler / token-gates: token reduction, started from a reference given with --init-from",
    )
    tr.add_argument("--init-from", default=None,
                    help="adapler / token-gates: the fine-tuned reference to start from; dact, multi-exit, reference: "
                    "a trained model of the same method to train further; dact from a multi-exit model: DACT-BERT "
                    "whose answers are its exits, with the exits and the encoder frozen: only the DACT modules' hidden "
                    "layer and halting unit learn (--pooling, --layer-loss-weight, --learning-rate and "
                    "--freeze-word-embeddings then have no effect)")
    tr.add_argument("--overwrite", action="store_true", help="write into an output folder that already holds files")
    tr.add_argument("--resume", action="store_true",
                    help="continue an interrupted run in --output-dir from its last checkpoint (saved at every "
                    "validation), with the same settings; a finished reference stage is kept")
    tr.add_argument(
        "--freeze-word-embeddings", action="store_true",
        help="keep the backbone's word embeddings (about half of MiniLM's weights) as they are; `dact export` "
        "then leaves them out of the compact copy",
    )

    ev = sub.add_parser("eval", help="halting inference over a data set: metrics JSON and per-example traces")
    _add_model_args(ev)
    _add_data_args(ev)
    ev.add_argument("--output-dir", default=None, help="write metrics.json and traces there")
    ev.add_argument("--traces-format", choices=["parquet", "csv"], default="parquet")
    ev.add_argument("--batch-size", type=int, default=64)
    ev.add_argument("--max-length", type=int, default=128)
    ev.add_argument("--no-full-depth-check", action="store_true", help="skip the full-depth reference run")
    ev.add_argument("--compare-torch", action="store_true",
                    help="on the ONNX Runtime engine: also run the torch model and report where their answers and exit "
                    "layers differ (each difference with both margins)")
    ev.add_argument("--overwrite", action="store_true", help="write into an output folder that already holds files")

    pr = sub.add_parser("predict", help="per-layer table for one text")
    _add_model_args(pr)
    pr.add_argument("text", nargs="+", help="the text (words given unquoted are joined with spaces)")
    pr.add_argument("--pair", default=None, metavar="TEXT",
                    help="a second text: the two are one sentence pair (for a model trained on pairs)")
    pr.add_argument("--max-length", type=int, default=128)
    be = sub.add_parser("bench", help="every method at several operating points, measured in one process")
    _add_data_args(be)
    be.add_argument("--reference", nargs="*", default=[],
                    help="the full-depth reference model folder (speed-ups are taken against the first; more are seeds, and "
                    "each model's accuracy is compared with the reference of its own seed when there is one); none: "
                    "speed-ups against a plain classifier of the first model's size and encoder, whose accuracy is not "
                    "reported")
    be.add_argument("--dact", nargs="*", default=[], help="DACT-BERT model folders (ponder penalties, seeds)")
    be.add_argument("--multi-exit", nargs="*", default=[], help="multi-exit model folders (static, DeeBERT, PABEE)")
    be.add_argument("--token-methods", nargs="*", default=[], help="AdapLeR / token-gate model folders")
    be.add_argument("--output-dir", required=True)
    be.add_argument("--overwrite", action="store_true", help="write into an output folder that already holds files")
    be.add_argument("--device", default=None, help=DEVICE_HELP)
    be.add_argument("--quantize", choices=["int8"], default=None,
                    help="also measure an int8 copy of every model (speed against the int8 reference, accuracy against "
                    "the same float model)")
    be.add_argument("--title", default="benchmark")
    _add_runtime_args(be, threads_default=2)
    be.add_argument("--latency-examples", type=int, default=300, help="examples timed one by one per point")
    be.add_argument("--throughput-examples", type=int, default=2048,
                    help="examples (in batches of 32) timed per point for the throughput")
    be.add_argument("--rounds", type=int, default=3,
                    help="interleaved timing rounds; each input counts with its median over them, which drops a "
                    "stalled call from 3 rounds on (default: %(default)s)")
    be.add_argument("--timer-block", type=int, default=10,
                    help="inputs each point runs in its turn (1: every point on each input in turn; a point's ratio "
                    "then moves with the points timed beside it)")

    rp = sub.add_parser("report", help="one Markdown page of bench result folders: tables, figures, findings in words")
    rp.add_argument("folders", nargs="+", metavar="RESULT_FOLDER", help="folders that `dact bench` wrote")
    rp.add_argument("--output", required=True,
                    help="the Markdown page to write, e.g. docs/results.md; its figures go into the folder of the same "
                    "name beside it (docs/results/)")

    ex = sub.add_parser("export", help="write a trained model as a compact checkpoint for shipping")
    ex.add_argument("--model", required=True, help="trained model folder")
    ex.add_argument("--output-dir", default=None,
                    help="a new or empty folder (never the model folder); required unless --card-only")
    ex.add_argument("--overwrite", action="store_true",
                    help="replace the exported files (weights, config, tokenizer, README.md) in a folder that holds files")
    ex.add_argument("--eval-dir", action="append", dest="eval_dirs", default=[], metavar="EVAL",
                    help="a `dact eval --output-dir` folder whose metrics.json gives the model card (README.md) its "
                    "numbers and the command that measured them (repeat for more data sets); none: the card says that "
                    "no evaluation is attached")
    ex.add_argument("--training-config", default=None, metavar="FILE",
                    help="the training record (training_config.json) that gives the card its training command and base "
                    "model (default: the model folder's own, where it has one)")
    ex.add_argument("--card-only", action="store_true",
                    help="write only the model card, as README.md in the --model folder itself, replacing the one there "
                    "(no --output-dir; the weights are left as they are): a shipped model's card after a new evaluation")
    ex.add_argument("--float32", action="store_true", help="keep float32 weights (default: float16)")
    ex.add_argument("--format", choices=["safetensors", "onnx"], default="safetensors",
                    help="onnx: also write the ONNX Runtime graphs (float32 and int8) beside the weights, so that the "
                    "engine reads them instead of building them on first use")
    ex.add_argument("--no-shared-weights", action="store_true",
                    help="store every tensor, also those identical to the backbone's (the frozen word embeddings)")

    ap = sub.add_parser("app", help="start the Streamlit inspector app")
    ap.add_argument("--model", default=None, help="trained model folder or hub name (default: the shipped model)")
    ap.add_argument("--port", type=int, default=8501)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--device", default=None, help=DEVICE_HELP)
    ap.add_argument("--runtime", choices=["onnx", "torch"], default=None,
                    help="the engine of the pages (default: onnx on a CPU for DACT-BERT; integrated gradients and the "
                    "token-reduction models run on torch)")
    ap.add_argument("--allow-server-paths", nargs="+", default=None, metavar="FOLDER",
                    help="let the Data set page read files by their path, inside these folders only (off: uploads)")
    ap.add_argument("--allow-hub", action="store_true",
                    help="let the Data set page load hub data sets by name, downloading them to this server "
                    "(off: the server stays offline)")
    ap.add_argument("--threads", type=_positive_int, default=None,
                    help="threads of every model run in the server (torch and ONNX Runtime), fixed at start-up "
                    "(default: every core but one, which is left to the browser)")
    return parser


def _layer_numbers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer numbers such as 1,2,3, got {text!r}") from None


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # the command line as given, so that `dact bench` and `dact report` can record how their output was made
    args.argv = list(sys.argv[1:] if argv is None else argv)
    from dact_core.cli import run  # torch and transformers load here, once the arguments are known to be good

    return run(args)
