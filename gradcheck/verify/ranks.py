"""The ranks check (docs/method.md s.3, "Input ranks"): the activation on the same sample
points laid out as 3-D (b, t, 8) inputs, as a Transformer feeds it, and as 4-D (n, h, w, 8)
inputs, as a CNN does, against the (rows, 8) layout every other check uses.

Each (..., 8) vector of a 3-D or 4-D input is one row of the 2-D batch, so an activation
that acts elementwise or along the last axis computes the same output and the same
vector-Jacobian product (same upstream, laid out the same way) in every layout. What
assumes 2-D inputs does not: a hand-written gradient that reduces over ``axis=1``, reshapes
to a hard-coded 2-D shape, takes ``x.shape[1]`` as the number of features or transposes
with ``perm=[1, 0]``; a layer whose ``build`` sizes a weight from ``input_shape[1]``.

No I/O; the user's exceptions become results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..results import FAIL, PASS, SKIP, CheckResult
from .graph import disagreeing, first_disagreement
from .layout import WIDTH
from .messages import fmt
from .subject import Subject, UserCodeError
from .tolerances import Tolerance

# The leading axes of each layout: every size differs from WIDTH and from the others, so
# that x.shape[1] is never the number of features and a transpose never maps a shape onto
# itself. Both hold RANK_ROWS rows of the 2-D batch (method.md s.3, "Input ranks").
LAYOUTS = {3: ((64, 4), "(b, t, 8)"), 4: ((4, 2, 32), "(n, h, w, 8)")}
RANK_ROWS = 256
RANKS_HINT = ("Transformers feed activations (batch, time, features) and CNNs (N, H, W, C): reduce, index and "
              "reshape along the last axis (axis=-1, x.shape[-1] or tf.shape(x)[-1], tf.reshape(g, tf.shape(x)), "
              "input_shape[-1] in build), not axis 1 or a fixed 2-D shape")


@dataclass(frozen=True)
class Reference:
    """The (rows, 8) batch the other layouts are compared with: inputs, upstream, output, input
    gradient (VJP) and weight gradients (None for a function)."""

    X: np.ndarray
    U: np.ndarray
    y: np.ndarray
    g: np.ndarray
    weight_grads: list | None = None


def check_ranks(subject_for: Callable[[np.ndarray], Subject], ref: Reference, tol: Tolerance, grad_tol: Tolerance,
                custom: bool, dtype: str, gradient_line: Callable[[], int | None] = lambda: None) -> CheckResult:
    """The same points as 3-D (b, t, 8) and 4-D (n, h, w, 8) inputs, with the same upstream laid
    out the same way, against the (rows, 8) results ``ref``: output, input gradient and (layers)
    weight gradients, rearranged to rows. ``subject_for(X)`` gives the subject to call on X (a
    layer: a fresh instance built on X's rank with the 2-D instance's weights); it raises
    UserCodeError when the layer cannot be built or called there, WeightsDiffer when its
    weights cannot take the 2-D instance's values, NotComparable when nothing can be
    compared (a layer building another number of weights: skip).

    Tolerance: graph.py's rule, fd_rtol*((|a|+|b|)/2 + max|(rows, 8) result|) (``grad_tol`` for
    gradients): another layout may fuse or order the same arithmetic differently (a reduction
    along the last axis included), which moves results by ulps of their intermediates; a
    reduction over the wrong axis moves them by the values themselves. Non-finite values must
    sit in the same places. A forward or gradient that raises, returns None or another shape
    on rank 3 or 4 only fails with the reason; so do values that differ. A failure names the
    layout and the rank; the first failing layout is described, the other named. A failure
    of a hand-written gradient (``custom``) points at ``gradient_line()``."""
    failures = []
    for lead, name in LAYOUTS.values():
        try:
            problem = _compare(subject_for, ref, lead, name, tol, grad_tol, custom, dtype, gradient_line)
        except NotComparable as exc:
            return skip(f"on {name} inputs {exc}", dtype)
        if problem is not None:
            failures.append((name, problem))
    if failures:
        first = failures[0][1]
        others = [n for n, _ in failures[1:]]
        if others:
            first = CheckResult(first.name, first.status, f"{first.message}; also on {', '.join(others)} inputs",
                                max_abs_error=first.max_abs_error, worst_input=first.worst_input, dtype=dtype,
                                hint=first.hint, line=first.line)
        else:
            passed = [n for _, n in LAYOUTS.values() if n != failures[0][0]]
            first = CheckResult(first.name, first.status, f"{first.message}; {', '.join(passed)} inputs give the "
                                "(rows, 8) results", max_abs_error=first.max_abs_error, worst_input=first.worst_input,
                                dtype=dtype, hint=first.hint, line=first.line)
        return first
    n = ref.X.size
    return CheckResult("ranks", PASS, f"{' and '.join(n for _, n in LAYOUTS.values())} inputs give the (rows, 8) output "
                       f"and gradient at {n} points", dtype=dtype)


def _compare(subject_for, ref: Reference, lead: tuple, name: str, tol: Tolerance, grad_tol: Tolerance, custom: bool,
             dtype: str, gradient_line) -> CheckResult | None:
    """None when the layout ``lead + (WIDTH,)`` gives ``ref``'s results, else the failure."""
    shape = tuple(lead) + (WIDTH,)
    rank = len(shape)
    on = f"on {name} inputs (rank {rank}, here {shape})"
    who = "the hand-written gradient" if custom else "the gradient"
    # the upstream has the output's trailing shape (another one for GLU-like activations)
    Xn, Un = ref.X.reshape(shape), ref.U.reshape(tuple(lead) + ref.U.shape[1:])

    def fail(message, gradient=False, **kw):
        line = gradient_line() if gradient and custom else None
        return CheckResult("ranks", FAIL, f"{on} {message}", dtype=dtype, hint=RANKS_HINT, line=line, **kw)

    try:
        subject = subject_for(Xn)
        ev = subject.evaluate(Xn, Un, weights=ref.weight_grads is not None)
    except UserCodeError as exc:
        what = "" if exc.stage == "gradient" else "the forward "
        return fail(f"{what}{exc.reason}, while (rows, 8) inputs work", gradient=exc.stage == "gradient")
    except WeightsDiffer as exc:
        return fail(f"{exc}: sized from input_shape[1] instead of input_shape[-1]?")
    if ev.g is None:
        return fail(f"{who} is None, while (rows, 8) inputs get one", gradient=True)
    if ev.not_tensor is not None or ev.g.shape != shape:
        got = ev.not_tensor or f"shape {ev.g.shape}"
        return fail(f"{who} has {got}, expected the input's shape {shape} (a reshape to a fixed 2-D shape?)",
                    gradient=True)
    xs = ref.X.ravel()
    if ev.y.shape != tuple(lead) + ref.y.shape[1:]:
        return fail(f"the output has shape {ev.y.shape}, expected {tuple(lead) + ref.y.shape[1:]} as (rows, 8) inputs "
                    f"give {ref.y.shape}")
    found = _first_difference(ref.y, ev.y.reshape(ref.y.shape), tol)
    if found is not None:
        count, i, a, b, err = found
        return fail(f"the output differs from the (rows, 8) result at {count} of {xs.size} points ({fmt(b)} instead "
                    f"of {fmt(a)} at x={fmt(xs[i])}): acts along axis 1 instead of -1, or takes x.shape[1] as the "
                    "number of features?", max_abs_error=err, worst_input=float(xs[i]))
    found = _first_difference(ref.g, ev.g.reshape(ref.g.shape), grad_tol)
    if found is not None:
        count, i, a, b, err = found
        return fail(f"{who} differs from the (rows, 8) result at {count} of {xs.size} points (vector-Jacobian product "
                    f"{fmt(b)} instead of {fmt(a)} at x={fmt(xs[i])}): reduces over axis 1 instead of -1?",
                    max_abs_error=err, worst_input=float(xs[i]), gradient=True)
    for w, a, b in zip(subject.weights, ref.weight_grads or [], ev.weight_grads or []):
        wname = getattr(w, "name", None) or "weight"
        if a is None:
            continue  # the weights check judges a missing weight gradient
        if b is None:
            return fail(f"weight '{wname}' gets no gradient (None), while (rows, 8) inputs give it one", gradient=True)
        if b.shape != tuple(w.shape):
            return fail(f"the gradient of weight '{wname}' has shape {b.shape}, expected the weight's {tuple(w.shape)} "
                        "(summed over axis 0 alone, not over every axis the weight is broadcast along?)", gradient=True)
        if a.shape != b.shape:
            continue  # a weight built per position (input_shape[1:]): its gradient is per position too
        found = _first_difference(a, b, grad_tol)
        if found is not None:
            count, _, va, vb, err = found
            return fail(f"the gradient of weight '{wname}' differs from the (rows, 8) result in {count} of {a.size} "
                        f"entries ({fmt(vb)} instead of {fmt(va)})", max_abs_error=err, gradient=True)
    return None


class WeightsDiffer(Exception):
    """A layer built on another rank has weights that cannot take the 2-D instance's values."""


class NotComparable(Exception):
    """A layer built on another rank is not the same function in any comparable way."""


def _first_difference(a: np.ndarray, b: np.ndarray, tol: Tolerance):
    """(count, flat index of the worst, a there, b there, |a - b| there) where ``b`` differs
    from ``a`` (graph.first_disagreement: finite in one only first, else beyond
    graph.disagreeing's tolerance), or None."""
    found = first_disagreement(a, b, tol)
    if found is None:
        return None
    _, i, err = found
    count = int(disagreeing(a, b, tol)[0].sum())
    return count, i, float(a.ravel()[i]), float(b.ravel()[i]), 0.0 if err is None else err


def skip(reason: str, dtype: str) -> CheckResult:
    return CheckResult("ranks", SKIP, f"not run: {reason}", dtype=dtype)
