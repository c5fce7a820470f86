"""The supervisor survives user code that hangs, exits, segfaults, prints or fails to import.

The misbehaviour is real: the test modules below do it when the core calls them, inside a
real worker process. Each worker start imports TensorFlow (a few seconds), so the big run
happens once per module (fixture) and the tests only read its report.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import textwrap
import time

import pytest

from gradcheck.runner import run
from gradcheck.settings import Settings
from gradcheck.targets import Job

PYTHON = sys.executable
# Short for the misbehaving ones; the well-behaved ones get more via the marker so a slow
# machine never turns them into timeouts.
SETTINGS = Settings(samples=32, timeout=3, stability=False)

MODULES = {
    "misbehave.py": """
        import subprocess, sys
        import tensorflow as tf
        import gradcheck

        @gradcheck.options(timeout=120)
        def first(x):
            return tf.tanh(x)

        def hangs(x):
            # A child in the worker's process group must die with it.
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
            open({pid_file!r}, "w").write(str(child.pid))
            while True:
                pass

        @gradcheck.options(timeout=120)
        def after_hang(x):
            return x * x

        def raises(x):
            raise RuntimeError("boom")

        def skipped_by_override(x):
            return x

        @gradcheck.options(samples=0)
        def bad_options(x):
            return x
    """,
    "crashes.py": """
        import os, signal
        import gradcheck

        def exits(x):
            os._exit(3)

        def segfaults(x):
            os.kill(os.getpid(), signal.SIGSEGV)

        @gradcheck.options(timeout=120)
        def survivor(x):
            return 2.0 * x
    """,
    "broken.py": """
        import this_module_does_not_exist
    """,
    "import_hangs.py": """
        while True:
            pass
    """,
    "import_crashes.py": """
        import os
        os._exit(4)
    """,
    "noisy.py": """
        import os, sys
        import gradcheck
        print("noisy import")
        print('{{"ev": "result", "result": "fake from print"}}')
        os.write(1, b'{{"ev": "loaded", "names": ["fake"]}}\\n')

        @gradcheck.options(timeout=120)
        def chatty(x):
            print("noisy check")
            sys.__stdout__.write("noisy via __stdout__\\n")
            sys.__stdout__.flush()
            os.write(1, b'{{"ev": "result", "result": "fake from fd 1"}}\\n')
            return 3.0 * x
    """,
}


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    root = tmp_path_factory.mktemp("isolation")
    pid_file = str(root / "child.pid")
    for name, source in MODULES.items():
        (root / name).write_text(textwrap.dedent(source.format(pid_file=pid_file)))
    return root


def _jobs(root):
    f = lambda name: str(root / name)  # noqa: E731
    return [
        Job(f("misbehave.py")),
        Job(f("broken.py")),
        Job(f("crashes.py")),
        Job(f("import_hangs.py")),
        Job(f("noisy.py")),
        Job(f("import_crashes.py")),
        Job(f("crashes.py"), ("survivor", "no_such_name")),
    ]


OVERRIDES = {"*::skipped_by_override": {"skip": "flaky on CI"}}


@pytest.fixture(scope="module")
def serial(modules):
    events = []
    report = run(_jobs(modules), SETTINGS, jobs_n=1, overrides=OVERRIDES, python=PYTHON,
                 on_event=lambda kind, payload: events.append((kind, payload)))
    return report, events


def _by_id(report, root, file, name):
    """The first result for ``file::name`` (crashes.py::survivor is asked for twice)."""
    matches = [r for r in report.results if r.id == f"{root / file}::{name}"]
    assert matches, [r.id for r in report.results]
    return matches[0]


def _worker_children():
    """Our child processes running the worker (alive or zombie)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"gradcheck.worker" in cmd:
            found.append(int(pid))
    return found


def _is_gone(pid: int) -> bool:
    """Whether ``pid`` is dead; SIGKILL lands asynchronously, so allow it a moment."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "ZX":  # dead, waiting for its reaper
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_hang_times_out_and_the_file_goes_on(serial, modules):
    report, _ = serial
    hung = _by_id(report, modules, "misbehave.py", "hangs")
    assert (hung.status, hung.message) == ("error", "timed out after 3 s")
    assert hung.kind == "function"
    # Checked before and after the hang, by the first and by a fresh worker.
    assert _by_id(report, modules, "misbehave.py", "first").status in ("pass", "warn")
    assert _by_id(report, modules, "misbehave.py", "after_hang").status in ("pass", "warn")


def test_hang_takes_its_children_with_it(serial, modules):
    pid = int((modules / "child.pid").read_text())
    assert _is_gone(pid)


def test_exit_and_segfault_are_errors_naming_the_cause(serial, modules):
    report, _ = serial
    exited = _by_id(report, modules, "crashes.py", "exits")
    assert exited.status == "error" and "exit status 3" in exited.message
    segv = _by_id(report, modules, "crashes.py", "segfaults")
    assert segv.status == "error" and "SIGSEGV" in segv.message and "11" in segv.message
    assert _by_id(report, modules, "crashes.py", "survivor").status in ("pass", "warn")


def test_other_errors_become_results(serial, modules):
    report, _ = serial
    assert _by_id(report, modules, "misbehave.py", "raises").status == "error"
    skipped = _by_id(report, modules, "misbehave.py", "skipped_by_override")
    assert (skipped.status, skipped.message) == ("skip", "flaky on CI")
    bad = _by_id(report, modules, "misbehave.py", "bad_options")
    assert bad.status == "error" and "samples" in bad.message
    # a name that names nothing is the user's mistake (exit 2), not a result
    assert not any(r.name == "no_such_name" for r in report.results)
    assert report.usage_errors == (f"'{modules / 'crashes.py'}::no_such_name' names nothing in "
                                   f"{modules / 'crashes.py'}; it defines exits, segfaults, survivor",)
    assert report.exit_code == 2


def test_load_failures_are_load_errors_and_the_run_goes_on(serial, modules):
    report, events = serial
    errors = {os.path.basename(e.file): e.message for e in report.errors}
    assert set(errors) == {"broken.py", "import_hangs.py", "import_crashes.py"}
    assert "this_module_does_not_exist" in errors["broken.py"]
    assert errors["import_hangs.py"] == "timed out after 3 s while importing"
    assert errors["import_crashes.py"] == "crashed while importing: exit status 4"
    assert dataclasses.replace(report, usage_errors=()).exit_code == 1  # (2 with crashes.py::no_such_name)
    # Files after each failed one were still checked.
    assert _by_id(report, modules, "noisy.py", "chatty").status in ("pass", "warn")
    assert [p for k, p in events if k == "load_error"] == list(report.errors)


def test_prints_do_not_corrupt_the_protocol(serial, modules):
    report, _ = serial
    chatty = _by_id(report, modules, "noisy.py", "chatty")
    assert chatty.status in ("pass", "warn"), chatty.message
    assert not any("fake" in r.id for r in report.results)


def test_order_events_and_report_fields(serial, modules):
    report, events = serial
    names = {
        "misbehave.py": ["first", "hangs", "after_hang", "raises", "skipped_by_override", "bad_options"],
        "crashes.py": ["exits", "segfaults", "survivor"],
        "noisy.py": ["chatty"],
    }
    expected = [f"{modules / file}::{n}" for file in ("misbehave.py", "crashes.py", "noisy.py") for n in names[file]]
    expected += [f"{modules / 'crashes.py'}::survivor"]
    assert [r.id for r in report.results] == expected
    assert [p for k, p in events if k == "finished"] == list(report.results)
    assert [p.id for k, p in events if k == "finished"] == [p for k, p in events if k == "started"]
    assert ("discovered", (str(modules / "misbehave.py"), 6)) in events
    assert report.settings["jobs"] == 1 and report.settings["timeout"] == 3
    assert report.timings[0][0] == "tensorflow import"
    assert f"load {modules / 'noisy.py'}" in dict(report.timings)
    assert _worker_children() == []  # every worker reaped


def test_parallel_run_same_order_and_quiet(serial, modules, capfd):
    report, _ = serial
    capfd.readouterr()
    parallel = run(_jobs(modules), SETTINGS, jobs_n=2, overrides=OVERRIDES, python=PYTHON)
    out, err = capfd.readouterr()
    assert [(r.id, r.status) for r in parallel.results] == [(r.id, r.status) for r in report.results]
    assert [e.file for e in parallel.errors] == [e.file for e in report.errors]
    assert parallel.settings["jobs"] == 2
    # Neither TensorFlow's banners nor the user's prints reach our stdout/stderr.
    assert (out, err) == ("", "")
    assert _worker_children() == []


def test_show_worker_output_forwards_prefixed_lines(modules, capfd):
    capfd.readouterr()
    report = run([Job(str(modules / "noisy.py"))], SETTINGS, show_worker_output=True, python=PYTHON)
    out, err = capfd.readouterr()
    assert [r.status for r in report.results] in (["pass"], ["warn"])
    assert out == ""
    assert "[worker 1] noisy import\n" in err
    assert "[worker 1] noisy check\n" in err
    assert "[worker 1] noisy via __stdout__\n" in err


# -- supervisor-only cases: a fake worker executable, no TensorFlow, fast -----------------

FAKE_WORKER = """\
#!{python}
# Speaks the worker protocol but hangs on every check, with a child in its group.
import json, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
open({pid_file!r}, "a").write(f"{{child.pid}}\\n")
print(json.dumps({{"ev": "ready", "tf_import_s": 0.0}}), flush=True)
for line in sys.stdin:
    msg = json.loads(line)
    if msg["op"] == "load":
        print(json.dumps({{"ev": "loaded", "file": msg["file"], "names": ["a", "b"], "load_s": 0.0}}), flush=True)
    elif msg["op"] == "check":
        time.sleep(300)
"""


def _executable(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def test_ctrl_c_kills_workers_and_their_children(tmp_path):
    pid_file = tmp_path / "child.pid"
    fake = _executable(tmp_path / "fake_worker", FAKE_WORKER.format(python=sys.executable, pid_file=str(pid_file)))

    def on_event(kind, payload):
        if kind == "started":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run([Job("x.py"), Job("y.py")], SETTINGS, jobs_n=2, on_event=on_event, python=fake)
    assert _worker_children() == [] and not [
        pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if _parent(pid) == os.getpid()
    ]
    pids = [int(p) for p in pid_file.read_text().split()]
    assert pids and all(_is_gone(p) for p in pids)


def _parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def test_a_worker_that_cannot_start_is_a_load_error_per_file(tmp_path):
    broken = _executable(tmp_path / "no_tf", "#!/bin/sh\necho 'ModuleNotFoundError: no tensorflow' >&2\nexit 1\n")
    report = run([Job("a.py"), Job("b.py")], SETTINGS, python=broken)
    assert report.results == ()
    assert [(e.file, e.message) for e in report.errors] == [
        (f, "worker failed to start: exit status 1 (ModuleNotFoundError: no tensorflow)") for f in ("a.py", "b.py")
    ]
    assert "no tensorflow" in report.errors[0].detail


PIPELINE_MISSING = """\
#!{python}
# The real worker, with a stand-in for TensorFlow (so no import to wait for) and gradcheck's
# pipeline made unimportable: its preload must fail, loudly.
import runpy, sys, types
sys.modules["tensorflow"] = types.ModuleType("tensorflow")
sys.modules["gradcheck.verify.pipeline"] = None
runpy.run_module("gradcheck.worker", run_name="__main__")
"""


def test_a_failed_preload_is_a_start_failure_per_file(tmp_path):
    fake = _executable(tmp_path / "no_pipeline", PIPELINE_MISSING.format(python=sys.executable))
    report = run([Job("a.py"), Job("b.py")], SETTINGS, python=fake)
    assert report.results == ()
    why = ("worker failed to start: cannot import gradcheck.verify.pipeline: "
           "ModuleNotFoundError: import of gradcheck.verify.pipeline halted; None in sys.modules")
    assert [(e.file, e.message) for e in report.errors] == [("a.py", why), ("b.py", why)]
    assert "gradcheck.verify.pipeline" in report.errors[0].detail
    assert _worker_children() == []
