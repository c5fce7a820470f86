"""End to end through the real command line (subprocess, workers, formatters) on the
shipped examples: every good one passes, every bad one fails on the check that names its
mistake, every risky one warns with a hint; exit codes, JSON and JUnit as documented.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_activations"

# Each bad activation -> (the check its verdict must lead with, words its message must contain),
# from the mistake each function's docstring in sample_activations/bad.py describes.
BAD_EXPECTED = {
    "tanh_wrong_derivative": ("gradient_vs_fd", ["hand-written gradient", "finite differences"]),
    "sine_forgets_upstream": ("upstream", ["upstream", "dy"]),
    "tanh_numpy_inside": ("gradient", ["None"]),
    "abs_sqrt_square": ("gradient", ["NaN", "x=0 "]),
    "log_linear_where": ("gradient", ["NaN", "x=0 "]),
    "sigmoid_sign_error": ("gradient_vs_fd", ["-1 x the finite differences"]),
    "softplus_grad_off_by_0_1_percent": ("gradient_vs_fd", ["1.001 x the finite differences"]),
    "softmax_diagonal_only": ("custom_vs_autodiff", ["autodiff"]),
    "sine_grad_wrong_shape": ("gradient", ["shape ()", "expected ("]),
    "round_activation": ("gradient", ["piecewise constant"]),
    "floor_via_floormod": ("gradient", ["piecewise constant"]),
}


def activation_names(path: Path) -> list[str]:
    """Public top-level functions and classes of a sample module, in order."""
    tree = ast.parse(path.read_text())
    return [n.name for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]


def gradcheck(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "gradcheck", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def json_run():
    proc = gradcheck("--format", "json", "sample_activations")
    return proc, json.loads(proc.stdout)


def results_of(doc, filename):
    return {r["name"]: r for r in doc["results"] if Path(r["file"]).name == filename}


def lead_check(result):
    """The check the verdict's message leads with ("<check>: ...")."""
    name = result["message"].split(":", 1)[0]
    return next((c for c in result["checks"] if c["name"] == name and c["status"] == result["status"]), None)


def test_json_run_stdout_is_only_the_document_and_exit_code_is_1(json_run):
    proc, doc = json_run
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.lstrip().startswith("{") and proc.stdout.rstrip().endswith("}")
    assert doc["version"] == 1
    assert doc["errors"] == []
    assert len(doc["results"]) == sum(len(activation_names(SAMPLES / f)) for f in ("good.py", "bad.py", "risky.py"))


def test_json_summary_matches_the_sample_files(json_run):
    _, doc = json_run
    assert doc["summary"] == {"passed": len(activation_names(SAMPLES / "good.py")),
                              "warned": len(activation_names(SAMPLES / "risky.py")),
                              "failed": len(activation_names(SAMPLES / "bad.py")),
                              "errors": 0, "skipped": 0}


def test_every_good_activation_passes(json_run):
    _, doc = json_run
    good = results_of(doc, "good.py")
    names = activation_names(SAMPLES / "good.py")
    assert sorted(good) == sorted(names)
    not_passing = {n: (r["status"], r["message"]) for n, r in good.items() if r["status"] != "pass"}
    assert not_passing == {}


def test_the_mapping_covers_every_bad_activation():
    assert sorted(BAD_EXPECTED) == sorted(activation_names(SAMPLES / "bad.py"))


@pytest.mark.parametrize("name", sorted(BAD_EXPECTED))
def test_each_bad_activation_fails_on_the_check_that_names_its_mistake(json_run, name):
    _, doc = json_run
    result = results_of(doc, "bad.py")[name]
    assert result["status"] == "fail", result["message"]
    check, words = BAD_EXPECTED[name]
    first = lead_check(result)
    assert first is not None and first["name"] == check, (first, result["message"])
    assert first["status"] == "fail"
    for word in words:
        assert word in first["message"], first["message"]
    assert result["message"].startswith(f"{check}: {first['message']}")  # the one-line message leads with it
    # every other failing check is told after it
    for c in result["checks"]:
        if c["status"] in ("fail", "error") and c is not first:
            assert f"also: {c['name']}: " in result["message"], (c["name"], result["message"])


def test_diagonal_only_softmax_also_fails_the_directional_check(json_run):
    _, doc = json_run
    result = results_of(doc, "bad.py")["softmax_diagonal_only"]
    assert result["elementwise"] is False
    assert {c["name"]: c["status"] for c in result["checks"]}["vjp_vs_fd"] == "fail"


def test_every_risky_activation_warns_with_a_hint(json_run):
    _, doc = json_run
    risky = results_of(doc, "risky.py")
    assert sorted(risky) == sorted(activation_names(SAMPLES / "risky.py"))
    for name, result in risky.items():
        assert result["status"] == "warn", (name, result["message"])
        warned = [c for c in result["checks"] if c["status"] == "warn"]
        assert [c["name"] for c in warned] == ["stability"], name
        assert warned[0]["hint"], name
        assert abs(warned[0]["worst_input"]) > 8.0, name  # outside the checked range [-8, 8]


def test_good_file_exits_0():
    proc = gradcheck("sample_activations/good.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_bad_file_exits_1():
    proc = gradcheck("sample_activations/bad.py")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "sine_forgets_upstream" in proc.stdout


def test_missing_target_exits_2_with_one_line_on_stderr():
    proc = gradcheck("missing.py")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "missing.py" in lines[0]


def test_junit_has_one_failure_per_bad_activation():
    proc = gradcheck("--format", "junit", "sample_activations/bad.py")
    assert proc.returncode == 1, proc.stderr
    root = ET.fromstring(proc.stdout)
    n_bad = len(activation_names(SAMPLES / "bad.py"))
    cases = list(root.iter("testcase"))
    assert len(cases) == n_bad
    assert sum(1 for c in cases if c.find("failure") is not None) == n_bad
    assert int(root.get("failures")) == n_bad
    assert {c.get("name") for c in cases} == set(BAD_EXPECTED)


def test_folder_without_activations_exits_5_and_0_in_hook_mode(tmp_path):
    """Nothing found is exit status 5 (the contract, as pytest), except for the hook."""
    (tmp_path / ".git").mkdir()  # keeps pyproject discovery inside tmp_path
    pkg = tmp_path / "src"
    pkg.mkdir()
    (pkg / "helpers.py").write_text(
        "import math\n\n"
        "SCALE = 3.0\n\n\n"
        "def add(a, b):\n    return a + b\n\n\n"
        "class Plain:\n    pass\n"
    )
    proc = gradcheck(str(pkg), cwd=tmp_path)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "no activations found" in proc.stdout
    hook = gradcheck("--hook", str(pkg / "helpers.py"), cwd=tmp_path)
    assert hook.returncode == 0, hook.stdout + hook.stderr
