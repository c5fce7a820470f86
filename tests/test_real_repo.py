"""The fork-server worker in real runs, through the command line (``python -m gradcheck``).

- Verdicts do not depend on the files checked before them: the fixture
  tests/fixtures/neighbours (see its README.md) holds files that would change a neighbour's
  verdict if a worker child did not put the process back between files (user modules,
  same-named packages, a leaked run_functions_eagerly, a changed working directory). Each
  activation's verdict must be the same as when its file is checked alone, in the folder's
  order, in the reverse order and with -j 2.
- A gradcheck.py, random.py, secrets.py, typing.py or logging.py next to the activations
  changes nothing.
- SIGTERM, SIGHUP and SIGINT stop a run with the results so far and exit 143/129/130;
  neither they nor a SIGKILL of the command leave a process behind, not even one the
  user's code started in a session of its own.
- A run over many modules leaves nothing in $TMPDIR and no __pycache__ next to them.

Each gradcheck start imports TensorFlow (seconds), so each run happens once (module-scoped
fixtures) and the tests read its JSON report. Runs work on copies in temporary folders with
a ``.git`` marker, so no pyproject.toml outside them is picked up.
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "neighbours"
FAST = ("--samples", "256", "--no-stability")
CLI = (sys.executable, "-m", "gradcheck")
RUN_TIMEOUT = 600
# Alone runs at once: each is a TensorFlow import, a server and two forked children.
PARALLEL_RUNS = 2

# Every activation of the fixture, in the order a folder target checks them, with its verdict.
# That order is the one in which the leaks would show: chdir_activation.py first (a leaked
# working directory breaks every relative path after it), debug_activation.py before
# graph_activation.py (a leaked run_functions_eagerly makes the graph check pass), proj_a
# before proj_b (a leaked `helpers` or `mathx` is project A's). The reverse order turns the
# last two around.
EXPECTED = {
    "neighbours/chdir_activation.py::swish_elsewhere": "pass",
    "neighbours/debug_activation.py::softplus_debugged": "pass",
    "neighbours/graph_activation.py::eager_only_tanh": "fail",
    "neighbours/proj_a/pkgs/mathx/mathx_activation.py::scaled_softsign": "pass",
    "neighbours/proj_a/scale_activation.py::scaled_tanh": "pass",
    "neighbours/proj_b/pkgs/mathx/mathx_activation.py::scaled_softsign": "pass",
    "neighbours/proj_b/scale_activation.py::scaled_tanh": "pass",
}
GRAPH = "neighbours/graph_activation.py::eager_only_tanh"
FILES = list(dict.fromkeys(i.split("::")[0] for i in EXPECTED))

# The marker of the processes of one run (inherited by the worker and whatever the user's
# code starts): the leftover checks look at this run only, not at other gradcheck runs on
# the machine.
RUN_MARK = "GRADCHECK_TEST_RUN"


def env_for(**changes) -> dict:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def gradcheck(*args: str, cwd: Path, cli=CLI, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*cli, *args], cwd=cwd, env=env or env_for(), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)


def doc_of(proc: subprocess.CompletedProcess) -> dict:
    assert proc.stdout.lstrip().startswith("{"), proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def verdicts(doc: dict) -> dict:
    """id -> (status, ((check, status), ...)) of every result, in the report's order."""
    return {r["id"]: (r["status"], tuple((c["name"], c["status"]) for c in r["checks"])) for r in doc["results"]}


def failed_checks(doc: dict, rid: str) -> list[str]:
    result = next(r for r in doc["results"] if r["id"] == rid)
    return [c["name"] for c in result["checks"] if c["status"] == "fail"]


# -- 1. verdicts independent of neighbours, order and -j ---------------------------------------
@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """The parent of a copy of the fixture (``neighbours/``), and the repository root."""
    parent = tmp_path_factory.mktemp("repo")
    shutil.copytree(FIXTURE, parent / "neighbours", ignore=shutil.ignore_patterns("__pycache__"))
    (parent / ".git").mkdir()
    return parent


def json_run(repo: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    proc = gradcheck("--format", "json", *FAST, *args, cwd=repo)
    return proc, doc_of(proc)


@pytest.fixture(scope="module")
def alone(repo) -> dict:
    """file -> (process, report) of checking that file by itself."""
    with concurrent.futures.ThreadPoolExecutor(PARALLEL_RUNS) as pool:
        runs = {file: pool.submit(json_run, repo, file) for file in FILES}
        return {file: run.result() for file, run in runs.items()}


@pytest.fixture(scope="module")
def alone_verdicts(alone) -> dict:
    found = {}
    for _, doc in alone.values():
        found.update(verdicts(doc))
    return found


@pytest.fixture(scope="module")
def folder_run(repo):
    return json_run(repo, "neighbours")


@pytest.fixture(scope="module")
def reversed_run(repo):
    return json_run(repo, *reversed(FILES))


@pytest.fixture(scope="module")
def parallel_run(repo):
    return json_run(repo, "-j", "2", "neighbours")


def test_each_file_alone_gets_the_expected_verdicts(alone):
    for file, (proc, doc) in alone.items():
        assert doc["errors"] == [], doc["errors"]
        assert {r["id"]: r["status"] for r in doc["results"]} == {
            i: s for i, s in EXPECTED.items() if i.startswith(file + "::")}
        assert proc.returncode == (1 if GRAPH.startswith(file + "::") else 0), proc.stderr
    _, graph_doc = alone["neighbours/graph_activation.py"]
    assert failed_checks(graph_doc, GRAPH) == ["graph"]


def assert_same_as_alone(run, alone_verdicts, order):
    proc, doc = run
    assert doc["errors"] == [], doc["errors"]
    assert list(verdicts(doc)) == order
    assert {i: v[0] for i, v in verdicts(doc).items()} == EXPECTED
    assert verdicts(doc) == {i: alone_verdicts[i] for i in order}
    assert failed_checks(doc, GRAPH) == ["graph"]
    assert proc.returncode == 1, proc.stderr


def test_folder_verdicts_are_those_of_each_file_alone(folder_run, alone_verdicts):
    assert_same_as_alone(folder_run, alone_verdicts, list(EXPECTED))


def test_reversed_order_verdicts_are_those_of_each_file_alone(reversed_run, alone_verdicts):
    assert_same_as_alone(reversed_run, alone_verdicts, list(reversed(EXPECTED)))


def test_two_workers_verdicts_are_those_of_each_file_alone(parallel_run, alone_verdicts):
    assert_same_as_alone(parallel_run, alone_verdicts, list(EXPECTED))
    assert parallel_run[1]["settings"]["jobs"] == 2


# -- 2. files named like gradcheck's or the standard library's modules ------------------------
SHADOWS = {
    "gradcheck.py": 'raise SystemExit("shadowed: the user\'s gradcheck.py was imported")\n',
    "random.py": 'raise ImportError("shadowed: the user\'s random.py was imported")\n',
    "secrets.py": 'raise ImportError("shadowed: the user\'s secrets.py was imported")\n',
    "typing.py": 'raise ImportError("shadowed: the user\'s typing.py was imported")\n',
    "logging.py": 'raise ImportError("shadowed: the user\'s logging.py was imported")\n',
}
SHADOWED_ACTIVATIONS = '''\
"""Activations next to files named like gradcheck's and the standard library's modules."""

import keras
import tensorflow as tf


def mish(x):
    return x * tf.tanh(tf.math.softplus(x))


@tf.custom_gradient
def softsign_custom(x):
    y = x / (1.0 + tf.abs(x))

    def grad(dy):
        return dy / tf.square(1.0 + tf.abs(x))

    return y, grad


@tf.custom_gradient
def tanh_wrong(x):
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y)

    return y, grad


class ScaledTanh(keras.layers.Layer):
    def call(self, x):
        return 2.0 * tf.tanh(x)
'''
# Python's own `-m` puts the working directory first on sys.path, so `python -m gradcheck`
# run from a folder holding gradcheck.py imports that file before gradcheck is even started;
# the `gradcheck` console script does not (its sys.path[0] is its bin folder). -P (3.11+)
# runs the command the way the console script does. The worker is started by gradcheck
# itself (`python -c`, the working directory first), which is what this test is about.
if sys.version_info >= (3, 11):
    SAFE_CLI = (sys.executable, "-P", "-m", "gradcheck")
else:
    SAFE_CLI = (sys.executable, "-c", "import sys, runpy; del sys.path[0]; "
                "runpy.run_module('gradcheck', run_name='__main__', alter_sys=True)")


def without_durations(results: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "duration"} for r in results]


@pytest.fixture(scope="module")
def shadow_runs(tmp_path_factory):
    """(process, report) of `gradcheck .` in a folder with the shadowing files, and in a copy
    of it without them."""
    root = tmp_path_factory.mktemp("shadows")
    (root / ".git").mkdir()
    shadowed, plain = root / "shadowed", root / "plain"
    shadowed.mkdir()
    (shadowed / "model_activations.py").write_text(SHADOWED_ACTIVATIONS)
    shutil.copytree(shadowed, plain)
    for name, source in SHADOWS.items():
        (shadowed / name).write_text(source)
    runs = {}
    for folder in (shadowed, plain):
        proc = gradcheck("--format", "json", *FAST, ".", cwd=folder, cli=SAFE_CLI)
        runs[folder.name] = (proc, doc_of(proc))
    return runs


def test_shadowing_files_change_nothing(shadow_runs):
    (proc, doc), (plain_proc, plain_doc) = shadow_runs["shadowed"], shadow_runs["plain"]
    assert "shadowed" not in proc.stdout + proc.stderr
    assert plain_doc["errors"] == [] and [(r["name"], r["status"]) for r in plain_doc["results"]] == [
        ("mish", "pass"), ("softsign_custom", "pass"), ("tanh_wrong", "fail"), ("ScaledTanh", "pass")]
    assert without_durations(doc["results"]) == without_durations(plain_doc["results"])
    assert doc["errors"] == plain_doc["errors"] == []
    assert doc["not_checked"] == plain_doc["not_checked"]
    assert doc["summary"] == plain_doc["summary"]
    assert proc.returncode == plain_proc.returncode == 1, proc.stderr
    # the shadowing files were passed over, never imported
    assert {n["file"] for n in doc["not_imported"]} == set(SHADOWS)


# -- 3. signals: the results so far, and no process left behind -------------------------------
SPIN = '''\
"""One activation, then one that starts a process of its own and spins forever."""

import os
import subprocess
import sys

import tensorflow as tf


def first(x):
    return tf.tanh(x)


def spin(x):
    if not os.path.exists({marker!r}):
        # its own session, out of the worker's process groups; it inherits (keeps open) the
        # worker's stderr
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                                 start_new_session=True)
        with open({pid_file!r} + ".tmp", "w") as f:
            f.write(str(child.pid))
        os.replace({pid_file!r} + ".tmp", {pid_file!r})
        with open({marker!r}, "w") as f:
            f.write("spinning")
    while True:
        pass
'''
START_DEADLINE = 180.0  # TensorFlow's import on a busy machine, then the first activation
EXIT_DEADLINE = 60.0
GONE_WITHIN = 5.0


def _state(pid: int) -> str | None:
    """The process state letter, None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z", "X")  # a zombie is dead, waiting for its reaper


def _marked(mark: str) -> dict[int, str]:
    """pid -> command line of the live processes of the run marked ``mark``."""
    needle = f"{RUN_MARK}={mark}".encode()
    found = {}
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone, or not ours
            continue
        if needle in env and _alive(int(p)):
            found[int(p)] = cmd
    return found


def _leftovers(mark: str, child: int) -> dict[int, str]:
    """What is still alive of the run after GONE_WITHIN seconds: any of its processes (the
    command, the worker's server and children, what the user's code started) and the
    recorded child."""
    deadline = time.monotonic() + GONE_WITHIN
    while True:
        left = _marked(mark)
        if _alive(child):
            left.setdefault(child, "the activation's child")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _kill_marked(mark: str) -> None:
    for pid in _marked(mark):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _default_sigint() -> None:
    # a test run started in the background may ignore SIGINT, and an ignored SIGINT stays
    # ignored across exec: the command must get Python's KeyboardInterrupt, as in a terminal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _spin_run(tmp_path: Path, sig: int) -> tuple[int, str, str, dict[int, str]]:
    """Start gradcheck on the spinning file, send ``sig`` once it spins; returns its exit
    status, stdout, stderr and the leftovers."""
    (tmp_path / ".git").mkdir()
    marker, pid_file = tmp_path / "spinning", tmp_path / "child.pid"
    (tmp_path / "spin_activation.py").write_text(SPIN.format(marker=str(marker), pid_file=str(pid_file)))
    mark = uuid.uuid4().hex
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen([*CLI, "--format", "json", *FAST, "spin_activation.py"], cwd=tmp_path,
                                env=env_for(**{RUN_MARK: mark}), stdout=stdout, stderr=stderr,
                                preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not marker.exists():
            assert proc.poll() is None, f"gradcheck exited {proc.returncode} early: {err.read_text()}"
            assert time.monotonic() < deadline, f"the activation never spun: {err.read_text()}"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert _alive(child)
        proc.send_signal(sig)
        status = proc.wait(timeout=EXIT_DEADLINE)
        return status, out.read_text(), err.read_text(), _leftovers(mark, child)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _kill_marked(mark)  # a failing run must not leave a spinning worker behind


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@linux_only
@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_signal_stops_with_the_results_so_far_and_leaves_nothing(tmp_path, sig, status):
    code, stdout, stderr, left = _spin_run(tmp_path, sig)
    assert code == status, stderr
    doc = json.loads(stdout)
    assert doc["interrupted"] == signal.Signals(sig).name
    results = {r["name"]: r["status"] for r in doc["results"]}
    assert results.get("first") == "pass", doc["results"]
    assert results.get("spin") != "pass"
    assert left == {}, left


@linux_only
def test_sigkill_of_the_command_leaves_nothing(tmp_path):
    code, _, _, left = _spin_run(tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert left == {}, left


# -- 4. a run over many modules leaves nothing behind -----------------------------------------
def _bench_many_files():
    path = ROOT / "benchmarks" / "bench_many_files.py"
    spec = importlib.util.spec_from_file_location("bench_many_files", path)
    module = importlib.util.module_from_spec(spec)
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # no __pycache__ in benchmarks/
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = dont_write
    return module


def test_many_modules_leave_nothing_in_tmpdir_or_next_to_them(tmp_path):
    (tmp_path / ".git").mkdir()
    modules, tmp = tmp_path / "modules", tmp_path / "tmp"
    modules.mkdir()
    tmp.mkdir()
    _bench_many_files().write_modules(modules, 20)
    before = sorted(p.name for p in modules.iterdir())
    assert len(before) == 20
    proc = gradcheck("--format", "json", *FAST, "modules", cwd=tmp_path,
                     env=env_for(TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE=None))
    doc = doc_of(proc)
    assert doc["errors"] == [] and len(doc["results"]) == 20
    assert not [r["id"] for r in doc["results"] if r["status"] == "error"]
    assert sorted(p.relative_to(tmp) for p in tmp.rglob("*")) == []
    assert sorted(p.relative_to(modules) for p in modules.rglob("*")) == sorted(Path(n) for n in before)
    assert not list(modules.rglob("__pycache__"))
