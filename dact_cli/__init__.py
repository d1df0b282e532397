"""The `dact` command's entry point (also `python -m dact_core`): train, eval, predict, bench, report, compare-runs,
export, app.

It parses the arguments before importing anything heavy: `import dact_core` imports torch and transformers to
register the model types (seconds), which `dact --help` and a mistyped option should not wait for. This
package imports only the standard library; the commands themselves live in `dact_core.cli`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING, fields

from .train_config import TrainConfig

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


# the data options of every command that reads a data set: `dact train`'s, from the same table
DATA_OPTIONS = ("data", "split", "text_columns", "label_column", "max_rows")
_TYPES = {"str": str, "int": int, "float": float}


def add_options(p: argparse.ArgumentParser, names: tuple[str, ...] | None = None) -> None:
    """One option per `TrainConfig` field (those in `names`, else every field on the command line, in the groups its
    sections make), in the dataclass's order, from the field's type, default and metadata (see
    `dact_cli.train_config`)."""
    group = p
    for f in fields(TrainConfig):
        meta = f.metadata
        if not meta.get("cli", True) or (names is not None and f.name not in names):
            continue
        if names is None and "section" in meta:
            group = p.add_argument_group(meta["section"])
        flag = meta.get("flag", "--" + f.name.replace("_", "-"))
        settings = {"dest": f.name, "help": meta["help"]}
        if f.default is MISSING:
            settings["required"] = True
        else:
            settings["default"] = f.default
            if f.default is not None and not isinstance(f.default, bool):
                settings["help"] += " (default: %(default)s)"
        if "action" in meta:
            settings["action"] = meta["action"]
        elif f.type == "bool":
            if f.default is not False:  # a flag can only switch a setting on
                raise TypeError(f"TrainConfig.{f.name}: a boolean option must default to False")
            settings["action"] = "store_true"
        else:
            kind = meta.get("type") or _TYPES.get(f.type.removesuffix(" | None"))
            if kind is None:
                raise TypeError(f"TrainConfig.{f.name}: give the parser of its type {f.type} (metadata type)")
            settings["type"] = kind
        if "choices" in meta:
            settings["choices"] = meta["choices"]
        elif settings.get("action") != "store_true":
            settings["metavar"] = flag.removeprefix("--").replace("-", "_").upper()
        group.add_argument(flag, **settings)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of parsed `dact train` arguments: every field on the command line is the option of its name,
    and the command is the one these arguments came from (not this process's, when `main` is called from code)."""
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if f.metadata.get("cli", True)}
    if getattr(args, "argv", None) is not None:
        values["command"] = ["dact", *args.argv]
    return TrainConfig(**values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dact", description="DACT-BERT: adaptive-depth BERT")
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("train", help="fine-tune DACT-BERT with the Hugging Face Trainer")
    add_options(tr)
    tr.add_argument("--overwrite", action="store_true", help="write into an output folder that already holds files")

    ev = sub.add_parser("eval", help="halting inference over a data set: metrics JSON and per-example traces")
    _add_model_args(ev)
    add_options(ev, DATA_OPTIONS)
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
    add_options(be, DATA_OPTIONS)
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
    rp.add_argument("--readme", default=None, metavar="FILE",
                    help="also write the headline table and sentences into FILE (e.g. README.md), between its "
                    "results:start and results:end comment lines")

    cr = sub.add_parser("compare-runs", help="two dact eval runs on the same examples: the accuracy difference with a "
                        "paired 95%% interval, and how often they agree")
    cr.add_argument("first", metavar="RUN_A", help="a dact eval --output-dir folder (metrics.json and traces)")
    cr.add_argument("second", metavar="RUN_B", help="another run's folder, on the same labelled examples; the "
                    "difference is RUN_A's accuracy minus RUN_B's")

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
