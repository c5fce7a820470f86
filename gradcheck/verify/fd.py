"""Finite differences, pure NumPy (docs/method.md s.4): power-of-two steps, central and
Richardson quotients with their error estimates, the comparison of a gradient with them
(kinks accepted as subgradients, jumps rejected), the central screen that settles most
points from f(x +- h) alone, and kink location between samples.

Nothing here calls TensorFlow or the user's code: stencil.py evaluates the activation and
feeds these functions arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arrays import aligned_empty, chunks, finite_absmax, for_chunks, masked_argmax
from .tolerances import ULPS_PER_EVAL, Tolerance

# Jump test (method.md s.4): f(h) - f(-h) stands out from both outer steps by this factor,
# and from the rounding of f by this many evaluation roundings.
JUMP_OUTER_RATIO = 16
JUMP_ROUNDINGS = 256
# Kink test (method.md s.4): one-sided slopes differ by this many tolerances, and the
# difference grows less than this from h to 2h (curvature would double it).
KINK_SPREAD_TOLERANCES = 10
KINK_MAX_GROWTH = 1.5
# Curvature, not a kink (method.md s.4): the one-sided slopes' spread doubles from h to 2h
# within this fraction (|f''| h vs 2 |f''| h; a looser doubling means h is not small for the
# function and Richardson may be off too). A kink at distance a < h gives a ratio of at most
# 1.43 where the smooth test needs help (a < 0.46 h), so this band excludes no kink.
CURVATURE_BAND = 0.05
# ... and only where h is small for the function's scale, so that Taylor's terms fall off:
# |D(h) - D(2h)| ~ |f'''| h^2 / 2 at most this fraction of the spread |f''| h (a softmax of
# temperature 0.02 in float32, h ~ T, can double its spread by chance; Richardson is no
# better than the slopes there).
CURVATURE_TAYLOR = 0.1
# The central screen is sound only while (1 + rtol) / 3 <= 2 (central_screen's docstring).
SCREEN_MAX_RTOL = 5
SCREEN_MARGIN = 1 - 2.0 ** -40  # its tolerance a hair below the full test's (central_screen)
# Relative errors are taken against at least this fraction of the largest estimate.
RELATIVE_FLOOR = 1e-3
# Kinks between samples (method.md s.2): a gradient change this much above the local
# scale (relative, at least 1e3 ulps) and this many times its neighbours' changes; at
# most MAX_KINKS located; the scale estimated on about SCALE_SUBSAMPLE samples.
KINK_JUMP = 1e-3
KINK_JUMP_ULPS = 1e3
KINK_ISOLATION = 4
MAX_KINKS = 200
SCALE_SUBSAMPLE = 1 << 16

def fd_step(x: np.ndarray, eps: float) -> np.ndarray:
    """eps^(1/3) * max(1, |x|), rounded down to a power of two (exact in binary floating point)."""
    flat = np.ravel(x)
    m = aligned_empty(flat.shape)
    c = np.cbrt(eps)

    def piece(sl):
        mm = m[sl]
        np.abs(flat[sl], out=mm)
        np.maximum(mm, 1.0, out=mm)
        mm *= c
        # keep only the exponent bits of a normal float64: 2**floor(log2(m)), exactly
        bits = mm.view(np.int64)
        np.bitwise_and(bits, np.int64(0x7FF0000000000000), out=bits)

    for_chunks(piece, m.shape)
    return m.reshape(np.shape(x))


@dataclass(frozen=True)
class Quotients:
    """Difference quotients around each point, from f at t = -2h, -h, 0, h, 2h.

    The central estimates are computed for every point; the one-sided slopes and the jump
    test (needed only where the central estimate disagrees) on demand, for a subset.
    """

    fm2: np.ndarray
    fm1: np.ndarray
    f0: np.ndarray
    fp1: np.ndarray
    fp2: np.ndarray
    h: np.ndarray
    richardson: np.ndarray  # (4 D(h) - D(2h)) / 3
    noise: np.ndarray  # rounding noise of the quotients
    trunc: np.ndarray  # truncation error estimate |D(h) - D(2h)|
    fscale: np.ndarray  # magnitude of f around the point (for the jump test)
    eps: float

    def subset(self, idx) -> Quotients:
        pick = {k: (v[idx] if isinstance(v, np.ndarray) and v.shape == self.f0.shape else v)
                for k, v in self.__dict__.items()}
        return Quotients(**pick)

    def with_noise_floor(self, floor: np.ndarray) -> Quotients:
        return Quotients(**{**self.__dict__, "noise": np.maximum(self.noise, floor)})

    def one_sided(self):
        """(f(h)-f(0))/h, (f(0)-f(-h))/h and the same with 2h."""
        h = self.h
        return ((self.fp1 - self.f0) / h, (self.f0 - self.fm1) / h,
                (self.fp2 - self.f0) / (2 * h), (self.f0 - self.fm2) / (2 * h))

    def jump(self) -> np.ndarray:
        """Size of a jump of f inside [-h, h] (0 where f is continuous there).

        A jump shows in f(h) - f(-h) but not in the outer steps f(2h) - f(h) and
        f(-h) - f(-2h), which only see the local slope (kinks and smooth parts alike)."""
        a1 = np.abs(self.fp1 - self.fm1)
        outer = np.abs(self.fp2 - self.fp1) + np.abs(self.fm1 - self.fm2)
        is_jump = (a1 > JUMP_OUTER_RATIO * outer) & \
            (a1 > JUMP_ROUNDINGS * ULPS_PER_EVAL * self.eps * np.maximum(self.fscale, 1e-300))
        return np.where(is_jump, a1, 0.0)


def quotients(fm2, fm1, f0, fp1, fp2, h, eps: float, fglobal: float = 0.0) -> Quotients:
    """Central and Richardson quotients with error estimates (all elementwise).

    The rounding noise of f is a few ulps of the largest of the values involved and
    ``fglobal``, the output scale of the batch: cancellation inside a formula leaves errors of
    the size of its intermediates, not of its result.
    """
    shape = np.shape(f0)
    h = np.broadcast_to(h, shape)
    with np.errstate(all="ignore"):
        if fglobal > 0:
            # the batch's output scale dominates the local values (which are in the batch, or
            # within 2h of it): one number instead of nine passes over the arrays
            fscale = np.broadcast_to(max(fglobal, finite_absmax(fp2), finite_absmax(fm2)), shape)
        else:
            fscale = np.maximum(np.abs(fm2), np.abs(fm1))
            for f in (f0, fp1, fp2):
                np.maximum(fscale, np.abs(f), out=fscale)
        rich, trunc, noise = np.empty(shape), np.empty(shape), np.empty(shape)
        for sl in chunks(shape):  # cache-sized pieces: the temporaries stay in L2
            inv_h = 1.0 / h[sl]  # h is a power of two: multiplying by 1/h is exact
            d1 = fp1[sl] - fm1[sl]
            d1 *= inv_h
            d1 *= 0.5
            d2 = fp2[sl] - fm2[sl]
            d2 *= inv_h
            d2 *= 0.25
            d2 -= d1  # -(D(h) - D(2h))
            np.divide(d2, -3.0, out=rich[sl])
            rich[sl] += d1
            np.abs(d2, out=trunc[sl])
            np.multiply(inv_h, ULPS_PER_EVAL * eps, out=noise[sl])
            noise[sl] *= fscale[sl]
    return Quotients(fm2, fm1, f0, fp1, fp2, h, rich, noise, trunc, fscale, eps)


def directional_quotients(phi: dict, phi_abs: np.ndarray, slope: np.ndarray, hrow: np.ndarray,
                          row_independent: bool, eps: float):
    """(slope, Quotients) along a direction per row: ``phi[k]`` is a scalar per row at X + k h d
    (k = -2..2, ``hrow`` the rows' steps), ``slope`` what is compared with their quotients.
    Summed over the batch (one value, the largest step) when rows are not independent. The
    rounding noise of a sum is that of the sum of magnitudes ``phi_abs``, not the magnitude of
    the sum."""
    if not row_independent:
        phi = {k: np.array([v.sum()]) for k, v in phi.items()}
        phi_abs = np.array([phi_abs.sum()])
        slope = np.array([slope.sum()])
        hh = np.array([hrow.max()])
    else:
        hh = hrow.ravel()
    q = quotients(phi[-2], phi[-1], phi[0], phi[1], phi[2], hh, eps)
    return slope, q.with_noise_floor(ULPS_PER_EVAL * eps * phi_abs / hh)


@dataclass(frozen=True)
class FDComparison:
    """Where a gradient agrees with finite differences.

    ``ok``, ``smooth_ok`` and ``kink`` hold every point. The details (errors, tolerance,
    jump, spread) are kept only at the points ``at`` (sorted indices), where the full test
    ran: every point for compare_with_fd, the few the central screen could not settle for the
    elementwise check. Every point that is not ok, or is a kink, is among them. The maxima of
    the errors over ``smooth_ok`` cover every point.
    """

    ok: np.ndarray  # accepted (smoothly, or as a subgradient at a kink)
    smooth_ok: np.ndarray  # accepted by the smooth (Richardson) test alone
    kink: np.ndarray  # one-sided slopes disagree: a kink at (or within h of) the point
    at: np.ndarray  # the points the details below are for
    abs_err: np.ndarray  # |g - Richardson estimate|
    rel_err: np.ndarray
    tol: np.ndarray
    jump: np.ndarray  # size of a jump of f within h of the point (0: none)
    spread: np.ndarray  # |forward - backward slope| (0 where the smooth test passed)
    max_abs: float | None  # largest abs_err over smooth_ok (None: no point passed smoothly)
    max_rel: float | None
    argmax_rel: int | None  # the point where rel_err is largest over smooth_ok
    argmax_abs: int | None = None  # the point where abs_err is largest over smooth_ok (max_abs's)

    def pos(self, idx: np.ndarray) -> np.ndarray:
        """Positions in the detail arrays of the points ``idx`` (which must be in ``at``)."""
        return np.searchsorted(self.at, idx)

    def jumps(self) -> np.ndarray:
        """The points where f jumps."""
        return self.at[self.jump > 0]


def _smooth_maxima(abs_err, rel_err, smooth_ok):
    """(max abs_err, max rel_err, its index, max abs_err's index) over smooth_ok, or Nones."""
    i = masked_argmax(rel_err, smooth_ok)
    if i is None:
        return None, None, None, None
    j = masked_argmax(abs_err, smooth_ok)
    return float(abs_err[j]), float(rel_err[i]), i, j


def compare_with_fd(g: np.ndarray, q: Quotients, tol: Tolerance, rel_floor: float | None = None) -> FDComparison:
    """Accept ``g`` where it matches the Richardson estimate within its error estimate, or where
    the one-sided slopes disagree (a kink) and ``g`` lies between them (a valid subgradient).
    Where f jumps, nothing is accepted. Relative errors are taken against max(|estimate|,
    ``rel_floor``), by default 0.1% of the largest estimate."""
    with np.errstate(all="ignore"):
        ref = q.richardson
        shape = np.shape(ref)
        err, t, rel = np.empty(shape), np.empty(shape), np.empty(shape)
        smooth_ok = np.empty(shape, bool)
        if rel_floor is None:
            rel_floor = relative_floor(ref)
        for sl in chunks(shape):
            r = ref[sl]
            np.subtract(g[sl], r, out=err[sl])
            np.abs(err[sl], out=err[sl])
            ar = np.abs(r)
            np.multiply(ar, tol.fd_rtol, out=t[sl])
            t[sl] += tol.fd_atol
            t[sl] += 4 * q.noise[sl]
            t[sl] += 2 * q.trunc[sl]
            np.less_equal(err[sl], t[sl], out=smooth_ok[sl])
            np.maximum(ar, rel_floor, out=ar)
            np.divide(err[sl], ar, out=rel[sl])
        ok = smooth_ok.copy()
        kink = np.zeros(g.shape, bool)
        jump = np.zeros(g.shape)
        spread_all = np.zeros(g.shape)
        idx = np.nonzero(~smooth_ok)[0]
        if idx.size:  # usually a handful: one-sided slopes only where needed
            sq, gs, ts = q.subset(idx), g[idx], t[idx]
            fwd, bwd, fwd2, bwd2 = sq.one_sided()
            lo = np.minimum(np.minimum(fwd, bwd), np.minimum(fwd2, bwd2)) - ts
            hi = np.maximum(np.maximum(fwd, bwd), np.maximum(fwd2, bwd2)) + ts
            in_hull = (gs >= lo) & (gs <= hi)
            spread = np.abs(fwd - bwd)
            spread2 = np.abs(fwd2 - bwd2)
            js = sq.jump()
            # Kink: one-sided slopes differ by more than the tolerance, and the difference does
            # not grow with the step as curvature would (curvature doubles it from h to 2h).
            kink[idx] = (spread > KINK_SPREAD_TOLERANCES * ts) & (spread2 < KINK_MAX_GROWTH * spread) & (js == 0)
            # Points where the slopes are merely curved get no subgradient excuse: there the
            # Richardson estimate is accurate and the smooth test's verdict stands.
            curved = ((spread > ts) & (np.abs(spread2 - 2 * spread) <= CURVATURE_BAND * spread)
                      & (sq.trunc <= CURVATURE_TAYLOR * spread))
            nonsmooth = ((np.maximum(spread, spread2) > ts) | (sq.trunc > ts)) & ~curved
            ok[idx] = nonsmooth & in_hull & (js == 0) & np.isfinite(gs)
            jump[idx] = js
            spread_all[idx] = spread
    return FDComparison(ok, smooth_ok, kink, np.arange(np.size(g)), err, rel, t, jump, spread_all,
                        *_smooth_maxima(err, rel, smooth_ok))


def relative_floor(ref: np.ndarray, absmax: float | None = None) -> float:
    """Denominator floor of relative errors: 0.1% of the largest finite estimate (so that
    zeros of the derivative do not turn rounding into huge relative errors). ``absmax``: that
    largest value, when already known."""
    return RELATIVE_FLOOR * max((finite_absmax(ref) if absmax is None else absmax) or 1.0, 1e-300)


@dataclass(frozen=True)
class CentralScreen:
    """The central quotient D(h) at every point and where it already settles the comparison."""

    passed: np.ndarray  # accepted by the screen: the full test would accept these too
    rel_floor: float
    max_abs: float | None  # largest |g - d| over the passed points
    max_rel: float | None  # largest |g - d| / max(|d|, rel_floor) over them
    argmax_rel: int | None
    argmax_abs: int | None = None  # where max_abs is


def central_screen(g: np.ndarray, fm1: np.ndarray, fp1: np.ndarray, h: np.ndarray, fglobal: float,
                   tol: Tolerance) -> CentralScreen:
    """Accept ``g`` where |g - D(h)| <= rtol |D(h)| + atol + 4 * noise, noise = 8 ulps of the
    batch's output scale ``fglobal`` / h, from f(x +- h) alone.

    Sound for the full test (compare_with_fd on Richardson R = D(h) + delta/3, delta = D(h) -
    D(2h), tolerance rtol |R| + atol + 4 * noise' + 2 |delta|, noise' >= noise because its
    scale is at least ``fglobal``): |g - R| <= |g - D(h)| + |delta|/3 and |D(h)| <= |R| +
    |delta|/3, so a point passing here passes there (for rtol <= 5). Only the rest need
    f(x +- 2h), one-sided slopes and the kink and jump tests: on a correct activation, a few
    points near kinks instead of every point. Errors are not kept per point, only their
    maxima over the passed points (memory traffic is what a million points cost).
    """
    shape = np.shape(g)
    passed = np.empty(shape, bool)
    h = np.broadcast_to(h, shape)
    # The terms are scaled down by SCREEN_MARGIN: summed in another order than compare_with_fd
    # does, a point exactly on the threshold could otherwise pass here by one ulp and fail there.
    noise8 = 4 * 2 * ULPS_PER_EVAL * tol.eps * fglobal * SCREEN_MARGIN  # 4 * noise, per 2h
    rtol, atol = tol.fd_rtol * SCREEN_MARGIN, tol.fd_atol * SCREEN_MARGIN
    # Relative errors of the passed points against max(|D(h)|, 0.1% of the largest gradient):
    # known before the pass, so one pass does everything (where g passes, g and D(h) agree).
    # The points left to the full test get relative_floor(d), returned, as compare_with_fd would.
    floor_g = relative_floor(g)

    def screen(sl):
        with np.errstate(all="ignore"):
            inv_2h = np.divide(0.5, h[sl])  # h is a power of two: exact
            ds = np.subtract(fp1[sl], fm1[sl])  # D(h), not kept: FDData.estimate recomputes it for plots
            ds *= inv_2h
            err = np.subtract(g[sl], ds)
            np.abs(err, out=err)
            ad = np.abs(ds)
            t = np.multiply(ad, rtol)
            inv_2h *= noise8
            inv_2h += atol
            t += inv_2h
            ok = np.less_equal(err, t, out=passed[sl])
            dmax = finite_absmax(ad)
            np.maximum(ad, floor_g, out=ad)
            rel = np.divide(err, ad, out=ad)
            i = masked_argmax(rel, ok)
            j = masked_argmax(err, ok)
            return dmax, None if i is None else (float(rel[i]), -(sl.start + i), float(err[j]), -(sl.start + j))

    pieces = for_chunks(screen, shape)
    rel_floor = relative_floor(None, max((p[0] for p in pieces), default=0.0))  # = relative_floor(d)
    parts = [p[1] for p in pieces if p[1] is not None]
    if tol.fd_rtol > SCREEN_MAX_RTOL:  # the soundness argument above needs (1 + rtol) / 3 <= 2
        passed[:] = False
        parts = []
    if not parts:
        return CentralScreen(passed, rel_floor, None, None, None)
    rel, neg_i, _, _ = max(parts)  # first index of the largest value, as one argmax would give
    err, neg_j = max((p[2], p[3]) for p in parts)
    return CentralScreen(passed, rel_floor, err, rel, -neg_i, -neg_j)


def merge_screen(screen: CentralScreen, idx: np.ndarray, cmp_sub: FDComparison | None) -> FDComparison:
    """The full comparison: the screen's verdicts, overwritten at ``idx`` (sorted) by
    ``cmp_sub``, the full test there."""
    ok = screen.passed.copy()
    smooth_ok = screen.passed.copy()  # the screen is the caller's: not written through
    kink = np.zeros(ok.shape, bool)
    max_abs, max_rel, argmax_rel, argmax_abs = screen.max_abs, screen.max_rel, screen.argmax_rel, screen.argmax_abs
    if not idx.size:
        empty = np.empty(0)
        return FDComparison(ok, smooth_ok, kink, idx, empty, empty, empty, empty, empty, max_abs, max_rel, argmax_rel,
                            argmax_abs)
    ok[idx], smooth_ok[idx], kink[idx] = cmp_sub.ok, cmp_sub.smooth_ok, cmp_sub.kink
    if cmp_sub.argmax_rel is not None:  # some of them passed smoothly: the maxima may be theirs
        i, j = int(idx[cmp_sub.argmax_rel]), int(idx[cmp_sub.argmax_abs])
        if max_abs is None or (cmp_sub.max_abs, -j) > (max_abs, -argmax_abs):
            max_abs, argmax_abs = cmp_sub.max_abs, j
        if max_rel is None or (cmp_sub.max_rel, -i) > (max_rel, -argmax_rel):  # ties: the first point
            max_rel, argmax_rel = cmp_sub.max_rel, i
    return FDComparison(ok, smooth_ok, kink, idx, cmp_sub.abs_err, cmp_sub.rel_err, cmp_sub.tol, cmp_sub.jump,
                        cmp_sub.spread, max_abs, max_rel, argmax_rel, argmax_abs)


def cluster_points(x: np.ndarray, weight: np.ndarray, width: np.ndarray, limit: int = 20) -> list[float]:
    """Merge nearby flagged points (within ``width``) into one representative each (largest weight)."""
    if x.size == 0:
        return []
    order = np.argsort(x)
    x, weight, width = x[order], weight[order], width[order]
    out, start = [], 0
    for i in range(1, x.size + 1):
        if i == x.size or x[i] - x[i - 1] > 4 * max(width[i - 1], width[min(i, x.size - 1)]):
            out.append(_representative(x[start:i], weight[start:i]))
            start = i
    return out[:limit]


def _representative(xs: np.ndarray, w: np.ndarray) -> float:
    """A cluster's point: the roundest number in it (kinks sit at 0, 6, 2.5...), else the heaviest."""
    for decimals in range(0, 7):
        hit = np.nonzero(np.round(xs, decimals) == xs)[0]
        if hit.size:
            return float(xs[hit[np.argmin(np.abs(xs[hit]))]]) + 0.0
    return float(xs[np.argmax(w)])


def kink_candidates(x: np.ndarray, f: np.ndarray, g: np.ndarray, eps: float) -> np.ndarray:
    """Locate kinks between consecutive sorted samples from where the tangent lines intersect.

    Where the gradient changes abruptly between neighbours (much more than its local trend), the
    kink of a piecewise-smooth function lies where the two tangents meet; exact for piecewise
    linear pieces. Returns the located points (snapped to round numbers when very close).
    """
    if x.size < 4:
        return np.empty(0)
    with np.errstate(all="ignore"):
        dg = np.abs(np.diff(g))
        stride = max(1, g.size // SCALE_SUBSAMPLE)  # a scale estimate: a subsample is enough
        gscale = np.nanmedian(np.abs(g[::stride])) + np.nanmedian(dg[::stride]) + 1e-12
        cand = np.nonzero(dg > max(KINK_JUMP_ULPS * eps, KINK_JUMP) * gscale)[0]  # one pass; the rest on the few found
        # An isolated large change marks a kink: compared as changes per unit of x with the
        # neighbouring intervals', since the sorted batch (grid, random and special points
        # interleaved) has intervals of very different widths, where a smooth gradient's change
        # is proportional to the width.
        # (computed at the candidates and their neighbours only: a smooth function whose
        # gradient is near 0 over much of the range, as tanh's, has most points as candidates)
        def rate(i):
            return np.where(dg[i] == 0, 0.0, dg[i] / (x[i + 1] - x[i]))  # equal points: no change

        d = rate(cand)
        left = np.where(cand > 0, rate(np.maximum(cand - 1, 0)), 0.0)
        right = np.where(cand < dg.size - 1, rate(np.minimum(cand + 1, dg.size - 1)), 0.0)
        cand = cand[np.isfinite(dg[cand]) & (d > KINK_ISOLATION * np.maximum(left, right))][:MAX_KINKS]
        x0, x1 = x[cand], x[cand + 1]
        f0, f1, g0, g1 = f[cand], f[cand + 1], g[cand], g[cand + 1]
        xs = (f1 - f0 + g0 * x0 - g1 * x1) / (g0 - g1)
        xs = xs[np.isfinite(xs) & (xs >= x0) & (xs <= x1)]
        snapped = np.round(xs, 6)
        xs = np.where(np.abs(snapped - xs) <= 1e-7 * np.maximum(1.0, np.abs(xs)), snapped, xs)
    return np.unique(xs)
