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


def number(value: float, spec: str = ".4g") -> str:
    """A number as messages and tables write it: ``spec``, and zero always ``0`` (-0.0 as 0)."""
    if value == 0:
        value = 0.0  # -0.0 prints as "-0"
    return format(value, spec)


# The order in which failing checks explain a fault, best first (docs/method.md s.3b): the
# forward, randomness, a missing or non-finite gradient, a forgotten dy, then the values:
# against finite differences (the function's own slope) before the hand-written gradient
# against autodiff of its forward (autodiff itself may be what a custom gradient fixes),
# which reads better than a non-elementwise u.J.v (it names a point). Checks not listed
# follow in their order.
LEAD_ORDER = ("forward", "determinism", "gradient", "upstream", "gradient_vs_fd", "custom_vs_autodiff", "vjp_vs_fd",
              "weights", "two_calls", "second_order", "graph", "xla", "batch", "stability")
# CheckResult.finding tags that change the order: a gradient zero everywhere blames the
# function (not differentiable there), which finite differences contradict when they find
# a slope the gradient misses, unless they find the forward jumping (then both blame it).
ZERO_GRADIENT, JUMP = "zero_gradient", "jump"


def lead_order(checks, status: str) -> list:
    """The checks behind a verdict of ``status``, the one that best explains it first: those of
    that status, then the other failing (fail/error) ones, each group in LEAD_ORDER. A
    ``warn`` verdict lists its warnings only."""
    wanted = (FAIL, ERROR) if status in (FAIL, ERROR) else (status,) if status == WARN else ()
    bad = [c for c in checks if c.status in wanted]
    jump = any(c.finding == JUMP for c in bad)

    def rank(c) -> float:
        r = LEAD_ORDER.index(c.name) if c.name in LEAD_ORDER else len(LEAD_ORDER)
        if c.finding == ZERO_GRADIENT and not jump:
            r = LEAD_ORDER.index("vjp_vs_fd") + 0.5  # after every value check
        return r

    return sorted(bad, key=lambda c: (c.status != status, rank(c)))  # stable: a layer's modes keep their order


def short_message(check, with_mode: bool = True) -> str:
    """A check's message up to its first parenthesis or semicolon ("also: ..."), mode kept."""
    message, mode = check.message, MODE_PHRASES.get(check.mode or "")
    if mode and message.startswith(f"{mode}: "):
        message = message[len(mode) + 2:]
    cut = min((i for i in (message.find(" ("), message.find("; ")) if i > 0), default=len(message))
    return f"{mode}: {message[:cut]}" if mode and with_mode else message[:cut]


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
    # What a failing check found, where it changes how well the check explains the fault
    # (lead_order): ZERO_GRADIENT, JUMP; None otherwise, and then absent from the dict.
    finding: str | None = None
    # Keras layers whose call takes ``training``: "training" (training=True, what fit runs)
    # or "inference" (training=False, what predict runs); None for everything else, and
    # then absent from the dict (the rows of functions are as they always were).
    mode: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kinks"] = list(self.kinks)
        for key in ("mode", "finding"):
            if d[key] is None:
                del d[key]
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

    @property
    def lead(self) -> CheckResult | None:
        """The check the verdict's message leads with (its line, hint and figures are the
        row's), or None for a pass, a skip, or an error without checks."""
        ordered = lead_order(self.checks, self.status)
        return ordered[0] if ordered and ordered[0].status == self.status else None


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
