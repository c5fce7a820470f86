"""One worker process as the supervisor (:mod:`gradcheck.runner`) sees it: starting it, the
threads draining its pipes, the typed messages of :mod:`gradcheck.protocol` both ways, and
killing it with everything the user's code left running (its process groups, and processes
in sessions of their own that still hold its pipes). No TensorFlow here.
"""

from __future__ import annotations

import collections
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .protocol import Command, Event, Exited, Next, ProtocolError, Ready, decode, encode

READY_TIMEOUT = 120.0  # importing TensorFlow on a cold, busy machine
GRACE = 1.0  # on top of a timeout: JSON, pipes, scheduling
EXIT_TIMEOUT = 5.0  # for a worker asked to exit, or killed, to be gone
JOIN_TIMEOUT = 1.0  # for a pipe-draining thread to finish after its worker is gone
STDERR_LINES = 20  # the tail of a worker's stderr kept to explain its death
REAP_POLL_S = 0.02  # how often to look whether a worker has exited
_EOF = object()


class Died(Exception):
    """The worker's child ended (``status``: its exit code, or minus a signal), or the whole
    worker exited or closed its protocol channel (``status`` None)."""

    def __init__(self, status: int | None = None):
        super().__init__(status)
        self.status = status


class TimedOut(Exception):
    pass


class Stopped(Exception):
    """The run is being torn down (Ctrl-C or an error elsewhere)."""


def fmt_s(seconds: float) -> str:
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


# The worker's command line: the cwd (sys.path[0] of -c) is dropped before anything is
# imported, so a gradcheck.py, random.py or typing.py in the user's folder cannot shadow ours.
BOOTSTRAP = ("import sys\n"
             "if sys.path and sys.path[0] in ('', '.'):\n"
             "    del sys.path[0]\n"
             "from gradcheck.worker import main\n"
             "main()\n")


def _worker_env(lifeline: int, tmpdir: str | None, max_memory: int | None) -> dict:
    from .worker import LIFELINE_ENV, MAX_MEMORY_ENV

    env = {**ALLOCATOR_ENV, **os.environ}
    # Make sure the worker imports this very gradcheck, even from an uninstalled source tree.
    root = str(Path(__file__).resolve().parent.parent)
    if Path(root).name not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in the user's folders
    env[LIFELINE_ENV] = str(lifeline)
    if tmpdir is not None:  # TensorFlow's AutoGraph files and the user's temp files, removed with the run
        env["TMPDIR"] = tmpdir
    if max_memory is not None:
        env[MAX_MEMORY_ENV] = str(int(max_memory))
    else:
        env.pop(MAX_MEMORY_ENV, None)
    return env


class WorkerProcess:
    """One worker (the fork server and its current child) and the threads draining its pipes."""

    def __init__(self, number: int, python: str, show_output: bool, tmpdir: str | None = None,
                 max_memory: int | None = None):
        self.number = number
        self.show_output = show_output
        self.killed = False
        self.child: int | None = None  # pid (and process group) of the child working now
        self.forks = False  # a fork server: a fresh child per file (a worker without one serves them all)
        self.ready_due = True  # a Ready is on its way: the first, or the next child's
        self._reap_lock = threading.Lock()
        self.lines: queue.Queue = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        # The lifeline: only this process holds the write end. Closing it, or dying, gives
        # every process of the worker EOF, and each kills its own process group.
        lifeline, self._lifeline = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [python, "-c", BOOTSTRAP],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, encoding="utf-8", errors="replace", bufsize=1,
                start_new_session=True,  # its own process group: one killpg takes user children too
                pass_fds=(lifeline,), env=_worker_env(lifeline, tmpdir, max_memory),
            )
        except BaseException:
            os.close(self._lifeline)
            raise
        finally:
            os.close(lifeline)
        # the worker's output pipes, as /proc names them: whoever holds them is the worker's
        self._pipes = {f"pipe:[{os.fstat(f.fileno()).st_ino}]" for f in (self.proc.stdout, self.proc.stderr)}
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

    def send(self, msg: Command) -> None:
        try:
            self.proc.stdin.write(encode(msg) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise Died from exc

    def receive(self, timeout: float, *wanted: type) -> Event:
        """The next message of one of the ``wanted`` types (any if none); raises TimedOut or Died."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimedOut
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                raise TimedOut from None
            if line is _EOF:
                raise Died
            try:
                msg = decode(line)
            except ProtocolError:
                continue  # cannot happen with the private channel; never fatal
            if isinstance(msg, Exited) and Exited not in wanted:  # the child we talk to is gone
                self.child, self.ready_due = None, True
                raise Died(msg.status)
            if not wanted or isinstance(msg, wanted):
                return msg

    def await_ready(self, timeout: float) -> Ready:
        """The Ready of the child that takes the next file (skipping the end of the last one)."""
        while True:
            msg = self.receive(timeout, Ready, Exited)
            if isinstance(msg, Ready):
                self.forks, self.child, self.ready_due = msg.pid is not None, msg.pid, False
                return msg

    def next_file(self) -> None:
        """Done with this file: its child exits, a fresh one takes the next (fork server)."""
        if self.forks and not self.ready_due:
            self.send(Next())
            self.child, self.ready_due = None, True

    def kill_child(self) -> bool:
        """Kill the child working now (a hang) and what it started; False if that means
        killing the whole worker (no fork server)."""
        if not self.forks or self.child is None:
            return False
        _killpg(self.child)
        self.child, self.ready_due = None, True
        return True

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
            time.sleep(REAP_POLL_S)

    def _kill_group_and_reap(self) -> int:
        with self._reap_lock:  # threads race here on Ctrl-C; killpg only before reaping
            if self.proc.returncode is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)  # also user children left behind
                except (ProcessLookupError, PermissionError):
                    pass
            return self.proc.wait()

    def death(self, died: Died) -> str:
        """Why the child (or the whole worker) is gone; reaps a dead worker and its group."""
        if died.status is not None:
            return _describe_exit(died.status)
        exited = self._exited(EXIT_TIMEOUT)
        rc = self._kill_group_and_reap()
        return _describe_exit(rc if exited else None)

    def last_words(self) -> str | None:
        self._threads[1].join(timeout=JOIN_TIMEOUT)  # let the stderr drain catch up after a death
        return "\n".join(self.stderr_tail) or None

    def kill(self) -> None:
        """Kill the whole worker and reap it. Safe to call more than once, from any thread."""
        with self._reap_lock:
            first, self.killed = not self.killed, True
            lifeline, self._lifeline = self._lifeline, None
        if lifeline is not None:
            os.close(lifeline)  # the server kills every process below it, then exits
        if self.child is not None:
            _killpg(self.child)
        if self.forks and first:
            try:  # let it clean up (milliseconds); kill it if it cannot
                self.proc.wait(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        self._kill_group_and_reap()
        if first:
            _kill_holders(self._pipes)
        try:
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        # Not stdout/stderr: closing a pipe another thread is reading waits for that read to end.
        for t in self._threads:
            t.join(timeout=JOIN_TIMEOUT)

    def close(self) -> None:
        """End the worker: nothing is left to flush (every result was sent), so it is killed,
        with whatever the user's code left running."""
        self.kill()


def _kill_holders(pipes: set[str]) -> None:
    """Kill the processes that still hold one of ``pipes`` (``pipe:[inode]``, as /proc shows
    them): the user's code started them in a session of their own, out of the worker's
    process groups, and the run would otherwise wait for them (Linux; elsewhere a no-op)."""
    me = os.getpid()
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me]
    except OSError:
        return
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or not ours to look at
            continue
        for fd in fds:
            try:
                held = os.readlink(f"/proc/{pid}/fd/{fd}") in pipes
            except OSError:
                continue
            if held:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
                break


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
