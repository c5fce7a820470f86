"""The worker: a fork server started by the supervisor (:mod:`gradcheck.runner`).

It runs other people's code, so it runs apart from the supervisor, which can kill it on a
hang and replace it after a crash. The server imports TensorFlow and gradcheck's pipeline
once (seconds; TensorFlow allows a fork before any op has run, and the server never runs
one), then forks children that check the files. A child warms up (one check of its own)
while the previous one works, then checks files one after another as long as each leaves
the interpreter as it found it (:mod:`gradcheck.state`: restored, then verified); the first
file that does not costs that child its life, and the next file gets a fresh one. So no
file's verdict depends on its neighbours, their order or ``-j``, at the price of a
millisecond per file, not of a process.

Every process of the worker dies with the supervisor: a lifeline pipe whose write end only
the supervisor holds (EOF: the server, a subreaper that adopts whatever the user's code
left behind, kills everything below it), and the parent-death signal for the children. The
messages and their order are documented in :mod:`gradcheck.protocol`.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import os
import signal
import sys
import threading
import time
import traceback

from .protocol import (UNKNOWN_KIND, ActivationInfo, Check, Event, Exit, Exited, Load, Loaded, LoadFailed, Next,
                       Ready, Result, decode, encode)
from .results import ActivationResult, LoadError
from .settings import resolve_settings
from .tracebacks import describe_escaped, one_line

# gradcheck's own pipeline, imported at start-up so that neither the first file's load
# timeout nor its first activation's check timeout pays for it.
PRELOAD = ("gradcheck.loader", "gradcheck.discover", "gradcheck.verify.pipeline")
# Modules gradcheck, NumPy and TensorFlow import lazily: imported before any user folder is on
# sys.path, so a user's random.py, secrets.py or logging.py next to their activations cannot
# stand in for them.
STDLIB_PRELOAD = ("secrets", "random", "logging", "typing", "signal", "json", "tempfile", "inspect", "tokenize",
                  "hashlib", "ctypes", "resource", "numpy.random", "dataclasses", "fnmatch", "textwrap")
# Set by the supervisor: the fd of the lifeline pipe's read end, and the per-file memory limit
# in bytes (--max-memory).
LIFELINE_ENV, MAX_MEMORY_ENV = "GRADCHECK_LIFELINE", "GRADCHECK_MAX_MEMORY"
# Exit status of a child told to Exit: the server stops too. Any other status ends one file.
STOP_STATUS = 86
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36  # prctl(2)
KILL_ROUNDS = 5
WARM_UP_SAMPLES = 64


def _reserve_channels():
    """Keep private copies of fds 0/1 for the protocol before any user or native code runs.

    Afterwards fd 1 is our stderr (user ``print``s and C++ writes land there) and fd 0 is
    /dev/null (a stray ``input()`` gets EOF instead of eating our commands). Returns the
    protocol's writer and the fd commands are read from (see :func:`_command_lines`).
    """
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    commands = os.dup(0)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    return proto, commands


def _command_lines(fd: int):
    """Lines from ``fd``, read a byte at a time: the children of the fork server take turns on
    one pipe, so none may read ahead into a line meant for the next (commands are short)."""
    line = bytearray()
    while True:
        b = os.read(fd, 1)
        if not b:
            return
        if b == b"\n":
            yield line.decode("utf-8", "replace")
            line.clear()
        else:
            line += b


# -- staying alive no longer than the supervisor ----------------------------------------------
def _prctl(option: int, value: int) -> bool:
    """Linux prctl(2); False where it is not available."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _die_with_parent(parent: int) -> None:
    """SIGKILL when our parent dies, and exit now if it is already gone (a child of the server:
    the server cleans up after it, so nothing is lost by dying at once)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _hold_lifeline(cleanup) -> None:
    """A thread that waits for EOF on the lifeline pipe (the supervisor closed it, or died),
    then runs ``cleanup`` (kill what this process started) and exits."""
    fd = os.environ.get(LIFELINE_ENV)
    if not (fd and fd.isdigit()):
        return
    fd = int(fd)
    try:
        os.set_inheritable(fd, False)  # not for the user's subprocesses
    except OSError:
        return

    def watch():
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        try:
            cleanup()
        finally:
            os._exit(1)

    threading.Thread(target=watch, name="gradcheck-lifeline", daemon=True).start()


def _descendants(root: int) -> list[int]:
    """Every process below ``root`` (from /proc: Linux; elsewhere none)."""
    children: dict[int, list[int]] = {}
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(p))
    found, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), ()):
            found.append(c)
            todo.append(c)
    return found


def kill_descendants(keep: frozenset = frozenset()) -> None:
    """SIGKILL every process below this one but ``keep`` (and what they started: the server
    is a subreaper, so even processes that left their parent are below it), and reap them."""
    for _ in range(KILL_ROUNDS):  # a process may fork while it is being killed
        pids = [p for p in _descendants(os.getpid()) if p not in keep]
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        _reap_strays(keep)


def _reap_strays(keep: frozenset) -> None:
    """Reap exited children of this process that are not in ``keep`` (orphans it adopted)."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid in keep:
            return
        try:
            os.waitpid(info.si_pid, 0)
        except ChildProcessError:
            return


def _kill_own_group() -> None:
    os.killpg(0, signal.SIGKILL)


def _quiet_tensorflow_import() -> float:
    import logging

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass
    t0 = time.perf_counter()
    import tensorflow  # noqa: F401  (imported once, here, so it is timed and silenced)

    return time.perf_counter() - t0


def _preload() -> tuple[str | None, str | None]:
    """Import :data:`PRELOAD`: (None, None), or (one line, traceback) for the first that fails."""
    for name in STDLIB_PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # not on this platform (ctypes, resource): nothing to shadow then
            pass
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as exc:  # reported in Ready: the supervisor fails the run's files with it
            return f"cannot import {name}: {one_line(exc)}", traceback.format_exc()
    return None, None


class Worker:
    """Answers the supervisor's commands for one file at a time."""

    def __init__(self, proto):
        self.proto = proto
        self.job: Load | None = None  # the last Load: file, settings, overrides, plot folder
        self.found = {}  # name -> Activation of the loaded file
        self.unfit = {}  # name -> why that public callable of the loaded file is not an activation
        self.lines = {}  # name -> line of its def/class

    def send(self, msg: Event) -> None:
        self.proto.write(encode(msg) + "\n")
        self.proto.flush()

    # -- load ---------------------------------------------------------------------------
    def load(self, job: Load) -> None:
        from .discover import survey
        from .loader import ModuleLoadError, load_module
        from .seeding import seed_all

        self.job, self.found, self.unfit, self.lines = job, {}, {}, {}
        t0 = time.perf_counter()
        try:
            seed_all(job.settings.seed)  # what the module draws at import (weights built there)
            module = load_module(job.file)
            seen = survey(module, job.file, only_tf_modules=job.only_tf_modules)
        except ModuleLoadError as exc:
            self.send(LoadFailed(exc.load_error))
            return
        except BaseException as exc:  # loader/discovery bug or sys.exit() at import time
            self.send(LoadFailed(LoadError(job.file, one_line(exc), traceback.format_exc())))
            return
        load_s = time.perf_counter() - t0

        activations = seen.activations
        self.found = {a.name: a for a in activations}
        self.unfit = {n.name: n.reason for n in seen.not_checked}
        if job.names is None and job.marked is None:
            names = list(self.found)
            not_checked = seen.not_checked
        else:  # names asked for, and/or the marked names of a file admitted for its markers
            wanted = list(dict.fromkeys(job.names or ()))
            marked = set(job.marked or ())
            names = [a.name for a in activations if a.name in wanted or a.name in marked]
            names += [n for n in wanted if n not in self.found and n in self.unfit]  # answered with the reason
            not_checked = [n for n in seen.not_checked if n.name in marked and n.name not in wanted]
        missing = [n for n in job.names or () if n not in self.found and n not in self.unfit]
        self.send(Loaded(job.file, tuple(names), load_s, tuple(self._info(name) for name in names),
                         tuple(not_checked), tuple(self._nothing_named(n) for n in dict.fromkeys(missing))))

    def _nothing_named(self, name: str) -> str:
        """One line for a ``file.py::name`` that names nothing, with the closest names."""
        import difflib

        close = difflib.get_close_matches(name, [*self.found, *self.unfit], n=2, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else \
            (f"; it defines {', '.join(list(self.found)[:6])}" if self.found else "; it defines no activation")
        return f"'{self.job.file}::{name}' names nothing in {self.job.file}{hint}"

    def _info(self, name: str) -> ActivationInfo:
        act = self.found.get(name)
        if act is None:
            return ActivationInfo(name, UNKNOWN_KIND)
        settings = self._settings_for(act)
        timeout = None if isinstance(settings, str) else settings.timeout  # None: the run's
        return ActivationInfo(name, act.kind, timeout, self._line(act))

    def _line(self, act) -> int | None:
        from .discover import definition_line

        if act.name not in self.lines:
            self.lines[act.name] = definition_line(act.obj)
        return self.lines[act.name]

    def _settings_for(self, act):
        """The activation's effective Settings, or a one-line reason they are invalid."""
        try:
            return resolve_settings(self.job.settings, self.job.overrides, act)
        except (ValueError, TypeError) as exc:
            return f"invalid options: {one_line(exc)}"

    # -- check --------------------------------------------------------------------------
    def check(self, name: str) -> None:
        act = self.found.get(name)
        if act is None:
            file = self.job.file
            message = f"no activation named {name} in {file}"
            if name in self.unfit:  # a public callable, but not one that can be checked
                message += f": {self.unfit[name]}"
            self.send(Result(ActivationResult.error(file, name, UNKNOWN_KIND, message)))
            return
        settings = self._settings_for(act)
        if isinstance(settings, str):
            result = ActivationResult.error(act.file, act.name, act.kind, settings)
        elif settings.skip:
            result = ActivationResult.skipped(act.file, act.name, act.kind, settings.skip)
        else:
            result = self._run_checks(act, settings)
        self.send(Result(dataclasses.replace(result, line=self._line(act))))

    def _run_checks(self, act, settings) -> ActivationResult:
        plot_dir = self.job.plot_dir
        t0 = time.perf_counter()
        curves = None
        try:
            from .verify import check_activation

            result, curves = check_activation(act, settings, want_curves=plot_dir is not None)
        except BaseException as exc:  # the core should have caught user errors; say what escaped
            result = ActivationResult.error(act.file, act.name, act.kind, describe_escaped(exc),
                                            duration=time.perf_counter() - t0)
        if result.duration is None:
            result = dataclasses.replace(result, duration=time.perf_counter() - t0)
        if plot_dir is not None and curves is not None:
            result = self._plot(result, curves, plot_dir)
        return result

    def _plot(self, result, curves, plot_dir):
        try:
            from .plot import write_plot

            path = write_plot(curves, result, plot_dir)
        except Exception as exc:  # a missing matplotlib must not cost the verdict
            return dataclasses.replace(result, message=f"{result.message} (plot not written: {one_line(exc)})")
        return dataclasses.replace(result, plot=None if path is None else str(path))

    def serve(self, commands: int) -> bool:
        """Answer commands until Next (False), Exit or the end of input (True: stop)."""
        for line in _command_lines(commands):
            if not line.strip():
                continue
            msg = decode(line)
            if isinstance(msg, Load):
                self.load(msg)
            elif isinstance(msg, Check):
                self.check(msg.name)
            elif isinstance(msg, Next):
                return False
            elif isinstance(msg, Exit):
                return True
        return True


def _exit(proto, status: int):
    sys.stderr.flush()
    proto.flush()
    # Skip interpreter teardown: user atexit hooks and TF shutdown can hang or crash.
    os._exit(status)


# -- the fork server ------------------------------------------------------------------------
@dataclasses.dataclass
class _Child:
    """A forked child waiting for its turn: one byte on ``go`` starts it."""

    pid: int
    go: int

    def start(self) -> None:
        os.write(self.go, b"g")
        os.close(self.go)

    def wait(self, keep: frozenset = frozenset()) -> int:
        """Its exit code, or minus the signal that ended it, once it is gone with everything it
        started (but ``keep``: the next child)."""
        try:
            _, status = os.waitpid(self.pid, 0)
            code = os.waitstatus_to_exitcode(status)
        except ChildProcessError:  # reaped with the strays: it was killed
            code = -signal.SIGKILL
        kill_descendants(keep)
        return code

    def discard(self) -> None:
        os.close(self.go)  # EOF: it exits without starting
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        self.wait()


def _fork_child(proto, commands: int, ready: Ready, warm: bool = True) -> _Child:
    go_read, go_write = os.pipe()
    server = os.getpid()
    pid = os.fork()
    if pid:
        os.close(go_read)
        return _Child(pid, go_write)
    try:
        os.close(go_write)
        os.setsid()  # its own process group: a kill on timeout takes what the user started too
        _die_with_parent(server)
        _hold_lifeline(_kill_own_group)
        if warm:  # not the first child: nothing to overlap its warm-up with
            _warm_up()
        if os.read(go_read, 1) != b"g":  # the server is gone, or stopping
            os._exit(0)
        os.close(go_read)
        _limit_memory()
        _serve_files(proto, commands, dataclasses.replace(ready, pid=os.getpid()))
    except BaseException:  # never return into the server's loop
        traceback.print_exc()
        _exit(proto, 1)


def _serve_files(proto, commands: int, ready: Ready) -> None:
    """Check file after file while each leaves the process as it found it (state.CleanState);
    exit as soon as one does not, so that the next file gets a freshly forked child."""
    from .state import CleanState

    clean = CleanState()
    while True:
        worker = Worker(proto)
        worker.send(ready)
        if worker.serve(commands):
            _exit(proto, STOP_STATUS)
        changed = clean.restore()
        if changed:
            print(f"gradcheck: a fresh worker for the next file: {worker.job.file if worker.job else 'a file'} "
                  f"changed {', '.join(changed)}", file=sys.stderr)
            _exit(proto, 0)


def _warm_up() -> None:
    """Check a small activation of our own: TensorFlow's per-process start (thread pools, the
    eager context, tf.function, the kernels the checks use) and the lazy imports of a first
    check are paid here, while the previous child works, not in the next file's time."""
    import tensorflow as tf

    from .discover import Activation, Kind
    from .settings import Settings
    from .verify import check_activation

    def swish(x):
        return x * tf.sigmoid(x)

    check_activation(Activation("swish", Kind.FUNCTION, swish, "<warm-up>", {}, "<warm-up>::swish"),
                     Settings(samples=WARM_UP_SAMPLES))


def _limit_memory() -> None:
    """--max-memory: cap this child's address space at what it uses now plus the limit, so a
    runaway allocation fails (MemoryError, or a crash the supervisor reports) in this child."""
    limit = os.environ.get(MAX_MEMORY_ENV)
    if not (limit and limit.isdigit()):
        return
    import resource

    from .verify.xla import start_xla

    start_xla()  # the xla check's compiler reserves ~0.8 GB of address space: not the activations' use
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (used + int(limit), resource.RLIM_INFINITY))


def serve_forks(proto, commands: int, ready: Ready) -> None:
    """Fork one child per file, the next one always ready while the current one works, and
    report how each ended; stop when a child was told to Exit."""
    # What is imported now is shared by every child: the garbage collector leaves it alone,
    # so collections in a child neither walk TensorFlow's millions of objects nor copy
    # their pages (copy-on-write) just to touch them.
    gc.collect()
    gc.freeze()
    standby = _fork_child(proto, commands, ready, warm=False)
    while True:
        active = standby
        active.start()
        standby = _fork_child(proto, commands, ready)
        status = active.wait(keep=frozenset({standby.pid}))
        if status == STOP_STATUS:
            break
        proto.write(encode(Exited(active.pid, status)) + "\n")
        proto.flush()
    standby.discard()
    _exit(proto, 0)


def main() -> None:
    proto, commands = _reserve_channels()
    sys.dont_write_bytecode = True  # user modules imported lazily must not leave __pycache__ either
    # No parent-death signal here: it would kill this process before it can clean up. The
    # lifeline does it (this thread only waits, so it always gets to run), and as a subreaper
    # this process adopts whatever the user's code leaves behind, so it can kill that too.
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _hold_lifeline(kill_descendants)
    tf_import_s = _quiet_tensorflow_import()
    ready = Ready(tf_import_s, *_preload())
    if ready.preload_error is not None:  # nothing to fork for: say so; the supervisor ends us
        worker = Worker(proto)
        worker.send(ready)
        worker.serve(commands)
        _exit(proto, 0)
    serve_forks(proto, commands, ready)


if __name__ == "__main__":
    main()
