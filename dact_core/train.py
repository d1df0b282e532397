"""Fine-tuning DACT-BERT with the Hugging Face Trainer (so accelerate/torchrun scale it unchanged)."""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import (AutoTokenizer, BertConfig, DataCollatorWithPadding, Trainer, TrainerCallback,
                          TrainingArguments)
from transformers.trainer_utils import get_last_checkpoint

from dact_cli.train_config import TrainConfig

from .data import load_task, tokenize, train_validation_split
from .loading import SHARED_WEIGHTS_FILE, derived_config, load_model, new_model, resolve_backbone
from .methods import TRAIN_METHODS, family_of, infer, prediction_of
from .models import DactBertConfig, DactBertForSequenceClassification
from .models.adapler import saliency_targets
from .models.common import checked_config

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


METHODS = tuple(TRAIN_METHODS)


class DactTrainer(Trainer):
    """Trainer whose evaluation runs each method's own inference (halting, exits, physical token removal),
    so the best checkpoint is chosen on what inference does, not on the soft training path."""

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = self._prepare_inputs(inputs)
        model = self.accelerator.unwrap_model(model)
        with torch.no_grad():
            out = infer(model, {k: v for k, v in inputs.items() if k in MODEL_INPUTS})
        prediction = prediction_of(out)  # (B,)
        exit_layer = getattr(out, "exit_layer", None)
        if exit_layer is None:
            exit_layer = torch.full_like(prediction, model.config.num_hidden_layers)
        return None, (prediction, exit_layer), inputs.get("labels")


def compute_metrics(eval_pred) -> dict[str, float]:
    prediction, exit_layer = eval_pred.predictions
    return {"accuracy": float((np.asarray(prediction) == eval_pred.label_ids).mean()),
            "avg_layers": float(np.asarray(exit_layer).mean())}


class _Collator(DataCollatorWithPadding):
    """Pads a batch (saliency targets too) and stacks the teacher's probabilities; the `length` column only serves
    the length-grouped sampler."""

    def __call__(self, features):
        batch = super().__call__([{k: v for k, v in f.items() if k not in ("length", "saliency", "teacher_probs")}
                                  for f in features])
        if "teacher_probs" in features[0]:
            batch["teacher_probs"] = torch.tensor([f["teacher_probs"] for f in features])  # (B, C)
        if "saliency" in features[0]:
            width = batch["input_ids"].shape[1]
            batch["saliency"] = torch.tensor([f["saliency"] + [0.0] * (width - len(f["saliency"])) for f in features])
        return batch


class SharpnessSchedule(TrainerCallback):
    """AdapLeR's soft-removal sharpness grows tenfold per epoch: 100, 1000, ... (in units of n s_t - eta)."""

    def on_epoch_begin(self, args, state, control, model=None, **kwargs):
        model.config.sharpness = 10.0 ** (2 + int(state.epoch or 0))


@torch.no_grad()
def add_saliency(dataset, reference_dir: str, tokenizer, batch_size: int = 32):
    """Per-token saliency targets (gradient x input of the gold logit) from the fine-tuned reference."""
    reference, _ = load_model(reference_dir, device="cpu")
    values = []
    for rows, batch in _padded_batches(dataset, tokenizer, (*MODEL_INPUTS, "label"), batch_size, "saliency targets"):
        with torch.enable_grad():
            scores = saliency_targets(reference, batch["input_ids"], batch["attention_mask"], batch["labels"])
        values += [s[: len(row["input_ids"])].tolist() for s, row in zip(scores, rows)]
    return dataset.add_column("saliency", values)


def _padded_batches(dataset, tokenizer, columns: tuple[str, ...], batch_size: int, desc: str):
    """(rows, padded batch of their `columns` that the data set has), in order, with a progress bar."""
    collate = DataCollatorWithPadding(tokenizer)
    columns = [c for c in columns if c in dataset.column_names]
    for start in tqdm(range(0, len(dataset), batch_size), desc=desc):
        rows = dataset.select(range(start, min(start + batch_size, len(dataset))))
        yield rows, collate([{c: row[c] for c in columns} for row in rows])


@torch.no_grad()
def add_teacher_probs(dataset, teacher_dir: str, tokenizer, label_names: list[str], batch_size: int = 64):
    """The fine-tuned reference's probabilities (C,) for every training example, the targets of DACT-BERT's
    distillation loss; the teacher must answer the data's labels, in the same order."""
    # each process of a distributed run on the GPU it trains on (the Trainer has not placed the processes yet)
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu"
    teacher, _ = load_model(teacher_dir, device=device)
    if family_of(teacher).model_type != "bert":
        raise ValueError(f"--distill-weight: the teacher {teacher_dir} is a {family_of(teacher).display} model, "
                         "not a fine-tuned full-depth reference")
    _check_label_names(teacher, label_names, f"the teacher {teacher_dir}")
    teacher.eval()
    values = []
    for _, batch in _padded_batches(dataset, tokenizer, MODEL_INPUTS, batch_size, "teacher probabilities"):
        values += teacher(**batch.to(device)).logits.float().softmax(-1).tolist()  # (b, C)
    del teacher
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # the teacher's memory back before training starts
    return dataset.add_column("teacher_probs", values)


def build_model(cfg: TrainConfig, label_names: list[str]):
    """A fresh model of the method on its starting checkpoint, or one of the same method to train further."""
    if cfg.method not in TRAIN_METHODS:
        raise ValueError(f"unknown method {cfg.method!r}; expected one of {METHODS}")
    family = TRAIN_METHODS[cfg.method]
    labels = dict(num_labels=len(label_names), id2label=dict(enumerate(label_names)),
                  label2id={name: i for i, name in enumerate(label_names)})
    settings = {
        "reference": labels,
        "dact": dict(**labels, ponder_penalty=cfg.ponder_penalty, halting_bias_init=cfg.halting_bias_init,
                     dact_hidden_size=cfg.dact_hidden_size, pooling=cfg.pooling, layer_loss_weight=cfg.layer_loss_weight,
                     distill_weight=cfg.distill_weight, distill_temperature=cfg.distill_temperature),
        "multi-exit": dict(**labels, pooling=cfg.pooling),
        "adapler": dict(kl_weight=cfg.kl_weight, length_weight=cfg.length_weight, eta_init=cfg.eta_init,
                        removal_layers=cfg.removal_layers),
        "token-gates": dict(gate_sparsity=cfg.gate_sparsity, gate_bimodal=cfg.gate_bimodal,
                            max_gated_length=cfg.max_length),
    }[cfg.method]
    if family.starts_from == "reference" or not cfg.init_from:
        return new_model(cfg.method, cfg.init_from if family.starts_from == "reference" else cfg.backbone, **settings)
    # train further a model of the same method (e.g. one DACT-BERT base, then one run per ponder penalty)
    model, _ = load_model(cfg.init_from, device="cpu")
    if cfg.method == "dact" and family_of(model).model_type == "multi-exit-bert":
        return dact_on_frozen_exits(model, settings, label_names)
    if family_of(model) is not family:
        raise ValueError(f"--init-from {cfg.init_from} is a {family_of(model).display} model, not {family.display}")
    if model.config.num_labels != len(label_names):
        raise ValueError(f"{cfg.init_from} has {model.config.num_labels} labels, the data has {len(label_names)}")
    if cfg.method == "dact":
        for key in ("ponder_penalty", "layer_loss_weight", "distill_weight", "distill_temperature"):
            setattr(model.config, key, settings[key])
        if model.config.answer_head == "linear":  # on frozen exits: what was frozen stays frozen
            _check_label_names(model, label_names, cfg.init_from)
            model.config.layer_loss_weight = model.config.distill_weight = 0.0
            _train_halting_units_only(model)
    return model.float()


def _check_label_names(model, label_names: list[str], source: str) -> None:
    """The data's labels must be the trained answers' labels, in the same order."""
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if names != list(label_names):
        raise ValueError(f"{source} answers {names}; the data's labels are {list(label_names)} "
                         "(they must be the same names in the same order)")


def _train_halting_units_only(model) -> None:
    """Freeze the encoder and the answers (y_n); the DACT modules' hidden layer and halting unit learn."""
    for param in [*model.bert.parameters(), *(p for dact in model.dact for p in dact.answer.parameters())]:
        param.requires_grad_(False)


def dact_on_frozen_exits(multi_exit, settings: dict, label_names: list[str]):
    """DACT-BERT whose y_n are a trained multi-exit model's exits, frozen with its encoder: only the halting
    units learn. Against DeeBERT and PABEE on the same exits, this separates DACT's halting rule from the
    training of the exits."""
    _check_label_names(multi_exit, label_names, "the multi-exit model")
    bert_fields = {f.name for f in fields(BertConfig)}  # BERT's own settings, not the model type
    base = {k: v for k, v in multi_exit.config.to_dict().items() if k in bert_fields}
    # no dropout: the frozen exits should answer in training as they do at inference; no per-layer loss: the
    # answers it would train are frozen
    config = DactBertConfig(**{**base, **settings, "pooling": multi_exit.config.pooling, "answer_head": "linear",
                               "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
                               "layer_loss_weight": 0.0, "distill_weight": 0.0})
    model = DactBertForSequenceClassification(config)
    model.bert.load_state_dict(multi_exit.bert.state_dict())
    for dact, exit_head in zip(model.dact, multi_exit.exits):
        dact.answer.load_state_dict(exit_head.state_dict())
    _train_halting_units_only(model)
    return model.float()


def make_optimizer(model, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with its own learning rate for the freshly initialised head (DACT modules, classifier,
    contribution predictors) and another for the compute knobs (AdapLeR thresholds, token gates)."""
    head, knobs, backbone_decay, backbone_no_decay = [], [], [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name in ("eta", "gate_logits"):
            knobs.append(param)
        elif not name.startswith("bert."):
            head.append(param)
        elif param.ndim < 2:  # biases and LayerNorm weights
            backbone_no_decay.append(param)
        else:
            backbone_decay.append(param)
    return torch.optim.AdamW(
        [
            {"params": backbone_decay, "lr": cfg.learning_rate, "weight_decay": cfg.weight_decay},
            {"params": backbone_no_decay, "lr": cfg.learning_rate, "weight_decay": 0.0},
            {"params": head, "lr": cfg.dact_learning_rate, "weight_decay": 0.0},
            {"params": knobs, "lr": cfg.knob_learning_rate, "weight_decay": 0.0},
        ]
    )


def is_finished(output_dir: str | Path) -> bool:
    """A run is finished once its record is written (the last thing `train` does)."""
    return (Path(output_dir) / "training_config.json").exists()


def _settings(cfg: TrainConfig) -> dict:
    return {k: v for k, v in asdict(cfg).items() if k not in ("resume", "command")}


def check_resume(cfg: TrainConfig, work_dir: Path) -> str | None:
    """The checkpoint to continue from (None: start afresh), after checking that the interrupted run had
    the same settings (`record_settings` writes them into work_dir when a run starts)."""
    started = work_dir / "train_settings.json"
    last = get_last_checkpoint(str(work_dir)) if cfg.resume and work_dir.is_dir() else None
    if last and started.exists():
        before = json.loads(started.read_text())
        # a setting added since that run started was then its default
        defaults = {f.name: f.default for f in fields(TrainConfig)}
        changed = [f"--{k.replace('_', '-')} {before.get(k, defaults.get(k))!r} -> {v!r}"
                   for k, v in _settings(cfg).items() if before.get(k, defaults.get(k)) != v]
        if changed:
            raise ValueError(f"{cfg.output_dir}: cannot resume with other settings than the interrupted run's "
                             f"({'; '.join(changed)})")
    return last


def record_settings(cfg: TrainConfig, work_dir: Path) -> None:
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "train_settings.json").write_text(json.dumps(_settings(cfg), indent=2))


def train(cfg: TrainConfig) -> dict[str, float]:
    """Train, select the best validation checkpoint, save a loadable folder; returns validation metrics.

    DACT-BERT from a pretrained backbone trains in two stages (unless reference_epochs is 0): a
    full-depth reference first, whose fine-tuned encoder DACT-BERT then starts from. Halting units
    learn faster on layers that already answer the task than on a sentence-embedding backbone.
    """
    if cfg.method == "adapler" and not 0.01 <= cfg.eta_init <= 1.0:  # AdapLeR clamps its thresholds to this range
        raise ValueError(f"--eta-init must lie in [0.01, 1], got {cfg.eta_init}")
    if cfg.removal_layers is not None and cfg.method != "adapler":
        raise ValueError("--removal-layers applies to --method adapler only")
    if cfg.distill_weight != 0 and cfg.method != "dact":
        raise ValueError(f"--distill-weight applies to --method dact only, not {cfg.method}")
    if cfg.method == "dact":  # the config's own checks, before the data and the teacher's pass
        checked_config(DactBertConfig, distill_weight=cfg.distill_weight, distill_temperature=cfg.distill_temperature)
    if cfg.distill_weight > 0 and (cfg.init_from or (cfg.reference_epochs == 0 and cfg.backbone is None)):
        raise ValueError("--distill-weight learns from the fine-tuned reference DACT-BERT starts from: train with a "
                         "first stage (--reference-epochs > 0) or --backbone RUN/reference --reference-epochs 0, "
                         "without --init-from")
    if cfg.removal_layers is not None and cfg.init_from and (Path(cfg.init_from) / "config.json").exists():
        # checked against the reference's depth now, not after the data and the saliency targets are ready
        derived_config(TRAIN_METHODS["adapler"].load_class().config_class, cfg.init_from,
                       removal_layers=cfg.removal_layers)
    work_dir = Path(cfg.output_dir) / "checkpoints"
    if work_dir.exists() and not (work_dir / "train_settings.json").exists():  # the user's own, not a run's
        raise ValueError(f"{work_dir}: training keeps its checkpoints in this folder and deletes it at the end, but "
                         "it holds files of another kind; move it or choose another --output-dir")
    if cfg.method == "dact" and cfg.reference_epochs > 0 and not cfg.init_from:
        reference_dir = str(Path(cfg.output_dir) / "reference")
        if not (cfg.resume and is_finished(reference_dir)):  # a resumed run keeps a finished first stage
            train(replace(cfg, method="reference", epochs=cfg.reference_epochs, output_dir=reference_dir,
                          distill_weight=0.0))
        cfg = replace(cfg, backbone=reference_dir)
    resume_from = check_resume(cfg, work_dir)  # before the data: a refused resume costs no teacher or saliency pass
    torch.manual_seed(cfg.seed)
    tokenizer_source = cfg.init_from or resolve_backbone(cfg.backbone)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    task = load_task(
        cfg.data, split=cfg.split, text_columns=cfg.text_columns, label_column=cfg.label_column,
        label_names=cfg.label_names, max_rows=cfg.max_rows,
    )
    train_part, valid_part = train_validation_split(task, cfg.validation_fraction, cfg.seed)
    train_set = tokenize(train_part, tokenizer, cfg.max_length)
    valid_set = tokenize(valid_part, tokenizer, cfg.max_length)

    if cfg.method == "adapler" and cfg.init_from:
        train_set = add_saliency(train_set, cfg.init_from, tokenizer)
    if cfg.method == "dact" and cfg.distill_weight > 0:
        train_set = add_teacher_probs(train_set, cfg.backbone, tokenizer, task.label_names)
    model = build_model(cfg, task.label_names)
    if cfg.freeze_word_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)

    steps_per_epoch = math.ceil(len(train_set) / cfg.batch_size)
    total_steps = cfg.max_steps if cfg.max_steps > 0 else math.ceil(steps_per_epoch * cfg.epochs)
    eval_steps = min(cfg.eval_steps or steps_per_epoch, total_steps)
    args = TrainingArguments(
        output_dir=str(work_dir),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=64,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        warmup_steps=int(cfg.warmup_ratio * total_steps),
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=1,
        load_best_model_at_end=True,
        metric_for_best_model="accuracy",
        logging_steps=max(1, min(50, eval_steps // 4)),
        seed=cfg.seed,
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )
    trainer = DactTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=valid_set,
        data_collator=_Collator(tokenizer),
        compute_metrics=compute_metrics,
        optimizers=(make_optimizer(model, cfg), None),
        callbacks=[SharpnessSchedule()] if cfg.method == "adapler" else None,
    )
    # after the Trainer joined the process group: under torchrun no process has written into the
    # output folder before every process has checked that it was empty
    if trainer.is_world_process_zero():
        record_settings(cfg, work_dir)
    trainer.train(resume_from_checkpoint=resume_from)
    metrics = trainer.evaluate()

    # under torchrun every process gets here; only the main one writes
    out = Path(cfg.output_dir)
    if trainer.is_world_process_zero():
        # a compact model's list of backbone tensors, left by --overwrite, would replace the new weights at load time
        (out / SHARED_WEIGHTS_FILE).unlink(missing_ok=True)
    trainer.save_model(str(out))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(out)
        record = {"train_config": asdict(cfg), "validation": metrics, "command": shlex.join(cfg.command)}
        (out / "training_config.json").write_text(json.dumps(record, indent=2))
        shutil.rmtree(work_dir)
    trainer.accelerator.wait_for_everyone()  # a second stage reads this folder in every process
    return metrics
