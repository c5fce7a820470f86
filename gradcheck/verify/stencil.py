"""Finite differences of the activation itself (docs/method.md s.4): the stencil f(x +- h),
f(x +- 2h) evaluated in batches, the two-stage comparison of an elementwise gradient with
it, jumps narrowed down by bisection, and the finer second look near singular slopes.

The arithmetic is fd.py's; this module only decides where to evaluate the activation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .arrays import finite_absmax
from .fd import FDComparison, Quotients, central_screen, compare_with_fd, fd_step, merge_screen, quotients
from .layout import WIDTH, rows_of, to_rows
from .subject import Subject
from .tolerances import Tolerance

# Jumps between samples (locate_jumps): a trapezoid residual above this many ulps of the
# output scale, standing out this many times from both neighbours'; at most MAX_JUMPS
# bisected BISECTIONS times; a jump is real when its interval shrank below JUMP_WIDTH
# (relative) and f still changes across it.
JUMP_RESIDUAL_ULPS = 1e4
JUMP_ISOLATION = 10
MAX_JUMPS = 64
BISECTIONS = 48
JUMP_WIDTH = 1e-9
# The second look (refine_fd) takes at most this many failing points, at steps h/4 ... h/1024
# and relative to |x|; a finer estimate counts only when its tolerance is within this
# fraction of it beyond the standard one.
MAX_REFINED = 4096
REFINE_DIVISORS = (4.0, 16.0, 64.0, 1024.0)
REFINE_PRECISION = 1e-2


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
        self.fglobal = finite_absmax(y_flat)

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
                 limit: int = MAX_JUMPS, steps: int = BISECTIONS) -> np.ndarray:
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
        fscale = finite_absmax(fs)
        floor = JUMP_RESIDUAL_ULPS * eps * max(fscale, 1e-300)
        cand = np.nonzero(r > floor)[0]  # one pass; the rest on the few found

        def residual(i):  # 0 where it means nothing: non-finite, or not an interval
            return np.where(np.isfinite(r[i]) & (dx[i] > 0), r[i], 0.0)

        left = np.where(cand > 0, residual(np.maximum(cand - 1, 0)), 0.0)
        right = np.where(cand < r.size - 1, residual(np.minimum(cand + 1, r.size - 1)), 0.0)
        rc = residual(cand)
        cand = cand[(rc > floor) & (rc > JUMP_ISOLATION * np.maximum(left, right))]
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
        narrow = (b - a) <= JUMP_WIDTH * np.maximum(1.0, np.abs(a))
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
    idx = idx[(cmp.jump[cmp.pos(idx)] == 0) & np.isfinite(g[idx])][:MAX_REFINED]
    if idx.size == 0:
        return cmp
    xs, ys, gs = x[idx], y[idx], g[idx]
    h0 = fd_step(xs, tol.eps)
    rel = np.exp2(np.floor(np.log2(np.maximum(np.cbrt(tol.eps) * np.abs(xs), 1e-300))))
    levels = [h0 / d for d in REFINE_DIVISORS] + [np.minimum(rel, h0), np.minimum(rel / 16, h0)]
    fglobal = finite_absmax(y)
    accepted = np.zeros(idx.size, bool)
    for h in levels:
        vals = {k: subject.forward(to_rows(xs + k * h)).ravel()[: xs.size] for k in (-2, -1, 1, 2)}
        qk = quotients(vals[-2], vals[-1], ys, vals[1], vals[2], h, tol.eps, fglobal)
        ck = compare_with_fd(gs, qk, tol)
        precise = ck.tol <= REFINE_PRECISION * np.abs(qk.richardson) + cmp.tol[cmp.pos(idx)]
        accepted |= ck.ok & precise
    ok = cmp.ok.copy()
    ok[idx] = accepted
    return dataclasses.replace(cmp, ok=ok)
