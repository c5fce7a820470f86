"""The gradient checks, one function each (docs/method.md s.3). Each takes arrays (and,
where it must call the activation again, a Subject) and returns a CheckResult; its
docstring says what it compares and how the tolerance is chosen. pipeline.py decides the
order and what each one is given.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..discover import Kind
from ..results import FAIL, JUMP, PASS, SKIP, WARN, ZERO_GRADIENT, CheckResult, number
from .arrays import all_finite, masked_max
from .fd import FDComparison, cluster_points, compare_with_fd, directional_quotients, fd_step, quotients
from .messages import BATCH_HINT, NAN_GRADIENT_HINT, UPSTREAM_HINT, describe_points, fmt, input_at, where
from .stencil import FDData
from .structure import same_outputs
from .subject import Subject
from .tolerances import ULPS_PER_EVAL, Tolerance, tolerance_for

# -- forward --------------------------------------------------------------------------------
def check_forward(X: np.ndarray, Y: np.ndarray, dtype: str, note: str | None) -> CheckResult:
    """The forward pass ran and returned a float tensor of the input's shape, or of another
    trailing shape with the batch dimension kept (validated when calling); here: it is finite
    wherever the input is finite. No tolerance involved."""
    y = Y.ravel()
    bad = None if all_finite(y) else ~np.isfinite(y)
    if bad is not None and bad.any():
        i = int(np.argmax(bad))
        what = "NaN" if np.isnan(y[i]) else "inf"
        at, x = input_at(X, Y.shape, i)
        of = "inputs" if Y.shape == X.shape else "outputs"
        return CheckResult("forward", FAIL, f"output is {what} at {at} ({int(bad.sum())} of {y.size} {of})",
                           worst_input=x, dtype=dtype)
    msg = "runs, shape and dtype kept, finite on the range" if Y.shape == X.shape else \
        f"runs, floating output of shape (n, {', '.join(map(str, Y.shape[1:]))}) for input (n, " \
        f"{', '.join(map(str, X.shape[1:]))}) (gradient checked as a VJP), finite on the range"
    return CheckResult("forward", PASS, f"{msg}; {note}" if note else msg, dtype=dtype)


# -- gradient existence ---------------------------------------------------------------------
def check_gradient(x: np.ndarray, y: np.ndarray, g_raw, g: np.ndarray | None, subject: Subject,
                   elementwise: bool, not_tensor: str | None = None) -> CheckResult:
    """The gradient training sees (GradientTape, random upstream) exists, has the input's shape
    and dtype, is finite where the forward is finite, and is not zero everywhere while the
    output changes. Exact checks: no tolerance, except "zero" which means exactly 0."""
    dtype = subject.dtype
    custom = subject.kind == Kind.CUSTOM_GRADIENT
    if g_raw is None:
        if elementwise and np.nanmax(y) == np.nanmin(y):
            return CheckResult("gradient", WARN, "no gradient (None) and the output is constant: nothing upstream of "
                               "it will train", dtype=dtype)
        why = ("the hand-written gradient returned None" if custom else
               "the output is not connected to the input through differentiable TF ops "
               "(NumPy/.numpy(), an integer or bool cast, tf.round/floor/sign, or a constant cut it)")
        if _piecewise_constant(x, y, elementwise):
            why += "; the output is piecewise constant, so no gradient can train it"
        return CheckResult("gradient", FAIL, f"no gradient (None): {why}", dtype=dtype)
    if not_tensor is not None or g is None:
        what = not_tensor or _type_name(g_raw)
        return CheckResult("gradient", FAIL, f"the hand-written gradient returned {what}, not a tensor "
                           "(NumPy inside a gradient breaks under tf.function)", dtype=dtype)
    shape = tuple(g_raw.shape)
    want = x.shape
    if shape != tuple(want):
        who = "hand-written gradient" if custom else "gradient"
        return CheckResult("gradient", FAIL, f"{who} has shape {shape}, expected {tuple(want)} (the input's shape); "
                           "TensorFlow does not check this", dtype=dtype)
    gdt = getattr(g_raw.dtype, "name", str(g_raw.dtype))
    if gdt != dtype:
        return CheckResult("gradient", FAIL, f"gradient has dtype {gdt}, expected {dtype} (the input's dtype)", dtype=dtype)
    flat_x, flat_g = x.ravel(), g.ravel()
    # an output of another trailing shape: an input's output is its row's (finite if all are)
    flat_y = y.ravel() if y.shape == x.shape else \
        np.repeat(np.where(np.isfinite(y.reshape(y.shape[0], -1)).all(axis=1), 0.0, np.nan), x.size // x.shape[0])
    bad = None if all_finite(flat_g) else ~np.isfinite(flat_g) & np.isfinite(flat_y)
    if bad is not None and bad.any():
        idx = np.nonzero(bad)[0]
        i = idx[np.argmin(np.abs(flat_x[idx]))]
        what = "NaN" if np.isnan(flat_g[i]) else "inf"
        pts = describe_points(flat_x[idx])
        return CheckResult("gradient", FAIL, f"gradient is {what} at x={fmt(flat_x[i])} where the output is finite"
                           f" ({pts})", worst_input=float(flat_x[i]), dtype=dtype, hint=NAN_GRADIENT_HINT)
    if not flat_g.any():
        lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
        if hi - lo > 1e3 * np.finfo(np.dtype(subject.tol_dtype)).eps * max(1.0, abs(hi), abs(lo)):
            kind = "piecewise constant (round, floor, sign or an integer cast?)" if _piecewise_constant(x, y, elementwise) \
                else "changing"
            return CheckResult("gradient", FAIL, f"gradient is zero everywhere on the range while the output is {kind}"
                               f" (from {fmt(lo)} to {fmt(hi)}): the function is not differentiable there and gives "
                               "no training signal", dtype=dtype, finding=ZERO_GRADIENT)
        return CheckResult("gradient", WARN, "gradient is zero everywhere on the range and the output is constant: "
                           "nothing upstream of it will train", dtype=dtype)
    return CheckResult("gradient", PASS, "exists, right shape and dtype, finite", dtype=dtype)


def _type_name(v) -> str:
    return f"a {type(v).__name__}"


def _piecewise_constant(x, y, elementwise: bool) -> bool:
    """Most neighbouring samples give exactly equal outputs, yet the output is not constant."""
    if not elementwise:
        return False
    order = np.argsort(x.ravel())
    ys = y.ravel()[order]
    if ys.size < 8 or np.nanmax(ys) == np.nanmin(ys):
        return False
    return bool(np.mean(np.diff(ys) == 0) > 0.5)




# -- upstream linearity ---------------------------------------------------------------------
UPSTREAM_FACTORS = (2.0, 1024.0, -1.0)


def check_upstream(base, scaled: dict, tol: Tolerance, custom: bool, dtype: str,
                   X: np.ndarray | None = None) -> CheckResult:
    """The vector-Jacobian product must be linear in the upstream gradient dy. With dy scaled
    by 2, 1024 and -1 (exact in floating point) it must scale the same way at every point, to a
    few ulps (tolerance: exact_rtol of the dtype, relative to the values at that point, no
    absolute slack). A hand-written gradient that forgets dy (in one branch or everywhere),
    adds a term without it, or clips it fails. Weight gradients are held to the same rule.

    ``base`` and ``scaled[k]`` are Evaluations with upstream u and k*u; ``X``, the inputs of
    both, places the example of the input gradient (the failure's worst_input): the failing
    entry with the largest |VJP(k u) - k VJP(u)|, its max_abs_error (for the factor, and the
    input or weight gradient, that fails by the widest margin)."""
    info = np.finfo(np.dtype(dtype))
    # below tiny/eps, products underflow into subnormals where scaling is no longer exact
    underflow = float(info.tiny / info.eps)
    worst = None  # (excess, factor, observed ratio, count, total, error, x)
    for k, ev in scaled.items():
        pairs = [(base.g, ev.g)] + [(a, b) for a, b in zip(base.weight_grads or [], ev.weight_grads or [])
                                    if a is not None and b is not None]
        for n, (a, b) in enumerate(pairs):
            if a is None or b is None or a.shape != b.shape:
                continue
            on_inputs = n == 0 and X is not None and a.shape == X.shape
            a, b = a.ravel(), b.ravel()
            ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(k * a)
            with np.errstate(all="ignore"):
                err = np.abs(b - k * a)
                t = tol.exact_rtol * (np.abs(b) + np.abs(k * a)) + abs(k) * underflow
                excess = np.where(ok, err / t, 0.0)
            top = float(np.max(excess))
            if top > 1.0 and (worst is None or top > worst[0]):
                bad = excess > 1.0
                i = int(np.argmax(np.where(bad, err, -1.0)))  # the example: the largest error that fails
                ratio = float(b[i] / a[i]) if a[i] != 0 else None
                worst = (top, k, ratio, int(bad.sum()), a.size, float(err[i]),
                         float(X.ravel()[i]) if on_inputs else None)
    if worst is not None:
        _, k, ratio, count, total, err, x = worst
        at = f"at x={fmt(x)}" if x is not None else "there"
        there = f"{at} it scaled by {fmt(ratio)}" if ratio is not None else f"{at} it was not 0 for a 0 result"
        got = f"it did not at {count} of {total} points ({there})"
        who = "the hand-written gradient" if custom else "the gradient"
        return CheckResult("upstream", FAIL, f"{who} is not proportional to the upstream gradient dy: with dy "
                           f"scaled by {fmt(k)} it should scale by {fmt(k)}; {got} (forgot to multiply by dy, in "
                           "one branch or everywhere, or clipped it?)", max_abs_error=err, worst_input=x,
                           dtype=dtype, hint=UPSTREAM_HINT)
    return CheckResult("upstream", PASS, "linear in the upstream gradient (dy scaled by 2, 1024, -1)", dtype=dtype)



def check_gradient_vs_fd(x: np.ndarray, g: np.ndarray, fd: FDData, tol: Tolerance, dtype: str,
                         cmp: FDComparison | None = None, custom: bool = False) -> CheckResult:
    """Gradient (VJP / upstream) against central finite differences at every sample point.

    Step h = eps^(1/3)*max(1,|x|) as a power of two; Richardson extrapolation of D(h), D(2h).
    Tolerance = rtol*|ref| + atol + 4*rounding noise (8 ulps of f / h) + 2*|D(h) - D(2h)|, so
    it widens only where the finite difference itself is unreliable. Where the one-sided
    slopes disagree (a kink), any value between them passes and the kink is listed. A jump of
    the forward (discontinuity) fails. ``cmp``: the comparison to judge, if not ``fd``'s own
    (after stencil.refine_fd's second look). ``custom``: the gradient is hand-written (the
    message names it so).

    A failure's example (message, figures) is the failing point with the largest error
    against the function's gradient scale (method.md s.3b): away from kinks when there are
    such points; at a kink, the gradient is set against the one-sided slopes it lies outside.
    """
    cmp = cmp if cmp is not None else fd.cmp
    k = cmp.at[cmp.kink[cmp.at]]  # kinks are among the points the full test ran on
    kinks = cluster_points(x[k], cmp.spread[cmp.pos(k)], fd_step(x[k], tol.eps))
    max_abs, max_rel = cmp.max_abs, cmp.max_rel  # over the points that passed smoothly
    kink_txt = f"; kinks at x={', '.join(fmt(k) for k in kinks)}" if kinks else ""
    j = cmp.jumps()
    if j.size:
        sizes = cmp.jump[cmp.pos(j)]
        i = j[np.argmax(sizes)]
        xs = cluster_points(x[j], sizes, fd_step(x[j], tol.eps))
        at = min(xs, key=lambda v: abs(v - x[i]))  # the largest jump, where the message puts it
        return CheckResult("gradient_vs_fd", FAIL, f"the forward is discontinuous: it jumps by {fmt(sizes.max())} at "
                           f"x={', '.join(fmt(v) for v in xs[:5])}; no gradient is right there",
                           max_abs_error=None, max_rel_error=None, worst_input=float(at), dtype=dtype,
                           kinks=tuple(kinks), finding=JUMP, hint=surrogate_hint(g, fd))
    idx = np.nonzero(~cmp.ok)[0]
    if idx.size:
        p = cmp.pos(idx)
        err, rel = cmp.abs_err[p], cmp.rel_err[p]
        at_kink = cmp.kink[idx]
        ref = fd.estimate(idx)
        w = _example(err, ~at_kink if not at_kink.all() else None, ref)
        i = idx[w]
        span = where(x[idx])
        count = f"wrong at {idx.size} of {x.size} points, {span}"
        abs_err, rel_err = float(err[w]), float(rel[w])
        if at_kink[w]:
            fwd, bwd, _, _ = fd.stencil.quotients(np.array([i])).one_sided()
            lo, hi = sorted((float(fwd[0]), float(bwd[0])))
            gives = "hand-written gradient gives" if custom else "autodiff gives"
            text = f"{gives} {fmt(g[i])} at x={fmt(x[i])}, outside the one-sided slopes [{fmt(lo)}, {fmt(hi)}] " \
                f"(a kink: any value between them is right; {count})"
            # the error is how far outside the slopes it lies, not its distance to their mean
            abs_err = float(max(lo - g[i], g[i] - hi, 0.0)) if np.isfinite(g[i]) else abs_err
            rel_err = abs_err / max(abs(lo), abs(hi), 1e-300) if np.isfinite(g[i]) else rel_err
        else:
            who = "hand-written gradient" if custom else "autodiff gives"
            ratio = _common_ratio(g[idx], ref)
            extra = f"; it is {_times(ratio)} x the finite differences everywhere it differs" if ratio is not None else ""
            text = f"{who} {fmt(g[i])} but finite differences give {fmt(ref[w])} at x={fmt(x[i])} ({count}){extra}"
        return CheckResult("gradient_vs_fd", FAIL, text + kink_txt, max_abs_error=abs_err, max_rel_error=rel_err,
                           worst_input=float(x[i]), dtype=dtype, kinks=tuple(kinks), hint=surrogate_hint(g, fd))
    i = cmp.argmax_abs  # max_abs_error's point: the table shows the two together
    return CheckResult("gradient_vs_fd", PASS, f"matches finite differences at {x.size} points "
                       f"(max rel err {fmt(max_rel or 0)}){kink_txt}", max_abs_error=max_abs, max_rel_error=max_rel,
                       worst_input=float(x[i]) if i is not None else None, dtype=dtype, kinks=tuple(kinks))


# The example of a failure is taken among the points whose error is within this factor of
# the largest (method.md s.3b).
NEAR_LARGEST = 0.9


def _example(err: np.ndarray, prefer: np.ndarray | None = None, ref: np.ndarray | None = None) -> int:
    """The index of a failure's example: the largest error (the errors of one check share the
    gradient's scale, so this is the largest error relative to that scale), finite errors
    first, among ``prefer`` when given. With ``ref`` (the right values), among the errors
    within NEAR_LARGEST of the largest the point where |ref| is largest: a typical point where
    the function has a slope, not one where the true gradient is ~0 (an error of the same size
    everywhere would otherwise be shown where nothing is left of the gradient)."""
    key = np.where(np.isfinite(err), err, -1.0)  # a number to show before a NaN
    if prefer is not None:
        key = np.where(prefer, key, -2.0)
    i = int(np.argmax(key))
    if ref is None or key[i] <= 0:
        return i
    with np.errstate(all="ignore"):
        near = (key >= NEAR_LARGEST * key[i]) & np.isfinite(ref)
    if not near.any():
        return i
    return int(np.argmax(np.where(near, np.abs(ref), -1.0)))


# A deliberate surrogate gradient (method.md s.3b): the forward is flat (FD exactly 0) at
# this fraction of the points and the gradient nonzero at this fraction of those (a
# straight-through estimator), or the forward is linear (FD within LINEAR of one slope)
# and the gradient one other constant multiple of it (gradient reversal or scaling).
FLAT_POINTS = 0.75
NONZERO_ON_FLAT = 0.1
LINEAR = 1e-6


def surrogate_hint(g: np.ndarray, fd: FDData) -> str | None:
    """The hint for a gradient that is deliberately not the derivative, or None."""
    ref = fd.estimate()
    n = min(ref.size, g.size)
    ref, g = ref[:n], g[:n]
    flat = ref == 0
    if flat.mean() > FLAT_POINTS and _varies(fd.stencil.y[:n]) and (g[flat] != 0).mean() > NONZERO_ON_FLAT:
        reason = "straight-through estimator"
    else:
        finite = np.isfinite(ref)
        if not finite.all() or not ref.size:
            return None
        med = float(np.median(ref))
        if med == 0 or np.max(np.abs(ref - med)) > LINEAR * abs(med):
            return None
        ratio = _common_ratio(g, ref)
        if ratio is None:
            return None
        reason = "gradient reversal" if ratio < 0 else "gradient scaling"
    return (f"if this gradient is a deliberate surrogate (straight-through estimator, gradient reversal), mark it "
            f"@gradcheck.skip(\"{reason}\")")


def _varies(y: np.ndarray) -> bool:
    finite = y[np.isfinite(y)]
    return bool(finite.size and finite.max() > finite.min())




# -- hand-written vs autodiff ---------------------------------------------------------------
def check_custom_vs_autodiff(x: np.ndarray, u: np.ndarray, v_custom: np.ndarray, v_auto: np.ndarray | None,
                             tol: Tolerance, dtype: str, cmp_custom: FDComparison | None = None,
                             fd_at=None, fd_tol: Tolerance | None = None, failed: list | None = None) -> CheckResult:
    """The hand-written gradient against autodiff of the same forward ops (``__wrapped__``),
    both with the same random upstream: no finite-difference noise, so a 0.1% error shows.
    ``failed``, when given, receives the mask of the points judged wrong (for plots).

    Tolerance: exact_rtol*(|a|+|b|)/2 + exact_atol*max(max|autodiff|, 1). Points are excused where
    autodiff itself is non-finite, where autodiff disagrees with finite differences while the
    hand-written gradient agrees (the forward's own autodiff is broken there: that is why a
    custom gradient exists), or at kinks where both are valid subgradients.
    """
    if v_auto is None:
        return CheckResult("custom_vs_autodiff", SKIP, "autodiff of the forward gives no gradient (None): "
                           "judged by finite differences only", dtype=dtype)
    a, c = v_auto.ravel(), v_custom.ravel()
    xf = x.ravel()
    n = min(a.size, c.size, xf.size)
    a, c, xf = a[:n], c[:n], xf[:n]
    valid = np.isfinite(a)
    aa = np.abs(a)
    scale = float(np.max(aa, initial=0.0, where=valid)) if valid.any() else 1.0
    excused = np.zeros(n, bool)
    with np.errstate(all="ignore"):
        err = np.abs(c - a)
        t = (aa + np.abs(c)) * (tol.exact_rtol / 2)
        # absolute slack against the larger of the gradient's scale and 1: the terms of an
        # activation's derivative are O(1) even on a range where their sum is small
        t += tol.exact_atol * max(scale, 1.0)
        bad = valid & ~(err <= t)
        if cmp_custom is not None and fd_at is not None and bad.any():
            # judge autodiff by finite differences only where the two disagree (usually nowhere)
            idx = np.nonzero(bad)[0]
            uu = u.ravel()[:n]
            cmp_a = compare_with_fd(a[idx] / uu[idx], fd_at(idx), fd_tol or tol)
            ok_c, kink_c = cmp_custom.ok[idx], cmp_custom.kink[idx]
            excused[idx] = (ok_c & ~cmp_a.smooth_ok) | (kink_c & ok_c)
            bad &= ~excused
        rel = err / np.maximum(aa, 1e-3 * scale)
    if failed is not None:
        failed.append(bad)
    if bad.any():
        idx = np.nonzero(bad)[0]
        if u.size == v_custom.size:  # the upstream has the input's shape: the gradient is VJP / upstream
            uu, what = u.ravel()[:n], "gradient"
        else:  # an output of another shape (GLU): the VJP entries themselves
            uu, what = np.ones(n), "gradient (VJP with a random upstream)"
        # the example: the largest error of the gradient (VJP / upstream) itself
        with np.errstate(all="ignore"):
            e = err[idx] / np.abs(uu[idx])
            w = _example(e, ref=a[idx] / uu[idx])
        i = idx[w]
        gi_c, gi_a = c[i] / uu[i], a[i] / uu[i]
        ratio = _common_ratio(c[idx], a[idx])
        extra = f"; it is {_times(ratio)} x autodiff everywhere it differs" if ratio is not None else ""
        return CheckResult("custom_vs_autodiff", FAIL, f"hand-written {what} {fmt(gi_c)} but autodiff of the forward "
                           f"gives {fmt(gi_a)} at x={fmt(xf[i])} (differs at {idx.size} of {n} points, "
                           f"{where(xf[idx])}){extra}", max_abs_error=float(e[w]),
                           max_rel_error=float(rel[i]), worst_input=float(xf[i]), dtype=dtype)
    m = valid & np.isfinite(rel) & ~excused
    mr = masked_max(rel, m)
    note = f"; autodiff non-finite at {int((~valid).sum())} points (skipped)" if not valid.all() else ""
    return CheckResult("custom_vs_autodiff", PASS, f"hand-written gradient matches autodiff (max rel err {fmt(mr)}){note}",
                       max_abs_error=masked_max(err, m) if m.any() else None, max_rel_error=mr,
                       dtype=dtype)


def _times(ratio: float) -> str:
    """A common factor, with the digits that tell it from 1 (1.0003, not 1)."""
    for spec in (".4g", ".6g", ".8g"):
        text = number(ratio, spec)
        if float(text) != 1.0:
            return text
    return number(ratio, ".10g")


def _common_ratio(c: np.ndarray, a: np.ndarray) -> float | None:
    with np.errstate(all="ignore"):
        nz = (np.abs(a) > 0) & np.isfinite(c) & np.isfinite(a)
        if nz.sum() < 3:
            return None
        r = c[nz] / a[nz]
    med = float(np.median(r))
    if med not in (0.0, 1.0) and np.all(np.abs(r - med) <= 1e-3 * abs(med)):
        return med
    return None


# -- non-elementwise: u.J.v against directional differences -------------------------------
# Directions per row: batches up to this many rows get 4, larger ones 2 (many rows already
# give many independent directions).
FEW_ROWS = 16384
# At most this fraction of rows may cross a discontinuity (ranking changes) and be excused.
EXCUSED_JUMPS = 0.05


def check_vjp_vs_fd(subject: Subject, X: np.ndarray, U: np.ndarray, G: np.ndarray, tol: Tolerance,
                    rng: np.random.Generator, row_independent: bool, Y: np.ndarray | None = None,
                    n_dirs: int | None = None) -> CheckResult:
    """For an activation acting along the last axis: u.J.v from the VJP (G = J^T u) against the
    directional central difference of u.f(X + t v), for random u and several random v, per row
    when rows are independent (else one total). Same step, Richardson and tolerance rules as
    the elementwise check (the rounding noise is that of sum |u*f|)."""
    dtype = subject.dtype
    worst = None
    discontinuous = kinked = total_bad = total = 0
    if n_dirs is None:
        n_dirs = 4 if X.shape[0] <= FEW_ROWS else 2
    hrow = fd_step(np.max(np.abs(X), axis=-1), tol.eps)[:, None]
    if not row_independent:  # one scalar function of the whole batch: one step
        hrow = np.full_like(hrow, hrow.max())
    f0 = subject.forward(X) if Y is None else Y
    U = U.reshape(U.shape[0], -1)  # an output of another trailing shape (GLU, maxout): its rows
    f0 = f0.reshape(U.shape)
    phi0 = (np.einsum("ij,ij->i", U, f0), np.einsum("ij,ij->i", np.abs(U), np.abs(f0)))
    for _ in range(n_dirs):
        V = rng.standard_normal(X.shape)
        V /= np.sqrt(np.einsum("ij,ij->i", V, V))[:, None]
        gv, q = _directional(subject, X, U, G, V, hrow, phi0, row_independent, tol.eps)
        cmp = compare_with_fd(gv, q, tol)
        bad = ~cmp.ok
        # A few rows whose direction crosses a ranking change (top-k, sparsemax supports) jump:
        # a discontinuity on a set of measure zero, like a kink, not a wrong gradient.
        jumps = cmp.jump > 0
        if jumps.any() and jumps.sum() <= max(1, EXCUSED_JUMPS * jumps.size):
            bad &= ~jumps
            discontinuous += int(jumps.sum())
        # A row at a kink of several outputs (CReLU's relu(x) and relu(-x) at x = 0, maxout's
        # tie) has one-sided directional slopes that need not bracket u.J.v: the VJP sums one
        # subgradient per output. As few rows as jumps are excused (method.md s.3).
        kinks = bad & cmp.kink
        if kinks.any() and kinks.sum() <= max(1, EXCUSED_JUMPS * kinks.size):
            bad &= ~kinks
            kinked += int(kinks.sum())
        total_bad += int(bad.sum())
        total += bad.size
        if bad.any():  # the example: the largest error (method.md s.3b)
            i = _example(cmp.abs_err, bad, q.richardson)
            e = float(cmp.abs_err[i])
            if worst is None or (np.isfinite(e) and not e <= worst[4]):  # finite errors first
                worst = (float(cmp.rel_err[i]), float(gv[i]), float(q.richardson[i]), i, float(cmp.abs_err[i]))
    scope = "rows" if row_independent else "directions"
    if worst:
        rel, a, b, i, ab = worst
        place = f"row {i}" if row_independent else "the whole batch"
        return CheckResult("vjp_vs_fd", FAIL, f"u.J.v from the gradient is {fmt(a)} but the directional finite difference "
                           f"is {fmt(b)} ({place}; wrong in {total_bad} of {total} {scope})",
                           max_abs_error=ab, max_rel_error=rel, dtype=dtype)
    crossed = [f"{discontinuous} crossed a discontinuity: ties/ranking changes"] if discontinuous else []
    crossed += [f"{kinked} at a kink of several outputs"] if kinked else []
    note = f" ({'; '.join(crossed)})" if crossed else ""
    return CheckResult("vjp_vs_fd", PASS, f"u.J.v matches directional finite differences in {total} {scope}{note}",
                       dtype=dtype)


def _directional(subject: Subject, X, U, G, V, hrow, phi0, row_independent: bool, eps: float):
    """(u.J.v from the VJP, the quotients of u.f(X + t V)) per row, or summed over the batch
    when rows are not independent. ``phi0``: (u.f(X), |u|.|f(X)|) per row."""
    phi = {0: phi0[0]}
    for k in (-2, -1, 1, 2):
        phi[k] = np.einsum("ij,ij->i", U, subject.forward(X + k * hrow * V).reshape(U.shape))
    gv = np.einsum("ij,ij->i", G, V)
    return directional_quotients(phi, phi0[1], gv, hrow, row_independent, eps)


# -- batch mixing ---------------------------------------------------------------------------
def check_batch(subject: Subject, mixing, dtype: str, training_only: bool = False) -> CheckResult:
    """Each example's output depends on its own row only (method.md s.3). Evidence from the
    structure probe (structure.RowMixing): changing one row of a 4x8 batch moved other rows'
    outputs beyond SAME (1e-12 relative; row-wise ops leave them bit-identical). The probe
    batch is evaluated once more: outputs that differ between two calls on the same batch
    come from Python state or randomness (other checks judge those), not from the batch. A
    layer whose training mode mixes the batch while its inference mode does not
    (``training_only``) uses batch statistics as BatchNormalization does: pass."""
    if mixing is None:
        return CheckResult("batch", PASS, "each example's output depends on its own row only", dtype=dtype)
    if not same_outputs(subject.forward(mixing.X), mixing.y):
        return CheckResult("batch", SKIP, "not judged: two calls on the same batch give different outputs (Python "
                           "state or randomness)", dtype=dtype)
    if training_only:
        return CheckResult("batch", PASS, "batch statistics in training mode only, as BatchNormalization: in inference "
                           "mode each example's output depends on its own row only", dtype=dtype)
    rows = ", ".join(str(r) for r in mixing.moved)
    return CheckResult("batch", WARN, f"mixes the examples of a batch: reduces over axis 0? changing row {mixing.row} "
                       f"of a {mixing.X.shape[0]}x{mixing.X.shape[1]} batch (inputs within +-{fmt(mixing.scale)}) moved "
                       f"the outputs of row{'s' if len(mixing.moved) > 1 else ''} {rows} (by up to {fmt(mixing.change)})",
                       dtype=dtype, hint=BATCH_HINT)


# -- trainable weights ----------------------------------------------------------------------
# Weights of at most this many entries are also probed along every coordinate.
SMALL_WEIGHT = 4
# A weight without gradient "does not affect the output" when its finite differences stay
# within this many times their own error estimate.
NO_EFFECT_ESTIMATES = 10


def check_weights(subject: Subject, X: np.ndarray, U: np.ndarray, grads: list, tol: Tolerance,
                  rng: np.random.Generator, n_dirs: int = 3, failed: list | None = None) -> CheckResult:
    """Gradient with respect to each trainable weight against finite differences on the
    weight: d/dt sum(u * f(x; w + t v)) for random unit directions v (and every coordinate of
    small weights). Same step, Richardson and tolerance rules as the input check; the rounding
    noise is that of sum |u*f|. ``failed``, when given, receives a WeightEvidence per weight
    whose gradient failed (what a plot of it needs: weight_curve)."""
    dtype = subject.dtype
    problems = []  # (status, message, relative error or None where no figure exists)
    names, unused = [], []
    for w, gw in zip(subject.weights, grads):
        # a layer's weight by its name (not the path: its layer-name suffix counts instances);
        # a variable the activation reads by the Python name it has there
        label = subject.weight_label(w)
        names.append(label[len("weight "):].strip("'") if label.startswith("weight '") else label.split(" (")[0])
        wtol, step_eps = _coarser(tol, w)
        w0 = np.array(w.numpy(), dtype=np.float64)
        dirs = _weight_directions(w0, rng, n_dirs)
        h = float(fd_step(np.array([np.max(np.abs(w0)) if w0.size else 0.0]), step_eps)[0])
        q = _weight_quotients(subject, w, w0, dirs, h, X, U, tol.eps)
        status, problem, rel = _judge_weight(label, gw, w0, dirs, q, wtol, subject.custom is not None)
        if status == SKIP:  # state the function keeps (a call counter), not a parameter of it
            unused.append(names.pop())
        else:
            problems.append((status, problem, rel))
            if status == FAIL and failed is not None:
                failed.append(_evidence(names[-1], w, w0, gw, dirs, n_dirs, q, wtol))

    def largest(rels):  # a figure only where one exists (a None gradient has none)
        rels = [r for r in rels if r is not None]
        return max(rels) if rels else None

    if any(s == FAIL for s, _, _ in problems):
        msg = "; ".join(m for s, m, _ in problems if s == FAIL)
        return CheckResult("weights", FAIL, msg, max_rel_error=largest(r for s, _, r in problems if s == FAIL),
                           dtype=dtype)
    if any(m is not None for _, m, _ in problems):
        return CheckResult("weights", WARN, "; ".join(m for _, m, _ in problems if m is not None), dtype=dtype)
    on = "the weights" if subject.layer is not None else "the variables"
    msg = f"gradients of {', '.join(names)} match finite differences on {on}" if names else ""
    if unused:
        msg += ("; " if msg else "") + f"{', '.join(unused)} read but not affecting the output (state, not a parameter)"
    return CheckResult("weights", PASS, msg, max_rel_error=largest(r for _, _, r in problems), dtype=dtype)


def _coarser(tol: Tolerance, w) -> tuple[Tolerance, float]:
    """(tolerance, eps for the step) for a weight: ``tol`` and its eps, unless the weight's own
    dtype is coarser than the arithmetic (a float32 variable cast into a float64 computation).
    Then the step is that dtype's (a smaller one rounds away) and a random direction's steps
    round to it (relative error ~eps32/h), so its fd_rtol/fd_atol apply; the rounding noise of
    the sum u*f stays the arithmetic's (``tol.eps``): a float32 noise estimate would be so wide
    that a weight the output depends on would look like one it does not."""
    name = getattr(getattr(w, "dtype", None), "name", getattr(w, "dtype", None))
    if not isinstance(name, str) or name == tol.dtype:
        return tol, tol.eps
    try:
        own = tolerance_for(name)
    except TypeError:
        return tol, tol.eps
    if own.eps <= tol.eps:
        return tol, tol.eps
    return dataclasses.replace(tol, fd_rtol=max(tol.fd_rtol, own.fd_rtol), fd_atol=max(tol.fd_atol, own.fd_atol)), own.eps


def _weight_directions(w0: np.ndarray, rng: np.random.Generator, n_dirs: int) -> list[np.ndarray]:
    """``n_dirs`` random unit directions, plus every coordinate of a small weight."""
    dirs = []
    for _ in range(n_dirs):
        v = rng.standard_normal(w0.shape)
        dirs.append(v / max(np.linalg.norm(v), 1e-300))
    if w0.size <= SMALL_WEIGHT:
        for j in range(w0.size):
            e = np.zeros(w0.size)
            e[j] = 1.0
            dirs.append(e.reshape(w0.shape))
    return dirs


def _weight_quotients(subject: Subject, w, w0: np.ndarray, dirs, h: float, X, U, eps: float):
    """Quotients of sum(u * f(x; w0 + t v)) along each direction (the weight is put back)."""
    phis, phis_abs = [], []
    original = w.numpy()  # put back exactly: another activation of the file may read it too
    try:
        for v in dirs:
            row, row_abs = [], []
            for k in (-2, -1, 0, 1, 2):
                w.assign((w0 + k * h * v).astype(w.dtype if isinstance(w.dtype, str) else w0.dtype))
                f = subject.forward(X)
                row.append(np.sum(U * f))
                row_abs.append(np.sum(np.abs(U * f)))
            phis.append(row)
            phis_abs.append(row_abs)
    finally:
        w.assign(original)
    P = np.array(phis)  # (dirs, 5)
    PA = np.array(phis_abs)
    q = quotients(P[:, 0], P[:, 1], P[:, 2], P[:, 3], P[:, 4], np.full(len(dirs), h), eps)
    return q.with_noise_floor(ULPS_PER_EVAL * eps * PA[:, 2] / h)


@dataclass(frozen=True)
class WeightEvidence:
    """One weight whose gradient failed, along the direction its message quotes (the worst)."""

    name: str
    variable: Any  # the layer's variable (put back to w0 after use)
    w0: np.ndarray
    direction: np.ndarray  # unit vector, w0's shape
    along: str  # "element [2]", "direction +1 (a scalar)", "a random unit direction"
    tape: float | None  # sum(gradient * direction); None: no gradient (or misshapen)
    fd: float  # finite differences along the direction
    directions: int  # how many were probed
    wrong: int  # along how many the gradient was wrong
    unusable: str | None = None  # why there is no slope from the gradient ("None", "shape ()")


def _evidence(name, w, w0, gw, dirs, n_dirs, q, tol) -> WeightEvidence:
    """The direction _judge_weight's message quotes: the largest relative error among the
    failing ones (the first direction when there is no usable gradient)."""
    fd = q.richardson
    usable = gw is not None and gw.shape == w0.shape
    i, gv, wrong = 0, None, len(dirs)
    if usable:
        gv = np.array([np.sum(gw * v) for v in dirs])
        cmp = compare_with_fd(gv, q, tol)
        i, wrong = int(np.argmax(np.where(cmp.ok, -1, cmp.rel_err))), int((~cmp.ok).sum())
    if w0.size == 1:
        along = f"direction {'+' if float(np.sum(dirs[i])) > 0 else '-'}1 (a scalar)"
    elif i >= n_dirs:
        along = f"element [{', '.join(str(int(k)) for k in np.unravel_index(i - n_dirs, w0.shape))}]"
    else:
        along = "a random unit direction"
    unusable = None if usable else ("None" if gw is None else f"shape {tuple(gw.shape)}, not {tuple(w0.shape)}")
    return WeightEvidence(name, w, w0, dirs[i], along, float(gv[i]) if usable else None, float(fd[i]),
                          len(dirs), wrong, unusable)


# The weight is moved by t in [-T, T] along the direction for a plot, T = this fraction of
# its largest entry (at least WEIGHT_SWEEP_MIN): a visible stretch of the training path
# (method.md s.6b).
WEIGHT_SWEEP = 0.5
WEIGHT_SWEEP_MIN = 0.1
WEIGHT_SWEEP_POINTS = 41


def weight_curve(subject: Subject, X: np.ndarray, U: np.ndarray, e: WeightEvidence):
    """sum(u * f(x; w0 + t v)) as the weight moves along the evidence's direction (for plots;
    the weight is put back). A context.WeightCurve, or None when the forward fails there."""
    from .context import WeightCurve

    span = max(WEIGHT_SWEEP * float(np.max(np.abs(e.w0), initial=0.0)), WEIGHT_SWEEP_MIN)
    ts = np.linspace(-span, span, WEIGHT_SWEEP_POINTS)
    ts[WEIGHT_SWEEP_POINTS // 2] = 0.0  # the weight as trained: exactly w0
    w = e.variable
    phi = []
    try:
        for t in ts:
            w.assign((e.w0 + t * e.direction).astype(w.dtype if isinstance(w.dtype, str) else e.w0.dtype))
            phi.append(float(np.sum(U * subject.forward(X))))
    except Exception:  # the user's code at a weight it never had: no curve
        return None
    finally:
        w.assign(e.w0)
    return WeightCurve(e.name, e.along, ts, np.array(phi), e.tape, e.fd, e.directions, e.wrong, e.unusable)


def _judge_weight(label: str, gw, w0: np.ndarray, dirs, q, tol: Tolerance,
                  custom: bool = False) -> tuple[str, str | None, float | None]:
    """(status, problem or None, its largest relative error or None where no figure exists) for one weight's gradient ``gw``.
    ``label``: "weight 'kernel'" or "variable 'alpha' (module-level tf.Variable)" (Subject.weight_label);
    ``custom``: a hand-written gradient (its grad function returns the variables' gradients)."""
    variable = label.startswith("variable")
    grad_of = f"gradient w.r.t. {label}" if variable else f"gradient for {label}"
    if gw is None:
        if np.all(np.abs(q.richardson) <= NO_EFFECT_ESTIMATES * (q.noise + q.trunc) + tol.fd_atol):
            if variable:  # a variable the function reads without using it for the output: a counter
                return SKIP, None, None
            return WARN, f"{label} gets no gradient (None) and does not affect the output", None
        fix = "; the grad function returned None for it: return (dx, [d_var]) from grad(dy, variables=None)" \
            if variable and custom else ""
        return FAIL, (f"{label} gets no gradient (None) although the output depends on it "
                      f"(finite differences give {fmt(q.richardson[0])} along a random direction){fix}"), None
    if gw.shape != w0.shape:
        return FAIL, (f"{grad_of} has shape {gw.shape}, expected {w0.shape} "
                      f"(the {'variable' if variable else 'weight'}'s shape: reduce over the batch)"), None
    gv = np.array([np.sum(gw * v) for v in dirs])
    cmp = compare_with_fd(gv, q, tol)
    if not cmp.ok.all():
        i = int(np.argmax(np.where(cmp.ok, -1, cmp.rel_err)))
        along = "" if variable and w0.size == 1 else " along a direction"
        return FAIL, (f"{grad_of} is {fmt(gv[i])}{along} where finite "
                      f"differences give {fmt(q.richardson[i])} (rel err {fmt(cmp.rel_err[i])})"), float(cmp.rel_err[i])
    return PASS, None, float(np.max(cmp.rel_err))
