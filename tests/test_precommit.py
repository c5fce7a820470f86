"""The pre-commit hook (``.pre-commit-hooks.yaml``) through the real pre-commit framework.

The repository under test is this source tree as it is on disk (uncommitted and untracked
files included), copied into a throw-away git repository: pre-commit installs a hook from
a commit, and ``try-repo`` on a dirty tree would leave untracked files out.

Building the hook's environment means a virtualenv with TensorFlow (pip, from the
configured package indexes): about a minute. ``pre-commit run`` shares one PRE_COMMIT_HOME
across the cases (module-scoped fixture), so the environment is built once for them;
``try-repo`` always builds in a temporary store of its own, so it is exercised once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

pytest.importorskip("pre_commit")
if shutil.which("git") is None:
    pytest.skip("git is not installed", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
HOOK_ID = "gradcheck"
TIMEOUT = 1200  # seconds; the first environment build downloads TensorFlow

BAD = '''\
import tensorflow as tf


@tf.custom_gradient
def tanh_wrong_grad(x):
    """BUG: tanh' is 1 - y**2, not 1 - y."""
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y)

    return y, grad
'''

GOOD = '''\
import tensorflow as tf


@tf.custom_gradient
def tanh_custom(x):
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y * y)

    return y, grad
'''

PLAIN = '''\
"""A module with no activation: constants and a class."""

LIMIT = 3


class Config:
    name = "x"
'''

# A training script that trains at import (here: leaves TRAINED behind) next to an activation
# file: the hook must check the one and never import the other.
TRAIN = '''\
import os

import tensorflow as tf

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "TRAINED"), "w") as f:
    f.write("training ran\\n")


def evaluate(dataset):
    return dataset
'''

ACTIVATIONS = '''\
import tensorflow as tf


def swish(x):
    return x * tf.sigmoid(x)
'''

_SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".venv", "venv", "build", "dist", ".mypy_cache"}


def _git(*args, cwd):
    env = {**os.environ, "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
           "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid"}
    return subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false",
                           "-c", "core.hooksPath=/dev/null", *args],
                          cwd=cwd, env=env, check=True, capture_output=True, text=True)


def _source_files(root: Path) -> list[str]:
    """The files of the source tree: git's view (tracked + untracked, minus ignored) if any."""
    if (root / ".git").exists():
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=root, check=True, capture_output=True, text=True).stdout
        return sorted(f for f in set(out.split("\0")) if f and (root / f).is_file())
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
        files += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames]
    return sorted(files)


def _snapshot(root: Path, dest: Path) -> str:
    """Copy the source tree into a new git repository at ``dest``; return its commit."""
    for rel in _source_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
    assert (dest / ".pre-commit-hooks.yaml").is_file()
    _git("init", "-q", cwd=dest)
    _git("add", "-A", cwd=dest)
    _git("commit", "-q", "-m", "snapshot", cwd=dest)
    return _git("rev-parse", "HEAD", cwd=dest).stdout.strip()


def _pre_commit(*args, cwd, home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRE_COMMIT")}
    env.update(PRE_COMMIT_HOME=str(home), NO_COLOR="1", SKIP="")
    return subprocess.run([sys.executable, "-m", "pre_commit", *args, "--color", "never"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def _in_table(out: str, file: str, name: str, verdict: str) -> bool:
    """The text table names ``file`` as a heading and ``name`` in a row below it, with its verdict."""
    return (re.search(rf"^\s*{re.escape(file)}\s*$", out, re.M) is not None
            and re.search(rf"^\s+{re.escape(name)}\s.*\b{verdict}\b", out, re.M) is not None)


def _explain(proc, home) -> str:
    log = Path(home) / "pre-commit.log"
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}\n--- pre-commit.log\n{tail}"


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory):
    """(path, commit) of a git repository holding this source tree."""
    dest = tmp_path_factory.mktemp("gradcheck-src")
    return dest, _snapshot(ROOT, dest)


@pytest.fixture(scope="module")
def user_repo(tmp_path_factory, hook_repo):
    """A user's project using the hook as the README says, its environment installed once."""
    repo_path, rev = hook_repo
    home = tmp_path_factory.mktemp("pre-commit-home")
    project = tmp_path_factory.mktemp("project")
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {repo_path}\n    rev: {rev}\n    hooks:\n      - id: {HOOK_ID}\n")
    for name, text in (("bad.py", BAD), ("good.py", GOOD), ("plain.py", PLAIN), ("train.py", TRAIN),
                       ("activations.py", ACTIVATIONS)):
        (project / name).write_text(text)
    (project / "README.txt").write_text("not python: the hook must not see it\n")
    _git("init", "-q", cwd=project)
    _git("add", "-A", cwd=project)
    proc = _pre_commit("install-hooks", cwd=project, home=home)
    assert proc.returncode == 0, _explain(proc, home)
    return project, home


def test_run_fails_on_a_wrong_hand_written_gradient(user_repo):
    project, home = user_repo
    proc = _pre_commit("run", HOOK_ID, "--files", "bad.py", cwd=project, home=home)
    assert proc.returncode != 0, _explain(proc, home)
    assert _in_table(proc.stdout, "bad.py", "tanh_wrong_grad", "FAIL"), _explain(proc, home)


def test_run_passes_a_correct_gradient(user_repo):
    project, home = user_repo
    proc = _pre_commit("run", HOOK_ID, "--files", "good.py", cwd=project, home=home)
    assert proc.returncode == 0, _explain(proc, home)
    assert "Passed" in proc.stdout


def test_run_passes_quietly_on_files_without_activations(user_repo):
    project, home = user_repo
    proc = _pre_commit("run", HOOK_ID, "--files", "plain.py", "README.txt", cwd=project, home=home)
    assert proc.returncode == 0, _explain(proc, home)
    assert "Passed" in proc.stdout
    assert "no activations found" not in proc.stdout  # pre-commit shows hook output on failure only


def test_run_checks_activation_files_and_never_imports_a_training_script(user_repo):
    project, home = user_repo
    proc = _pre_commit("run", HOOK_ID, "--verbose", "--files", "train.py", "activations.py", cwd=project, home=home)
    assert proc.returncode == 0, _explain(proc, home)
    assert _in_table(proc.stdout, "activations.py", "swish", "PASS") and "1 passed" in proc.stdout, \
        _explain(proc, home)
    assert not (project / "TRAINED").exists()


def test_run_on_all_files_reports_only_the_bad_one(user_repo):
    project, home = user_repo
    proc = _pre_commit("run", HOOK_ID, "--all-files", cwd=project, home=home)
    assert proc.returncode != 0, _explain(proc, home)
    assert _in_table(proc.stdout, "bad.py", "tanh_wrong_grad", "FAIL"), _explain(proc, home)
    assert not re.search(r"^good\.py:\d+: ", proc.stdout, re.M) and "README" not in proc.stdout
    assert not (project / "TRAINED").exists()


def test_run_on_all_files_of_an_ordinary_ml_repository(user_repo, tmp_path):
    """tests/fixtures/ml_repo (data loader, model builder, a training script that trains at
    import, a package with relative imports, models/activations.py, a marked activation in
    layers.py) with tests/fixtures/neighbours as its sub-projects (same-named helpers modules
    and packages, a leaked run_functions_eagerly, an os.chdir at import) as a user's
    repository: only its activations are reported, nothing trains, and the run fails for the
    two activations that fail when checked alone."""
    _, home = user_repo
    project = tmp_path / "ml_repo"
    shutil.copytree(ROOT / "tests" / "fixtures" / "ml_repo", project)
    shutil.copytree(ROOT / "tests" / "fixtures" / "neighbours", project / "subprojects")
    (project / ".pre-commit-config.yaml").write_text((user_repo[0] / ".pre-commit-config.yaml").read_text())
    _git("init", "-q", cwd=project)
    _git("add", "-A", cwd=project)
    proc = _pre_commit("run", HOOK_ID, "--all-files", "--verbose", cwd=project, home=home)
    assert proc.returncode != 0, _explain(proc, home)
    out = proc.stdout
    assert re.search(r"^models/activations\.py:\d+: FAIL tanh_wrong: ", out, re.M), _explain(proc, home)
    assert re.search(r"^subprojects/graph_activation\.py:\d+: FAIL eager_only_tanh: graph: ", out, re.M), \
        _explain(proc, home)
    for name in ("swish", "softsign_custom", "identity_custom"):  # the table: ids, or names under file headings
        assert re.search(rf"\b{name}\b", out), _explain(proc, home)
    for name in ("swish", "softsign_custom", "identity_custom", "swish_elsewhere", "softplus_debugged",
                 "scaled_tanh", "scaled_softsign"):
        assert not re.search(rf": (FAIL|ERROR) {name}: ", out), _explain(proc, home)
    assert re.search(r"\d+ passed, 0 warned, 2 failed, 0 errors", out), _explain(proc, home)
    for never in ("load_dataset", "build_model", "augment", "data.py::", "train.py::", "model.py::"):
        assert never not in out, _explain(proc, home)
    assert not (project / "TRAINED").exists()


def test_try_repo(hook_repo, tmp_path):
    """``pre-commit try-repo`` with the bad and the good module in one call (one env build)."""
    repo_path, _ = hook_repo
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "good.py").write_text(GOOD)
    _git("init", "-q", cwd=tmp_path)
    _git("add", "-A", cwd=tmp_path)
    home = tmp_path / "home"
    proc = _pre_commit("try-repo", str(repo_path), HOOK_ID, "--files", "bad.py", "good.py", "--verbose",
                       cwd=tmp_path, home=home)
    assert proc.returncode == 1, _explain(proc, home)
    out = proc.stdout
    assert _in_table(out, "bad.py", "tanh_wrong_grad", "FAIL") and _in_table(out, "good.py", "tanh_custom", "PASS"), \
        _explain(proc, home)
    assert "1 passed, 0 warned, 1 failed" in out
