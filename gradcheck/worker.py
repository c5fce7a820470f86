"""The worker process: ``python -m gradcheck.worker``.

It runs other people's code, so it runs apart from the supervisor (:mod:`gradcheck.runner`),
which can kill it on a hang and replace it after a crash. The messages it reads and writes,
and their order, are documented in :mod:`gradcheck.protocol`.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
import time
import traceback

from .protocol import (UNKNOWN_KIND, ActivationInfo, Check, Event, Exit, Load, Loaded, LoadFailed, Ready, Result,
                       decode, encode)
from .results import ActivationResult, LoadError
from .settings import resolve_settings
from .tracebacks import describe_escaped, one_line

# gradcheck's own pipeline, imported at start-up so that neither the first file's load
# timeout nor its first activation's check timeout pays for it.
PRELOAD = ("gradcheck.loader", "gradcheck.discover", "gradcheck.verify.pipeline")


def _reserve_channels():
    """Keep private copies of fds 0/1 for the protocol before any user or native code runs.

    Afterwards fd 1 is our stderr (user ``print``s and C++ writes land there) and fd 0 is
    /dev/null (a stray ``input()`` gets EOF instead of eating our commands).
    """
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    commands = os.fdopen(os.dup(0), "r", encoding="utf-8")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    return proto, commands


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

    def send(self, msg: Event) -> None:
        self.proto.write(encode(msg) + "\n")
        self.proto.flush()

    # -- load ---------------------------------------------------------------------------
    def load(self, job: Load) -> None:
        from .discover import discover
        from .loader import ModuleLoadError, load_module

        self.job, self.found = job, {}
        t0 = time.perf_counter()
        try:
            module = load_module(job.file)
            activations = discover(module, job.file, only_tf_modules=job.only_tf_modules)
        except ModuleLoadError as exc:
            self.send(LoadFailed(exc.load_error))
            return
        except BaseException as exc:  # loader/discovery bug or sys.exit() at import time
            self.send(LoadFailed(LoadError(job.file, one_line(exc), traceback.format_exc())))
            return
        load_s = time.perf_counter() - t0

        self.found = {a.name: a for a in activations}
        if job.names is None:
            names = list(self.found)
        else:
            wanted = list(dict.fromkeys(job.names))
            names = [a.name for a in activations if a.name in wanted]
            names += [n for n in wanted if n not in self.found]
        self.send(Loaded(job.file, tuple(names), load_s, tuple(self._info(name) for name in names)))

    def _info(self, name: str) -> ActivationInfo:
        act = self.found.get(name)
        if act is None:
            return ActivationInfo(name, UNKNOWN_KIND)
        settings = self._settings_for(act)
        timeout = None if isinstance(settings, str) else settings.timeout  # None: the run's
        return ActivationInfo(name, act.kind, timeout)

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
            self.send(Result(ActivationResult.error(file, name, UNKNOWN_KIND, f"no activation named {name} in {file}")))
            return
        settings = self._settings_for(act)
        if isinstance(settings, str):
            result = ActivationResult.error(act.file, act.name, act.kind, settings)
        elif settings.skip:
            result = ActivationResult.skipped(act.file, act.name, act.kind, settings.skip)
        else:
            result = self._run_checks(act, settings)
        self.send(Result(result))

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

    def serve(self, commands) -> None:
        for line in commands:
            if not line.strip():
                continue
            msg = decode(line)
            if isinstance(msg, Load):
                self.load(msg)
            elif isinstance(msg, Check):
                self.check(msg.name)
            elif isinstance(msg, Exit):
                break


def main() -> None:
    proto, commands = _reserve_channels()
    tf_import_s = _quiet_tensorflow_import()
    worker = Worker(proto)
    worker.send(Ready(tf_import_s, *_preload()))
    worker.serve(commands)
    sys.stderr.flush()
    proto.flush()
    # Skip interpreter teardown: user atexit hooks and TF shutdown can hang or crash.
    os._exit(0)


if __name__ == "__main__":
    main()
