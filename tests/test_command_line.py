"""The `dact` console script as installed (its entry point read from pyproject.toml), and the package as the
Hugging Face ecosystem sees it after `import dact_core`."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "datasets", "dact_core")


def _entry_point() -> tuple[str, str]:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts["dact"].split(":")
    return module, function


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["predict", "--help"], ["app", "--help"]])
def test_help_imports_neither_torch_nor_the_package(argv):
    module, function = _entry_point()
    code = (f"import sys\nfrom {module} import {function} as main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit as done:\n    assert done.code == 0, done.code\n"
            f"print('loaded:', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert "usage: dact" in done.stdout and done.stdout.rstrip().endswith("loaded: []"), done.stdout[-300:]


def test_a_bad_option_is_refused_before_anything_heavy_loads():
    module, function = _entry_point()
    code = (f"import sys\nfrom {module} import {function} as main\n"
            "try:\n    main(['train', '--data', 'd.tsv', '--output-dir', 'o', '--epochs', 'many'])\n"
            "except SystemExit as done:\n    print('exit', done.code)\n"
            f"print('loaded:', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = _python(code)
    assert "argument --epochs: invalid float value: 'many'" in done.stderr
    assert done.stdout.split("\n")[:2] == ["exit 2", "loaded: []"]


def test_the_parser_offers_the_registry_s_training_methods():
    from dact_cli import TRAIN_METHODS
    from dact_core.methods import TRAIN_METHODS as registry

    assert TRAIN_METHODS == tuple(registry)


def test_import_dact_core_registers_the_model_types(tiny_model_dir):
    code = ("import dact_core, torch\n"
            "from transformers import AutoModelForSequenceClassification, AutoTokenizer\n"
            "folder = sys.argv[1]\n"
            "model = AutoModelForSequenceClassification.from_pretrained(folder).eval()\n"
            "inputs = AutoTokenizer.from_pretrained(folder)(['a great film'], return_tensors='pt')\n"
            "with torch.no_grad():\n"
            "    print(type(model).__name__, model(**inputs).logits.tolist())\n")
    done = _python("import sys\n" + code, str(tiny_model_dir))
    assert done.returncode == 0, done.stderr[-2000:]
    name, logits = done.stdout.strip().split(" ", 1)
    assert name == "DactBertForSequenceClassification"

    import torch

    from dact_core.loading import load_model

    model, tokenizer = load_model(str(tiny_model_dir), device="cpu")
    with torch.no_grad():
        expected = model(**tokenizer(["a great film"], return_tensors="pt")).logits
    assert torch.allclose(torch.tensor(json.loads(logits)), expected, atol=1e-5)


def test_a_text_classification_pipeline_loads_a_trained_folder(tiny_model_dir):
    code = ("import json, sys, dact_core\n"
            "from transformers import pipeline\n"
            "classify = pipeline('text-classification', model=sys.argv[1], device='cpu')\n"
            "print(json.dumps(classify(['a great film', 'a dull plot'])))\n")
    done = _python(code, str(tiny_model_dir))
    assert done.returncode == 0, done.stderr[-2000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])

    import torch

    from dact_core.loading import load_model

    model, tokenizer = load_model(str(tiny_model_dir), device="cpu")
    for text, answer in zip(["a great film", "a dull plot"], answers):
        with torch.no_grad():
            probs = model(**tokenizer([text], return_tensors="pt")).logits.softmax(-1)[0]
        assert answer["label"] == model.config.id2label[int(probs.argmax())]
        assert answer["score"] == pytest.approx(float(probs.max()), abs=1e-5)

