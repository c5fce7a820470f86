"""Result objects shared by every stage of the pipeline.

They are small frozen dataclasses so that workers can send them as plain dicts and
reporters can only read them. The exit code is a property of :class:`Report`, computed
from the results, never from what was printed (as in black).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS, WARN, FAIL, ERROR, SKIP = "pass", "warn", "fail", "error", "skip"
EXIT_USAGE = 2  # the contract's usage error, also for one found only once the file is loaded
# Exit status when no activation was found in any target (as pytest's "no tests collected"),
# outside hook mode.
EXIT_NOTHING_FOUND = 5
STATUSES = (PASS, WARN, FAIL, ERROR, SKIP)
# Higher is worse: the status of an activation is the worst of its checks.
SEVERITY = {ERROR: 4, FAIL: 3, WARN: 2, PASS: 1, SKIP: 0}


def worst(statuses) -> str:
    """The most severe of ``statuses`` (``pass`` if there are none)."""
    statuses = list(statuses)
    if not statuses:
        return PASS
    return max(statuses, key=SEVERITY.__getitem__)


# How a check row's message and an activation's verdict name the mode they were found in.
MODE_PHRASES = {"training": "in training mode (training=True)", "inference": "in inference mode (training=False)"}


def activation_id(file: str, name: str) -> str:
    """``file::name``, the id of an activation in reports and on the command line."""
    return f"{file}::{name}"


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check of one activation (one row of ``checks`` in the JSON)."""

    name: str
    status: str
    message: str
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    worst_input: float | None = None
    dtype: str | None = None
    # Informational extras (not part of the contract's required fields).
    kinks: tuple[float, ...] = ()
    hint: str | None = None
    line: int | None = None  # where the check points closer than the activation (the hand-written gradient)
    # Keras layers whose call takes ``training``: "training" (training=True, what fit runs)
    # or "inference" (training=False, what predict runs); None for everything else, and
    # then absent from the dict (the rows of functions are as they always were).
    mode: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kinks"] = list(self.kinks)
        if self.mode is None:
            del d["mode"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        d = dict(d)
        d["kinks"] = tuple(d.get("kinks") or ())
        return cls(**d)


@dataclass(frozen=True)
class ActivationResult:
    """Verdict on one activation: its checks and the one-line message people read."""

    id: str
    file: str
    name: str
    kind: str  # a discover.Kind: "function" | "custom_gradient" | "layer"
    status: str
    message: str
    checks: tuple[CheckResult, ...] = ()
    elementwise: bool | None = None
    duration: float | None = None
    plot: str | None = None
    line: int | None = None  # 1-based line of the activation's def/class in ``file``

    @classmethod
    def error(cls, file: str, name: str, kind: str, message: str, *, duration: float | None = None,
              line: int | None = None) -> ActivationResult:
        """An ``error`` verdict without checks: the activation could not be checked, ``message`` says why."""
        return cls(activation_id(file, name), file, name, kind, ERROR, message, duration=duration, line=line)

    @classmethod
    def skipped(cls, file: str, name: str, kind: str, reason: str, *, line: int | None = None) -> ActivationResult:
        """A ``skip`` verdict: not checked, for ``reason``."""
        return cls(activation_id(file, name), file, name, kind, SKIP, reason, line=line)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checks"] = [c.to_dict() for c in self.checks]
        # the contract's order: where it is, then what was found
        return {k: d[k] for k in ("id", "file", "name", "kind", "line")} | \
            {k: v for k, v in d.items() if k not in ("id", "file", "name", "kind", "line")}

    @property
    def location(self) -> str:
        """``file:line`` (``file`` where the line is unknown), as linters and editors read it."""
        return self.file if self.line is None else f"{self.file}:{self.line}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ActivationResult:
        d = dict(d)
        d["checks"] = tuple(CheckResult.from_dict(c) for c in d.get("checks") or ())
        return cls(**d)

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)


class _Flat:
    """``to_dict``/``from_dict`` of a dataclass of plain fields (the worker protocol and the
    JSON carry them as dicts)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        return cls(**d)


@dataclass(frozen=True)
class LoadError(_Flat):
    """A target module that could not be imported (or whose import timed out/crashed)."""

    file: str
    message: str  # one line: "SyntaxError: invalid syntax (line 3)"
    detail: str | None = None  # the user's own traceback frames, shown with -v


@dataclass(frozen=True)
class NotChecked(_Flat):
    """A public callable that discovery saw in an imported module but cannot check, and why."""

    id: str
    file: str
    name: str
    line: int | None  # 1-based line of its def/class, None if unknown
    reason: str  # "takes 2 required arguments (x, gate)", "not a keras Layer", ...


@dataclass(frozen=True)
class NotImported(_Flat):
    """A file of a folder target (or handed to the hook) that was passed over, and why."""

    file: str
    reason: str  # "does not import tensorflow/keras", "no activation file: ..."


@dataclass(frozen=True)
class Report:
    """Everything one run produced. Owns the summary and the exit code."""

    results: tuple[ActivationResult, ...] = ()
    errors: tuple[LoadError, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    timings: tuple[tuple[str, float], ...] = ()
    interrupted: int | None = None  # the signal that stopped the run early (results are partial)
    usage_errors: tuple[str, ...] = ()  # found during the run: a file.py::name that names nothing
    not_checked: tuple[NotChecked, ...] = ()
    not_imported: tuple[NotImported, ...] = ()
    hook: bool = False  # hook mode: finding nothing is not an error

    @property
    def summary(self) -> dict[str, int]:
        counts = {"passed": 0, "warned": 0, "failed": 0, "errors": 0, "skipped": 0}
        key = {PASS: "passed", WARN: "warned", FAIL: "failed", ERROR: "errors", SKIP: "skipped"}
        for r in self.results:
            counts[key[r.status]] += 1
        return counts

    @property
    def interrupted_by(self) -> str | None:
        """The name of the signal that stopped the run ("SIGTERM"), or None."""
        if self.interrupted is None:
            return None
        import signal

        try:
            return signal.Signals(self.interrupted).name
        except ValueError:
            return f"signal {self.interrupted}"

    @property
    def nothing_found(self) -> bool:
        """No activation (and no file that failed to load) in any target, in a run that finished."""
        return not self.results and not self.errors and self.interrupted is None

    @property
    def exit_code(self) -> int:
        """128 + the signal when the run was interrupted (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP);
        2: a ``file.py::name`` named nothing; 1: a failure, an error or a module that did not load; 5: nothing found (0 in hook
        mode); 0: every activation checked passed (warnings allowed)."""
        if self.interrupted is not None:
            return 128 + self.interrupted
        if self.usage_errors:
            return EXIT_USAGE
        if self.errors:
            return 1
        if any(r.status in (FAIL, ERROR) for r in self.results):
            return 1
        if self.nothing_found and not self.hook:
            return EXIT_NOTHING_FOUND
        return 0
