"""Absurd option values are usage errors (exit 2, one line) found before TensorFlow is
imported; -j auto and the cap on -j follow the machine; --max-memory turns a runaway
allocation into that activation's error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gradcheck import runner
from gradcheck.cli import main

ROOT = Path(__file__).resolve().parents[1]
SWISH = str(ROOT / "sample_activations" / "good.py") + "::swish"

PROBE = """
import sys
from gradcheck.cli import main
rc = main(sys.argv[1:])
print("tensorflow imported" if "tensorflow" in sys.modules else "no tensorflow", rc)
"""


@pytest.mark.parametrize("args, says", [
    (["--timeout", "1e10"], "'--timeout': '1e10' is more than 1e+07"),
    (["--samples", "10000000000000000000000"], "'--samples'"),
    (["--samples", "1e22"], "'--samples'"),
    (["--range", "1e308", "1.7e308"], "within +-1e+38"),
    (["--range", "-1e308", "1e308"], "within +-1e+38"),
    (["-j", "0"], "'-j' / '--jobs': '0' is not >= 1"),
    (["-j", "many"], "not a number of workers or 'auto'"),
    (["--max-memory", "12"], "less than 64 MB"),
    (["--max-memory", "lots"], "not a size such as 2G"),
])
def test_absurd_values_are_one_line_usage_errors_before_tensorflow(args, says):
    proc = subprocess.run([sys.executable, "-c", PROBE, SWISH, *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.stdout.split() == ["no", "tensorflow", "2"]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0], proc.stderr


def test_a_target_that_cannot_be_read_is_a_usage_error(monkeypatch, capsys):
    folder = str(ROOT / "sample_activations")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == folder else real_access(path, mode))
    assert main([folder]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"Error: Invalid value for 'TARGET...': Path '{folder}' cannot be read (permission denied)."]


def test_jobs_auto_is_what_cores_and_memory_allow(monkeypatch):
    monkeypatch.setattr(runner, "_available_memory", lambda: 40 << 30)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert runner.workers_for("auto", 100)[0] == 4
    assert runner.workers_for("auto", 3)[0] == 3  # never more than the files
    monkeypatch.setattr(runner, "_available_memory", lambda: int(2.5 * (1 << 30)))
    n, why = runner.workers_for("auto", 100)
    assert n == 2 and "2.5 GB available" in why


def test_an_explicit_jobs_is_capped_by_memory(monkeypatch):
    monkeypatch.setattr(runner, "_available_memory", lambda: 3 << 30)
    n, why = runner.workers_for(8, 100)
    assert n == 3 and why == "-j 8 capped to 3: 3.0 GB available, ~1 GB per worker"
    assert runner.workers_for(2, 100) == (2, None)
    assert runner.workers_for(8, 1) == (8, None)  # one file: the runner starts one; nothing to say


def test_max_memory_makes_a_runaway_allocation_an_error(tmp_path):
    (tmp_path / "hog_activation.py").write_text(textwrap.dedent("""
        import numpy as np
        import tensorflow as tf

        def fine(x):
            return tf.tanh(x)

        def hog(x):
            big = np.ones((4 * 10**9 // 8,))  # 4 GB
            return x * float(big[0])
    """))
    proc = subprocess.run([sys.executable, "-m", "gradcheck", "hog_activation.py", "--max-memory", "1G",
                           "--no-stability", "--samples", "256", "--format", "json"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600,
                          env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 1, proc.stderr
    status = {r["name"]: (r["status"], r["message"]) for r in json.loads(proc.stdout)["results"]}
    assert status["fine"][0] == "pass"
    assert status["hog"][0] == "error" and "MemoryError" in status["hog"][1]


def test_a_name_that_names_nothing_is_a_usage_error_with_a_suggestion(tmp_path):
    (tmp_path / "acts.py").write_text("import tensorflow as tf\n\n\ndef swish(x):\n    return x * tf.sigmoid(x)\n")
    proc = subprocess.run([sys.executable, "-m", "gradcheck", "acts.py::swsh", "acts.py::swish", "--samples", "64",
                           "--no-stability", "-q"], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "Error: 'acts.py::swsh' names nothing in acts.py; did you mean 'swish'?"
    assert "1 passed" in proc.stdout  # the names that exist are still checked


def test_a_file_that_is_not_python_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("import os\nos.remove('everything')\n")
    assert main([str(tmp_path / "notes.txt")]) == 2
    assert capsys.readouterr().err.strip().endswith("notes.txt' is not a Python file (.py).")


@pytest.mark.parametrize("choice, env, tty, expected", [
    ("always", {}, False, True),
    ("never", {"FORCE_COLOR": "1"}, True, False),
    ("auto", {}, True, True),
    ("auto", {}, False, False),
    ("auto", {"NO_COLOR": "1"}, True, False),
    ("auto", {"FORCE_COLOR": "1"}, False, True),
])
def test_color_follows_the_flag_the_terminal_and_the_environment(monkeypatch, choice, env, tty, expected):
    from gradcheck import cli

    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cli, "_is_tty", lambda stream: tty)
    assert cli.use_color(choice) is expected
