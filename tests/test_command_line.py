"""The `dact` console script as installed (its entry point read from pyproject.toml), and the package as the
Hugging Face ecosystem sees it after `import dact_core`."""

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "datasets", "dact_core")


def _entry_point() -> tuple[str, str]:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts["dact"].split(":")
    return module, function


def _python(code: str, *args: str, background: bool = False, **env_vars):
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", **env_vars)
    env.pop("DISPLAY", None)  # a headless Streamlit: no browser window, no first-run prompt
    if background:
        return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, start_new_session=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def _dact_code() -> str:
    """`python -c` code that behaves as the installed `dact` script does."""
    module, function = _entry_point()
    return f"import sys; from {module} import {function} as main; sys.argv[0] = 'dact'; sys.exit(main())"


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["predict", "--help"], ["app", "--help"],
                                  ["compare-runs", "--help"]])
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
    from dact_cli import build_parser
    from dact_core.methods import TRAIN_METHODS as registry

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    method = next(action for action in train._actions if action.dest == "method")
    assert tuple(method.choices) == tuple(registry)


def test_train_options_come_from_the_train_config_with_its_defaults():
    from dataclasses import asdict, fields

    from dact_cli import build_parser, config_from_args
    from dact_cli.train_config import TrainConfig

    def config(*argv):
        return config_from_args(build_parser().parse_args(["train", "--data", "d.tsv", "--output-dir", "o", *argv]))

    given = {"command": ["dact"]}  # the only field off the command line
    assert asdict(config()) | given == asdict(TrainConfig(data="d.tsv", output_dir="o")) | given
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    options = {action.dest for action in train._actions}
    assert {f.name for f in fields(TrainConfig)} - options == {"command"}
    assert all(action.help for action in train._actions)
    cfg = config("--text-column", "premise", "--text-column", "hypothesis", "--label-names", "no,yes",
                 "--method", "adapler", "--removal-layers", "1,3", "--resume", "--freeze-word-embeddings",
                 "--eval-steps", "0", "--ponder-penalty", "0.1", "--split", "validation")
    assert cfg.text_columns == ["premise", "hypothesis"] and cfg.label_names == ["no", "yes"]
    assert (cfg.method, cfg.removal_layers, cfg.resume, cfg.freeze_word_embeddings) == ("adapler", [1, 3], True, True)
    assert (cfg.eval_steps, cfg.ponder_penalty, cfg.split) == (0, 0.1, "validation")
    assert build_parser().parse_args(["train", "--data", "d", "--output-dir", "o", "--overwrite"]).overwrite


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


def _health(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok"
    except OSError:
        return False


def test_sigterm_to_dact_app_stops_the_streamlit_server(tiny_model_dir):
    from browser_support import _free_port

    port = _free_port()
    app = _python(_dact_code(), "app", "--model", str(tiny_model_dir), "--port", str(port), background=True)
    try:
        deadline = time.time() + 120
        while not _health(port):
            assert app.poll() is None and time.time() < deadline, "the server did not come up"
            time.sleep(0.5)
        os.kill(app.pid, signal.SIGTERM)
        app.wait(timeout=30)
        deadline = time.time() + 30
        while _health(port) and time.time() < deadline:
            time.sleep(0.5)
        assert not _health(port), "a Streamlit server still answers after `dact app` was stopped"
    finally:
        try:
            os.killpg(app.pid, signal.SIGKILL)  # the group this test started: whatever the command left running
        except ProcessLookupError:
            pass


@pytest.fixture
def launched(monkeypatch):
    """What `dact app` would start: (command, environment), without starting it."""
    import subprocess as subprocess_module

    calls = []
    monkeypatch.setattr(os, "execve", lambda path, command, env: calls.append((command, env)))
    monkeypatch.setattr(subprocess_module, "call", lambda command, env: calls.append((command, env)) or 0)
    return calls


def test_dact_app_passes_a_hub_name_on_and_a_folder_by_its_path(launched, tiny_model_dir, monkeypatch):
    from dact_core.cli import main

    main(["app", "--model", "some-org/some-model"])
    main(["app", "--model", tiny_model_dir.name, "--threads", "3"])
    monkeypatch.chdir(tiny_model_dir.parent)
    main(["app", "--model", tiny_model_dir.name])
    (_, hub), (_, missing), (_, folder) = launched
    assert hub["DACT_MODEL"] == "some-org/some-model"
    assert missing["DACT_MODEL"] == tiny_model_dir.name and missing["DACT_THREADS"] == "3"
    assert folder["DACT_MODEL"] == str(tiny_model_dir) and "DACT_THREADS" not in folder


def test_dact_app_starts_without_streamlit_s_first_run_e_mail_prompt(launched, tiny_model_dir):
    """On a machine with a display, a first `streamlit run` waits at a terminal prompt for an e-mail address."""
    from dact_core.cli import main

    main(["app", "--model", str(tiny_model_dir)])
    (command, _), = launched
    assert command[command.index("--server.showEmailPrompt") + 1] == "false"


def test_the_app_s_thread_count_is_fixed_at_start_up(tiny_model_dir):
    code = ("import sys, torch\n"
            "from app import models\n"
            "seen = []\n"
            "inspector = models.get_inspector(sys.argv[1], None)  # the one cached_trace uses\n"
            "for module in inspector.model.modules():  # whichever of them the inference path calls\n"
            "    module.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))\n"
            "models.cached_trace(sys.argv[1], 'a great film', 'tight', 1.0)\n"
            "print(sorted(set(seen)), torch.get_num_threads())\n")
    done = _python(code, str(tiny_model_dir), DACT_THREADS="3", DACT_RUNTIME="torch")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[3] 3"
    engine = ("import sys\nfrom app import models\n"
              "print(models.get_inspector(sys.argv[1], None).model.threads)\n")  # the ONNX Runtime sessions' pool
    done = _python(engine, str(tiny_model_dir), DACT_THREADS="3")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "3"


def test_dact_app_names_the_server_folders_and_allows_the_hub_only_when_asked(launched, tmp_path, monkeypatch):
    from dact_core.cli import main

    allowed = tmp_path / "traces"
    allowed.mkdir()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    main(["app", "--allow-server-paths", str(allowed)])
    main(["app", "--allow-hub"])
    (_, paths), (_, hub) = launched
    assert paths["DACT_SERVER_PATHS"] == str(allowed.resolve()) and paths["HF_HUB_OFFLINE"] == "1"
    assert "DACT_ALLOW_HUB" not in paths
    assert hub["DACT_ALLOW_HUB"] == "1" and "HF_HUB_OFFLINE" not in hub and "DACT_SERVER_PATHS" not in hub
    assert main(["app", "--allow-server-paths", str(tmp_path / "missing")]) == 2
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["app", "--allow-hub"]) == 2
    assert len(launched) == 2
