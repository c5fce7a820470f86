"""The supervisor: runs checks in worker processes so that user code can never take us down.

Each of up to ``jobs_n`` slots drives one worker (:mod:`gradcheck.worker`: a fork server
that gives each file a fresh child process; protocol in :mod:`gradcheck.protocol`; the
process itself in :mod:`gradcheck.worker_process`) through the jobs it pulls from a shared
queue. A hang past the timeout or a crash costs that one
activation an ``error`` result; a fresh child reloads the file and goes on with the rest.
Every worker process dies with the run: killed at the end, on Ctrl-C or SIGTERM, and by its
own lifeline if this process dies. No TensorFlow here: importing this module is cheap.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass, field

from .discover import Kind
from .protocol import UNKNOWN_KIND, ActivationInfo, Check, Load, Loaded, LoadFailed, Result
from .results import ActivationResult, LoadError, NotChecked, Report, activation_id
from .settings import Settings
from .worker_process import (EXIT_TIMEOUT, GRACE, READY_TIMEOUT, Died, Stopped, TimedOut, WorkerProcess,
                             fmt_s)

EVENT_POLL_S = 0.1  # how often the driver looks whether the slots are done while no event comes

@dataclass
class _JobState:
    """One job on its way through one or more workers (a crash moves it on to a fresh one)."""

    index: int  # position in the run: results are reported in job order
    file: str
    pending: list[str] | None  # names still to check; None before the first load: every one found
    loaded: bool = False  # after the first load a failure costs the pending names, not a LoadError
    info: dict[str, ActivationInfo] = field(default_factory=dict)  # what the loads said of each name
    marked: tuple[str, ...] | None = None  # targets.Job.marked: admitted for these marked names only

    def kind_of(self, name: str) -> Kind:
        info = self.info.get(name)
        return UNKNOWN_KIND if info is None else info.kind

    def timeout_of(self, name: str, default: float) -> float:
        info = self.info.get(name)
        return (info.timeout if info is not None else None) or default


class _Run:
    def __init__(self, jobs, settings: Settings, jobs_n, overrides, plot_dir, show_output, python,
                 only_tf_modules=False, max_memory=None):
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
        self.not_checked: dict[int, tuple[NotChecked, ...]] = {}
        self.missing: dict[int, tuple[str, ...]] = {}  # file.py::name naming nothing: usage errors
        self.load_times: dict[int, float] = {}
        self.tf_import_s: float | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.live: set[WorkerProcess] = set()
        self.started = 0
        self.failure: BaseException | None = None
        self.max_memory = max_memory
        self.tmpdir: str | None = None  # the workers' TMPDIR, removed with the run

    # -- worker lifecycle -----------------------------------------------------------------
    def start_worker(self) -> WorkerProcess:
        """A new worker (its first child's Ready is awaited in ``ready``)."""
        with self.lock:
            if self.stop.is_set():
                raise Stopped
            self.started += 1
            w = WorkerProcess(self.started, self.python, self.show_output, self.tmpdir, self.max_memory)
            self.live.add(w)
        return w

    def ready(self, w: WorkerProcess | None) -> WorkerProcess:
        """``w`` (or a new worker) with a fresh child ready for a file; raises _StartFailed."""
        w = w or self.start_worker()
        if not w.ready_due:
            return w
        try:
            ready = w.await_ready(READY_TIMEOUT)
        except TimedOut:
            self.discard(w)
            raise _StartFailed(f"timed out after {fmt_s(READY_TIMEOUT)} while importing tensorflow", None)
        except Died as died:
            why = w.death(died)
            words = w.last_words()
            self.discard(w)
            last = words.splitlines()[-1].strip() if words else ""
            raise _StartFailed(f"worker failed to start: {why}" + (f" ({last})" if last else ""), words)
        if ready.preload_error is not None:  # it runs, but could not check anything
            self.discard(w)
            raise _StartFailed(f"worker failed to start: {ready.preload_error}", ready.preload_detail)
        with self.lock:
            if self.tf_import_s is None:
                self.tf_import_s = ready.tf_import_s
        return w

    def discard(self, w: WorkerProcess | None) -> None:
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
        except Stopped:
            pass
        except BaseException as exc:  # a bug here must not hang the run: surface it
            self.failure = self.failure or exc
            self.kill_all()
        finally:
            self.discard(w)

    def run_job(self, w, index, job):
        """Check every activation of one job, each file in a fresh child; returns the (live or
        None) worker for the next job."""
        state = _JobState(index, job.file, None if job.names is None else list(job.names),
                          marked=getattr(job, "marked", None))
        while not state.loaded or state.pending:
            try:
                w = self.ready(w)
            except _StartFailed as exc:
                if state.loaded:
                    self.give_up(state, exc.message)
                else:
                    self.load_error(state, exc.message, exc.detail)
                return None
            loaded = self.load(w, state)
            if w.killed:
                return None
            if not loaded:
                break
            w = self.check_pending(w, state)
        if w is not None and not w.killed:
            try:
                w.next_file()
            except Died:
                self.discard(w)
                return None
        return w

    def load(self, w: WorkerProcess, state: _JobState) -> bool:
        """Load the job's file (its pending names) in ``w``; False if that failed, after reporting
        it (``w`` is discarded if it hung or died, kept after a plain load error)."""
        pending = None if state.pending is None else tuple(state.pending)
        try:
            w.send(Load(state.file, pending, self.settings, self.overrides, self.plot_dir, self.only_tf_modules,
                        state.marked))
            msg = w.receive(self.settings.timeout + GRACE, Loaded, LoadFailed)
        except TimedOut:
            if not w.kill_child():
                self.discard(w)
            self.load_failed(state, f"timed out after {fmt_s(self.settings.timeout)} while importing", None)
            return False
        except Died as died:
            why = f"crashed while importing: {w.death(died)}"
            words = w.last_words()
            if died.status is None:
                self.discard(w)
            self.load_failed(state, why, words)
            return False
        if isinstance(msg, LoadFailed):
            self.load_failed(state, msg.error.message, msg.error.detail)
            return False
        if not state.loaded:
            state.loaded, state.pending = True, list(msg.names)
            self.load_times[state.index] = msg.load_s
            self.not_checked[state.index] = msg.not_checked
            self.missing[state.index] = msg.missing
            self.events.put(("discovered", (state.file, len(state.pending))))
        state.info.update({a.name: a for a in msg.activations})
        return True

    def load_failed(self, state: _JobState, message: str, detail: str | None) -> None:
        if not state.loaded:
            self.load_error(state, message, detail)
        else:  # it loaded before a crash; keep what we have and say why the rest is missing
            self.give_up(state, f"not checked: reloading after a worker crash failed: {message}")

    def load_error(self, state: _JobState, message: str, detail: str | None) -> None:
        error = LoadError(file=state.file, message=message, detail=detail)
        self.errors[state.index] = error
        self.events.put(("load_error", error))

    def give_up(self, state: _JobState, message: str) -> None:
        """Every name still pending becomes an ``error`` result saying ``message``."""
        while state.pending:
            self.record_error(state, state.pending.pop(0), message)

    def record(self, state: _JobState, result: ActivationResult) -> None:
        self.results[state.index].append(result)
        self.events.put(("finished", result))

    def record_error(self, state: _JobState, name: str, message: str) -> None:
        info = state.info.get(name)
        self.record(state, ActivationResult.error(state.file, name, state.kind_of(name), message,
                                                  line=None if info is None else info.line))

    def check_pending(self, w: WorkerProcess, state: _JobState) -> WorkerProcess | None:
        """Check names from the front of ``state.pending``; returns the worker, or None if it had to go."""
        while state.pending:
            if self.stop.is_set():
                raise Stopped
            name = state.pending[0]
            timeout = state.timeout_of(name, self.settings.timeout)
            self.events.put(("started", activation_id(state.file, name)))
            try:
                w.send(Check(name))
                msg = w.receive(timeout + GRACE, Result)
            except TimedOut:
                if not w.kill_child():
                    self.discard(w)
                    w = None
                self.record_error(state, state.pending.pop(0), f"timed out after {fmt_s(timeout)}")
                return w
            except Died as died:
                why = w.death(died)
                if died.status is None:
                    self.discard(w)
                    w = None
                if self.stop.is_set():
                    raise Stopped from None
                self.record_error(state, state.pending.pop(0), f"worker crashed: {why}")
                return w
            state.pending.pop(0)
            self.record(state, msg.result)
        return w

    # -- driver -------------------------------------------------------------------------
    def __call__(self, on_event) -> Report:
        threads = [threading.Thread(target=self.slot, daemon=True, name=f"gradcheck-slot-{i}")
                   for i in range(self.jobs_n)]
        self.tmpdir = tempfile.mkdtemp(prefix="gradcheck-")
        try:
            for t in threads:
                t.start()
            self.relay(threads, on_event)
        except BaseException as exc:  # Ctrl-C, SIGTERM/SIGHUP (Interrupted), or on_event raised
            self.kill_all()
            for t in threads:
                t.join(timeout=EXIT_TIMEOUT)
            if isinstance(exc, KeyboardInterrupt):
                raise Interrupted(getattr(exc, "signum", signal.SIGINT), self.report()) from None
            raise
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        if self.failure is not None:
            raise self.failure
        return self.report()

    def relay(self, threads, on_event) -> None:
        """Hand the slots' events to ``on_event`` on this thread until every slot is done."""
        while True:
            alive = any(t.is_alive() for t in threads)
            try:
                kind, payload = self.events.get(timeout=EVENT_POLL_S)
            except queue.Empty:
                if not alive:
                    return
                continue
            if on_event is not None:
                on_event(kind, payload)

    def report(self) -> Report:
        order = range(len(self.jobs))
        timings = []
        if self.tf_import_s is not None:
            timings.append(("tensorflow import", self.tf_import_s))
        timings += [(f"load {self.jobs[i].file}", self.load_times[i]) for i in order if i in self.load_times]
        return Report(
            results=tuple(r for i in order for r in self.results[i]),
            errors=tuple(self.errors[i] for i in order if i in self.errors),
            not_checked=tuple(n for i in order for n in self.not_checked.get(i, ())),
            usage_errors=tuple(m for i in order for m in self.missing.get(i, ())),
            settings={**self.settings.to_dict(), "jobs": self.jobs_requested},
            timings=tuple(timings),
        )


# What one worker needs: TensorFlow and a check's arrays (a million points peak at ~0.8 GB).
WORKER_MEMORY = 1 << 30


def _available_memory() -> int | None:
    """Bytes the machine can still give (MemAvailable, Linux), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def workers_for(requested, n_files: int) -> tuple[int, str | None]:
    """How many workers to start for ``requested`` (a number, or "auto": the cores) and
    ``n_files`` files: never more than the files, nor than the available memory holds
    (~1 GB each). Returns the number and, when it is not what was asked, why."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    memory = _available_memory()
    if requested == "auto":
        wanted = cores
        by_memory = max(1, memory // WORKER_MEMORY) if memory is not None else wanted
        n = max(1, min(wanted, by_memory, n_files or 1))
        return n, f"-j auto: {n} worker{'s' if n != 1 else ''} ({cores} cores, " + \
            (f"{memory / (1 << 30):.1f} GB available, " if memory is not None else "") + f"{n_files} files)"
    wanted = int(requested)  # more than the files is harmless: the runner starts no more than them
    by_memory = max(1, memory // WORKER_MEMORY) if memory is not None else wanted
    if by_memory < min(wanted, n_files or 1):
        return by_memory, f"-j {wanted} capped to {by_memory}: {memory / (1 << 30):.1f} GB available, ~1 GB per worker"
    return wanted, None


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (``signum``: SIGINT, SIGTERM, SIGHUP) after every worker
    was killed; ``report`` holds the results received until then."""

    def __init__(self, signum: int = signal.SIGINT, report: Report | None = None):
        super().__init__(signum)
        self.signum, self.report = int(signum), report


class _StartFailed(Exception):
    def __init__(self, message: str, detail: str | None):
        super().__init__(message)
        self.message, self.detail = message, detail


def run(jobs, settings: Settings, *, jobs_n: int = 1, overrides: dict | None = None, plot_dir=None,
        on_event=None, show_worker_output: bool = False, python: str = sys.executable,
        only_tf_modules: bool = False, max_memory: int | None = None) -> Report:
    """Check every activation of ``jobs`` (``targets.Job``: ``file``, ``names``, ``marked``) in worker processes.

    ``overrides`` maps a glob (matched against the activation id or name) to settings;
    ``on_event(kind, payload)`` is called on this thread with ("discovered", (file, n)),
    ("started", id), ("finished", ActivationResult) and ("load_error", LoadError).
    Results come back in job order, then discovery order, whatever ``jobs_n``.
    Ctrl-C (or an :class:`Interrupted` raised by a signal handler) kills the workers and raises
    :class:`Interrupted` (a ``KeyboardInterrupt``) with the results so far. ``only_tf_modules``:
    modules that never use TensorFlow/Keras hold no activation (the pre-commit hook's mode).
    ``max_memory``: bytes each file's worker process may allocate beyond its start.
    """
    return _Run(jobs, settings, jobs_n, overrides, plot_dir, show_worker_output, python,
                only_tf_modules, max_memory)(on_event)
