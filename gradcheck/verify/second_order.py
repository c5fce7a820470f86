"""The ``second_order`` check (``--order 2``, docs/method.md s.4a): second derivatives through
nested GradientTapes against finite differences of the first gradient.

What is differentiated is what a gradient penalty or a Hessian-vector product differentiates:
the VJP v = J(x)^T u that training computes (through the hand-written gradient of a
custom-gradient function), taken once more with respect to x on an outer tape, with a random
upstream u and a random outer upstream w: s = d<w, v>/dx = H_u w.

- Elementwise activations: s = w u f''(x), so f'' = s / (u w) at every point, against the
  central differences of the first derivative f'(x) (finite differences of the gradient with
  the machinery of the first-order check: power-of-two steps, Richardson extrapolation, error
  estimate, kinks accepted as subgradients, a second look with finer steps).
- Other activations: per row (or for the whole batch when rows mix), d.s = d^T H_u w against
  the directional difference of w.v(X + t d), for random unit directions d.

A first derivative that jumps (the function has a kink: relu at 0) has no second derivative
there; any value passes and the point is listed in ``kinks``. A ``None`` second derivative is
read as 0 (what TensorFlow's own piecewise-linear gradients give: tf.maximum, tf.where,
tf.clip_by_value) and judged the same way: it passes where the finite differences of the
gradient are 0 too, and fails naming the likely cut where they are not.
"""

from __future__ import annotations

import numpy as np

from ..discover import Kind
from ..results import ERROR, FAIL, PASS, CheckResult
from .fd import cluster_points, compare_with_fd, directional_quotients, fd_step
from .layout import to_rows, upstream
from .messages import NAN_GRADIENT_HINT, fmt, where
from .stencil import elementwise_fd, refine_fd
from .subject import Subject, UserCodeError
from .tolerances import Tolerance

NAME = "second_order"
# Random unit directions per row of a non-elementwise activation (each costs four more
# forward and backward passes; the rows already give many independent directions).
DIRECTIONS = 2
# A typical failing point for the message: among those whose error is at least this
# fraction of the median error of the failing points, the one nearest |x| = 1.
TYPICAL_FRACTION = 0.5
NAN_SECOND_HINT = ("the gradient's own derivative is infinite or NaN there (sqrt, pow or log near 0 in the gradient, "
                   "or a tf.where whose unselected branch is NaN: 0 * NaN = NaN one derivative further): guard the "
                   "op's input with tf.where(mask, x, safe_value) before the op")


class FirstDerivative:
    """The first derivative of an elementwise subject, as a function the finite-difference
    stencil (stencil.Stencil, stencil.refine_fd) can evaluate like an activation: the VJP with
    a ones upstream (linearity in the upstream is the upstream check's job). NaN where TF
    gives no gradient."""

    def __init__(self, subject: Subject):
        self.subject = subject

    def _g(self, x: np.ndarray) -> np.ndarray:
        ev = self.subject.evaluate(x, np.ones(x.shape))
        if ev.g is None or ev.g.shape != x.shape:
            return np.full(x.shape, np.nan)
        return ev.g

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._g(np.asarray(x, dtype=np.float64))

    def forward_shifted(self, x, h: np.ndarray, ks) -> list[np.ndarray]:
        return [self._g(x + k * h) for k in ks]


def check_second_order(subject: Subject, tol: Tolerance, rng: np.random.Generator, *, elementwise: bool,
                       x: np.ndarray | None = None, u: np.ndarray | None = None,
                       X: np.ndarray | None = None, U: np.ndarray | None = None,
                       rows_independent: bool = True, gradient_finite: bool = True) -> CheckResult:
    """Second derivatives from nested tapes against finite differences of the first gradient.

    Elementwise (``x``, ``u``: the flat points and their upstream): f'' = s / (u w) against the
    finite differences of f' at every point, with the first-order tolerance rules (fd.py:
    ``fd_rtol*|R| + fd_atol + 4*noise + 2*trunc``, noise = 8 ulps of max|f'| / h). Otherwise
    (``X``, ``U``: rows): d^T H_u w against the directional differences of w.v, the noise
    that of the batch's largest sum |w*v|. ``tol``: the tolerances of the gradient's arithmetic (float32's for a
    hand-written gradient that computes in float32). A user exception while differentiating
    twice is ``error``; TensorFlow's LookupError (no gradient registered for an op of the
    gradient) is ``fail``: the second derivative does not exist in TF. Where the gradient itself
    is not finite, at the point or where its finite differences are taken, nothing is judged
    when ``gradient_finite`` is False (the gradient check has reported it); otherwise that fails.
    """
    dtype = subject.dtype
    try:
        if elementwise:
            return _elementwise(subject, x, u, tol, rng, gradient_finite)
        return _directional(subject, X, U, tol, rng, rows_independent, gradient_finite)
    except UserCodeError as exc:
        return CheckResult(NAME, ERROR, exc.reason, dtype=dtype)


def _nested(subject: Subject, X: np.ndarray, U: np.ndarray, rng: np.random.Generator):
    """(second-order pass, W) on the rows X with upstream U and a random outer upstream W."""
    W = upstream(rng, X.shape)
    return subject.second_order(X, U, W), W


def _missing(so, dtype: str) -> CheckResult | None:
    if so.missing is not None:
        return CheckResult(NAME, FAIL, f"no second derivative: TensorFlow cannot differentiate the gradient "
                           f"({so.missing}); write the activation with ops that TF differentiates twice", dtype=dtype)
    if so.v is None:  # the gradient check has failed already; nothing to differentiate
        return CheckResult(NAME, FAIL, "no gradient (None) to differentiate", dtype=dtype)
    return None


def _cut(subject: Subject) -> str:
    """Why a second derivative may be None although finite differences say it is not 0."""
    if subject.kind == Kind.CUSTOM_GRADIENT and subject.custom is not None:
        return "the hand-written gradient is cut from the graph (tf.stop_gradient, NumPy/.numpy(), a cast)"
    return "the gradient is cut from the graph (tf.stop_gradient, NumPy/.numpy(), tf.py_function, a cast)"


# -- elementwise ----------------------------------------------------------------------------
def _elementwise(subject: Subject, x: np.ndarray, u: np.ndarray, tol: Tolerance, rng,
                 gradient_finite: bool) -> CheckResult:
    """f''(x) of an elementwise activation at every point against finite differences of its
    gradient (the first-order machinery, on the gradient instead of the function). Over 60
    lines on purpose: it reads as the sequence of verdicts it can give (a missing second
    derivative, a non-finite one, a wrong one, a pass), each a return, and splitting it would
    only thread the comparison's state through helpers."""
    dtype = subject.dtype
    n = x.size
    X, U = to_rows(x), to_rows(u)
    so, W = _nested(subject, X, U, rng)
    failed = _missing(so, dtype)
    if failed is not None:
        return failed
    with np.errstate(all="ignore"):
        g = so.v.ravel()[:n] / u  # f'(x)
        none = so.s is None
        g2 = np.zeros(n) if none else so.s.ravel()[:n] / (u * W.ravel()[:n])  # f''(x)
    bad = ~np.isfinite(g2) & np.isfinite(g)
    if bad.any():
        i = int(np.nonzero(bad)[0][np.argmin(np.abs(x[bad]))])
        what = "NaN" if np.isnan(g2[i]) else "inf"
        return CheckResult(NAME, FAIL, f"second derivative is {what} at x={fmt(x[i] + 0.0)} where the gradient is "
                           f"finite ({int(bad.sum())} of {n} points, {where(x[bad] + 0.0)})",
                           worst_input=float(x[i] + 0.0), dtype=dtype, hint=NAN_SECOND_HINT)
    d1 = FirstDerivative(subject)
    fd = elementwise_fd(d1, x, g, g2, tol)
    cmp = refine_fd(d1, x, g, g2, fd.cmp, tol)
    jumps = cmp.jumps()
    ok = cmp.ok.copy()
    ok[jumps] = True  # the first derivative jumps: a kink of f, where f'' is not a number
    _one_sided_limits(fd, cmp, g2, ok)
    k = cmp.at[cmp.kink[cmp.at]]
    steps = cluster_points(x[jumps], cmp.jump[cmp.pos(jumps)], fd_step(x[jumps], tol.eps))
    bends = cluster_points(x[k], cmp.spread[cmp.pos(k)], fd_step(x[k], tol.eps))
    kinks = sorted(set(steps) | set(bends))
    kink_txt = "".join(f"; {what} at x={', '.join(fmt(v) for v in pts[:6])}" for what, pts in
                       (("the gradient jumps (kinks of the function, no second derivative there)", steps),
                        ("kinks of the gradient", bends)) if pts)
    idx = np.nonzero(~ok)[0]
    unjudged = idx[~np.isfinite(g[idx]) | ~np.isfinite(fd.estimate(idx))] if idx.size else idx
    if unjudged.size and not gradient_finite:  # the gradient check has reported the non-finite gradient
        ok[unjudged] = True
        idx = np.nonzero(~ok)[0]
    elif unjudged.size:
        i = int(unjudged[np.argmin(np.abs(x[unjudged]))])
        return CheckResult(NAME, FAIL, f"the gradient is NaN or inf within {fmt(2 * fd.stencil.h[i])} of "
                           f"x={fmt(x[i] + 0.0)}, where its finite differences are taken ({unjudged.size} of {n} "
                           "points), although it is finite at every sample", worst_input=float(x[i] + 0.0),
                           dtype=dtype, hint=NAN_GRADIENT_HINT)
    if idx.size:
        p = cmp.pos(idx)
        rel = cmp.rel_err[p]
        i = idx[_typical(x[idx], rel)]
        w = int(np.argmax(np.where(np.isfinite(rel), rel, np.inf)))
        R = fd.estimate([i])[0]
        wrong = f"at {idx.size} of {n} points, {where(x[idx])}"
        if none:
            msg = (f"second derivative is None: {_cut(subject)}; finite differences of the gradient give "
                   f"{fmt(R + 0.0)} at x={fmt(x[i] + 0.0)} (nonzero {wrong})")
        else:
            msg = (f"second derivative {fmt(g2[i] + 0.0)} but finite differences of the gradient give "
                   f"{fmt(R + 0.0)} at x={fmt(x[i] + 0.0)} (wrong {wrong}; max rel err {fmt(rel[w])} at "
                   f"x={fmt(x[idx[w]])})")
        return CheckResult(NAME, FAIL, msg + kink_txt, max_abs_error=float(cmp.abs_err[p[w]]),
                           max_rel_error=float(rel[w]), worst_input=float(x[idx[w]]), dtype=dtype, kinks=tuple(kinks))
    i = cmp.argmax_abs  # max_abs_error's point
    if none:
        msg = (f"second derivative is None (no op of the gradient depends on x): 0, as finite differences of the "
               f"gradient confirm at {n} points (the gradient is piecewise constant)")
    else:
        msg = f"matches finite differences of the gradient at {n} points (max rel err {fmt(cmp.max_rel or 0)})"
    return CheckResult(NAME, PASS, msg + kink_txt, max_abs_error=cmp.max_abs, max_rel_error=cmp.max_rel,
                       worst_input=float(x[i]) if i is not None else None, dtype=dtype, kinks=tuple(kinks))


def _one_sided_limits(fd, cmp, g2: np.ndarray, ok: np.ndarray) -> None:
    """Accept (in ``ok``) a second derivative at a kink of the gradient (f'' jumps: symlog at 0)
    that lies between the one-sided limits of f'', extrapolated from the one-sided slopes at h
    and 2h (2 D+(h) - D+(2h)): a one-sided slope is off by O(h) curvature, which puts the exact
    one-sided value TensorFlow picks (a tf.where's branch at its seam) just outside their hull."""
    idx = np.nonzero(~ok)[0]
    idx = idx[cmp.kink[idx]]
    if not idx.size:
        return
    fwd, bwd, fwd2, bwd2 = fd.stencil.quotients(idx).one_sided()
    with np.errstate(all="ignore"):
        limits = np.stack([fwd, bwd, fwd2, bwd2, 2 * fwd - fwd2, 2 * bwd - bwd2])
        t = cmp.tol[cmp.pos(idx)]
        inside = (g2[idx] >= limits.min(axis=0) - t) & (g2[idx] <= limits.max(axis=0) + t)
    ok[idx[inside]] = True


def _typical(xs: np.ndarray, rel: np.ndarray) -> int:
    """The position of a typical failing point: an error of the usual size, |x| nearest 1
    (3 vs 6 at x=1 reads better than the largest relative error at some extreme x)."""
    r = np.where(np.isfinite(rel), rel, np.inf)
    usual = r >= TYPICAL_FRACTION * np.median(r)
    with np.errstate(divide="ignore"):
        dist = np.abs(np.log2(np.maximum(np.abs(xs), 1e-300))) + (xs < 0) * 1e-9  # x=1 before x=-1
    return int(np.argmin(np.where(usual, dist, np.inf)))


# -- non-elementwise: d^T H w against directional differences of w.v --------------------------
def _directional(subject: Subject, X: np.ndarray, U: np.ndarray, tol: Tolerance, rng,
                 row_independent: bool, gradient_finite: bool) -> CheckResult:
    dtype = subject.dtype
    so, W = _nested(subject, X, U, rng)
    failed = _missing(so, dtype)
    if failed is not None:
        return failed
    none = so.s is None
    S = np.zeros(X.shape) if none else so.s
    if not np.isfinite(S).all():
        bad = ~np.isfinite(S) & np.isfinite(so.v)
        if bad.any():
            i = int(np.argmax(bad.any(axis=-1)))
            return CheckResult(NAME, FAIL, f"second derivative (Hessian-vector product) is not finite in row {i} "
                               f"where the gradient is finite ({int(bad.any(axis=-1).sum())} of {X.shape[0]} rows)",
                               dtype=dtype, hint=NAN_SECOND_HINT)
    hrow = fd_step(np.max(np.abs(X), axis=-1), tol.eps)[:, None]
    if not row_independent:
        hrow = np.full_like(hrow, hrow.max())
    # rounding noise of w.v: that of the batch's largest sum |w*v| (a VJP's terms are of the size
    # of the batch's larger gradients even where they cancel: a saturated sharp softmax)
    psi_abs = np.einsum("ij,ij->i", np.abs(W), np.abs(so.v))
    scale = np.max(psi_abs, initial=0.0, where=np.isfinite(psi_abs))
    psi0 = (np.einsum("ij,ij->i", W, so.v), np.full_like(psi_abs, scale))
    total_bad = total = jumps = 0
    failing = []  # (rel err, d.s, finite difference, row, abs err) of every wrong row
    for _ in range(DIRECTIONS):
        D = rng.standard_normal(X.shape)
        D /= np.sqrt(np.einsum("ij,ij->i", D, D))[:, None]
        a, q = _directional_quotients(subject, X, U, W, S, D, hrow, psi0, row_independent, tol.eps)
        cmp = compare_with_fd(a, q, tol)
        bad = ~cmp.ok & ~(cmp.jump > 0)  # a jump of the VJP along d: d crossed a kink of f
        if not gradient_finite:  # rows next to a non-finite gradient: the gradient check reported it
            bad &= np.isfinite(q.richardson) & np.isfinite(q.f0)
        jumps += int((cmp.jump > 0).sum())
        total_bad += int(bad.sum())
        total += bad.size
        failing += [(float(cmp.rel_err[i]), float(a[i]), float(q.richardson[i]), int(i), float(cmp.abs_err[i]))
                    for i in np.nonzero(bad)[0]]
    scope = "rows" if row_independent else "directions"
    if failing:
        failing.sort()
        _, a, b, i, _ = failing[len(failing) // 2]  # a typical wrong row: the median relative error
        rel, ab = failing[-1][0], max(f[4] for f in failing)
        place = f"row {i}" if row_independent else "the whole batch"
        if none:
            msg = (f"second derivative is None: {_cut(subject)}; the directional finite difference of the gradient "
                   f"d.(H w) is {fmt(b)} ({place}; nonzero in {total_bad} of {total} {scope})")
        else:
            msg = (f"d.(H w) from the second derivative is {fmt(a)} but the directional finite difference of the "
                   f"gradient is {fmt(b)} ({place}; wrong in {total_bad} of {total} {scope}, max rel err {fmt(rel)})")
        return CheckResult(NAME, FAIL, msg, max_abs_error=ab, max_rel_error=rel, dtype=dtype)
    note = f" ({jumps} crossed a kink of the function)" if jumps else ""
    what = ("second derivative is None (no op of the gradient depends on x): 0, as directional finite differences "
            f"of the gradient confirm in {total} {scope}") if none else \
        f"Hessian-vector products match directional finite differences of the gradient in {total} {scope}"
    return CheckResult(NAME, PASS, what + note, dtype=dtype)


def _directional_quotients(subject: Subject, X, U, W, S, D, hrow, psi0, row_independent: bool, eps: float):
    """(d.s per row, the quotients of w.v(X + t d)), summed over the batch when rows mix."""
    psi = {0: psi0[0]}
    for k in (-2, -1, 1, 2):
        ev = subject.evaluate(X + k * hrow * D, U)
        v = ev.g if ev.g is not None and ev.g.shape == X.shape else np.full(X.shape, np.nan)
        psi[k] = np.einsum("ij,ij->i", W, v)
    return directional_quotients(psi, psi0[1], np.einsum("ij,ij->i", S, D), hrow, row_independent, eps)


__all__ = ["check_second_order", "FirstDerivative", "NAME"]
