"""Command-line behaviour: option validation (exit 2, one line), --version, cheap --help,
and the wiring from options to the runner (with a fake runner: no TensorFlow)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import gradcheck
import gradcheck.verify
import gradcheck.runner
from gradcheck.cli import main
from gradcheck.results import FAIL, PASS, ActivationResult, Report


@pytest.fixture
def target(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()  # keeps config discovery inside tmp_path
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acts.py").write_text("def relu(x):\n    return x\n")
    return "acts.py"


@pytest.fixture
def fake_run(monkeypatch):
    """Replace the runner; records its arguments, returns ``fake_run.report``."""

    class Fake:
        report = Report(results=(ActivationResult("acts.py::relu", "acts.py", "relu", "function", PASS, "ok"),))
        calls: list = []

        def __call__(self, jobs, settings, **kwargs):
            self.calls.append((jobs, settings, kwargs))
            return self.report

    fake = Fake()
    monkeypatch.setattr(gradcheck.runner, "run", fake)
    return fake


def _usage_error(capsys, argv, *needles):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err
    return err


@pytest.mark.parametrize(
    "argv, needles",
    [
        (["--bogus", "acts.py"], ["No such option", "--bogus"]),
        (["--samples", "0", "acts.py"], ["'--samples'", "0"]),
        (["--samples", "-5", "acts.py"], ["'--samples'", "-5"]),
        (["--samples", "many", "acts.py"], ["'--samples'"]),
        (["--range", "3", "-3", "acts.py"], ["'--range'", "LO must be less than HI"]),
        (["--range", "1", "1", "acts.py"], ["'--range'", "LO must be less than HI"]),
        (["--range", "-inf", "1", "acts.py"], ["'--range'", "finite"]),
        (["--range", "nan", "1", "acts.py"], ["'--range'", "finite"]),
        (["--timeout", "soon", "acts.py"], ["'--timeout'", "soon"]),
        (["--timeout", "0", "acts.py"], ["'--timeout'"]),
        (["--rtol", "-1", "acts.py"], ["'--rtol'"]),
        (["--jobs", "0", "acts.py"], ["'--jobs'"]),
        (["--format", "xml", "acts.py"], ["'--format'", "xml"]),
        ([], ["Missing argument 'TARGET...'"]),
        (["missing.py"], ["Invalid value for 'TARGET...': Path 'missing.py' does not exist."]),
        (["acts.py", "missing_dir"], ["Path 'missing_dir' does not exist."]),
    ],
)
def test_usage_errors_exit_2_with_one_line(capsys, target, fake_run, argv, needles):
    _usage_error(capsys, argv, *needles)
    assert fake_run.calls == []


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"gradcheck {gradcheck.__version__}\n"


def test_help(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--format", "--samples", "--range", "--seed", "--timeout", "--quiet", "--verbose",
                   "--version", "--config", "--exclude", "--jobs", "--plot", "--no-stability", "--hook"):
        assert option in out
    assert "--only-tf-modules" not in out  # the hook flag's old name still works, undocumented


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_do_not_import_tensorflow(flag):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "gradcheck", flag],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "tensorflow" not in proc.stderr
    assert "rich" not in proc.stderr  # reporters load only when a run starts


def test_options_reach_the_runner(capsys, target, fake_run):
    rc = main(["--samples", "16", "--range", "-2", "3", "--seed", "7", "--timeout", "5", "--rtol", "1e-3",
               "--no-stability", "-j", "2", "--format", "json", "acts.py::relu"])
    assert rc == 0
    (jobs, settings, kwargs), = fake_run.calls
    assert [(j.file, j.names) for j in jobs] == [("acts.py", ("relu",))]
    assert (settings.samples, settings.range, settings.seed, settings.timeout) == (16, (-2.0, 3.0), 7, 5.0)
    assert (settings.rtol, settings.atol, settings.stability) == (1e-3, None, False)
    assert kwargs["jobs_n"] == 2 and kwargs["show_worker_output"] is False
    doc = json.loads(capsys.readouterr().out)
    assert doc["settings"]["samples"] == 16 and doc["settings"]["range"] == [-2.0, 3.0]
    assert doc["settings"]["seed"] == 7


def _result(name, status):
    return ActivationResult(f"acts.py::{name}", "acts.py", name, "function", status, f"{name} is {status}")


@pytest.mark.parametrize("status, code", [(PASS, 0), (FAIL, 1)])
def test_exit_code_is_the_reports(capsys, target, fake_run, status, code):
    fake_run.report = Report(results=(_result("relu", status),))
    assert main(["acts.py"]) == code
    out, err = capsys.readouterr()
    assert "relu" in out and err == ""


@pytest.mark.parametrize("flags, code", [([], 5), (["--hook"], 0), (["--only-tf-modules"], 0)])
def test_nothing_found_exits_5_except_in_hook_mode(capsys, target, fake_run, flags, code):
    fake_run.report = Report()
    assert main([*flags, "acts.py"]) == code
    assert "no activations found" in capsys.readouterr().out
    (jobs, _, _), = fake_run.calls
    # In hook mode acts.py is scanned like a file found in a folder: it does not import TensorFlow.
    assert [j.file for j in jobs] == ([] if flags else ["acts.py"])


def test_json_stdout_is_only_the_document(capsys, target, fake_run):
    fake_run.report = Report(results=(_result("relu", PASS),))
    assert main(["--format", "json", "-v", "acts.py"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["passed"] == 1


def test_vv_shows_worker_output(capsys, target, fake_run):
    main(["-v", "acts.py"])
    main(["-vv", "acts.py"])
    assert [c[2]["show_worker_output"] for c in fake_run.calls] == [False, True]


def test_console_script_entry_point():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "gradcheck"]
    assert ep.value == "gradcheck.cli:main"


# End to end through the real runner and numerical core; enabled once the core exists.
needs_core = pytest.mark.skipif(not hasattr(gradcheck.verify, "check_activation"),
                                reason="gradcheck.verify.check_activation not written yet")

ACTIVATIONS = '''\
import tensorflow as tf


def softplus(x):
    return tf.math.softplus(x)


@tf.custom_gradient
def bad_square(x):
    def grad(dy):
        return dy * x  # should be 2 * x
    return x * x, grad
'''


@needs_core
def test_end_to_end_json(tmp_path, monkeypatch, capsys):
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acts.py").write_text(ACTIVATIONS)
    (tmp_path / "broken.py").write_text("def oops(:\n")
    rc = main(["--format", "json", "--samples", "64", "--no-stability", "acts.py", "broken.py"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1
    status = {r["name"]: r["status"] for r in doc["results"]}
    assert status["softplus"] in ("pass", "warn") and status["bad_square"] == "fail"
    assert [e["file"] for e in doc["errors"]] == ["broken.py"]


@needs_core
def test_end_to_end_text(tmp_path, monkeypatch, capsys):
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acts.py").write_text(ACTIVATIONS)
    assert main(["--samples", "64", "--no-stability", "acts.py::bad_square"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^acts\.py:\d+: FAIL bad_square: ", out, re.M) and "1 failed" in out
