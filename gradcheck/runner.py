"""The supervisor: runs checks in worker processes so that user code can never take us down.

Each of up to ``jobs_n`` slots drives one ``python -m gradcheck.worker`` process (protocol
in :mod:`gradcheck.worker`) through the jobs it pulls from a shared queue. A hang past the
timeout or a crash costs that one activation an ``error`` result; a fresh worker reloads
the file and goes on with the rest. No TensorFlow here: importing this module is cheap.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .discover import Kind
from .results import ActivationResult, LoadError, Report
from .settings import Settings

READY_TIMEOUT = 120.0  # importing TensorFlow on a cold, busy machine
GRACE = 1.0  # on top of a timeout: JSON, pipes, scheduling
EXIT_TIMEOUT = 5.0
_EOF = object()


class _Died(Exception):
    """The worker exited or closed its protocol channel."""


class _TimedOut(Exception):
    pass


class _Stopped(Exception):
    """The run is being torn down (Ctrl-C or an error elsewhere)."""


def _fmt_s(seconds: float) -> str:
    return f"{seconds:g} s"


def _describe_exit(rc: int | None) -> str:
    if rc is None:
        return "closed its output"
    if rc < 0:
        try:
            return f"killed by signal {signal.Signals(-rc).name} ({-rc})"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"


# glibc malloc settings for the worker (ignored by other C libraries). A million-point check
# allocates and frees dozens of 8 MB arrays (NumPy and TensorFlow alike); by default each is a
# fresh mmap whose first touch page-faults, which cost more than the arithmetic on it. Keeping
# freed memory in the heap halves the time of a check at 1e6 points (benchmarks/README.md).
# A user's own MALLOC_* settings win.
ALLOCATOR_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),  # arrays up to 4M float64 come from the heap
    "MALLOC_TRIM_THRESHOLD_": str(1 << 30),  # ... and go back to it, not to the OS
    "MALLOC_TOP_PAD_": str(64 << 20),  # grow the heap in steps of 64 MB, not page by page
}


def _worker_env() -> dict:
    env = {**ALLOCATOR_ENV, **os.environ}
    # Make sure the worker imports this very gradcheck, even from an uninstalled source tree.
    root = str(Path(__file__).resolve().parent.parent)
    if Path(root).name not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


class _WorkerProcess:
    """One worker process and the threads draining its pipes."""

    def __init__(self, number: int, python: str, show_output: bool):
        self.number = number
        self.show_output = show_output
        self._reap_lock = threading.Lock()
        self.lines: queue.Queue = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self.proc = subprocess.Popen(
            [python, "-m", "gradcheck.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", errors="replace", bufsize=1,
            start_new_session=True,  # its own process group: one killpg takes user children too
            env=_worker_env(),
        )
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _read_stdout(self):
        try:
            for line in self.proc.stdout:
                self.lines.put(line)
        except (OSError, ValueError):
            pass
        self.lines.put(_EOF)

    def _read_stderr(self):
        try:
            for line in self.proc.stderr:
                self.stderr_tail.append(line.rstrip("\n"))
                if self.show_output:
                    sys.stderr.write(f"[worker {self.number}] {line}")
                    sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def send(self, msg: dict) -> None:
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise _Died from exc

    def receive(self, timeout: float) -> dict:
        """The next protocol message; raises _TimedOut or _Died."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _TimedOut
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                raise _TimedOut from None
            if line is _EOF:
                raise _Died
            try:
                return json.loads(line)
            except ValueError:
                continue  # cannot happen with the private channel; never fatal

    def _exited(self, timeout: float) -> bool:
        """Wait for the worker to exit *without reaping it*, so its group id stays ours."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG):
                    return True
            except ChildProcessError:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def _kill_group_and_reap(self) -> int:
        with self._reap_lock:  # threads race here on Ctrl-C; killpg only before reaping
            if self.proc.returncode is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)  # also user children left behind
                except (ProcessLookupError, PermissionError):
                    pass
            return self.proc.wait()

    def death(self) -> str:
        """Why the worker is gone; reaps it and whatever it left in its group."""
        exited = self._exited(EXIT_TIMEOUT)
        rc = self._kill_group_and_reap()
        return _describe_exit(rc if exited else None)

    def last_words(self) -> str | None:
        self._threads[1].join(timeout=1.0)  # let the stderr drain catch up after a death
        return "\n".join(self.stderr_tail) or None

    def kill(self) -> None:
        """Kill the whole process group and reap the worker. Safe to call more than once."""
        self._kill_group_and_reap()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        for t in self._threads:
            t.join(timeout=1.0)

    def close(self) -> None:
        """Ask politely, then make sure (the group may hold children the user started)."""
        try:
            self.send({"op": "exit"})
            self.receive(EXIT_TIMEOUT)  # returns at EOF, i.e. when the worker exits
        except (_Died, _TimedOut):
            pass
        self.kill()


class _Run:
    def __init__(self, jobs, settings: Settings, jobs_n, overrides, plot_dir, show_output, python,
                 only_tf_modules=False):
        self.jobs = list(jobs)
        self.only_tf_modules = bool(only_tf_modules)
        self.settings = settings
        self.jobs_requested = jobs_n
        self.jobs_n = max(1, min(int(jobs_n), len(self.jobs) or 1))
        self.overrides = overrides or {}
        self.plot_dir = None if plot_dir is None else str(plot_dir)
        self.show_output = show_output
        self.python = python
        self.todo: queue.Queue = queue.Queue()
        for item in enumerate(self.jobs):
            self.todo.put(item)
        self.events: queue.Queue = queue.Queue()  # handed to on_event on the caller's thread
        self.results: dict[int, list[ActivationResult]] = {i: [] for i in range(len(self.jobs))}
        self.errors: dict[int, LoadError] = {}
        self.load_times: dict[int, float] = {}
        self.tf_import_s: float | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.live: set[_WorkerProcess] = set()
        self.started = 0
        self.failure: BaseException | None = None

    # -- worker lifecycle -----------------------------------------------------------------
    def start_worker(self) -> _WorkerProcess:
        with self.lock:
            if self.stop.is_set():
                raise _Stopped
            self.started += 1
            w = _WorkerProcess(self.started, self.python, self.show_output)
            self.live.add(w)
        try:
            msg = w.receive(READY_TIMEOUT)
        except _TimedOut:
            self.discard(w)
            raise _StartFailed(f"timed out after {_fmt_s(READY_TIMEOUT)} while importing tensorflow", None)
        except _Died:
            why = w.death()
            words = w.last_words()
            self.discard(w)
            last = words.splitlines()[-1].strip() if words else ""
            raise _StartFailed(f"worker failed to start: {why}" + (f" ({last})" if last else ""), words)
        with self.lock:
            if self.tf_import_s is None:
                self.tf_import_s = msg.get("tf_import_s")
        return w

    def discard(self, w: _WorkerProcess | None) -> None:
        if w is None:
            return
        w.kill()
        with self.lock:
            self.live.discard(w)

    def kill_all(self) -> None:
        self.stop.set()
        with self.lock:
            workers = list(self.live)
        for w in workers:
            w.kill()

    # -- one slot -----------------------------------------------------------------------
    def slot(self) -> None:
        w = None
        try:
            while not self.stop.is_set():
                try:
                    index, job = self.todo.get_nowait()
                except queue.Empty:
                    break
                w = self.run_job(w, index, job)
            if w is not None:
                w.close()
        except _Stopped:
            pass
        except BaseException as exc:  # a bug here must not hang the run: surface it
            self.failure = self.failure or exc
            self.kill_all()
        finally:
            self.discard(w)

    def load_error(self, index, file, message, detail=None) -> None:
        error = LoadError(file=file, message=message, detail=detail)
        self.errors[index] = error
        self.events.put(("load_error", error))

    def run_job(self, w, index, job):
        """Check every activation of one job; returns the (live or None) worker for the next job."""
        file = job.file
        pending: list[str] | None = None if job.names is None else list(job.names)
        info: dict[str, dict] = {}
        first = True
        while first or pending:
            if w is None:
                try:
                    w = self.start_worker()
                except _StartFailed as exc:
                    if first:
                        self.load_error(index, file, exc.message, exc.detail)
                    else:
                        self.give_up(index, file, pending, info, exc.message)
                    return None
            load = {"op": "load", "file": file, "names": pending, "settings": self.settings.to_dict(),
                    "overrides": self.overrides, "plot_dir": self.plot_dir,
                    "only_tf_modules": self.only_tf_modules}
            try:
                w.send(load)
                msg = w.receive(self.settings.timeout + GRACE)
            except _TimedOut:
                self.discard(w)
                why = f"timed out after {_fmt_s(self.settings.timeout)} while importing"
                self._load_failed(index, file, first, pending, info, why, None)
                return None
            except _Died:
                why = f"crashed while importing: {w.death()}"
                words = w.last_words()
                self.discard(w)
                self._load_failed(index, file, first, pending, info, why, words)
                return None
            if msg.get("ev") == "load_error":
                error = LoadError.from_dict(msg["error"])
                self._load_failed(index, file, first, pending, info, error.message, error.detail)
                return w
            if first:
                pending = list(msg["names"])
                self.load_times[index] = msg.get("load_s") or 0.0
                self.events.put(("discovered", (file, len(pending))))
                first = False
            info.update({a["name"]: a for a in msg.get("activations") or ()})
            w = self.check_pending(w, index, file, pending, info)
        return w

    def _load_failed(self, index, file, first, pending, info, message, detail):
        if first:
            self.load_error(index, file, message, detail)
        else:  # it loaded before a crash; keep what we have and say why the rest is missing
            self.give_up(index, file, pending, info, f"not checked: reloading after a worker crash failed: {message}")

    def give_up(self, index, file, pending, info, message) -> None:
        for name in list(pending or ()):
            self.record(index, self.error_result(file, name, info, message))
        if pending:
            pending.clear()

    def error_result(self, file, name, info, message) -> ActivationResult:
        kind = (info.get(name) or {}).get("kind") or Kind.FUNCTION
        return ActivationResult.error(file, name, kind, message)

    def record(self, index, result: ActivationResult) -> None:
        self.results[index].append(result)
        self.events.put(("finished", result))

    def check_pending(self, w, index, file, pending, info):
        """Check names from the front of ``pending``; returns the worker, or None if it had to go."""
        while pending:
            if self.stop.is_set():
                raise _Stopped
            name = pending[0]
            timeout = (info.get(name) or {}).get("timeout") or self.settings.timeout
            self.events.put(("started", f"{file}::{name}"))
            try:
                w.send({"op": "check", "name": name})
                msg = w.receive(timeout + GRACE)
                while msg.get("ev") != "result":  # tolerate events we do not know
                    msg = w.receive(timeout + GRACE)
            except _TimedOut:
                self.discard(w)
                pending.pop(0)
                self.record(index, self.error_result(file, name, info, f"timed out after {_fmt_s(timeout)}"))
                return None
            except _Died:
                why = w.death()
                self.discard(w)
                if self.stop.is_set():
                    raise _Stopped from None
                pending.pop(0)
                self.record(index, self.error_result(file, name, info, f"worker crashed: {why}"))
                return None
            pending.pop(0)
            self.record(index, ActivationResult.from_dict(msg["result"]))
        return w

    # -- driver -------------------------------------------------------------------------
    def __call__(self, on_event) -> Report:
        threads = [threading.Thread(target=self.slot, daemon=True, name=f"gradcheck-slot-{i}")
                   for i in range(self.jobs_n)]
        try:
            for t in threads:
                t.start()
            while True:
                alive = any(t.is_alive() for t in threads)
                try:
                    kind, payload = self.events.get(timeout=0.1)
                except queue.Empty:
                    if not alive:
                        break
                    continue
                if on_event is not None:
                    on_event(kind, payload)
        except BaseException:  # Ctrl-C, or on_event raised
            self.kill_all()
            for t in threads:
                t.join(timeout=EXIT_TIMEOUT)
            raise
        if self.failure is not None:
            raise self.failure
        return self.report()

    def report(self) -> Report:
        order = range(len(self.jobs))
        timings = []
        if self.tf_import_s is not None:
            timings.append(("tensorflow import", self.tf_import_s))
        timings += [(f"load {self.jobs[i].file}", self.load_times[i]) for i in order if i in self.load_times]
        return Report(
            results=tuple(r for i in order for r in self.results[i]),
            errors=tuple(self.errors[i] for i in order if i in self.errors),
            settings={**self.settings.to_dict(), "jobs": self.jobs_requested},
            timings=tuple(timings),
        )


class _StartFailed(Exception):
    def __init__(self, message: str, detail: str | None):
        super().__init__(message)
        self.message, self.detail = message, detail


def run(jobs, settings: Settings, *, jobs_n: int = 1, overrides: dict | None = None, plot_dir=None,
        on_event=None, show_worker_output: bool = False, python: str = sys.executable,
        only_tf_modules: bool = False) -> Report:
    """Check every activation of ``jobs`` (``targets.Job``: ``file``, ``names``) in worker processes.

    ``overrides`` maps a glob (matched against the activation id or name) to settings;
    ``on_event(kind, payload)`` is called on this thread with ("discovered", (file, n)),
    ("started", id), ("finished", ActivationResult) and ("load_error", LoadError).
    Results come back in job order, then discovery order, whatever ``jobs_n``.
    Ctrl-C kills the workers and re-raises ``KeyboardInterrupt``. ``only_tf_modules``: modules
    that never use TensorFlow/Keras hold no activation (the pre-commit hook's mode).
    """
    return _Run(jobs, settings, jobs_n, overrides, plot_dir, show_worker_output, python,
                only_tf_modules)(on_event)
