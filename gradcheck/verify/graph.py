"""The graph check (docs/method.md s.3): forward and gradient under tf.function, as Keras
training runs them, against eager mode.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from ..results import FAIL, PASS, CheckResult
from .messages import fmt, input_at
from .subject import Subject, UserCodeError, describe_exception, to_tensor
from .tolerances import Tolerance, tolerance_for


def check_graph(subject: Subject, X: np.ndarray, U: np.ndarray, y: np.ndarray, g: np.ndarray, tol: Tolerance,
                make_subject=None) -> CheckResult:
    """Forward and gradient under tf.function (how Keras trains) against eager mode, same
    inputs and upstream. Tolerance: fd_rtol*((|a|+|b|)/2 + max|eager|): graph rewrites and
    fused kernels reorder arithmetic, which moves cancelling terms by ulps of their
    intermediates; the bugs this catches (Python-side logic on values or state) differ by
    far more. Non-finite values must sit in the same places. Something that fails to trace
    only in float64 (Python float constants typed float32 by graph mode) is compared in
    float32, the dtype training uses."""
    if subject.is_tf_function:
        return CheckResult("graph", PASS, "already a tf.function: eager and graph are the same code path",
                           dtype=subject.dtype)
    try:
        return with_float32_fallback(_graph_vs_eager, subject, X, U, y, g, tol, make_subject,
                                     lambda exc: f"fails to trace: {_why(exc)}")
    except Exception as exc:
        return CheckResult("graph", FAIL, f"does not run under tf.function (Keras training compiles it): {_why(exc)}",
                           dtype=subject.dtype)


def with_float32_fallback(compare, subject: Subject, X, U, y, g, tol: Tolerance, make_subject, describe) -> CheckResult:
    """``compare(subject, X, U, y, g, tol)``; when it raises for a float64 subject, the same
    comparison in float32 (the dtype training uses), its message ending "(in float32; float64
    <describe(exception)>)". Raises the last exception when there is no float32 result."""
    try:
        with quiet_tf_logger():
            return compare(subject, X, U, y, g, tol)
    except Exception as exc:
        if subject.dtype != "float64" or make_subject is None:
            raise
        first = exc
    s32 = make_subject("float32")
    ev = s32.evaluate(X, U)
    with quiet_tf_logger():
        res = compare(s32, X, U, ev.y, ev.g, tolerance_for("float32"))
    return dataclasses.replace(res, message=f"{res.message} (in float32; float64 {describe(first)})", dtype="float32")


def _why(exc: Exception) -> str:
    return exc.reason if isinstance(exc, UserCodeError) else describe_exception(exc)


def disagreeing(a: np.ndarray, b: np.ndarray, tol: Tolerance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mask, err, t): the entries where a compiled result ``b`` disagrees with eager ``a``
    (finite in one only, or ``err = |a - b|`` beyond ``t = fd_rtol*((|a|+|b|)/2 + max|a|)``)."""
    fa, fb = np.isfinite(a), np.isfinite(b)
    scale = float(np.max(np.abs(a[fa]))) if fa.any() else 1.0
    with np.errstate(all="ignore"):
        err = np.where(fa & fb, np.abs(a - b), 0.0)
        t = tol.fd_rtol * ((np.abs(a) + np.abs(b)) / 2 + max(scale, 1e-30))
    return (fa != fb) | (err > t), err, t


def first_disagreement(a: np.ndarray, b: np.ndarray, tol: Tolerance):
    """Where a compiled result ``b`` disagrees with eager ``a`` (same shape): None, or
    ``(kind, i, err)`` with ``kind`` "finite" (finite in one only) or "value" (see
    ``disagreeing``), ``i`` the flat index of the worst point, ``err`` its absolute difference."""
    finite = np.isfinite(a) != np.isfinite(b)
    if finite.any():
        return "finite", int(np.argmax(finite.ravel())), None
    mask, err, t = disagreeing(a, b, tol)
    if mask.any():
        i = int(np.argmax((err / np.maximum(t, 1e-300)).ravel()))
        return "value", i, float(err.ravel()[i])
    return None


class quiet_tf_logger:
    """Silence TF's "retracing" warnings while the check traces one tf.function per activation
    (expected here; in a user's test run through the Python API it would only be noise)."""

    def __enter__(self):
        self.logger = logging.getLogger("tensorflow")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)
        return False


def _compiled(subject: Subject, shape, xt, ut):
    """Run forward+gradient under tf.function with AutoGraph, as Keras training does (its
    conversion is most of the tracing time, but switching it off changes what breaks)."""
    key = tuple(shape)
    if key not in subject.graph_traced:  # kept: the xla check reads this trace
        subject.graph_traced[key] = subject.graph_function(shape)
    return subject.graph_traced[key](xt, ut)


def _graph_vs_eager(subject: Subject, X, U, y, g, tol: Tolerance) -> CheckResult:
    dtype = subject.dtype
    xt, ut = _tf_constant(X, subject), _tf_constant(U, subject)
    try:
        yg, gg = _compiled(subject, (None, X.shape[1]), xt, ut)
    except Exception as exc:
        try:  # only the unknown batch size breaks it?
            _compiled(subject, X.shape, xt, ut)
        except Exception:
            raise exc from None
        reason = exc.reason if isinstance(exc, UserCodeError) else describe_exception(exc)
        return CheckResult("graph", FAIL, "fails under tf.function when the batch size is unknown (Keras retraces "
                           f"with batch size None when it changes, e.g. at the last batch): {reason}", dtype=dtype)
    yg, gg = np.asarray(yg.numpy(), np.float64), np.asarray(gg.numpy(), np.float64)
    for what, a, b in (("output", y, yg), ("gradient", g, gg)):
        if b.shape != a.shape:
            return CheckResult("graph", FAIL, f"{what} under tf.function has shape {b.shape}, eager {a.shape}", dtype=dtype)
        found = first_disagreement(a, b, tol)
        if found is None:
            continue
        kind, i, err = found
        at, x = input_at(X, a.shape, i)
        if kind == "finite":
            fa = bool(np.isfinite(a.ravel()[i]))
            return CheckResult("graph", FAIL, f"{what} is {'finite' if fa else 'non-finite'} in eager mode but "
                               f"{'non-finite' if fa else 'finite'} under tf.function at {at}",
                               worst_input=x, dtype=dtype)
        return CheckResult("graph", FAIL, f"{what} under tf.function is {fmt(b.ravel()[i])} but eager gives "
                           f"{fmt(a.ravel()[i])} at {at} (Python-side logic that depends on tensor values "
                           "or state?)", max_abs_error=err, worst_input=x, dtype=dtype)
    return CheckResult("graph", PASS, "tf.function gives the same output and gradient as eager mode", dtype=dtype)


def _tf_constant(a, subject):
    return to_tensor(a, subject.tf_dtype)
