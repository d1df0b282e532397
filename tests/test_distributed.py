"""Data-parallel training and sharded evaluation with torchrun on the CPU (gloo), two processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import WORDS
from dact_core.cli import main

ROOT = Path(__file__).resolve().parents[1]


def torchrun(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
               "-m", "dact_core", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def data(tmp_path):
    rows = [(" ".join(WORDS[(i * 7) % 30 : (i * 7) % 30 + 2 + i % 6]) + (" great" if i % 2 else " awful"), i % 2)
            for i in range(50)]
    path = tmp_path / "task.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in rows))
    return path


def test_torchrun_trains_on_two_processes_and_one_writes(tmp_path, tiny_backbone, data):
    out = tmp_path / "model"
    done = torchrun("train", "--data", str(data), "--backbone", str(tiny_backbone), "--output-dir", str(out),
                    "--max-steps", "4", "--batch-size", "8", "--eval-steps", "2", "--label-names", "negative,positive")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("validation accuracy") == 1  # the summary is printed once
    assert (out / "model.safetensors").exists() and (out / "training_config.json").exists()
    assert not (out / "checkpoints").exists()


def test_sharded_eval_equals_one_process(tmp_path, tiny_model_dir, data):
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    assert main(["eval", "--model", str(tiny_model_dir), "--data", str(data), "--output-dir", str(single)]) == 0
    done = torchrun("eval", "--model", str(tiny_model_dir), "--data", str(data), "--output-dir", str(sharded))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("halted == full") == 1
    assert sorted(p.name for p in sharded.iterdir()) == ["metrics.json", "traces.parquet"]
    one, two = (json.loads((d / "metrics.json").read_text()) for d in (single, sharded))
    assert two["processes"] == 2
    assert one.pop("command").endswith(str(single)) and two.pop("command").endswith(str(sharded))  # its own folder
    for key in ("seconds", "processes"):
        one.pop(key, None), two.pop(key, None)
    assert one == two
    pd.testing.assert_frame_equal(pd.read_parquet(single / "traces.parquet"), pd.read_parquet(sharded / "traces.parquet"))
