"""The stability sweep (docs/method.md s.6): float32, then float16 and bfloat16, far
outside the checked range, for overflow and NaN a training run will meet sooner or later.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from ..results import PASS, WARN, CheckResult
from .layout import to_rows
from .messages import fmt, stability_hint
from .subject import Subject, UserCodeError

# (smallest, largest) magnitude swept per dtype. float16 stops at 16 (exp overflows at 11:
# mixed-precision activations see such inputs) and starts above its subnormals, where squares
# underflow for every formula alike.
SWEEP = {"float32": (1e-6, 1e4), "bfloat16": (1e-3, 1e4), "float16": (1e-3, 16.0)}
SWEEP_POINTS = 241  # magnitudes per sign: 60 per decade of float32's sweep
NARROW_POINTS = 256  # one batched call narrows the first bad input down (_first_bad)


@functools.lru_cache(maxsize=16)
def sweep_points(dtype: str, lo: float, hi: float) -> np.ndarray:
    """Log-spaced magnitudes over SWEEP[dtype], both signs. A one-sided range (a domain such
    as x > 0.5) is respected: nothing below LO when LO >= 0, nothing above HI when HI <= 0."""
    small, large = SWEEP[dtype]
    mags = np.logspace(np.log10(small), np.log10(large), SWEEP_POINTS)
    pts = np.concatenate([-mags[::-1], [0.0], mags])
    if lo >= 0:
        pts = pts[pts >= lo]
    if hi <= 0:
        pts = pts[pts <= hi]
    pts.flags.writeable = False  # cached: shared by every check
    return pts


class _Finding(NamedTuple):
    dtype: str
    x: float  # the first bad input (smallest |x|)
    what: str  # "output is NaN", "gradient is -inf"
    in_forward: bool
    onward: bool  # every larger input on that side is bad too
    count: int


def check_stability(make_subject, lo: float, hi: float, source: str | None, elementwise: bool = True) -> CheckResult:
    """Forward and gradient in float32 (then float16 and bfloat16 where the activation runs in
    them) on log-spaced inputs far beyond the checked range (|x| up to 1e4; 16 for float16).
    Non-finite output or gradient for a finite input is a warning naming the first bad input
    (smallest |x|), with a fix hint where a standard one exists. No tolerance: finiteness only."""
    finding, tried = None, []
    # Softmax-like activations see whole rows: in float16 a row of small inputs underflows
    # for any formula, so only float32 is swept for them.
    for dtype in ("float32", "float16", "bfloat16") if elementwise else ("float32",):
        try:
            s = make_subject(dtype)
            xs = _in_dtype(sweep_points(dtype, lo, hi), dtype)
            X = to_rows(xs)
            ev = s.evaluate(X, None)  # upstream ones of the output's shape
        except UserCodeError:
            if dtype == "float32":
                raise
            continue  # float16/bfloat16 not supported by this activation: nothing to say
        tried.append(dtype)
        found = _first_finding(s, xs, X, ev, dtype, elementwise)
        finding = finding or found
        if found is not None and dtype == "float32":
            break  # lower precisions will fail the same way; report the float32 finding
    if finding is None:
        return CheckResult("stability", PASS, f"finite output and gradient for |x| up to 1e4 in {', '.join(tried)}",
                           dtype=",".join(tried))
    hint = stability_hint(finding.dtype, finding.x, finding.in_forward, source)
    where = f"from x={fmt(finding.x)} on" if finding.onward else \
        f"at x={fmt(finding.x)} ({finding.count} isolated inputs of the sweep)"
    msg = f"{finding.dtype}: {finding.what} {where} (finite inputs)"
    return CheckResult("stability", WARN, msg, worst_input=finding.x, dtype=finding.dtype, hint=hint)


def _in_dtype(xs: np.ndarray, dtype: str) -> np.ndarray:
    """``xs`` rounded to ``dtype`` (bfloat16 through float32, which NumPy lacks), as float64."""
    return xs.astype(np.dtype(dtype) if dtype != "bfloat16" else np.float32).astype(np.float64)


def _first_finding(s: Subject, xs: np.ndarray, X: np.ndarray, ev, dtype: str, elementwise: bool) -> _Finding | None:
    """The first non-finite output or gradient of one dtype's sweep (``ev``: at ``X`` =
    to_rows(xs)), or None."""
    y = _per_input(ev.y, X)[: xs.size]
    g = _grad_or_zeros(ev, X, y)
    bad = ~np.isfinite(y) | ~np.isfinite(g)
    if not bad.any():
        return None
    idx = np.nonzero(bad)[0]
    i = idx[np.argmin(np.abs(xs[idx]))]
    x0, yb, gb = float(xs[i]), y[i], g[i]
    if elementwise:
        x0, yb, gb = _first_bad(s, xs, bad, i, dtype) or (x0, yb, gb)
    in_fwd = not np.isfinite(yb)
    bad_val = yb if in_fwd else gb
    what = ("output" if in_fwd else "gradient") + (" is NaN" if np.isnan(bad_val) else
                                                    f" is {'-' if bad_val < 0 else ''}inf")
    side = (np.sign(xs) == np.sign(xs[i])) & (np.abs(xs) >= abs(xs[i]))
    return _Finding(dtype, x0, what, in_fwd, bool(bad[side].all()), int(bad.sum()))


def _per_input(Y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The output per input, flat: an output of another trailing shape (GLU) stands for each
    input of its row by its first non-finite value, else its first value."""
    if Y.shape == X.shape:
        return Y.ravel()
    rows = Y.reshape(Y.shape[0], -1)
    first_bad = np.argmax(~np.isfinite(rows), axis=1)
    return np.repeat(rows[np.arange(rows.shape[0]), first_bad], X.size // X.shape[0])


def _grad_or_zeros(ev, X, y):
    """The gradient per input, or zeros where it is None or misshapen (reported by `gradient`)."""
    if ev.g is None or ev.g.shape != X.shape:
        return np.zeros_like(y)
    return ev.g.ravel()[: y.size]


def _first_bad(s: Subject, xs: np.ndarray, bad: np.ndarray, i: int, dtype: str):
    """Narrow the first non-finite input down between the last good sweep point and ``xs[i]``
    (one batched call of NARROW_POINTS points). Returns (x, y, g) there, or None."""
    same_side = (np.sign(xs) == np.sign(xs[i])) & (np.abs(xs) < np.abs(xs[i])) & ~bad
    if not same_side.any():
        return None
    good = xs[same_side][np.argmax(np.abs(xs[same_side]))]
    grid = np.linspace(good, xs[i], NARROW_POINTS)
    grid = _in_dtype(grid, dtype)
    X = to_rows(grid)
    ev = s.evaluate(X, None)
    y = _per_input(ev.y, X)[: grid.size]
    g = _grad_or_zeros(ev, X, y)
    nb = ~np.isfinite(y) | ~np.isfinite(g)
    if not nb.any():
        return None
    j = int(np.argmax(nb))
    return float(grid[j]), y[j], g[j]
