"""The `dact` command: train, eval, predict, bench, export, app."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="trained model folder or hub name (default: the shipped model)")
    p.add_argument("--bound", choices=["tight", "paper"], default=None, help="halting bound (default: the model's)")
    p.add_argument(
        "--relaxation",
        type=float,
        default=None,
        help="scale the layers-left term of the bound by this factor in [0, 1]; below 1 halts earlier "
        "and drops the guarantee that halted == full-depth prediction",
    )


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="a .csv/.tsv/.json/.jsonl/.parquet file, or a hub name (glue/sst2)")
    p.add_argument("--split", default=None, help="split of a hub data set")
    p.add_argument("--text-column", action="append", dest="text_columns", help="text column (twice for pairs)")
    p.add_argument("--label-column", default=None)
    p.add_argument("--max-rows", type=int, default=None, help="use only the first N rows")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dact", description="DACT-BERT: adaptive-depth BERT")
    sub = parser.add_subparsers(dest="command", required=True)

    from .train import METHODS, TrainConfig

    tr = sub.add_parser("train", help="fine-tune DACT-BERT with the Hugging Face Trainer")
    _add_data_args(tr)
    tr.add_argument("--output-dir", required=True)
    tr.add_argument("--backbone", default=None, help="BERT checkpoint name or path (default: packaged MiniLM)")
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    for name in (
        "validation_fraction seed max_length epochs max_steps batch_size learning_rate dact_learning_rate "
        "weight_decay warmup_ratio eval_steps ponder_penalty halting_bias_init dact_hidden_size layer_loss_weight "
        "knob_learning_rate kl_weight length_weight gate_sparsity gate_bimodal"
    ).split():
        kind = int if name in ("seed", "max_length", "max_steps", "batch_size", "eval_steps", "dact_hidden_size") else float
        tr.add_argument("--" + name.replace("_", "-"), type=kind, default=defaults[name])
    tr.add_argument("--pooling", choices=["mean", "cls"], default=defaults["pooling"])
    tr.add_argument("--label-names", default=None, help="comma-separated names of integer labels 0..C-1")
    tr.add_argument(
        "--method", choices=list(METHODS), default="dact",
        help="dact (default); reference: a plain full-depth BERT classifier, the accuracy to match; "
        "multi-exit: one classifier per layer for the DeeBERT / PABEE / static early-exit rules; "
        "adapler / token-gates: token reduction, started from a reference given with --init-from",
    )
    tr.add_argument("--init-from", default=None, help="continue from a trained DACT-BERT folder")
    tr.add_argument(
        "--train-word-embeddings", action="store_true", help="also train the word embeddings (frozen by default)"
    )

    ev = sub.add_parser("eval", help="halting inference over a data set: metrics JSON and per-example traces")
    _add_model_args(ev)
    _add_data_args(ev)
    ev.add_argument("--output-dir", default=None, help="write metrics.json and traces there")
    ev.add_argument("--traces-format", choices=["parquet", "csv"], default="parquet")
    ev.add_argument("--batch-size", type=int, default=64)
    ev.add_argument("--max-length", type=int, default=128)
    ev.add_argument("--no-full-depth-check", action="store_true", help="skip the full-depth reference run")

    pr = sub.add_parser("predict", help="per-layer table for one text")
    _add_model_args(pr)
    pr.add_argument("text", nargs="+", help="the text (a second one makes a pair)")
    pr.add_argument("--max-length", type=int, default=128)
    be = sub.add_parser("bench", help="every method at several operating points, measured in one process")
    _add_data_args(be)
    be.add_argument("--reference", required=True, help="the full-depth reference model folder")
    be.add_argument("--dact", nargs="*", default=[], help="DACT-BERT model folders (one per ponder penalty)")
    be.add_argument("--multi-exit", default=None, help="a multi-exit model folder (static, DeeBERT, PABEE)")
    be.add_argument("--token-methods", nargs="*", default=[], help="AdapLeR / token-gate model folders")
    be.add_argument("--output-dir", required=True)
    be.add_argument("--title", default="benchmark")
    be.add_argument("--threads", type=int, default=2)
    be.add_argument("--latency-examples", type=int, default=300, help="examples timed one by one per point")
    be.add_argument("--throughput-examples", type=int, default=2048,
                    help="examples (in batches of 32) timed per point for the throughput")

    ex = sub.add_parser("export", help="write a trained model as a compact checkpoint for shipping")
    ex.add_argument("--model", required=True, help="trained model folder")
    ex.add_argument("--output-dir", required=True, help="the new folder (replaced if it exists)")
    ex.add_argument("--float32", action="store_true", help="keep float32 weights (default: float16)")
    ex.add_argument("--no-shared-weights", action="store_true",
                    help="store every tensor, also those identical to the backbone's (the frozen word embeddings)")

    ap = sub.add_parser("app", help="start the Streamlit inspector app")
    ap.add_argument("--model", default=None, help="trained model folder (default: the shipped model)")
    ap.add_argument("--port", type=int, default=8501)
    ap.add_argument("--address", default="127.0.0.1")
    return parser


def cmd_bench(args) -> int:
    from .backbone import load_model
    from .bench import operating_points, run_bench, table_markdown, targets, write_outputs
    from .data import load_task

    reference, tokenizer = load_model(args.reference)
    label_names = [reference.config.id2label[i] for i in range(reference.config.num_labels)]
    task = load_task(args.data, split=args.split, text_columns=args.text_columns, label_column=args.label_column,
                     label_names=label_names if _labels_are_names(label_names) else None, max_rows=args.max_rows)
    dact_models = [load_model(path)[0] for path in args.dact]
    multi_exit = load_model(args.multi_exit)[0] if args.multi_exit else None
    token_models = [load_model(path)[0] for path in args.token_methods]
    points = operating_points(reference, dact_models, multi_exit, token_models)
    table = run_bench(points, tokenizer, task, args.threads, args.latency_examples, args.throughput_examples)
    settings = {"data": args.data, "split": args.split, "max_rows": args.max_rows, "num_examples": len(task),
                "threads": args.threads, "latency_examples": args.latency_examples,
                "throughput_examples": args.throughput_examples}
    write_outputs(table, Path(args.output_dir), args.title, settings)
    print(table_markdown(table))
    print(json.dumps(targets(table), indent=2))
    print(f"wrote {args.output_dir}/bench.json, bench.csv, bench.md and the plots")
    return 0


def cmd_export(args) -> int:
    from .backbone import export_model

    summary = export_model(args.model, args.output_dir, float16=not args.float32,
                           share_backbone_weights=not args.no_shared_weights)
    shared = ", ".join(summary["shared_from_backbone"]) or "none"
    print(f"wrote {summary['output_dir']}: weights {summary['weights_mb']} MB "
          f"({'float16' if summary['float16'] else 'float32'}); read from the backbone at load time: {shared}")
    return 0


def cmd_app(args) -> int:
    import subprocess

    from .backbone import ASSETS_DIR

    script = ASSETS_DIR.parent / "app" / "main.py"
    if not script.exists():
        raise FileNotFoundError(f"the app is not next to this package ({script}); install from a clone with -e")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if args.model:
        env["DACT_MODEL"] = str(Path(args.model).resolve())
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(args.port),
               "--server.address", args.address, "--browser.gatherUsageStats", "false"]
    return subprocess.call(command, env=env)


def cmd_train(args) -> int:
    from .train import TrainConfig, train

    cfg = TrainConfig(
        data=args.data,
        output_dir=args.output_dir,
        backbone=args.backbone,
        text_columns=args.text_columns,
        label_column=args.label_column,
        label_names=args.label_names.split(",") if args.label_names else None,
        max_rows=args.max_rows,
        freeze_word_embeddings=not args.train_word_embeddings,
        pooling=args.pooling,
        init_from=args.init_from,
        method=args.method,
        **{
            k: getattr(args, k)
            for k in (
                "validation_fraction seed max_length epochs max_steps batch_size learning_rate dact_learning_rate "
                "weight_decay warmup_ratio eval_steps ponder_penalty halting_bias_init dact_hidden_size "
                "layer_loss_weight knob_learning_rate kl_weight length_weight gate_sparsity gate_bimodal"
            ).split()
        },
    )
    metrics = train(cfg)
    layers = metrics.get("eval_avg_layers")
    layers = f"average layers {layers:.2f}" if layers is not None else "full depth"
    print(f"validation accuracy {metrics['eval_accuracy']:.4f}, {layers}; model written to {args.output_dir}")
    return 0


def cmd_eval(args) -> int:
    from .backbone import load_model
    from .data import load_task
    from .evaluate import evaluate, evaluate_plain_classifier
    from .modeling_dact_bert import DactBertForSequenceClassification

    model, tokenizer = load_model(args.model, args.bound, args.relaxation)
    label_names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    task = load_task(
        args.data,
        split=args.split,
        text_columns=args.text_columns,
        label_column=args.label_column,
        label_names=label_names if _labels_are_names(label_names) else None,
        max_rows=args.max_rows,
        require_labels=False,
    )
    is_dact = isinstance(model, DactBertForSequenceClassification)
    if is_dact:
        result = evaluate(
            model, tokenizer, task, args.batch_size, args.max_length, check_full_depth=not args.no_full_depth_check
        )
    else:
        result = evaluate_plain_classifier(model, tokenizer, task, args.batch_size, args.max_length)
    m = result.metrics
    lines = [f"examples           {m['num_examples']}"]
    if "accuracy" in m:
        lines.append(f"accuracy           {m['accuracy']:.4f}")
    setting = f" ({m['halting_bound']} bound)" if is_dact else ""
    lines.append(f"average layers     {m['avg_layers']:.3f} of {m['num_layers']}{setting}")
    if "avg_layers_paper" in m:
        lines.append(f"  tight / paper    {m['avg_layers_tight']:.3f} / {m['avg_layers_paper']:.3f}")
    lines.append("exit layers        " + "  ".join(f"{k}:{v}" for k, v in m["exit_layer_histogram"].items()))
    if "avg_tokens_per_layer" in m:
        lines.append("tokens per layer   " + "  ".join(f"{v:.1f}" for v in m["avg_tokens_per_layer"]))
    if "agree_with_full_depth" in m:
        lines.append(f"halted == full     {m['agree_with_full_depth']}/{m['num_examples']}")
    if is_dact and not m["guarantee_holds"]:
        lines.append(f"note: relaxation {m['halting_relaxation']} < 1, the halting guarantee does not hold")
    print("\n".join(lines))
    if args.output_dir:
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(m, indent=2))
        traces_path = out / f"traces.{args.traces_format}"
        if args.traces_format == "csv":
            result.traces.to_csv(traces_path, index=False)
        else:
            result.traces.to_parquet(traces_path, index=False)
        print(f"wrote {out / 'metrics.json'} and {traces_path}")
    return 0


def _labels_are_names(label_names: list[str]) -> bool:
    """Models trained on integer labels carry names "0", "1", ...; files then hold integers."""
    return not all(name == str(i) for i, name in enumerate(label_names))


def cmd_predict(args) -> int:
    import torch

    from .backbone import load_model
    from .halting import halting_margin, layer_weights

    text = [t for t in args.text]
    if not all(t.strip() for t in text):
        raise ValueError("the text is empty")
    model, tokenizer = load_model(args.model, args.bound, args.relaxation)
    full_len = len(tokenizer(*text)["input_ids"])
    enc = tokenizer(*text, truncation=True, max_length=args.max_length, return_tensors="pt")
    with torch.inference_mode():
        trace = model(**enc)
        halted = model(**enc, halt_early=True)
    cfg = model.config
    n_layers = cfg.num_hidden_layers
    exit_layer = int(halted.exit_layer[0])
    pred = int(halted.probs[0].argmax())
    name = cfg.id2label[pred]
    weights = layer_weights(trace.remaining_probs[0])
    if full_len > args.max_length:
        print(f"note: the text has {full_len} tokens; truncated to {args.max_length}")
    print(f"{'layer':>5}  {'h_n':>6}  {'p_n':>6}  {'a_n[' + name + ']':>14}  {'y_n[' + name + ']':>14}  "
          f"{'w_n':>6}  {'margin':>8}")
    for n in range(n_layers):
        margin = halting_margin(
            trace.acc_probs[0, n], trace.remaining_probs[0, n], (n_layers - n - 1) * cfg.halting_relaxation,
            cfg.halting_bound,
        )
        marker = "  <- exit" if n + 1 == exit_layer else ""
        print(
            f"{n + 1:>5}  {float(trace.halting_probs[0, n]):6.3f}  {float(trace.remaining_probs[0, n]):6.3f}  "
            f"{float(trace.acc_probs[0, n, pred]):14.4f}  {float(trace.layer_probs[0, n, pred]):14.4f}  "
            f"{float(weights[n]):6.3f}  {float(margin):8.3f}{marker}"
        )
    full_pred = int(trace.probs[0].argmax())
    print(
        f"prediction: {name} ({float(halted.probs[0, pred]):.3f}) after {exit_layer} of {n_layers} layers "
        f"({cfg.halting_bound} bound); full depth: {cfg.id2label[full_pred]} ({float(trace.probs[0, full_pred]):.3f})"
    )
    if not cfg.guarantee_holds:
        print(f"note: relaxation {cfg.halting_relaxation} < 1, the halting guarantee does not hold")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .backbone import CheckpointError
    from .data import DataError

    args = build_parser().parse_args(argv)
    handlers = {"train": cmd_train, "eval": cmd_eval, "predict": cmd_predict, "app": cmd_app,
                "bench": cmd_bench, "export": cmd_export}
    try:
        return handlers[args.command](args)
    except (DataError, CheckpointError, FileNotFoundError, ValueError) as err:
        print(f"dact {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
