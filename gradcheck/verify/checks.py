"""The checks. Each takes arrays (and, where it must call the activation, a Subject) and
returns a CheckResult. Their docstrings say what they compare and how the tolerance is
chosen; docs/method.md explains the whole method.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from dataclasses import dataclass

import numpy as np

from ..results import FAIL, PASS, SKIP, WARN, CheckResult
from .numerics import (FDComparison, Quotients, Tolerance, _finite_absmax, aligned_empty, all_finite, central_screen, cluster_points,
                       compare_with_fd, fd_step, masked_max, merge_screen, quotients, tolerance_for)
from ..discover import innermost
from .subject import Subject, UserCodeError, describe_exception, to_tensor

WIDTH = 8  # inputs are laid out as (rows, WIDTH): the last axis is what softmax-like activations act on


def fmt(v: float) -> str:
    return f"{v:.4g}"


# -- layout ---------------------------------------------------------------------------------
def to_rows(flat: np.ndarray) -> np.ndarray:
    """Pad ``flat`` to a multiple of WIDTH (repeating its last value) and reshape to rows, in a
    new aligned array (TensorFlow takes it without a copy)."""
    pad = (-flat.size) % WIDTH
    out = aligned_empty(flat.size + pad, flat.dtype)
    out[:flat.size] = flat
    out[flat.size:] = flat[-1] if flat.size else 0.0
    return out.reshape(-1, WIDTH)


def rows_of(flat: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``to_rows(flat)[rows]`` without building all the rows."""
    idx = rows[:, None] * WIDTH + np.arange(WIDTH)
    return flat[np.minimum(idx, flat.size - 1)]


UPSTREAM_BLOCK = 1 << 16


def upstream(rng: np.random.Generator, shape) -> np.ndarray:
    """Random upstream gradients in +-[0.5, 1.5]: never all ones, never near zero. Large
    batches repeat one random block of 65536 values (drawing a million costs more than the
    check of a simple activation's forward pass; a repeat every 65536 inputs hides nothing)."""
    n = int(np.prod(shape))
    u = rng.uniform(-1.0, 1.0, min(n, UPSTREAM_BLOCK))
    u += np.copysign(0.5, u)
    out = aligned_empty(n)  # = np.resize(u, n), aligned for TensorFlow
    for i in range(0, n, u.size):
        out[i:i + u.size] = u[:n - i]
    return out.reshape(shape)


# -- forward --------------------------------------------------------------------------------
def check_forward(x: np.ndarray, y: np.ndarray, dtype: str, note: str | None) -> CheckResult:
    """The forward pass ran and returned a float tensor of the input's shape (validated when
    calling); here: it is finite wherever the input is finite. No tolerance involved."""
    bad = None if all_finite(y) else ~np.isfinite(y)
    if bad is not None and bad.any():
        i = int(np.argmax(bad))
        what = "NaN" if np.isnan(y[i]) else "inf"
        return CheckResult("forward", FAIL, f"output is {what} at x={fmt(x[i])} ({int(bad.sum())} of {y.size} inputs)",
                           worst_input=float(x[i]), dtype=dtype)
    msg = "runs, shape and dtype kept, finite on the range"
    return CheckResult("forward", PASS, f"{msg}; {note}" if note else msg, dtype=dtype)


# -- gradient existence ---------------------------------------------------------------------
def check_gradient(x: np.ndarray, y: np.ndarray, g_raw, g: np.ndarray | None, subject: Subject,
                   elementwise: bool, not_tensor: str | None = None) -> CheckResult:
    """The gradient training sees (GradientTape, random upstream) exists, has the input's shape
    and dtype, is finite where the forward is finite, and is not zero everywhere while the
    output changes. Exact checks: no tolerance, except "zero" which means exactly 0."""
    dtype = subject.dtype
    custom = subject.kind == "custom_gradient"
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
    flat_x, flat_y, flat_g = x.ravel(), y.ravel(), g.ravel()
    bad = None if all_finite(flat_g) else ~np.isfinite(flat_g) & np.isfinite(flat_y)
    if bad is not None and bad.any():
        idx = np.nonzero(bad)[0]
        i = idx[np.argmin(np.abs(flat_x[idx]))]
        what = "NaN" if np.isnan(flat_g[i]) else "inf"
        pts = _describe_points(flat_x[idx])
        hint = ("an op's derivative is infinite there (sqrt or log at 0, x/|x|), or a tf.where whose other "
                "branch is NaN/inf poisons the gradient (0 * inf = NaN): guard the op's input, e.g. "
                "tf.where(mask, x, safe_value) before the op")
        return CheckResult("gradient", FAIL, f"gradient is {what} at x={fmt(flat_x[i])} where the output is finite"
                           f" ({pts})", worst_input=float(flat_x[i]), dtype=dtype, hint=hint)
    if not flat_g.any():
        lo, hi = float(np.nanmin(flat_y)), float(np.nanmax(flat_y))
        if hi - lo > 1e3 * np.finfo(np.dtype(subject.tol_dtype)).eps * max(1.0, abs(hi), abs(lo)):
            kind = "piecewise constant (round, floor, sign or an integer cast?)" if _piecewise_constant(x, y, elementwise) \
                else "changing"
            return CheckResult("gradient", FAIL, f"gradient is zero everywhere on the range while the output is {kind}"
                               f" (from {fmt(lo)} to {fmt(hi)}): the function is not differentiable there and gives "
                               "no training signal", dtype=dtype)
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


def _describe_points(xs: np.ndarray) -> str:
    xs = np.unique(xs)
    if xs.size == 1:
        return "only there"
    return f"{xs.size} inputs in [{fmt(xs.min())}, {fmt(xs.max())}]"


# -- upstream linearity ---------------------------------------------------------------------
UPSTREAM_FACTORS = (2.0, 1024.0, -1.0)


def check_upstream(base, scaled: dict, tol: Tolerance, custom: bool, dtype: str) -> CheckResult:
    """The vector-Jacobian product must be linear in the upstream gradient dy. With dy scaled
    by 2, 1024 and -1 (exact in floating point) it must scale the same way at every point, to a
    few ulps (tolerance: exact_rtol of the dtype, relative to the values at that point, no
    absolute slack). A hand-written gradient that forgets dy (in one branch or everywhere),
    adds a term without it, or clips it fails. Weight gradients are held to the same rule.

    ``base`` and ``scaled[k]`` are Evaluations with upstream u and k*u."""
    info = np.finfo(np.dtype(dtype))
    # below tiny/eps, products underflow into subnormals where scaling is no longer exact
    underflow = float(info.tiny / info.eps)
    worst = None  # (excess, factor, observed ratio)
    for k, ev in scaled.items():
        pairs = [(base.g, ev.g)] + [(a, b) for a, b in zip(base.weight_grads or [], ev.weight_grads or [])
                                    if a is not None and b is not None]
        for a, b in pairs:
            if a is None or b is None or a.shape != b.shape:
                continue
            a, b = a.ravel(), b.ravel()
            ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(k * a)
            with np.errstate(all="ignore"):
                err = np.abs(b - k * a)
                t = tol.exact_rtol * (np.abs(b) + np.abs(k * a)) + abs(k) * underflow
                excess = np.where(ok, err / t, 0.0)
            i = int(np.argmax(excess))
            if excess[i] > 1.0 and (worst is None or excess[i] > worst[0]):
                ratio = float(b[i] / a[i]) if a[i] != 0 else None
                worst = (float(excess[i]), k, ratio, int((excess > 1.0).sum()), a.size)
    if worst is not None:
        _, k, ratio, count, total = worst
        there = f"there it scaled by {fmt(ratio)}" if ratio is not None else "there it was not 0 for a 0 result"
        got = f"it did not at {count} of {total} points ({there})"
        who = "the hand-written gradient" if custom else "the gradient"
        return CheckResult("upstream", FAIL, f"{who} is not proportional to the upstream gradient dy: with dy "
                           f"scaled by {fmt(k)} it should scale by {fmt(k)}; {got} (forgot to multiply by dy, in "
                           "one branch or everywhere, or clipped it?)", dtype=dtype,
                           hint="return dy * (derivative) in every branch, not the derivative alone")
    return CheckResult("upstream", PASS, "linear in the upstream gradient (dy scaled by 2, 1024, -1)", dtype=dtype)


# -- finite differences ---------------------------------------------------------------------
class Stencil:
    """f at x - h and x + h for every sample point (two batched forward calls), and at x +- 2h
    for any subset on demand, always in the row and column each point has in the batch, so an
    activation with per-column weights (a per-channel slope) sees the same inputs. x +- kh is
    exact in the checked dtype: h is a power of two no smaller than x's ulp."""

    def __init__(self, subject: Subject, x_flat: np.ndarray, y_flat: np.ndarray, tol: Tolerance, rows=None):
        """``rows``: (to_rows(x_flat), the same in TensorFlow) when at hand (the main pass's input)."""
        self.subject, self.x, self.y, self.eps = subject, x_flat, y_flat, tol.eps
        n = x_flat.size
        X, xt = rows if rows is not None else (to_rows(x_flat), None)
        H = fd_step(X, tol.eps)  # the padding repeats the last x, so its h too: to_rows(h)
        self.h = H.ravel()[:n]
        fm1, fp1 = subject.forward_shifted(X if xt is None else xt, H, (-1, 1))
        self.fm1, self.fp1 = fm1.ravel()[:n], fp1.ravel()[:n]
        self.fglobal = _finite_absmax(y_flat)

    def quotients(self, idx: np.ndarray) -> Quotients:
        """Central and Richardson quotients with error estimates at the sorted indices ``idx``
        (one more pair of batched forward calls, on the rows that hold them)."""
        r = idx // WIDTH
        first = np.ones(idx.size, bool)
        first[1:] = r[1:] != r[:-1]
        rows = r[first]
        pos = (np.cumsum(first) - 1) * WIDTH + idx % WIDTH
        fm2, fp2 = self.subject.forward_shifted(rows_of(self.x, rows), rows_of(self.h, rows), (-2, 2))
        return quotients(fm2.ravel()[pos], self.fm1[idx], self.y[idx], self.fp1[idx], fp2.ravel()[pos], self.h[idx],
                         self.eps, self.fglobal)


@dataclass(frozen=True)
class FDData:
    """Finite differences of an elementwise activation at every sample point, and the gradient
    compared with them."""

    x: np.ndarray  # flat inputs
    cmp: FDComparison
    stencil: Stencil  # full quotients at other points on demand (hand-written vs autodiff)
    richardson: np.ndarray  # the Richardson estimate at cmp.at, where the full test ran

    def estimate(self, idx: np.ndarray | None = None) -> np.ndarray:
        """The FD slope at the points ``idx`` (default: all): Richardson where the full test
        ran, else the central quotient (computed here: only plots and messages need it)."""
        st = self.stencil
        idx = np.arange(self.x.size) if idx is None else np.asarray(idx)
        with np.errstate(all="ignore"):
            d = (st.fp1[idx] - st.fm1[idx]) / (2 * st.h[idx])
        full = np.isin(idx, self.cmp.at)
        d[full] = self.richardson[self.cmp.pos(idx[full])]
        return d


def elementwise_fd(subject: Subject, x_flat: np.ndarray, y_flat: np.ndarray, g: np.ndarray,
                   tol: Tolerance, rows=None) -> FDData:
    """The gradient ``g`` against finite differences at every point, in two stages with the
    verdicts of the full test everywhere (numerics.central_screen says why): the central
    quotient D(h) from f(x +- h) settles most points; the rest get f(x +- 2h), Richardson
    extrapolation, one-sided slopes and the kink and jump tests (compare_with_fd)."""
    st = Stencil(subject, x_flat, y_flat, tol, rows)
    screen = central_screen(g, st.fm1, st.fp1, st.h, st.fglobal, tol)
    idx = np.nonzero(~screen.passed)[0]
    if not idx.size:
        return FDData(x_flat, merge_screen(screen, idx, None), st, np.empty(0))
    q = st.quotients(idx)
    return FDData(x_flat, merge_screen(screen, idx, compare_with_fd(g[idx], q, tol, screen.rel_floor)), st,
                  q.richardson)


def locate_jumps(subject: Subject, xs: np.ndarray, fs: np.ndarray, gs: np.ndarray, eps: float,
                 limit: int = 64, steps: int = 48) -> np.ndarray:
    """Jumps of the forward between sorted neighbouring samples, narrowed down by bisection.

    Candidates: intervals whose trapezoid residual |df - (g_a + g_b)/2 dx| stands out from
    both neighbours' (a jump is an isolated spike; smooth parts vary smoothly). Each is halved
    ``steps`` times (one batched forward call per step for all of them), keeping the half
    where f changes more. A continuous function's change over the final interval vanishes
    with its width; a jump's does not. Returns both ends of every confirmed jump.
    """
    if xs.size < 8:
        return np.empty(0)
    with np.errstate(all="ignore"):
        dx = np.diff(xs)
        r = np.abs(np.diff(fs) - 0.5 * (gs[:-1] + gs[1:]) * dx)
        fscale = _finite_absmax(fs)
        floor = 1e4 * eps * max(fscale, 1e-300)
        cand = np.nonzero(r > floor)[0]  # one pass; the rest on the few found

        def residual(i):  # 0 where it means nothing: non-finite, or not an interval
            return np.where(np.isfinite(r[i]) & (dx[i] > 0), r[i], 0.0)

        left = np.where(cand > 0, residual(np.maximum(cand - 1, 0)), 0.0)
        right = np.where(cand < r.size - 1, residual(np.minimum(cand + 1, r.size - 1)), 0.0)
        rc = residual(cand)
        cand = cand[(rc > floor) & (rc > 10 * np.maximum(left, right))]
    if cand.size == 0:
        return np.empty(0)
    cand = cand[np.argsort(-r[cand])][:limit]
    a, b = xs[cand].copy(), xs[cand + 1].copy()
    fa, fb = fs[cand].copy(), fs[cand + 1].copy()
    for _ in range(steps):
        m = 0.5 * (a + b)
        live = (m > a) & (m < b)
        if not live.any():
            break
        fm = subject.forward(to_rows(m)).ravel()[: m.size]
        go_left = np.abs(fm - fa) >= np.abs(fb - fm)
        upd_b = live & go_left
        upd_a = live & ~go_left
        b = np.where(upd_b, m, b)
        fb = np.where(upd_b, fm, fb)
        a = np.where(upd_a, m, a)
        fa = np.where(upd_a, fm, fa)
    with np.errstate(all="ignore"):
        jump = np.abs(fb - fa)
        narrow = (b - a) <= 1e-9 * np.maximum(1.0, np.abs(a))
        real = np.isfinite(jump) & narrow & (jump > floor)
    return np.unique(np.concatenate([a[real], b[real]]))


def refine_fd(subject: Subject, x: np.ndarray, y: np.ndarray, g: np.ndarray, cmp: FDComparison,
              tol: Tolerance) -> FDComparison:
    """Second look at the points that failed with the standard step: smaller steps (h/4 ...
    h/1024) and a step relative to |x|, for functions whose curvature blows up near a point
    (sqrt near 0). A point is accepted at a finer step only if that step's estimate is
    precise (its tolerance at most 1% of the estimate beyond the standard one), so the
    growing rounding noise of small steps cannot excuse a wrong gradient. Jumps stay failures.
    """
    idx = np.nonzero(~cmp.ok)[0]  # usually none: filter the few, not the whole batch
    idx = idx[(cmp.jump[cmp.pos(idx)] == 0) & np.isfinite(g[idx])][:4096]
    if idx.size == 0:
        return cmp
    xs, ys, gs = x[idx], y[idx], g[idx]
    h0 = fd_step(xs, tol.eps)
    rel = np.exp2(np.floor(np.log2(np.maximum(np.cbrt(tol.eps) * np.abs(xs), 1e-300))))
    levels = [h0 / 4.0 ** k for k in (1, 2, 3, 5)] + [np.minimum(rel, h0), np.minimum(rel / 16, h0)]
    fglobal = float(np.max(np.abs(y[np.isfinite(y)]), initial=0.0))
    accepted = np.zeros(idx.size, bool)
    for h in levels:
        vals = {k: subject.forward(to_rows(xs + k * h)).ravel()[: xs.size] for k in (-2, -1, 1, 2)}
        qk = quotients(vals[-2], vals[-1], ys, vals[1], vals[2], h, tol.eps, fglobal)
        ck = compare_with_fd(gs, qk, tol)
        precise = ck.tol <= 1e-2 * np.abs(qk.richardson) + cmp.tol[cmp.pos(idx)]
        accepted |= ck.ok & precise
    ok = cmp.ok.copy()
    ok[idx] = accepted
    return dataclasses.replace(cmp, ok=ok)


def check_gradient_vs_fd(x: np.ndarray, g: np.ndarray, fd: FDData, tol: Tolerance, dtype: str,
                         cmp: FDComparison | None = None) -> tuple[CheckResult, FDComparison]:
    """Gradient (VJP / upstream) against central finite differences at every sample point.

    Step h = eps^(1/3)*max(1,|x|) as a power of two; Richardson extrapolation of D(h), D(2h).
    Tolerance = rtol*|ref| + atol + 4*rounding noise (8 ulps of f / h) + 2*|D(h) - D(2h)|, so
    it widens only where the finite difference itself is unreliable. Where the one-sided
    slopes disagree (a kink), any value between them passes and the kink is listed. A jump of
    the forward (discontinuity) fails.
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
        return CheckResult("gradient_vs_fd", FAIL, f"the forward is discontinuous: it jumps by {fmt(sizes.max())} at "
                           f"x={', '.join(fmt(v) for v in xs[:5])}; no gradient is right there",
                           max_abs_error=max_abs, max_rel_error=max_rel, worst_input=float(x[i]), dtype=dtype,
                           kinks=tuple(kinks)), cmp
    idx = np.nonzero(~cmp.ok)[0]
    if idx.size:
        p = cmp.pos(idx)
        rel = cmp.rel_err[p]
        w = int(np.argmax(np.where(np.isfinite(rel), rel, np.inf)))
        i = idx[w]
        where = _where(x[idx])
        return CheckResult("gradient_vs_fd", FAIL, f"gradient {fmt(g[i])} but finite differences give "
                           f"{fmt(fd.estimate([i])[0])} at x={fmt(x[i])} (wrong at {idx.size} of {x.size} points, "
                           f"{where}){kink_txt}", max_abs_error=float(cmp.abs_err[p[w]]),
                           max_rel_error=float(rel[w]), worst_input=float(x[i]), dtype=dtype,
                           kinks=tuple(kinks)), cmp
    i = cmp.argmax_rel
    return CheckResult("gradient_vs_fd", PASS, f"matches finite differences at {x.size} points "
                       f"(max rel err {fmt(max_rel or 0)}){kink_txt}", max_abs_error=max_abs, max_rel_error=max_rel,
                       worst_input=float(x[i]) if i is not None else None, dtype=dtype, kinks=tuple(kinks)), cmp


def _where(xs: np.ndarray) -> str:
    lo, hi = float(xs.min()), float(xs.max())
    if xs.size == 1:
        return "only there"
    if lo >= 0:
        return f"for x in [{fmt(lo)}, {fmt(hi)}], positive inputs only"
    if hi <= 0:
        return f"for x in [{fmt(lo)}, {fmt(hi)}], negative inputs only"
    return f"for x in [{fmt(lo)}, {fmt(hi)}]"


# -- hand-written vs autodiff ---------------------------------------------------------------
def check_custom_vs_autodiff(x: np.ndarray, u: np.ndarray, v_custom: np.ndarray, v_auto: np.ndarray | None,
                             tol: Tolerance, dtype: str, cmp_custom: FDComparison | None = None,
                             fd_at=None, fd_tol: Tolerance | None = None) -> CheckResult:
    """The hand-written gradient against autodiff of the same forward ops (``__wrapped__``),
    both with the same random upstream: no finite-difference noise, so a 0.1% error shows.

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
    if bad.any():
        idx = np.nonzero(bad)[0]
        i = idx[np.argmax(rel[idx])]
        uu = u.ravel()[:n]
        gi_c, gi_a = c[i] / uu[i], a[i] / uu[i]
        ratio = _common_ratio(c[idx], a[idx])
        extra = f"; it is {fmt(ratio)} x autodiff everywhere it differs" if ratio is not None else ""
        return CheckResult("custom_vs_autodiff", FAIL, f"hand-written gradient {fmt(gi_c)} but autodiff of the forward "
                           f"gives {fmt(gi_a)} at x={fmt(xf[i])} (differs at {idx.size} of {n} points, "
                           f"{_where(xf[idx])}, rel err {fmt(rel[i])}){extra}", max_abs_error=float(np.nanmax(err[idx])),
                           max_rel_error=float(rel[i]), worst_input=float(xf[i]), dtype=dtype)
    m = valid & np.isfinite(rel) & ~excused
    mr = masked_max(rel, m)
    note = f"; autodiff non-finite at {int((~valid).sum())} points (skipped)" if not valid.all() else ""
    return CheckResult("custom_vs_autodiff", PASS, f"hand-written gradient matches autodiff (max rel err {fmt(mr)}){note}",
                       max_abs_error=masked_max(err, m) if m.any() else None, max_rel_error=mr,
                       dtype=dtype)


def _common_ratio(c: np.ndarray, a: np.ndarray) -> float | None:
    with np.errstate(all="ignore"):
        nz = (np.abs(a) > 0) & np.isfinite(c) & np.isfinite(a)
        if nz.sum() < 3:
            return None
        r = c[nz] / a[nz]
    med = float(np.median(r))
    if med != 1.0 and np.all(np.abs(r - med) <= 1e-3 * abs(med)):
        return med
    return None


# -- non-elementwise: u.J.v against directional differences -------------------------------
def check_vjp_vs_fd(subject: Subject, X: np.ndarray, U: np.ndarray, G: np.ndarray, tol: Tolerance,
                    rng: np.random.Generator, row_independent: bool, Y: np.ndarray | None = None,
                    n_dirs: int | None = None) -> CheckResult:
    """For an activation acting along the last axis: u.J.v from the VJP (G = J^T u) against the
    directional central difference of u.f(X + t v), for random u and several random v, per row
    when rows are independent (else one total). Same step, Richardson and tolerance rules as
    the elementwise check (the rounding noise is that of sum |u*f|)."""
    dtype = subject.dtype
    worst = None
    discontinuous = 0
    total_bad = 0
    total = 0
    if n_dirs is None:  # many rows already give many independent directions
        n_dirs = 4 if X.shape[0] <= 16384 else 2
    hrow = fd_step(np.max(np.abs(X), axis=-1), tol.eps)[:, None]
    if not row_independent:  # one scalar function of the whole batch: one step
        hrow = np.full_like(hrow, hrow.max())
    f0 = subject.forward(X) if Y is None else Y
    phi0 = np.einsum("ij,ij->i", U, f0)
    phi_abs0 = np.einsum("ij,ij->i", np.abs(U), np.abs(f0))
    for _ in range(n_dirs):
        V = rng.standard_normal(X.shape)
        V /= np.sqrt(np.einsum("ij,ij->i", V, V))[:, None]
        phi = {0: phi0}
        phi_abs = {0: phi_abs0}
        for k in (-2, -1, 1, 2):
            phi[k] = np.einsum("ij,ij->i", U, subject.forward(X + k * hrow * V))
        gv = np.einsum("ij,ij->i", G, V)
        if not row_independent:
            phi = {k: np.array([v.sum()]) for k, v in phi.items()}
            phi_abs = {k: np.array([v.sum()]) for k, v in phi_abs.items()}
            gv = np.array([gv.sum()])
            hh = np.array([hrow.max()])
        else:
            hh = hrow.ravel()
        q = quotients(phi[-2], phi[-1], phi[0], phi[1], phi[2], hh, tol.eps)
        # rounding noise of a sum: use the sum of magnitudes, not the magnitude of the sum
        q = q.with_noise_floor(8.0 * tol.eps * phi_abs[0] / hh)
        cmp = compare_with_fd(gv, q, tol)
        bad = ~cmp.ok
        # A few rows whose direction crosses a ranking change (top-k, sparsemax supports) jump:
        # a discontinuity on a set of measure zero, like a kink, not a wrong gradient.
        jumps = cmp.jump > 0
        if jumps.any() and jumps.sum() <= max(1, 0.05 * jumps.size):
            bad &= ~jumps
            discontinuous += int(jumps.sum())
        total_bad += int(bad.sum())
        total += bad.size
        if bad.any():
            i = int(np.argmax(np.where(bad, cmp.rel_err, -1)))
            if worst is None or cmp.rel_err[i] > worst[0]:
                worst = (float(cmp.rel_err[i]), float(gv[i]), float(q.richardson[i]), i, float(cmp.abs_err[i]))
    scope = "rows" if row_independent else "directions"
    if worst:
        rel, a, b, i, ab = worst
        where = f"row {i}" if row_independent else "the whole batch"
        return CheckResult("vjp_vs_fd", FAIL, f"u.J.v from the gradient is {fmt(a)} but the directional finite difference "
                           f"is {fmt(b)} ({where}; wrong in {total_bad} of {total} {scope}, rel err {fmt(rel)})",
                           max_abs_error=ab, max_rel_error=rel, dtype=dtype)
    note = f" ({discontinuous} crossed a discontinuity: ties/ranking changes)" if discontinuous else ""
    return CheckResult("vjp_vs_fd", PASS, f"u.J.v matches directional finite differences in {total} {scope}{note}",
                       dtype=dtype)


# -- trainable weights ----------------------------------------------------------------------
def check_weights(subject: Subject, X: np.ndarray, U: np.ndarray, grads: list, tol: Tolerance,
                  rng: np.random.Generator, n_dirs: int = 3) -> CheckResult:
    """Gradient with respect to each trainable weight against finite differences on the
    weight: d/dt sum(u * f(x; w + t v)) for random unit directions v (and every coordinate of
    small weights). Same step, Richardson and tolerance rules as the input check; the rounding
    noise is that of sum |u*f|."""
    dtype = subject.dtype
    problems = []
    worst_rel = 0.0
    for w, gw in zip(subject.weights, grads):
        name = getattr(w, "name", None) or "weight"  # not the path: its layer-name suffix counts instances
        w0 = np.array(w.numpy(), dtype=np.float64)
        dirs = []
        for _ in range(n_dirs):
            v = rng.standard_normal(w0.shape)
            dirs.append(v / max(np.linalg.norm(v), 1e-300))
        if w0.size <= 4:
            for j in range(w0.size):
                e = np.zeros(w0.size)
                e[j] = 1.0
                dirs.append(e.reshape(w0.shape))
        h = float(fd_step(np.array([np.max(np.abs(w0)) if w0.size else 0.0]), tol.eps)[0])
        phis, phis_abs = [], []
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
            w.assign(w0)
        P = np.array(phis)  # (dirs, 5)
        PA = np.array(phis_abs)
        q = quotients(P[:, 0], P[:, 1], P[:, 2], P[:, 3], P[:, 4], np.full(len(dirs), h), tol.eps)
        q = q.with_noise_floor(8.0 * tol.eps * PA[:, 2] / h)
        if gw is None:
            if np.all(np.abs(q.richardson) <= 10 * (q.noise + q.trunc) + tol.fd_atol):
                problems.append((WARN, f"weight '{name}' gets no gradient (None) and does not affect the output"))
            else:
                problems.append((FAIL, f"weight '{name}' gets no gradient (None) although the output depends on it "
                                 f"(finite differences give {fmt(q.richardson[0])} along a random direction)"))
            continue
        if gw.shape != w0.shape:
            problems.append((FAIL, f"gradient for weight '{name}' has shape {gw.shape}, expected {w0.shape} "
                             "(the weight's shape: reduce over the batch)"))
            continue
        gv = np.array([np.sum(gw * v) for v in dirs])
        cmp = compare_with_fd(gv, q, tol)
        if not cmp.ok.all():
            i = int(np.argmax(np.where(cmp.ok, -1, cmp.rel_err)))
            worst_rel = max(worst_rel, float(cmp.rel_err[i]))
            problems.append((FAIL, f"gradient for weight '{name}' is {fmt(gv[i])} along a direction where finite "
                             f"differences give {fmt(q.richardson[i])} (rel err {fmt(cmp.rel_err[i])})"))
        else:
            worst_rel = max(worst_rel, float(np.max(cmp.rel_err)))
    if any(s == FAIL for s, _ in problems):
        msg = "; ".join(m for s, m in problems if s == FAIL)
        return CheckResult("weights", FAIL, msg, max_rel_error=worst_rel, dtype=dtype)
    if problems:
        return CheckResult("weights", WARN, "; ".join(m for _, m in problems), dtype=dtype)
    names = ", ".join(str(w.name) for w in subject.weights)
    return CheckResult("weights", PASS, f"gradients of {names} match finite differences on the weights",
                       max_rel_error=worst_rel, dtype=dtype)


# -- graph vs eager -------------------------------------------------------------------------
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
        import logging

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


# -- stability sweep ------------------------------------------------------------------------
# (smallest, largest) magnitude swept per dtype. float16 stops at 16 (exp overflows at 11:
# mixed-precision activations see such inputs) and starts above its subnormals, where squares
# underflow for every formula alike.
SWEEP = {"float32": (1e-6, 1e4), "bfloat16": (1e-3, 1e4), "float16": (1e-3, 16.0)}


@functools.lru_cache(maxsize=16)
def sweep_points(dtype: str, lo: float, hi: float) -> np.ndarray:
    """Log-spaced magnitudes over SWEEP[dtype], both signs. A one-sided range (a domain such
    as x > 0.5) is respected: nothing below LO when LO >= 0, nothing above HI when HI <= 0."""
    small, large = SWEEP[dtype]
    mags = np.logspace(np.log10(small), np.log10(large), 241)
    pts = np.concatenate([-mags[::-1], [0.0], mags])
    if lo >= 0:
        pts = pts[pts >= lo]
    if hi <= 0:
        pts = pts[pts <= hi]
    pts.flags.writeable = False  # cached: shared by every check
    return pts


def check_stability(make_subject, lo: float, hi: float, source: str | None, elementwise: bool = True) -> CheckResult:
    """Forward and gradient in float32 (then float16 and bfloat16 where the activation runs in
    them) on log-spaced inputs far beyond the checked range (|x| up to 1e4; 16 for float16).
    Non-finite output or gradient for a finite input is a warning naming the first bad input
    (smallest |x|), with a fix hint where a standard one exists. No tolerance: finiteness only."""
    findings, tried = [], []
    # Softmax-like activations see whole rows: in float16 a row of small inputs underflows
    # for any formula, so only float32 is swept for them.
    for dtype in ("float32", "float16", "bfloat16") if elementwise else ("float32",):
        try:
            s = make_subject(dtype)
            xs = sweep_points(dtype, lo, hi)
            xs = xs.astype(np.dtype(dtype) if dtype != "bfloat16" else np.float32).astype(np.float64)
            X = to_rows(xs)
            ev = s.evaluate(X, np.ones_like(X))
        except UserCodeError:
            if dtype == "float32":
                raise
            continue  # float16/bfloat16 not supported by this activation: nothing to say
        tried.append(dtype)
        y = ev.y.ravel()[: xs.size]
        g = _grad_or_zeros(ev, X, y)
        bad_y, bad_g = ~np.isfinite(y), ~np.isfinite(g)
        bad = bad_y | bad_g
        if bad.any():
            idx = np.nonzero(bad)[0]
            i = idx[np.argmin(np.abs(xs[idx]))]
            x0, yb, gb = float(xs[i]), y[i], g[i]
            if elementwise:
                x0, yb, gb = _first_bad(s, xs, bad, i, dtype) or (x0, yb, gb)
            in_fwd = not np.isfinite(yb)
            bad_val = yb if in_fwd else gb
            what = ("output" if in_fwd else "gradient") + (" is NaN" if np.isnan(bad_val) else
                                                            f" is {'-' if bad_val < 0 else ''}inf")
            # "from x on" only when every larger input on that side is bad too
            side = (np.sign(xs) == np.sign(xs[i])) & (np.abs(xs) >= abs(xs[i]))
            onward = bool(bad[side].all())
            findings.append((dtype, x0, what, in_fwd, onward, int(bad.sum())))
            if dtype == "float32":
                break  # lower precisions will fail the same way; report the float32 finding
    if not findings:
        return CheckResult("stability", PASS, f"finite output and gradient for |x| up to 1e4 in {', '.join(tried)}",
                           dtype=",".join(tried))
    dtype, x0, what, in_forward, onward, count = findings[0]
    hint = stability_hint(dtype, x0, in_forward, source)
    where = f"from x={fmt(x0)} on" if onward else f"at x={fmt(x0)} ({count} isolated inputs of the sweep)"
    msg = f"{dtype}: {what} {where} (finite inputs)"
    return CheckResult("stability", WARN, msg, worst_input=x0, dtype=dtype, hint=hint)


def _grad_or_zeros(ev, X, y):
    """The gradient per input, or zeros where it is None or misshapen (reported by `gradient`)."""
    if ev.g is None or ev.g.shape != X.shape:
        return np.zeros_like(y)
    return ev.g.ravel()[: y.size]


def _first_bad(s: Subject, xs: np.ndarray, bad: np.ndarray, i: int, dtype: str):
    """Narrow the first non-finite input down between the last good sweep point and ``xs[i]``
    (one batched call of 256 points). Returns (x, y, g) there, or None."""
    same_side = (np.sign(xs) == np.sign(xs[i])) & (np.abs(xs) < np.abs(xs[i])) & ~bad
    if not same_side.any():
        return None
    good = xs[same_side][np.argmax(np.abs(xs[same_side]))]
    grid = np.linspace(good, xs[i], 256)
    grid = grid.astype(np.dtype(dtype) if dtype != "bfloat16" else np.float32).astype(np.float64)
    ev = s.evaluate(to_rows(grid), np.ones_like(to_rows(grid)))
    y = ev.y.ravel()[: grid.size]
    g = _grad_or_zeros(ev, to_rows(grid), y)
    nb = ~np.isfinite(y) | ~np.isfinite(g)
    if not nb.any():
        return None
    j = int(np.argmax(nb))
    return float(grid[j]), y[j], g[j]


_EXP_LIMIT = {"float32": 88.72, "float16": 11.09, "bfloat16": 88.72}


def stability_hint(dtype: str, x0: float, in_forward: bool, source: str | None) -> str | None:
    src = re.sub(r"\s+", "", source or "")
    if re.search(r"log(1p)?\((1(\.0*)?\+)?(tf\.|math\.|tf\.math\.|np\.)?exp\(", src) and ".softplus(" not in src:
        return "log(1 + exp(x)) overflows: use tf.nn.softplus(x)"
    near_exp = abs(abs(x0) - _EXP_LIMIT[dtype]) < 1.0
    if not in_forward and "where" in src:
        return ("the gradient of an unselected tf.where branch overflows (0 * inf = NaN): clamp that branch's "
                "input, e.g. tf.exp(tf.minimum(x, 0.0))")
    if not in_forward:
        return "an intermediate of the gradient overflows (inf/inf or 0*inf): rewrite it in a saturating form"
    if near_exp:
        return f"exp(x) overflows above x={_EXP_LIMIT[dtype]} in {dtype}: use a stable form (tf.nn.softplus, tf.nn.sigmoid, tf.math.log_sigmoid) or clamp"
    return None


def _defining_object(obj):
    """The user's function or class behind ``obj`` (a layer instance's class)."""
    obj = innermost(obj)
    return obj if (inspect.isfunction(obj) or inspect.isclass(obj)) else type(obj)


def source_of(obj) -> str | None:
    """The activation's source text (its class for a layer instance), or None."""
    try:
        return inspect.getsource(_defining_object(obj))
    except (OSError, TypeError):
        return None


def _module_of(obj):
    try:
        return inspect.getmodule(_defining_object(obj))
    except (TypeError, AttributeError):
        return None


def module_source_of(obj) -> str | None:
    """The source of the module that defines the activation, or None."""
    module = _module_of(obj)
    try:
        return _module_source(module) if module is not None else None
    except (OSError, TypeError):
        return None


_SOURCES: dict = {}


def _module_source(module) -> str:
    # one read per module file, however many activations it defines
    key = getattr(module, "__file__", None) or module.__name__
    if key not in _SOURCES:
        _SOURCES[key] = inspect.getsource(module)
    return _SOURCES[key]


# Irrational breakpoints people write inline (x - np.pi / 4, the golden ratio, log 2).
COMMON_CONSTANTS = (np.pi / 4, np.pi / 2, np.pi, 2 * np.pi, np.e, np.log(2.0), np.log(3.0), np.log(10.0),
                    np.sqrt(2.0), np.sqrt(3.0), 1 / np.sqrt(2.0), (1 + np.sqrt(5.0)) / 2, (np.sqrt(5.0) - 1) / 2)


def numbers_of(activation_obj, layer=None, source: str | None = None) -> tuple[float, ...]:
    """Where breakpoints of a piecewise definition or NaN traps are likely: every number
    literal in the activation's source and its module, the module's numeric constants
    (K = math.log(3.0)), a layer's numeric attributes, the reciprocals of all of these (poles
    of 1/(1 + p*x)), and a few common irrational constants. Signs are added by the caller."""
    source = source if source is not None else source_of(activation_obj)
    found = list(number_literals(source)) + list(number_literals(module_source_of(activation_obj)))
    found += _numeric_values(getattr(_module_of(activation_obj), "__dict__", {}))
    if layer is not None:
        found += _numeric_values(getattr(layer, "__dict__", {}))
    found += [1.0 / v for v in found if v != 0 and np.isfinite(1.0 / v)]
    found += list(COMMON_CONSTANTS)
    return tuple(dict.fromkeys(float(v) for v in found))[:600]


def _numeric_values(namespace: dict) -> list[float]:
    vals = []
    for v in list(namespace.values())[:2000]:
        if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool):
            f = float(v)
            if np.isfinite(f):
                vals.append(f)
    return vals


def number_literals(source: str | None, limit: int = 200) -> tuple[float, ...]:
    """Finite float/int literals in ``source`` (breakpoints of piecewise definitions)."""
    if not source:
        return ()
    import io
    import tokenize

    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(inspect.cleandoc(source)).readline):
            if tok.type == tokenize.NUMBER and not tok.string.endswith(("j", "J")):
                try:
                    v = float(tok.string.replace("_", ""))
                except ValueError:
                    continue
                if np.isfinite(v) and v not in found:
                    found.append(v)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return tuple(found[:limit])
