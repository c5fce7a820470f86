"""Checks of calls repeated as a model repeats them (docs/method.md s.3): ``determinism``
(the same input twice) and ``two_calls`` (two inputs in one GradientTape before the
backward pass).
"""

from __future__ import annotations

import numpy as np

from ..results import ERROR, FAIL, PASS, CheckResult
from .messages import fmt, input_at
from .subject import Subject, UserCodeError, to_tensor
from .tolerances import Tolerance

RANDOM_MESSAGE = "output differs between two calls with the same input (random?); check it with the randomness fixed"
RANDOM_GRADIENT_MESSAGE = ("gradient differs between two calls with the same input and upstream (random?); check it "
                           "with the randomness fixed")


def _mismatch(a: np.ndarray, b: np.ndarray, tol: Tolerance | None) -> np.ndarray:
    """Where ``a`` and ``b`` differ: bit for bit (NaN equal to NaN) when ``tol`` is None, else
    beyond exact_rtol*(|a|+|b|)/2 + exact_atol*max(1, max|a|), non-finite values in the same places."""
    a, b = a.ravel(), b.ravel()
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if tol is None:
        return ~same
    fa, fb = np.isfinite(a), np.isfinite(b)
    scale = max(1.0, float(np.max(np.abs(a[fa]), initial=0.0)))
    with np.errstate(all="ignore"):
        close = np.abs(a - b) <= tol.exact_rtol * (np.abs(a) + np.abs(b)) / 2 + tol.exact_atol * scale
    return ~(same | (fa & fb & close))


def identical(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Both None, or the same shape and the same values bit for bit (NaN equal to NaN)."""
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and not _mismatch(a, b, None).any()


def _first_difference(pairs, x: np.ndarray, tol: Tolerance | None):
    """(what, first value, second value, (where, x), count, total) of the first of ``pairs``
    ((what, a, b), "output" then "gradient") that differs, or None (messages.input_at: an
    output of another trailing shape is placed by its row)."""
    for what, a, b in pairs:
        if a is None or b is None or a.shape != b.shape:
            continue
        bad = _mismatch(a, b, tol)
        if bad.any():
            i = int(np.argmax(bad))
            return what, float(a.ravel()[i]), float(b.ravel()[i]), input_at(x, a.shape, i), int(bad.sum()), bad.size
    return None


def check_determinism(subject: Subject, X: np.ndarray, U: np.ndarray, first, tol: Tolerance) -> CheckResult:
    """Two calls on the same input, with the same upstream, must give the same output and the
    same gradient: bit for bit in eager mode (the same kernels on the same tensor), within the
    exact tolerance (exact_rtol*(|a|+|b|)/2 + exact_atol*max(1, max|a|)) when the activation is
    itself a tf.function. ``first`` is an Evaluation of X, U already made (the main pass) or None.

    When eager calls differ, the forward (and the gradient, when only the gradients differ) is
    compiled with tf.function and run twice on the same input, compared within the same exact
    tolerance. If those agree, what changes from
    call to call is Python-side (a call counter, NumPy random numbers), which tf.function runs
    once, at trace time, so Keras training sees one fixed value: fail. If they differ too (TF
    random ops, a seed generator, a tf.Variable changed by each call), the activation is random
    on this path and its gradient cannot be checked: error, with the contract's message. A
    layer's non-trainable weights are put back before each call (Subject), so a layer whose
    output depends on state it updates (a running mean) is not random."""
    dtype = subject.dtype
    weights = bool(subject.weights)
    a = first if first is not None else subject.evaluate(X, U, weights=weights)
    b = subject.evaluate(a.x_tensor if a.x_tensor is not None else X, U, weights=weights)
    exact = None if subject.is_tf_function else tol
    found = _first_difference((("output", a.y, b.y), ("gradient", a.g, b.g)), X, exact)
    if found is None:
        how = "within the exact tolerance (a tf.function)" if subject.is_tf_function else "bit for bit"
        return CheckResult("determinism", PASS, f"two calls on the same input give the same output and gradient ({how})",
                           dtype=dtype)
    what, va, vb, (at, x), count, total = found
    values = f"{fmt(va)} then {fmt(vb)} at {at} (differs at {count} of {total} points)"
    if not subject.is_tf_function and _same_under_tf_function(subject, X, U, tol, gradient=what == "gradient"):
        return CheckResult("determinism", FAIL, f"{what} differs between two calls with the same input in eager mode "
                           f"but not under tf.function: {values}; Python-side values that change on every call (a "
                           "counter, NumPy random numbers) run once under tf.function, at trace time, so Keras "
                           "training sees one fixed value", worst_input=x, dtype=dtype)
    message = RANDOM_MESSAGE if what == "output" else RANDOM_GRADIENT_MESSAGE
    return CheckResult("determinism", ERROR, f"{message}: {values}", worst_input=x, dtype=dtype)


def _same_under_tf_function(subject: Subject, X: np.ndarray, U: np.ndarray, tol: Tolerance,
                            gradient: bool) -> bool:
    """The forward (and the gradient, if ``gradient``) compiled with tf.function gives the same
    values twice on X, U (False if it does not run compiled: then nothing says the difference
    is Python-side)."""
    try:
        fn = subject.graph_function((None, X.shape[1]), gradient=gradient)
        xt, ut = to_tensor(X, subject.tf_dtype), to_tensor(U, subject.tf_dtype)
        (y1, g1), (y2, g2) = fn(xt, ut), fn(xt, ut)
    except Exception:  # the user's code under tf.function: any exception means "cannot tell"
        return False
    pairs = [("output", y1.numpy(), y2.numpy())]
    if gradient:
        pairs.append(("gradient", g1.numpy(), g2.numpy()))
    return _first_difference(pairs, X, tol) is None


def check_two_calls(subject: Subject, X1: np.ndarray, U1: np.ndarray, X2: np.ndarray, U2: np.ndarray,
                    tol: Tolerance, alone1: np.ndarray | None = None) -> CheckResult:
    """The activation called on X1 and then on X2 in one GradientTape, one backward pass (as a
    model that uses it twice before back-propagating): each call's input gradient must equal
    its gradient when called alone, same upstream. A hand-written gradient that reads state
    written by the forward (a module-level cache, an attribute, a tf.Variable) gets the second
    call's values in the first call's gradient. Tolerance: the exact one, exact_rtol*(|a|+|b|)/2
    + exact_atol*max(1, max|alone|) (the same ops on the same batches either way). ``alone1``:
    X1's gradient alone (upstream U1) if already known, else evaluated here."""
    dtype = subject.dtype
    if alone1 is None:
        alone1 = subject.evaluate(X1, U1).g
    alone2 = subject.evaluate(X2, U2).g
    try:
        pair1, pair2 = subject.evaluate_twice(X1, U1, X2, U2)
    except UserCodeError as exc:
        return CheckResult("two_calls", FAIL, "with two calls in one GradientTape (as a model that uses the "
                           f"activation twice): {exc.reason}", dtype=dtype)
    for which, pair, solo, U, X in (("first", pair1, alone1, U1, X1), ("second", pair2, alone2, U2, X2)):
        if solo is None or solo.shape != X.shape:
            continue  # the gradient check reports it
        if pair is None or pair.shape != solo.shape:
            got = "None" if pair is None else f"shape {pair.shape}"
            return CheckResult("two_calls", FAIL, f"the gradient of the {which} call is {got} when the activation is "
                               "called twice in one GradientTape, but right when called alone", dtype=dtype)
        bad = _mismatch(solo, pair, tol)
        if bad.any():
            i = int(np.argmax(bad))
            # VJP / upstream when the upstream has the input's shape; else the VJPs themselves
            ui = U.ravel()[i] if U.shape == solo.shape else 1.0
            with np.errstate(all="ignore"):
                ga, gp = solo.ravel()[i] / ui, pair.ravel()[i] / ui
                err = np.abs(pair.ravel() - solo.ravel())[bad]
            lead = ("the gradient of the first call uses state from the second call" if which == "first" else
                    "the gradient of the second call changes when the activation was called before it")
            return CheckResult("two_calls", FAIL, f"{lead}: with two calls in one GradientTape before the backward "
                               f"pass (as a model that uses the activation twice), the {which} call's gradient is "
                               f"{fmt(gp)} but {fmt(ga)} when called alone, at x={fmt(X.ravel()[i])} (differs at "
                               f"{int(bad.sum())} of {bad.size} points); keep what the gradient needs in the grad "
                               "function's closure, not in module or object state",
                               max_abs_error=float(np.nanmax(err)) if np.isfinite(err).any() else None,
                               worst_input=float(X.ravel()[i]), dtype=dtype)
    return CheckResult("two_calls", PASS, "each call's gradient is the same when the activation is called twice in one "
                       "GradientTape", dtype=dtype)
