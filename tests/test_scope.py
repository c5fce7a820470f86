"""Discovery scope in a real ML repository (tests/fixtures/ml_repo), through the command line.

The fixture is a small project: a tf.data loader, a keras model builder, a training script
that trains at import and leaves a ``TRAINED`` file next to itself, augmentation helpers, a
package with relative imports, the project's activations in models/activations.py (one of
them buggy, plus a two-input ``glu``) and one marked custom-gradient activation in layers.py
next to an ordinary Layer. A folder target (and hook mode) must import only the activation
files, never run the training script, and say what it passed over and why.

Every run works on a copy of the fixture in a temporary folder (with a ``.git`` marker so
no pyproject.toml outside it is picked up), through ``python -m gradcheck`` in a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "ml_repo"
FAST = ("--samples", "256", "--no-stability")

ACTIVATIONS = {  # what a folder target checks, in order, with the expected verdicts
    "ml_repo/layers.py::identity_custom": "pass",
    "ml_repo/models/activations.py::swish": "pass",
    "ml_repo/models/activations.py::softsign_custom": "pass",
    "ml_repo/models/activations.py::tanh_wrong": "fail",
}
PASSED_OVER = {
    "ml_repo/data.py": "no activation file: path does not match *activation*, no marker",
    "ml_repo/model.py": "no activation file: path does not match *activation*, no marker",
    "ml_repo/pkg/config.py": "does not import tensorflow/keras",
    "ml_repo/pkg/pipeline.py": "no activation file: path does not match *activation*, no marker",
    "ml_repo/train.py": "no activation file: path does not match *activation*, no marker",
    "ml_repo/utils.py": "no activation file: path does not match *activation*, no marker",
}


def def_line(rel: str, start: str) -> int:
    """1-based line of the fixture file's line that starts with ``start``."""
    lines = (FIXTURE / rel).read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.startswith(start))


GLU = {"id": "ml_repo/models/activations.py::glu", "file": "ml_repo/models/activations.py", "name": "glu",
       "line": def_line("models/activations.py", "def glu("), "reason": "takes 2 required arguments (x, gate)"}


def copy_fixture(parent: Path) -> Path:
    """``parent``/ml_repo, a fresh copy of the fixture; ``parent`` is the repository root."""
    shutil.copytree(FIXTURE, parent / "ml_repo", ignore=shutil.ignore_patterns("__pycache__", "TRAINED"))
    (parent / ".git").mkdir()
    return parent / "ml_repo"


def gradcheck(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.run([sys.executable, "-m", "gradcheck", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def doc_of(proc: subprocess.CompletedProcess) -> dict:
    assert proc.stdout.lstrip().startswith("{"), proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    # The folder's name must not match *activation*: paths are matched as found.
    return copy_fixture(tmp_path_factory.mktemp("project")).parent


@pytest.fixture(scope="module")
def folder_run(project):
    proc = gradcheck("--format", "json", *FAST, "ml_repo", cwd=project)
    return proc, doc_of(proc)


def test_folder_checks_only_the_activation_files(folder_run, project):
    proc, doc = folder_run
    assert {r["id"]: r["status"] for r in doc["results"]} == ACTIVATIONS
    assert [r["id"] for r in doc["results"]] == list(ACTIVATIONS)
    assert doc["errors"] == []
    assert proc.returncode == 1, proc.stderr  # tanh_wrong
    assert not (project / "ml_repo" / "TRAINED").exists()  # train.py was never imported


def test_folder_lists_glu_as_not_checked_with_its_line(folder_run):
    _, doc = folder_run
    # Only imported files contribute, and from layers.py (admitted for its marker) only
    # marked objects: ResidualBlock and count_params are not listed.
    assert doc["not_checked"] == [GLU]


def test_folder_json_says_what_was_not_imported(folder_run):
    _, doc = folder_run
    assert {n["file"]: n["reason"] for n in doc["not_imported"]} == PASSED_OVER
    assert doc["settings"]["files"] == ["*activation*"] and doc["settings"]["hook"] is False


def test_verbose_text_names_the_files_not_imported_and_why(project):
    proc = gradcheck("-v", *FAST, "ml_repo", cwd=project)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    for file, reason in PASSED_OVER.items():
        assert f"not imported: {file} ({reason})\n" in out
    assert f"not checked: {GLU['id']} (line {GLU['line']}): {GLU['reason']}\n" in out
    assert "ResidualBlock" not in out and "count_params" not in out
    assert re.search(r"^ml_repo/models/activations\.py:\d+: FAIL tanh_wrong: gradient_vs_fd: .*; also: "
                     r"custom_vs_autodiff:", out, re.M)
    assert not (project / "ml_repo" / "TRAINED").exists()

    quiet = gradcheck(*FAST, "ml_repo", cwd=project)
    assert "not imported" not in quiet.stdout and "glu" not in quiet.stdout
    assert "3 passed, 0 warned, 1 failed, 0 errors, 0 skipped, 1 not checked" in quiet.stdout


def test_hook_mode_with_the_files_behaves_like_the_folder(folder_run, project):
    files = sorted(str(p.relative_to(project)) for p in (project / "ml_repo").rglob("*.py"))
    assert "ml_repo/train.py" in files and "ml_repo/pkg/__init__.py" in files
    proc = gradcheck("--hook", "--format", "json", *FAST, *files, cwd=project)
    doc = doc_of(proc)
    _, folder = folder_run
    assert proc.returncode == 1, proc.stderr
    assert [(r["id"], r["status"]) for r in doc["results"]] == [(r["id"], r["status"]) for r in folder["results"]]
    assert doc["not_checked"] == folder["not_checked"] == [GLU]
    assert doc["not_imported"] == folder["not_imported"]
    assert doc["settings"]["hook"] is True
    assert not (project / "ml_repo" / "TRAINED").exists()


def test_nothing_admitted_exits_5_and_0_in_hook_mode(project):
    proc = gradcheck(*FAST, "ml_repo/pkg", cwd=project)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert proc.stdout.startswith("no activations found\n")
    assert "2 files not imported (-v says why)" in proc.stdout and "[tool.gradcheck] files" in proc.stdout
    assert "Traceback" not in proc.stderr

    hook = gradcheck("--hook", *FAST, "ml_repo/pkg/__init__.py", "ml_repo/pkg/config.py", "ml_repo/pkg/pipeline.py",
                     "ml_repo/train.py", "ml_repo/data.py", cwd=project)
    assert hook.returncode == 0, hook.stdout + hook.stderr
    json_doc = doc_of(gradcheck("--format", "json", "ml_repo/pkg", cwd=project))
    assert json_doc["results"] == [] and json_doc["summary"]["passed"] == 0
    assert not (project / "ml_repo" / "TRAINED").exists()


def test_files_setting_in_pyproject_is_honoured(tmp_path):
    repo = copy_fixture(tmp_path)
    shutil.rmtree(tmp_path / ".git")
    (repo / ".git").mkdir()  # ml_repo is the repository; its pyproject.toml is the config
    (repo / "pyproject.toml").write_text('[project]\nname = "ml-repo"\n\n[tool.gradcheck]\nfiles = ["pkg/*"]\n')
    proc = gradcheck("--format", "json", *FAST, ".", cwd=repo)
    doc = doc_of(proc)
    assert {r["id"]: r["status"] for r in doc["results"]} == {
        "layers.py::identity_custom": "pass",
        # no longer an activation file by its path: admitted for its markers, swish is not checked
        "models/activations.py::softsign_custom": "pass",
        "models/activations.py::tanh_wrong": "fail",
        # pkg/pipeline.py matches pkg/* (relative imports inside the package work)
        "pkg/pipeline.py::preprocess": "pass",
    }
    assert doc["not_checked"] == []  # glu is not marked
    assert {n["file"] for n in doc["not_imported"]} == {"data.py", "model.py", "pkg/config.py", "train.py",
                                                        "utils.py"}
    assert doc["settings"]["files"] == ["pkg/*"]
    assert proc.returncode == 1
    assert not (repo / "TRAINED").exists()


def test_explicit_files_keep_todays_rules(project):
    """A file named on the command line is imported and every public activation checked,
    whatever its name; what cannot be checked is listed (never train.py: it would train)."""
    proc = gradcheck("--format", "json", *FAST, "ml_repo/layers.py", "ml_repo/models/activations.py::glu",
                     cwd=project)
    doc = doc_of(proc)
    status = {r["name"]: r for r in doc["results"]}
    assert list(status) == ["identity_custom", "count_params", "glu"]
    assert status["identity_custom"]["status"] == "pass"
    assert status["count_params"]["status"] == "error"  # a one-argument helper, taken for an activation
    assert status["glu"]["status"] == "error"
    assert status["glu"]["message"] == ("no activation named glu in ml_repo/models/activations.py: "
                                        "takes 2 required arguments (x, gate)")
    assert doc["not_checked"] == [{
        "id": "ml_repo/layers.py::ResidualBlock", "file": "ml_repo/layers.py", "name": "ResidualBlock",
        "line": def_line("layers.py", "class ResidualBlock"), "reason": "needs constructor arguments (units)"}]
    assert doc["not_imported"] == []
    assert proc.returncode == 1
