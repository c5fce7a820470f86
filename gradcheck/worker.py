"""The worker process: ``python -m gradcheck.worker``.

It runs other people's code, so it runs apart from the supervisor (:mod:`gradcheck.runner`),
which can kill it on a hang and replace it after a crash. Protocol: JSON lines.

Supervisor -> worker (stdin)::

    {"op": "load", "file": F, "names": [...] | null, "settings": {...}, "overrides": {glob: {...}},
     "plot_dir": D | null}
    {"op": "check", "name": N}
    {"op": "exit"}

Worker -> supervisor (the original stdout, kept private)::

    {"ev": "ready", "tf_import_s": t}
    {"ev": "loaded", "file": F, "names": [...], "load_s": t,
     "activations": [{"name": N, "kind": K, "timeout": s}, ...]}
    {"ev": "load_error", "error": LoadError.to_dict()}
    {"ev": "result", "result": ActivationResult.to_dict()}

``names`` in ``loaded`` is what the supervisor should ask for, in discovery order; names
asked for but not found come last and answer ``check`` with an ``error`` result.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import sys
import time
import traceback

from .discover import Kind
from .results import ActivationResult, LoadError
from .settings import Settings, resolve_settings
from .tracebacks import describe_escaped, one_line

# A name asked for but not found has no kind; the contract only knows these three.
MISSING_KIND = Kind.FUNCTION


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

    tf_import_s = time.perf_counter() - t0
    # Pay for our own pipeline's imports at start-up, not in the first user file's load time
    # (the load timeout applies to that). A failure resurfaces where the module is used.
    for name in ("loader", "discover", "check"):
        try:
            importlib.import_module(f"gradcheck.{name}")
        except Exception:
            pass
    return tf_import_s


def _jsonable(obj):
    # NumPy scalars that slipped into a result.
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


class Worker:
    def __init__(self, proto):
        self.proto = proto
        self.file = None
        self.found = {}  # name -> Activation of the loaded file
        self.settings = {}
        self.overrides = {}
        self.plot_dir = None

    def send(self, msg: dict) -> None:
        self.proto.write(json.dumps(msg, default=_jsonable) + "\n")
        self.proto.flush()

    # -- load ---------------------------------------------------------------------------
    def load(self, msg: dict) -> None:
        from .discover import discover
        from .loader import ModuleLoadError, load_module

        self.file, self.found = msg["file"], {}
        self.settings = msg.get("settings") or {}
        self.overrides = msg.get("overrides") or {}
        self.plot_dir = msg.get("plot_dir")
        t0 = time.perf_counter()
        try:
            module = load_module(self.file)
            activations = discover(module, self.file, only_tf_modules=bool(msg.get("only_tf_modules")))
        except ModuleLoadError as exc:
            self.send({"ev": "load_error", "error": exc.load_error.to_dict()})
            return
        except BaseException as exc:  # loader/discovery bug or sys.exit() at import time
            error = LoadError(self.file, one_line(exc), traceback.format_exc())
            self.send({"ev": "load_error", "error": error.to_dict()})
            return
        load_s = time.perf_counter() - t0

        wanted = msg.get("names")
        self.found = {a.name: a for a in activations}
        if wanted is None:
            names = list(self.found)
        else:
            wanted = list(dict.fromkeys(wanted))
            names = [a.name for a in activations if a.name in wanted]
            names += [n for n in wanted if n not in self.found]
        info = []
        for name in names:
            act = self.found.get(name)
            settings = self._settings_for(act) if act is not None else None
            timeout = getattr(settings, "timeout", None)  # None: the supervisor's default
            info.append({"name": name, "kind": act.kind if act else MISSING_KIND, "timeout": timeout})
        self.send({"ev": "loaded", "file": self.file, "names": names, "load_s": load_s, "activations": info})

    def _settings_for(self, act):
        """The activation's effective Settings, or a one-line reason they are invalid."""
        try:
            return resolve_settings(Settings.from_dict(self.settings), self.overrides, act)
        except (ValueError, TypeError) as exc:
            return f"invalid options: {one_line(exc)}"

    # -- check --------------------------------------------------------------------------
    def check(self, name: str) -> None:
        act = self.found.get(name)
        if act is None:
            result = ActivationResult.error(self.file, name, MISSING_KIND, f"no activation named {name} in {self.file}")
            self.send({"ev": "result", "result": result.to_dict()})
            return

        settings = self._settings_for(act)
        if isinstance(settings, str):
            result = ActivationResult.error(act.file, act.name, act.kind, settings)
        elif settings.skip:
            result = ActivationResult.skipped(act.file, act.name, act.kind, settings.skip)
        else:
            t0 = time.perf_counter()
            curves = None
            try:
                from .verify import check_activation

                result, curves = check_activation(act, settings, want_curves=self.plot_dir is not None)
            except BaseException as exc:  # the core should have caught user errors; say what escaped
                result = ActivationResult.error(act.file, act.name, act.kind, describe_escaped(exc),
                                                duration=time.perf_counter() - t0)
            if result.duration is None:
                result = dataclasses.replace(result, duration=time.perf_counter() - t0)
            if self.plot_dir is not None and curves is not None:
                result = self._plot(result, curves)
        self.send({"ev": "result", "result": result.to_dict()})

    def _plot(self, result, curves):
        try:
            from .plot import write_plot

            path = write_plot(curves, result, self.plot_dir)
        except Exception as exc:  # a missing matplotlib must not cost the verdict
            return dataclasses.replace(result, message=f"{result.message} (plot not written: {one_line(exc)})")
        return dataclasses.replace(result, plot=None if path is None else str(path))

    def serve(self, commands) -> None:
        for line in commands:
            if not line.strip():
                continue
            msg = json.loads(line)
            op = msg.get("op")
            if op == "load":
                self.load(msg)
            elif op == "check":
                self.check(msg["name"])
            elif op == "exit":
                break


def main() -> None:
    proto, commands = _reserve_channels()
    tf_import_s = _quiet_tensorflow_import()
    worker = Worker(proto)
    worker.send({"ev": "ready", "tf_import_s": tf_import_s})
    worker.serve(commands)
    sys.stderr.flush()
    proto.flush()
    # Skip interpreter teardown: user atexit hooks and TF shutdown can hang or crash.
    os._exit(0)


if __name__ == "__main__":
    main()
