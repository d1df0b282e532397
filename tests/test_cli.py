"""`dact train` / `dact eval` / `dact predict` end to end on a tiny random backbone and data we write."""

import json
import random

import numpy as np
import pandas as pd
import pytest

from conftest import WORDS
from dact_core.cli import main


@pytest.fixture
def tiny_task(tmp_path):
    rng = random.Random(0)
    rows = []
    for i in range(96):
        label = i % 2
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 12))]
        words.insert(rng.randint(0, len(words)), "great" if label else "awful")
        rows.append((" ".join(words), label))
    path = tmp_path / "task.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in rows))
    return path


def test_train_eval_predict(tmp_path, tiny_backbone, tiny_task, capsys):
    out = tmp_path / "model"
    code = main(
        ["train", "--data", str(tiny_task), "--backbone", str(tiny_backbone), "--output-dir", str(out),
         "--max-steps", "12", "--batch-size", "16", "--eval-steps", "6", "--label-names", "negative,positive",
         "--ponder-penalty", "0.05"]
    )
    assert code == 0
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()
    record = json.loads((out / "training_config.json").read_text())
    assert record["train_config"]["ponder_penalty"] == 0.05
    # the default recipe: a full-depth reference first, DACT-BERT started from its encoder
    reference = json.loads((out / "reference" / "config.json").read_text())
    assert reference["model_type"] == "bert" and record["train_config"]["backbone"] == str(out / "reference")
    assert "validation accuracy" in capsys.readouterr().out

    evaluation = tmp_path / "eval"
    assert main(["eval", "--model", str(out), "--data", str(tiny_task), "--output-dir", str(evaluation),
                 "--traces-format", "csv"]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((evaluation / "metrics.json").read_text())
    assert metrics["num_examples"] == 96
    assert metrics["agree_with_full_depth"] == 96
    assert "halted == full     96/96" in printed
    assert sum(metrics["exit_layer_histogram"].values()) == 96
    traces = pd.read_csv(evaluation / "traces.csv")
    assert len(traces) == 96 and {"exit_layer", "halting_prob_1", "acc_prob_4_positive"} <= set(traces.columns)
    assert traces["label_name"].isin(["negative", "positive"]).all()
    assert (traces["agrees_with_full_depth"]).all()

    assert main(["predict", "--model", str(out), "great", "film", "--bound", "paper"]) == 0
    printed = capsys.readouterr().out
    assert "<- exit" in printed and "prediction:" in printed and "paper bound" in printed


def test_dact_trained_on_a_multi_exit_models_frozen_exits(tmp_path, tiny_backbone, tiny_task):
    common = ["--data", str(tiny_task), "--max-steps", "4", "--batch-size", "16", "--eval-steps", "4",
              "--label-names", "negative,positive"]
    multi = tmp_path / "multi"
    assert main(["train", *common, "--backbone", str(tiny_backbone), "--method", "multi-exit",
                 "--output-dir", str(multi)]) == 0
    out = tmp_path / "dact-on-exits"
    assert main(["train", *common, "--init-from", str(multi), "--output-dir", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "dact-bert" and config["answer_head"] == "linear"
    assert not (out / "reference").exists()  # no reference stage: the encoder is the multi-exit model's
    from safetensors.torch import load_file
    trained, start = load_file(out / "model.safetensors"), load_file(multi / "model.safetensors")
    for n in range(4):  # the exits and the encoder did not move
        assert (trained[f"dact.{n}.answer.weight"] == start[f"exits.{n}.weight"]).all()
    layer = "bert.encoder.layer.0.output.dense.weight"
    assert (trained[layer] == start[layer]).all()
    # trained further, what was frozen stays frozen; labels in another order are refused
    again = tmp_path / "again"
    assert main(["train", *common, "--init-from", str(out), "--output-dir", str(again)]) == 0
    assert (load_file(again / "model.safetensors")["dact.0.answer.weight"] == start["exits.0.weight"]).all()
    swapped = [arg if arg != "negative,positive" else "positive,negative" for arg in common]
    assert main(["train", *swapped, "--init-from", str(multi), "--output-dir", str(tmp_path / "swapped")]) == 2


def test_dact_distilled_from_its_reference(tmp_path, tiny_backbone, tiny_task, capsys):
    common = ["--data", str(tiny_task), "--max-steps", "4", "--batch-size", "16", "--eval-steps", "4",
              "--label-names", "negative,positive"]
    out = tmp_path / "distilled"
    assert main(["train", *common, "--backbone", str(tiny_backbone), "--distill-weight", "0.5",
                 "--distill-temperature", "2", "--output-dir", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["distill_weight"] == 0.5 and config["distill_temperature"] == 2
    record = json.loads((out / "training_config.json").read_text())["train_config"]
    assert record["distill_weight"] == 0.5 and record["backbone"] == str(out / "reference")
    assert json.loads((out / "reference" / "training_config.json").read_text())["train_config"]["distill_weight"] == 0
    # a reference given as the backbone is the teacher too
    again = tmp_path / "again"
    assert main(["train", *common, "--backbone", str(out / "reference"), "--reference-epochs", "0",
                 "--distill-weight", "0.5", "--output-dir", str(again)]) == 0
    capsys.readouterr()
    # no fine-tuned reference to learn from, another method, a model that is not a reference: one line each
    for extra, message in ((["--reference-epochs", "0"], "learns from the fine-tuned reference"),
                           (["--method", "multi-exit", "--backbone", str(tiny_backbone)], "--method dact only"),
                           (["--init-from", str(out)], "without --init-from"),
                           (["--distill-temperature", "0", "--backbone", str(tiny_backbone)], "must be > 0"),
                           (["--backbone", str(out), "--reference-epochs", "0"], "not a fine-tuned full-depth")):
        assert main(["train", *common, "--distill-weight", "0.5", *extra,
                     "--output-dir", str(tmp_path / "refused")]) == 2
        assert message in capsys.readouterr().err


def test_teacher_probabilities_belong_to_their_rows(tmp_path, tiny_backbone, tiny_task):
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    from dact_core.data import load_task, tokenize
    from dact_core.train import add_teacher_probs

    teacher_dir = tmp_path / "teacher"
    torch.manual_seed(1)
    BertForSequenceClassification.from_pretrained(tiny_backbone, id2label={0: "negative", 1: "positive"},
                                                  label2id={"negative": 0, "positive": 1}).save_pretrained(teacher_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_backbone)
    rows = tokenize(load_task(str(tiny_task), label_names=["negative", "positive"]), tokenizer)
    with_teacher = add_teacher_probs(rows, str(teacher_dir), tokenizer, ["negative", "positive"], batch_size=7)
    teacher = BertForSequenceClassification.from_pretrained(teacher_dir).eval()
    for i in (0, 6, 7, 50, 95):  # rows at both ends of batches of seven, one by one and unpadded
        ids = torch.tensor([rows[i]["input_ids"]])
        with torch.no_grad():
            want = teacher(input_ids=ids).logits.softmax(-1)[0]
        torch.testing.assert_close(torch.tensor(with_teacher[i]["teacher_probs"]), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="answers \\['negative', 'positive'\\]"):
        add_teacher_probs(rows, str(teacher_dir), tokenizer, ["positive", "negative"])


def test_errors_are_reported_not_raised(tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("words\tlabel\nhello\t1\n")
    assert main(["eval", "--model", str(tmp_path / "missing"), "--data", str(bad)]) == 2
    assert "error" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    (broken / "pytorch_model.bin").write_bytes(b"not a pickle you should load")
    assert main(["predict", "--model", str(broken), "hello"]) == 2
    assert "no .safetensors" in capsys.readouterr().err
    (broken / "model.safetensors").write_bytes(b"garbage")
    assert main(["predict", "--model", str(broken), "hello"]) == 2
    assert "could not load" in capsys.readouterr().err


def test_adapler_threshold_start_out_of_range_is_an_error(tmp_path, tiny_task, capsys):
    out = tmp_path / "adapler"
    assert main(["train", "--data", str(tiny_task), "--method", "adapler", "--init-from", str(tmp_path / "ref"),
                 "--eta-init", "1.5", "--output-dir", str(out)]) == 2
    assert "--eta-init must lie in [0.01, 1], got 1.5" in capsys.readouterr().err


def test_adapler_removal_layers_are_checked(tmp_path, tiny_task, tiny_backbone, capsys, monkeypatch):
    common = ["train", "--data", str(tiny_task), "--output-dir", str(tmp_path / "out")]
    import dact_core.train

    def no_data(*args, **kwargs):
        raise AssertionError("the data was read before the layers were checked")

    monkeypatch.setattr(dact_core.train, "load_task", no_data)
    assert main([*common, "--method", "adapler", "--init-from", str(tiny_backbone), "--removal-layers", "1,9"]) == 2
    assert "removal_layers must be increasing layer numbers in 1..4, at least one, got [1, 9]" in capsys.readouterr().err
    monkeypatch.undo()
    assert main([*common, "--removal-layers", "1,2"]) == 2
    assert "--removal-layers applies to --method adapler only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*common, "--method", "adapler", "--removal-layers", "1,two"])
    assert "expected comma-separated layer numbers such as 1,2,3, got '1,two'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_eval_of_a_peer_method_records_tokens_per_layer(tmp_path, tiny_tokenizer, tiny_task, capsys):
    from conftest import tiny_config
    from dact_core import TokenGateBertConfig, TokenGateBertForSequenceClassification
    from transformers import BertConfig

    settings = {k: v for k, v in tiny_config().to_dict().items() if k in BertConfig.__dataclass_fields__}
    settings.update(id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    model = TokenGateBertForSequenceClassification(TokenGateBertConfig(max_gated_length=64, **settings))
    with __import__("torch").no_grad():
        model.gate_logits[1:, 3:] = -5.0  # from layer 2 on keep the 3 most significant tokens
    model.save_pretrained(tmp_path / "gates")
    tiny_tokenizer.save_pretrained(tmp_path / "gates")
    assert main(["eval", "--model", str(tmp_path / "gates"), "--data", str(tiny_task), "--output-dir",
                 str(tmp_path / "ev")]) == 0
    assert "tokens per layer" in capsys.readouterr().out
    traces = pd.read_parquet(tmp_path / "ev" / "traces.parquet")
    assert (traces["tokens_3"] <= 3).all() and (traces["tokens_1"] == traces["tokens_1"].max()).any()


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path, tiny_backbone, tiny_task, monkeypatch,
                                                             capsys):
    from dact_core.train import DactTrainer

    out = tmp_path / "model"
    args = ["train", "--data", str(tiny_task), "--backbone", str(tiny_backbone), "--output-dir", str(out),
            "--max-steps", "12", "--batch-size", "16", "--eval-steps", "6", "--label-names", "negative,positive"]
    steps = []
    original = DactTrainer.training_step

    def stop_in_second_stage(self, *a, **k):
        steps.append(self.state.global_step)
        if len(steps) == 12 + 9:  # the reference's 12 steps, then 8 of DACT-BERT's (a checkpoint at step 6)
            raise KeyboardInterrupt
        return original(self, *a, **k)

    monkeypatch.setattr(DactTrainer, "training_step", stop_in_second_stage)
    with pytest.raises(KeyboardInterrupt):
        main(args)
    assert (out / "reference" / "training_config.json").exists() and not (out / "model.safetensors").exists()
    assert main(args) == 2 and "already holds files" in capsys.readouterr().err  # nothing lost by accident
    assert main([*args, "--resume", "--ponder-penalty", "0.5"]) == 2
    assert "--ponder-penalty 0.07 -> 0.5" in capsys.readouterr().err

    steps.clear()
    assert main([*args, "--resume"]) == 0
    assert steps == list(range(6, 12))  # the reference stage is kept; DACT-BERT goes on from its step 6
    assert (out / "model.safetensors").exists() and not (out / "checkpoints").exists()
    assert main([*args, "--resume"]) == 2 and "already finished" in capsys.readouterr().err


def test_predict_joins_unquoted_words_and_makes_a_pair_only_when_asked(tiny_model_dir, capsys):
    assert main(["predict", "--model", str(tiny_model_dir), "great", "film"]) == 0
    unquoted = capsys.readouterr().out
    assert main(["predict", "--model", str(tiny_model_dir), "great film"]) == 0
    assert capsys.readouterr().out == unquoted
    assert main(["predict", "--model", str(tiny_model_dir), "great", "--pair", "film"]) == 0
    assert capsys.readouterr().out != unquoted


TINY_RUN = ["--reference-epochs", "0", "--max-steps", "2", "--batch-size", "16", "--eval-steps", "2",
            "--label-names", "negative,positive"]


def test_overwriting_a_compact_model_loads_the_new_weights(tmp_path, tiny_backbone, tiny_task):
    import torch
    from safetensors.torch import load_file

    from dact_core.loading import CheckpointError, load_model

    common = ["--data", str(tiny_task), "--backbone", str(tiny_backbone), *TINY_RUN]
    frozen = tmp_path / "frozen"
    assert main(["train", *common, "--freeze-word-embeddings", "--output-dir", str(frozen)]) == 0
    shipped = tmp_path / "shipped"
    assert main(["export", "--model", str(frozen), "--output-dir", str(shipped)]) == 0
    listed = (shipped / "shared_weights.json").read_text()  # the word embeddings, read from the backbone
    # trained again into the compact model's folder, the word embeddings now learn
    assert main(["train", *common, "--learning-rate", "0.01", "--output-dir", str(shipped), "--overwrite"]) == 0
    key = "bert.embeddings.word_embeddings.weight"
    stored = load_file(shipped / "model.safetensors")[key]
    assert not torch.equal(stored, load_file(tiny_backbone / "model.safetensors")["embeddings.word_embeddings.weight"])
    assert torch.equal(load_model(str(shipped), device="cpu")[0].state_dict()[key], stored)
    # a list of backbone tensors that the weights file stores too is refused, not applied
    (shipped / "shared_weights.json").write_text(listed)
    with pytest.raises(CheckpointError, match=f"{key} is stored in the weights and also listed"):
        load_model(str(shipped), device="cpu")


def test_train_leaves_a_checkpoints_folder_it_did_not_make_alone(tmp_path, tiny_backbone, tiny_task, capsys):
    out = tmp_path / "run"
    own = out / "checkpoints" / "notes.txt"
    own.parent.mkdir(parents=True)
    own.write_text("mine")
    assert main(["train", "--data", str(tiny_task), "--backbone", str(tiny_backbone), *TINY_RUN,
                 "--output-dir", str(out), "--overwrite"]) == 2
    assert "holds files of another kind" in capsys.readouterr().err
    assert own.read_text() == "mine" and not (out / "model.safetensors").exists()


def test_compare_runs_gives_the_paired_difference_of_two_evals(tmp_path, tiny_model_dir, tiny_task, capsys):
    from dact_core.bench import paired_interval

    first = tmp_path / "a"
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(tiny_task), "--output-dir", str(first)]) == 0
    capsys.readouterr()
    metrics = json.loads((first / "metrics.json").read_text())
    traces = pd.read_parquet(first / "traces.parquet")

    def run(name, frame, **changes):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "metrics.json").write_text(json.dumps({**metrics, "num_examples": len(frame), **changes}))
        frame.to_csv(folder / "traces.csv", index=False)
        return folder

    # the second model: wrong on 12 examples the first gets right, and its classes named 0 and 1 (integer labels)
    flipped, changed = traces.copy(), traces.index[traces["correct"]][:12]
    flipped.loc[changed, "prediction"] = 1 - flipped.loc[changed, "prediction"]
    flipped["correct"] = flipped["prediction"] == flipped["label"]
    flipped["prediction_name"] = flipped["prediction"].astype(str)
    flipped["label_name"] = flipped["label"].astype(str)
    second = run("b", flipped, method="plain BERT")
    assert main(["compare-runs", str(first), str(second)]) == 0
    printed = capsys.readouterr().out
    a, b = traces["correct"].to_numpy(), flipped["correct"].to_numpy()
    diff, low, high = paired_interval(a, b)
    assert f"accuracy A - B: {100 * diff:+.2f} points, paired bootstrap 95% interval [{100 * low:+.2f}, " \
           f"{100 * high:+.2f}]" in printed
    assert f"both right {int((a & b).sum())}, only A {int((a & ~b).sum())}, only B {int((~a & b).sum())}" in printed
    assert diff == 12 / 96 and "same answer on 84 of 96 (87.5%)" in printed  # classes matched across the runs
    assert f"B  {second}: plain BERT, accuracy {100 * b.mean():.2f}" in printed

    def refused(folder, message, against=first):
        assert main(["compare-runs", str(against), str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("dact compare-runs: error: ") and message in err, err

    refused(tmp_path / "missing", "missing: no such folder")
    refused(tiny_model_dir, "not an output folder of dact eval (no metrics.json)")
    no_traces = run("no-traces", traces)
    (no_traces / "traces.csv").unlink()
    refused(no_traces, "no traces.parquet or traces.csv next to metrics.json")
    both = run("both", traces)
    traces.to_parquet(both / "traces.parquet")
    refused(both, "holds both traces.parquet and traces.csv")
    refused(run("unlabelled", traces.drop(columns=["label", "label_name", "correct"])), "no gold label")
    refused(run("no-texts", traces.drop(columns=["text"])), "lack the column(s) text: not written by dact eval")
    refused(run("shorter", traces.iloc[:90]), "runs on different data: 96 and 90 examples")
    shuffled = traces.iloc[::-1].reset_index(drop=True)
    refused(run("shuffled", shuffled), f"runs on different data: example 0 is {traces.text[0]!r} in the first, "
                                      f"{shuffled.text[0]!r} in the second")
    relabelled = traces.assign(label_name=np.where(np.arange(96) < 10, "positive", traces["label_name"]))
    refused(run("relabelled", relabelled), "give the same texts different gold labels")
    stale = run("stale", traces, num_examples=100)
    refused(stale, "traces.csv has 96 rows, metrics.json counts 100 examples")
