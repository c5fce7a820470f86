"""The worker protocol: what the supervisor (:mod:`gradcheck.runner`) and a worker process
(:mod:`gradcheck.worker`) say to each other, one JSON object per line.

Supervisor -> worker, on the worker's stdin::

    {"op": "load", "file": F, "names": [N, ...] | null, "settings": Settings.to_dict(),
     "overrides": {glob: {option: value}}, "plot_dir": D | null, "only_tf_modules": bool,
     "marked": [N, ...] | null}                                                           Load
    {"op": "check", "name": N}                                                             Check
    {"op": "next"}                                                                         Next
    {"op": "exit"}                                                                         Exit

Worker -> supervisor, on a private copy of the worker's stdout (fd 1 itself goes to stderr,
so nothing the user's code prints can be mistaken for a message)::

    {"ev": "ready", "tf_import_s": t, "preload_error": null | "one line",
     "preload_detail": null | "traceback", "pid": P | null}                                Ready
    {"ev": "loaded", "file": F, "names": [N, ...], "load_s": t,
     "activations": [{"name": N, "kind": K, "timeout": s | null}, ...],
     "not_checked": [NotChecked.to_dict(), ...]}                                          Loaded
    {"ev": "load_error", "error": LoadError.to_dict()}                                     LoadFailed
    {"ev": "result", "result": ActivationResult.to_dict()}                                 Result
    {"ev": "exited", "pid": P, "status": S}                                                Exited

The worker is a fork server (:mod:`gradcheck.worker`): one process imports TensorFlow and
gradcheck's pipeline once, then forks children that check the files, so that nothing one
file's code did (modules, sys.path, the working directory, TensorFlow's and Keras's global
settings) reaches the next file's verdict. The children take turns on the same pipes.

The conversation: a child sends Ready (with its ``pid``: its process group, to kill on a
timeout) when it is ready for a file; ``preload_error`` is set if the pipeline could not be
imported (the supervisor then treats the worker as one that failed to start). Each Load is
answered by Loaded or LoadFailed, each Check by one Result. Next says the file is done:
the child puts the interpreter back as it was and, if it verifiably is (state.py), sends
Ready again for the next file; otherwise it exits. Whenever a child ends, for whatever
reason (Next, a crash, a kill), the fork server sends Exited with its exit code (negative:
the signal), and the next child sends Ready. Exit ends the child and the server. A worker
without a fork server (Ready without ``pid``) serves every file itself and never sends
Exited.

``names`` in Loaded is what the supervisor should ask for, in discovery order; names asked
for but not found come last, are listed with kind :data:`UNKNOWN_KIND`, and answer Check
with an ``error`` result. An activation's ``timeout`` is its effective one (overrides and
marker applied); null means the run's. ``marked`` in Load (a file the static scan admitted
for its markers only, :mod:`gradcheck.scan`): these names are checked too if they are
activations, and one that is not there is simply left out. ``not_checked`` in Loaded: the
module's public callables that cannot be checked, with the reason; all of them for a whole
file, the marked ones for a ``marked`` file, none when only ``names`` were asked for (Check
then answers with an ``error`` saying why).

Decoding is lenient only where old or fake workers omit a field (``activations``,
``load_s``, ``tf_import_s``, the preload fields, ``marked``, ``not_checked``); anything else malformed raises
:class:`ProtocolError`. Cheap to import: no TensorFlow, no NumPy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Union

from .discover import Kind
from .results import ActivationResult, LoadError, NotChecked
from .settings import Settings

# A name asked for but never discovered has no kind; the contract only knows three.
UNKNOWN_KIND = Kind.FUNCTION
# How much of a line that is not a message a ProtocolError quotes.
_QUOTED_CHARS = 80


class ProtocolError(ValueError):
    """A line that is not a message of this protocol."""


# -- supervisor -> worker ------------------------------------------------------------------

@dataclass(frozen=True)
class Load:
    """Import ``file`` and discover its activations (``names`` None: all of them)."""

    file: str
    names: tuple[str, ...] | None
    settings: Settings
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    plot_dir: str | None = None
    only_tf_modules: bool = False
    marked: tuple[str, ...] | None = None  # admitted for its markers: also these names, if present


@dataclass(frozen=True)
class Check:
    """Check the activation ``name`` of the loaded file."""

    name: str


@dataclass(frozen=True)
class Next:
    """This file is done: clean up for the next one (or leave it to a fresh child)."""


@dataclass(frozen=True)
class Exit:
    """Stop the worker."""


# -- worker -> supervisor ------------------------------------------------------------------

@dataclass(frozen=True)
class Ready:
    """The worker is up; ``preload_error`` (one line) if gradcheck's pipeline failed to import."""

    tf_import_s: float | None = None
    preload_error: str | None = None
    preload_detail: str | None = None
    pid: int | None = None  # the child that will answer (its own process group); None: no fork server


@dataclass(frozen=True)
class ActivationInfo:
    """What the supervisor needs to know about one activation before checking it."""

    name: str
    kind: Kind
    timeout: float | None = None  # None: the run's timeout
    line: int | None = None  # of its def/class, for results the supervisor writes (timeouts, crashes)


@dataclass(frozen=True)
class Loaded:
    """The file loaded; check ``names`` in this order."""

    file: str
    names: tuple[str, ...]
    load_s: float = 0.0
    activations: tuple[ActivationInfo, ...] = ()
    not_checked: tuple[NotChecked, ...] = ()  # public callables that cannot be checked, and why
    missing: tuple[str, ...] = ()  # names asked for (file.py::name) that name nothing there: one line each


@dataclass(frozen=True)
class LoadFailed:
    """The file could not be loaded (or discovery failed)."""

    error: LoadError


@dataclass(frozen=True)
class Result:
    """The verdict on one activation, the answer to a :class:`Check`."""

    result: ActivationResult


@dataclass(frozen=True)
class Exited:
    """From the fork server: the child ``pid`` has ended with ``status`` (an exit code, or
    minus the signal that killed it)."""

    pid: int
    status: int


Command = Union[Load, Check, Next, Exit]
Event = Union[Ready, Loaded, LoadFailed, Result, Exited]
Message = Union[Command, Event]

_TAGS: dict[type, tuple[str, str]] = {
    Load: ("op", "load"), Check: ("op", "check"), Next: ("op", "next"), Exit: ("op", "exit"),
    Ready: ("ev", "ready"), Loaded: ("ev", "loaded"), LoadFailed: ("ev", "load_error"), Result: ("ev", "result"),
    Exited: ("ev", "exited"),
}
_TYPES = {tag: cls for cls, tag in _TAGS.items()}


def _fields(msg: Message) -> dict[str, Any]:
    if isinstance(msg, Load):
        return {"file": msg.file, "names": None if msg.names is None else list(msg.names),
                "settings": msg.settings.to_dict(), "overrides": msg.overrides, "plot_dir": msg.plot_dir,
                "only_tf_modules": msg.only_tf_modules, "marked": None if msg.marked is None else list(msg.marked)}
    if isinstance(msg, Check):
        return {"name": msg.name}
    if isinstance(msg, Ready):
        return {"tf_import_s": msg.tf_import_s, "preload_error": msg.preload_error,
                "preload_detail": msg.preload_detail, "pid": msg.pid}
    if isinstance(msg, Loaded):
        return {"file": msg.file, "names": list(msg.names), "load_s": msg.load_s,
                "activations": [{"name": a.name, "kind": Kind(a.kind).value, "timeout": a.timeout, "line": a.line}
                                for a in msg.activations],
                "not_checked": [n.to_dict() for n in msg.not_checked], "missing": list(msg.missing)}
    if isinstance(msg, LoadFailed):
        return {"error": msg.error.to_dict()}
    if isinstance(msg, Result):
        return {"result": msg.result.to_dict()}
    if isinstance(msg, Exited):
        return {"pid": msg.pid, "status": msg.status}
    return {}  # Next, Exit


def _message(cls: type, d: dict[str, Any]) -> Message:
    if cls is Load:
        names = d["names"]
        return Load(d["file"], None if names is None else tuple(names), Settings.from_dict(d["settings"]),
                    d.get("overrides") or {}, d.get("plot_dir"), bool(d.get("only_tf_modules")),
                    None if d.get("marked") is None else tuple(d["marked"]))
    if cls is Check:
        return Check(d["name"])
    if cls is Ready:
        return Ready(d.get("tf_import_s"), d.get("preload_error"), d.get("preload_detail"), d.get("pid"))
    if cls is Loaded:
        infos = tuple(ActivationInfo(a["name"], Kind(a["kind"]), a.get("timeout"), a.get("line")) for a in d.get("activations") or ())
        not_checked = tuple(NotChecked.from_dict(n) for n in d.get("not_checked") or ())
        return Loaded(d["file"], tuple(d["names"]), d.get("load_s") or 0.0, infos, not_checked,
                      tuple(d.get("missing") or ()))
    if cls is LoadFailed:
        return LoadFailed(LoadError.from_dict(d["error"]))
    if cls is Result:
        return Result(ActivationResult.from_dict(d["result"]))
    if cls is Exited:
        return Exited(int(d["pid"]), int(d["status"]))
    return cls()  # Next, Exit


def _jsonable(obj):
    # NumPy scalars that slipped into a result.
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def encode(msg: Message) -> str:
    """``msg`` as one line of JSON (without the newline)."""
    key, tag = _TAGS[type(msg)]
    return json.dumps({key: tag, **_fields(msg)}, default=_jsonable)


def decode(line: str) -> Message:
    """The message on ``line``; raises :class:`ProtocolError` if it is not one."""
    try:
        d = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {line[:_QUOTED_CHARS]!r}") from exc
    if not isinstance(d, dict):
        raise ProtocolError(f"not a JSON object: {line[:_QUOTED_CHARS]!r}")
    tag = ("op", d["op"]) if "op" in d else ("ev", d.get("ev"))
    cls = _TYPES.get(tag) if isinstance(tag[1], str) else None
    if cls is None:
        raise ProtocolError(f"unknown message: {line[:_QUOTED_CHARS]!r}")
    try:
        return _message(cls, d)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed {cls.__name__} message: {exc}") from exc
