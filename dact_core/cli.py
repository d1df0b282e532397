"""The `dact` command's subcommands; `dact_cli` parses the arguments before this module (and torch) is imported."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from dact_cli import config_from_args

from .loading import CheckpointError


def _runtime(args) -> str:
    """The --runtime asked for, or "auto" (ONNX Runtime on a CPU where the model's family runs on it)."""
    return args.runtime or "auto"


def _seed_of(folder: str) -> int | None:
    record = Path(folder) / "training_config.json"
    if record.exists():
        return json.loads(record.read_text()).get("train_config", {}).get("seed")
    return None


def cmd_bench(args) -> int:
    from .bench import operating_points, run_bench, same_size_reference, table_markdown, write_outputs
    from .data import load_task
    from .loading import default_runtime, load_model, quantize
    from .onnx_runtime import from_torch, supports
    from .timing import ROUND_STATISTIC

    check_output_dir(args.output_dir, args.overwrite)
    if args.timer_block < 1:
        raise ValueError(f"--timer-block must be at least 1, got {args.timer_block}")
    if args.rounds < 1:
        raise ValueError(f"--rounds must be at least 1, got {args.rounds}")
    folders = [*args.reference, *args.dact, *args.multi_exit, *args.token_methods]
    if len(folders) == len(args.reference):
        raise ValueError("name at least one model to measure (--dact, --multi-exit or --token-methods)")
    runtime = _runtime(args)
    device = "cpu" if (args.quantize or runtime != "torch") and args.device is None else args.device
    loaded = [load_model(folder, device) for folder in folders]  # torch models: the engines are built from them
    tokenizer = loaded[0][1]
    torch_models = [model for model, _ in loaded]
    if args.reference:
        sources = folders
    else:
        torch_models.insert(0, same_size_reference(torch_models[0]))
        sources = ["", *folders]
    reference = torch_models[0]
    label_names = [loaded[0][0].config.id2label[i] for i in range(loaded[0][0].config.num_labels)]
    task = load_task(args.data, split=args.split, text_columns=args.text_columns, label_column=args.label_column,
                     label_names=label_names if _labels_are_names(label_names) else None, max_rows=args.max_rows)
    # one engine for every model, so that every ratio compares methods on equal engines
    if runtime == "onnx" and not all(supports(model) for model in torch_models):
        raise ValueError("--runtime onnx: the token-reduction models run on torch only; bench them with --runtime torch")
    defaults = {default_runtime(model, device) for model in torch_models}
    engine = runtime if runtime != "auto" else "torch" if "torch" in defaults else "onnx"
    if runtime == "auto" and defaults == {"onnx", "torch"}:
        print("note: every model runs on torch, the one engine that runs them all (the token-reduction models do not "
              "run on ONNX Runtime)", file=sys.stderr)

    def on_engine(model, quantization=None):
        if engine == "onnx":
            return from_torch(model, quantization, args.threads)
        return quantize(model, quantization) if quantization else model

    seeds = [None if not source else _seed_of(source) for source in sources]
    models = [(source, on_engine(model), seed) for source, model, seed in zip(sources, torch_models, seeds)]
    if args.quantize:
        models += [(source, on_engine(model, args.quantize), seed)
                   for source, model, seed in zip(sources, torch_models, seeds)]
    points = operating_points(models)
    if not args.reference:
        for point in points:
            point.timing_only = point.source == ""
            point.setting = "same size, untrained head" if point.timing_only else point.setting
    results = run_bench(points, tokenizer, task, args.threads, args.latency_examples, args.throughput_examples,
                        args.rounds, block=args.timer_block, torch_reference=reference)
    settings = {"data": args.data, "split": args.split, "max_rows": args.max_rows, "num_examples": len(task),
                "threads": args.threads, "latency_examples": args.latency_examples,
                "throughput_examples": args.throughput_examples, "rounds": args.rounds,
                "device": str(reference.device), "runtime": engine, "timer": "interleaved",
                "timer_block": args.timer_block, "timer_statistic": ROUND_STATISTIC, "quantize": args.quantize}
    summary = write_outputs(results, Path(args.output_dir), args.title, settings, command=_command_line(args))
    print(table_markdown(summary))
    print(f"wrote {args.output_dir}/bench.json, bench.csv, bench.md and the plots")
    return 0


def _command_line(args) -> str | None:
    """The command as a user would type it again (`dact` and its arguments, quoted for a POSIX shell)."""
    import shlex

    argv = getattr(args, "argv", None)  # set by the entry point; absent where a caller built the arguments itself
    return None if argv is None else shlex.join(["dact", *argv])


def cmd_report(args) -> int:
    from .report import load_bench, readme_block, replace_readme_block, write_report

    benches = [load_bench(folder) for folder in args.folders]
    if args.readme:  # checked first: a README without the markers stops the command before it writes anything
        replace_readme_block(Path(args.readme).read_text(), "")
    figures = write_report(benches, Path(args.output), command=_command_line(args))
    if args.readme:
        text = Path(args.readme).read_text()
        Path(args.readme).write_text(replace_readme_block(text, readme_block(benches, _command_line(args))))
        print(f"wrote the results block of {args.readme}")
    print(f"wrote {args.output} ({len(benches)} result folders) and {len(figures)} figures in "
          f"{Path(args.output).with_suffix('')}")
    return 0


def cmd_compare_runs(args) -> int:
    from .explore import compare_runs

    c = compare_runs(args.first, args.second)
    for name, folder, m, accuracy, layers in zip("AB", c.runs, c.metrics, c.accuracy, c.avg_layers):
        print(f"{name}  {folder}: {m.get('method', 'model')}, accuracy {100 * accuracy:.2f}, "
              f"{layers:.2f} of {m['num_layers']} layers on average")
    both_wrong = c.num_examples - c.both_right - c.only_first - c.only_second
    print(f"{c.num_examples} examples: both right {c.both_right}, only A {c.only_first}, only B {c.only_second}, "
          f"both wrong {both_wrong}")
    print(f"same answer on {c.same_answer} of {c.num_examples} ({100 * c.same_answer / c.num_examples:.1f}%)")
    print(f"accuracy A - B: {100 * c.accuracy_diff:+.2f} points, paired bootstrap 95% interval "
          f"[{100 * c.accuracy_diff_low:+.2f}, {100 * c.accuracy_diff_high:+.2f}]")
    if c.accuracy_diff_low <= 0 <= c.accuracy_diff_high:
        print("the interval holds 0: on these examples neither run is shown to be more accurate")
    return 0


def cmd_export(args) -> int:
    from .export import export_model, export_onnx
    from .model_card import write_model_card

    command = _command_line(args)  # the card names the command that wrote it
    if args.card_only:
        given = [option for option, value in (("--output-dir", args.output_dir), ("--overwrite", args.overwrite),
                                               ("--float32", args.float32), ("--format onnx", args.format == "onnx"),
                                               ("--no-shared-weights", args.no_shared_weights)) if value]
        if given:
            raise ValueError(f"--card-only writes README.md into the --model folder and nothing else; drop {given[0]}")
        path = write_model_card(args.model, args.eval_dirs, args.training_config, command)
        print(f"wrote {path}: " + (f"{len(args.eval_dirs)} evaluation(s) attached" if args.eval_dirs
                                   else "no evaluation attached"))
        return 0
    if not args.output_dir:
        raise ValueError("--output-dir is required (or --card-only, which writes only the model card into the --model "
                         "folder)")
    summary = export_model(args.model, args.output_dir, float16=not args.float32,
                           share_backbone_weights=not args.no_shared_weights, overwrite=args.overwrite,
                           eval_dirs=args.eval_dirs, training_config=args.training_config, command=command)
    shared = ", ".join(summary["shared_from_backbone"]) or "none"
    print(f"wrote {summary['output_dir']}: weights {summary['weights_mb']} MB "
          f"({'float16' if summary['float16'] else 'float32'}); read from the backbone at load time: {shared}")
    print(f"model card {summary['card']}: " + (f"{len(args.eval_dirs)} evaluation(s) attached" if args.eval_dirs
                                               else "no evaluation attached"))
    if args.format == "onnx":
        folders = export_onnx(args.output_dir, progress=True)
        print(f"wrote the ONNX Runtime graphs: {', '.join(str(folder) for folder in folders)}")
    return 0


def cmd_app(args) -> int:
    from .loading import ASSETS_DIR

    script = ASSETS_DIR.parent / "app" / "main.py"
    if not script.exists():
        raise FileNotFoundError(f"the app is not next to this package ({script}); install from a clone with -e")
    # offline unless the user allows the hub (or the environment says otherwise)
    env = {**({} if args.allow_hub else {"HF_HUB_OFFLINE": "1"}), **os.environ}
    if args.allow_hub:
        env["DACT_ALLOW_HUB"] = "1"
        if env.get("HF_HUB_OFFLINE") == "1":
            raise ValueError("--allow-hub: HF_HUB_OFFLINE=1 is set in this environment; unset it to load hub data sets")
    if args.model:  # a folder here, by its absolute path; anything else is a hub name, passed on as given
        env["DACT_MODEL"] = str(Path(args.model).resolve()) if Path(args.model).exists() else args.model
    if args.threads:
        env["DACT_THREADS"] = str(args.threads)
    if args.device:
        env["DACT_DEVICE"] = args.device
    if args.runtime:
        env["DACT_RUNTIME"] = args.runtime
    if args.allow_server_paths:
        folders = [Path(folder).resolve() for folder in args.allow_server_paths]
        missing = [str(folder) for folder in folders if not folder.is_dir()]
        if missing:
            raise ValueError(f"--allow-server-paths: not a folder: {', '.join(missing)}")
        env["DACT_SERVER_PATHS"] = os.pathsep.join(map(str, folders))
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(args.port),
               "--server.address", args.address, "--browser.gatherUsageStats", "false",
               "--client.toolbarMode", "viewer",  # no Deploy button: the app is shown to audiences
               "--runner.postScriptGC", "false",  # why: .streamlit/config.toml
               "--server.showEmailPrompt", "false"]  # a first run on a desktop would stop at Streamlit's e-mail prompt
    # the server takes this process's place (and PID): a signal sent to `dact app` reaches Streamlit itself, and no
    # server is left behind when the command is stopped
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, env)


def check_output_dir(path: str | None, overwrite: bool) -> None:
    """An output folder that already holds files is refused unless --overwrite: nothing is lost by accident."""
    if path and Path(path).is_dir() and any(Path(path).iterdir()) and not overwrite:
        raise ValueError(f"{path}: the output folder already holds files; pass --overwrite or choose another folder")


def cmd_train(args) -> int:
    from .evaluate import distributed_rank
    from .train import train

    if args.resume:
        from .train import is_finished

        if not Path(args.output_dir).is_dir():
            raise ValueError(f"{args.output_dir}: nothing to resume; start the run without --resume")
        if is_finished(args.output_dir):
            raise ValueError(f"{args.output_dir}: this run has already finished; nothing to resume")
    else:
        check_output_dir(args.output_dir, args.overwrite)
    metrics = train(config_from_args(args))
    if distributed_rank()[0] == 0:
        layers = metrics.get("eval_avg_layers")
        print(f"validation accuracy {metrics['eval_accuracy']:.4f}, average layers {layers:.2f}; "
              f"model written to {args.output_dir}")
    return 0


def _load_task_for(model, args, require_labels: bool):
    from .data import load_task

    label_names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return load_task(args.data, split=args.split, text_columns=args.text_columns, label_column=args.label_column,
                     label_names=label_names if _labels_are_names(label_names) else None, max_rows=args.max_rows,
                     require_labels=require_labels)


def _inference_setting(args) -> dict:
    """The DACT-BERT inference setting given on the command line (the model's own where not given)."""
    setting = {}
    if args.bound is not None:
        setting["halting_bound"] = args.bound
    if args.relaxation is not None:
        setting["halting_relaxation"] = args.relaxation
    return setting


def cmd_eval(args) -> int:
    from .evaluate import distributed_rank, evaluate, merge_shards, save_result, shard, write_traces
    from .loading import load_model, resolve_model, weights_fingerprint
    from .methods import family_of

    rank, world = distributed_rank()
    if world > 1 and not args.output_dir:
        raise ValueError("an evaluation split across processes writes files: pass --output-dir")
    check_output_dir(args.output_dir, args.overwrite)
    device = args.device
    if world > 1:
        import torch
        import torch.distributed as dist

        if device is None and torch.cuda.is_available():
            device = f"cuda:{os.environ.get('LOCAL_RANK', rank)}"
        if device and device.startswith("cuda"):
            torch.cuda.set_device(torch.device(device))  # NCCL's collectives use the current device
        dist.init_process_group("nccl" if device and device.startswith("cuda") else "gloo")
        dist.barrier()  # every process has checked the output folder before any writes to it
    model, tokenizer = load_model(args.model, device, args.quantize, _runtime(args), args.threads)
    is_dact = family_of(model).model_type == "dact-bert"
    setting = _inference_setting(args)
    if setting and not is_dact:
        raise ValueError(f"--bound and --relaxation apply to DACT-BERT, not to a {family_of(model).display} model")
    task = _load_task_for(model, args, require_labels=False)
    part = shard(task, rank, world) if world > 1 else task
    float_model = load_model(args.model, device, None, _runtime(args), args.threads)[0] if args.quantize else None
    torch_model = None
    if args.compare_torch:
        if getattr(model, "runtime", "torch") != "onnx":
            raise ValueError("--compare-torch compares the ONNX Runtime engine with torch: the model runs on torch")
        torch_model = load_model(args.model, "cpu", args.quantize)[0]
    result = evaluate(model, tokenizer, part, args.batch_size, args.max_length,
                      check_full_depth=not args.no_full_depth_check, setting=setting, progress=rank == 0,
                      float_model=float_model, torch_model=torch_model)
    if world > 1:
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_traces(result.traces, out / f"traces-shard{rank}.parquet")  # parquet keeps every type exactly
        shard_metrics = [None] * world
        dist.all_gather_object(shard_metrics, result.metrics)
        if rank == 0:
            result = merge_shards(out, world, model.config.num_hidden_layers,
                                  [model.config.id2label[i] for i in range(model.config.num_labels)], shard_metrics)
        dist.barrier()
        dist.destroy_process_group()
        if rank != 0:
            return 0
    print(_eval_summary(result.metrics, is_dact))
    if torch_model is not None:
        print(_torch_differences(result.traces))
    if args.output_dir:
        # (the data file is `source`); which model, which rows and the command that made these numbers, for whatever
        # reads them later (`dact export`'s model card)
        model_path = resolve_model(args.model)
        result.metrics.update(model=model_path, weights=weights_fingerprint(model_path), split=args.split,
                              max_rows=args.max_rows, command=_command_line(args))
        traces_path = save_result(result, Path(args.output_dir), args.traces_format)
        print(f"wrote {Path(args.output_dir) / 'metrics.json'} and {traces_path}")
    return 0


def _eval_summary(m: dict, is_dact: bool) -> str:
    lines = [f"examples           {m['num_examples']}"]
    if "accuracy" in m:
        lines.append(f"accuracy           {m['accuracy']:.4f}")
    setting = f" ({m['setting']['halting_bound']} bound)" if is_dact else ""
    lines.append(f"average layers     {m['avg_layers']:.3f} of {m['num_layers']}{setting}")
    if "avg_layers_paper" in m:
        lines.append(f"  tight / paper    {m['avg_layers_tight']:.3f} / {m['avg_layers_paper']:.3f}")
    lines.append("exit layers        " + "  ".join(f"{k}:{v}" for k, v in m["exit_layer_histogram"].items()))
    lines.append("tokens per layer   " + "  ".join(f"{v:.1f}" for v in m["avg_tokens_per_layer"]))
    if "agree_with_full_depth" in m:
        lines.append(f"halted == full     {m['agree_with_full_depth']}/{m['num_examples']}")
    if "agree_with_float" in m:
        lines.append(f"{m['quantization']} == float  {m['agree_with_float']}/{m['num_examples']} "
                     "(the float model's answer: its full depth for DACT-BERT, its own inference otherwise)")
    if is_dact and not m["guarantee_holds"]:
        lines.append(f"note: relaxation {m['setting']['halting_relaxation']} < 1, the halting guarantee does not hold")
    return "\n".join(lines)


def _torch_differences(traces) -> str:
    """Every example where the engine and torch answer differently, with each one's margin (top minus runner-up)."""
    differ = traces[traces["prediction"] != traces["torch_prediction"]]
    lines = [f"onnx == torch      {len(traces) - len(differ)}/{len(traces)} predictions, "
             f"{int((traces['exit_layer'] == traces['torch_exit_layer']).sum())}/{len(traces)} exit layers"]
    for row in differ.itertuples():
        lines.append(f"  example {row.Index}: onnx {row.prediction_name} (layer {row.exit_layer}, margin {row.margin:.2e}), "
                     f"torch class {row.torch_prediction} (layer {row.torch_exit_layer}, margin {row.torch_margin:.2e})")
    return "\n".join(lines)


def _labels_are_names(label_names: list[str]) -> bool:
    """Models trained on integer labels carry names "0", "1", ...; files then hold integers."""
    return not all(name == str(i) for i, name in enumerate(label_names))


def cmd_predict(args) -> int:
    import torch

    from .halting import layer_weights, margins_by_layer
    from .loading import load_model
    from .methods import family_of
    from .runner import run

    text = " ".join(args.text) if args.pair is None else (" ".join(args.text), args.pair)
    model, tokenizer = load_model(args.model, args.device, args.quantize, _runtime(args), args.threads)
    family = family_of(model)
    is_dact = family.model_type == "dact-bert"
    setting = _inference_setting(args)
    if setting and not is_dact:
        raise ValueError(f"--bound and --relaxation apply to DACT-BERT, not to a {family.display} model")
    cfg = model.config
    if is_dact:
        setting = {"halting_bound": cfg.halting_bound, "halting_relaxation": cfg.halting_relaxation, **setting}
    result = run(model, tokenizer, [text], setting, max_length=args.max_length, full_depth=is_dact)
    n_layers = cfg.num_hidden_layers
    exit_layer, pred = int(result.exit_layer[0]), int(result.prediction[0])
    name = cfg.id2label[pred]
    if result.truncated[0]:
        print(f"note: the text has {result.num_tokens[0]} tokens; truncated to {result.max_length}")
    if is_dact:
        acc, rem = torch.from_numpy(result.acc_probs[0]), torch.from_numpy(result.remaining_probs[0])
        margins = margins_by_layer(acc, rem, setting["halting_bound"], setting["halting_relaxation"])
        weights = layer_weights(rem)
        print(f"{'layer':>5}  {'h_n':>6}  {'p_n':>6}  {'a_n[' + name + ']':>14}  {'y_n[' + name + ']':>14}  "
              f"{'w_n':>6}  {'margin':>8}")
        for n in range(n_layers):
            marker = "  <- exit" if n + 1 == exit_layer else ""
            print(f"{n + 1:>5}  {result.halting_probs[0, n]:6.3f}  {rem[n]:6.3f}  {acc[n, pred]:14.4f}  "
                  f"{result.layer_probs[0, n, pred]:14.4f}  {weights[n]:6.3f}  {margins[n]:8.3f}{marker}")
    else:
        print(f"{'layer':>5}  {'tokens':>6}")
        for n in range(n_layers):
            marker = "  <- exit" if n + 1 == exit_layer and exit_layer < n_layers else ""
            print(f"{n + 1:>5}  {result.tokens_per_layer[0, n]:6.0f}{marker}")
    where = f"after {exit_layer} of {n_layers} layers"
    if is_dact:
        full = int(result.full_depth_prediction[0])
        print(f"prediction: {name} ({result.probs[0, pred]:.3f}) {where} ({setting['halting_bound']} bound); "
              f"full depth: {cfg.id2label[full]} ({result.acc_probs[0, -1, full]:.3f})")
        if setting["halting_relaxation"] < 1.0:
            print(f"note: relaxation {setting['halting_relaxation']} < 1, the halting guarantee does not hold")
    else:
        print(f"prediction: {name} ({result.probs[0, pred]:.3f}) {where} ({family.display})")
    return 0


def run(args) -> int:
    """Run a parsed command; a usage error (bad data, model folder, setting) is one line on stderr and exit code 2."""
    handlers = {"train": cmd_train, "eval": cmd_eval, "predict": cmd_predict, "app": cmd_app,
                "bench": cmd_bench, "report": cmd_report, "compare-runs": cmd_compare_runs, "export": cmd_export}
    try:
        return handlers[args.command](args)
    except (CheckpointError, FileNotFoundError, ValueError) as err:  # DataError is a ValueError
        print(f"dact {args.command}: error: {err}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    from dact_cli import main as parse_and_run

    return parse_and_run(argv)


if __name__ == "__main__":
    sys.exit(main())
