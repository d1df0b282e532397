"""How the package behaves as a package: entry points, import costs, no side effects on import."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "TOKENIZERS_PARALLELISM"}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=120)


def test_traces_and_their_builders_import_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
            "import dact_core.traces, dact_core.charts, dact_core.tables, dact_core.markup\n"
            "print('ok')")
    done = _python(code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_importing_the_cli_changes_no_environment_variable():
    done = _python("import os; before = dict(os.environ); import dact_core.cli, dact_core.models; "
                   "print(sorted(set(os.environ.items()) ^ set(before.items())))")
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_python_m_dact_core_is_the_dact_command(tiny_model_dir):
    via_module = subprocess.run([sys.executable, "-m", "dact_core", "predict", "--model", str(tiny_model_dir),
                                 "a great film"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert via_module.returncode == 0, via_module.stderr
    from dact_core.cli import main

    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["predict", "--model", str(tiny_model_dir), "a great film"]) == 0
    assert via_module.stdout == buffer.getvalue()
    bad = subprocess.run([sys.executable, "-m", "dact_core", "eval", "--model", "nowhere", "--data", "x.tsv"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "error" in bad.stderr
