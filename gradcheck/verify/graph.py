"""The graph check (docs/method.md s.3): forward and gradient under tf.function, as Keras
training runs them, against eager mode.
"""

from __future__ import annotations

import logging

import numpy as np

from ..results import FAIL, PASS, CheckResult
from .messages import fmt
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
        with _quiet_tf_logger():
            return _graph_vs_eager(subject, X, U, y, g, tol)
    except Exception as exc:
        reason = exc.reason if isinstance(exc, UserCodeError) else describe_exception(exc)
        if subject.dtype == "float64" and make_subject is not None:
            try:
                s32 = make_subject("float32")
                ev = s32.evaluate(X, U)
                res = _graph_vs_eager(s32, X, U, ev.y, ev.g, tolerance_for("float32"))
                return CheckResult(res.name, res.status, f"{res.message} (in float32; float64 fails to trace: {reason})",
                                   res.max_abs_error, res.max_rel_error, res.worst_input, "float32")
            except Exception as exc32:
                reason = exc32.reason if isinstance(exc32, UserCodeError) else describe_exception(exc32)
        return CheckResult("graph", FAIL, f"does not run under tf.function (Keras training compiles it): {reason}",
                           dtype=subject.dtype)


class _quiet_tf_logger:
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
    return subject.graph_function(shape)(xt, ut)


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
    xs = X.ravel()
    for what, a, b in (("output", y, yg), ("gradient", g, gg)):
        if b.shape != a.shape:
            return CheckResult("graph", FAIL, f"{what} under tf.function has shape {b.shape}, eager {a.shape}", dtype=dtype)
        fa, fb = np.isfinite(a), np.isfinite(b)
        if (fa != fb).any():
            i = int(np.argmax((fa != fb).ravel()))
            return CheckResult("graph", FAIL, f"{what} is {'finite' if fa.ravel()[i] else 'non-finite'} in eager mode but "
                               f"{'finite' if fb.ravel()[i] else 'non-finite'} under tf.function at x={fmt(xs[i])}",
                               worst_input=float(xs[i]), dtype=dtype)
        scale = float(np.max(np.abs(a[fa]))) if fa.any() else 1.0
        with np.errstate(all="ignore"):
            err = np.where(fa, np.abs(a - b), 0.0)
            t = tol.fd_rtol * ((np.abs(a) + np.abs(b)) / 2 + max(scale, 1e-30))
        if (err > t).any():
            i = int(np.argmax((err / np.maximum(t, 1e-300)).ravel()))
            return CheckResult("graph", FAIL, f"{what} under tf.function is {fmt(b.ravel()[i])} but eager gives "
                               f"{fmt(a.ravel()[i])} at x={fmt(xs[i])} (Python-side logic that depends on tensor values "
                               "or state?)", max_abs_error=float(err.ravel()[i]), worst_input=float(xs[i]), dtype=dtype)
    return CheckResult("graph", PASS, "tf.function gives the same output and gradient as eager mode", dtype=dtype)


def _tf_constant(a, subject):
    return to_tensor(a, subject.tf_dtype)
