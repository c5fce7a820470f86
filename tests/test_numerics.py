"""The pure-NumPy numerics of the checker, without TensorFlow (docs/method.md s.2, 4, 5):
finite-difference steps, the central screen and the full comparison, kink location, the
tolerance table, where points are sampled and how they are laid out in rows.

The activation is replaced by exact NumPy values of known functions, so each verdict can be
compared with the truth. Property tests (hypothesis) are derandomized, the same examples
every run, and write no example database into the working tree; where hypothesis is not
installed (the "test" extra does not list it) they are skipped and the rest still runs.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

try:
    from hypothesis import HealthCheck, assume, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - only without hypothesis
    class _Anything:
        """Stands in for hypothesis's strategies and settings: every use gives another stand-in."""

        def __getattr__(self, name):
            return _Anything()

        def __call__(self, *args, **kwargs):
            return _Anything()

    st = HealthCheck = _Anything()

    def settings(**kwargs):
        return lambda fn: fn

    def given(*args, **kwargs):
        return pytest.mark.skip(reason="property test: hypothesis is not installed")

    def assume(condition):
        return True

from gradcheck.verify.arrays import ALIGN
from gradcheck.verify.fd import (
    SCREEN_MAX_RTOL, central_screen, compare_with_fd, fd_step, kink_candidates, merge_screen, quotients,
)
from gradcheck.verify.layout import WIDTH, rows_of, spread_rows, to_rows, upstream
from gradcheck.verify.sampling import TINY, number_literals, sample_rows, special_points
from gradcheck.verify.tolerances import TABLE, ULPS_PER_EVAL, Tolerance, tolerance_for

ROOT = Path(__file__).resolve().parent.parent

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

DTYPES = ("float64", "float32")
EPS = {dt: float(np.finfo(dt).eps) for dt in DTYPES}


def as_dtype(a, dtype):
    """``a`` rounded to ``dtype`` and held as float64, as gradcheck receives a float32 forward."""
    return np.asarray(a, dtype=np.dtype(dtype)).astype(np.float64)


def fd_values(f, x, h, dtype):
    """f(x + k h) for k = -2..2, the shifted inputs and the values in ``dtype`` (as the Stencil)."""
    x = as_dtype(x, dtype)
    return [as_dtype(f(as_dtype(x + k * h, dtype)), dtype) for k in (-2, -1, 0, 1, 2)]


def require(condition, what):
    """A precondition of an xfail test: its failure must not pass for the expected one."""
    if not condition:
        raise RuntimeError(f"test setup broken: {what}")


def full_and_screen(g, vals, h, tol, fglobal=None):
    """The central screen and the full test (compare_with_fd), set up as gradcheck's Stencil does."""
    fm2, fm1, f0, fp1, fp2 = vals
    if fglobal is None:
        finite = np.abs(f0[np.isfinite(f0)])
        fglobal = float(finite.max()) if finite.size else 0.0
    screen = central_screen(g, fm1, fp1, h, fglobal, tol)
    q = quotients(fm2, fm1, f0, fp1, fp2, h, tol.eps, fglobal)
    return screen, q, compare_with_fd(g, q, tol, screen.rel_floor)


def screen_tolerance(fm1, fp1, h, fglobal, tol):
    """The screen's tolerance as method.md s.4 states it: rtol |D(h)| + atol + 4 * 8 eps max|f| / h."""
    d = (fp1 - fm1) / (2 * h)
    return d, tol.fd_rtol * np.abs(d) + tol.fd_atol + 4 * ULPS_PER_EVAL * tol.eps * fglobal / h


# ------------------------------------------------------------------------------------------
# 1. the central screen is sound
# ------------------------------------------------------------------------------------------
# Functions (value, derivative) of t, around a point x whose kink or jump sits at x + c.
KINDS = ("sin", "exp", "cubic", "linear", "zero", "abs", "relu", "step", "sqrt", "rough")


def random_case(seed, kind, dtype, hshift, amp, noise, n=48):
    """Random FD data near a function of ``kind``: (g, [fm2, fm1, f0, fp1, fp2], h).

    g mixes the true slope (exact, slightly and grossly wrong), points placed around the
    screen's own threshold (to probe the boundary), subgradients between one-sided slopes,
    random values and NaN/inf."""
    rng = np.random.default_rng(seed)
    eps = EPS[dtype]
    x = as_dtype(rng.uniform(-1, 1, n) * rng.choice([1.0, 10.0, 1e3], n), dtype)
    h = fd_step(x, eps) * 2.0 ** hshift
    c = x + h * rng.uniform(-2.5, 2.5, n)  # where a kink or a jump sits
    a2 = rng.uniform(-3, 3, n)
    fns = {
        "sin": (lambda t: amp * np.sin(t), lambda t: amp * np.cos(t)),
        "exp": (lambda t: amp * np.exp(t / 100), lambda t: amp / 100 * np.exp(t / 100)),
        "cubic": (lambda t: amp * (t ** 3 / 1e3 + t), lambda t: amp * (3 * t ** 2 / 1e3 + 1)),
        "linear": (lambda t: amp * (2 * t + 1), lambda t: np.full_like(t, 2 * amp)),
        "zero": (lambda t: 0 * t, lambda t: 0 * t),
        "abs": (lambda t: amp * np.abs(t - c), lambda t: amp * np.sign(t - c)),
        "relu": (lambda t: amp * (np.maximum(t - c, 0) + a2 * t), lambda t: amp * ((t > c) + a2)),
        "step": (lambda t: amp * ((t >= c) + 0.1 * t), lambda t: np.full_like(t, 0.1 * amp)),
        "sqrt": (lambda t: amp * np.sqrt(np.abs(t - c)), lambda t: amp * 0.5 / np.sqrt(np.abs(x - c) + 1e-300)),
        "rough": (lambda t: amp * rng.standard_normal(n), lambda t: amp * rng.standard_normal(n)),
    }
    f, df = fns[kind]
    vals = []
    for k in (-2, -1, 0, 1, 2):
        v = f(as_dtype(x + k * h, dtype))
        v = v + noise * amp * rng.standard_normal(n)
        vals.append(as_dtype(v, dtype))
    fm2, fm1, f0, fp1, fp2 = vals
    fglobal = float(np.max(np.abs(f0)))
    d, t_screen = screen_tolerance(fm1, fp1, h, fglobal, tolerance_for(dtype))
    slope = df(x)
    one_sided = [(fp1 - f0) / h, (f0 - fm1) / h]
    choices = [
        slope,  # the true derivative
        slope * (1 + rng.choice([-1, 1], n) * rng.choice([1e-12, 1e-9, 1e-6, 1e-4, 1e-3, 1e-2, 1.0], n)),
        d + rng.choice([-1, 1], n) * t_screen * rng.choice([0.0, 0.5, 1.0 - 1e-9, 1.0, 1.0 + 1e-9, 2.0], n),
        d + rng.uniform(-3, 3, n) * t_screen,
        one_sided[0] + rng.uniform(0, 1, n) * (one_sided[1] - one_sided[0]),
        amp * rng.uniform(-10, 10, n),
        rng.choice([np.nan, np.inf, -np.inf], n),
    ]
    pick = rng.integers(0, len(choices), n)
    g = np.choose(pick, choices)
    return g, vals, h


CASES = dict(seed=st.integers(0, 2 ** 32 - 1), kind=st.sampled_from(KINDS), dtype=st.sampled_from(DTYPES),
             hshift=st.integers(-6, 4), amp=st.sampled_from([1e-4, 0.01, 1.0, 3.0, 1e3, 1e5]),
             noise=st.sampled_from([0.0, 1e-16, 1e-13, 1e-9, 1e-6, 1e-3]))


@PROPERTY
@given(**CASES)
def test_central_screen_never_accepts_what_the_full_test_rejects(seed, kind, dtype, hshift, amp, noise):
    """Soundness of the screen (fd.central_screen's docstring): a point it passes passes the
    full Richardson test too, on smooth, kinked, jumping and rough data, with gradients right,
    wrong, at the screen's own threshold and non-finite. gradcheck runs the full test only on
    the points the screen did not pass, so an unsound screen would hide wrong gradients."""
    g, vals, h = random_case(seed, kind, dtype, hshift, amp, noise)
    tol = tolerance_for(dtype)
    screen, q, full = full_and_screen(g, vals, h, tol)
    bad = screen.passed & ~full.ok
    assert not bad.any(), (
        f"screen passed, full test rejected at {np.nonzero(bad)[0]}: g={g[bad]}, "
        f"R={q.richardson[bad]}, err={full.abs_err[bad]}, tol={full.tol[bad]}")
    assert not screen.passed[~np.isfinite(g)].any()


@PROPERTY
@given(**CASES)
def test_merging_the_screen_with_the_full_test_on_the_rest_gives_the_full_verdicts(seed, kind, dtype, hshift, amp,
                                                                                   noise):
    """merge_screen(screen, rest, full test on the rest) is what gradcheck reports: it must
    give the full test's verdicts (ok, smooth_ok, kink, jump) at every point, with details
    kept for exactly the points the screen left, and the smooth maxima over all passed points."""
    g, vals, h = random_case(seed, kind, dtype, hshift, amp, noise)
    tol = tolerance_for(dtype)
    screen, q, full = full_and_screen(g, vals, h, tol)
    passed = screen.passed.copy()
    idx = np.nonzero(~passed)[0]
    sub = compare_with_fd(g[idx], q.subset(idx), tol, screen.rel_floor) if idx.size else None
    merged = merge_screen(screen, idx, sub)
    np.testing.assert_array_equal(merged.at, idx)
    np.testing.assert_array_equal(merged.ok[idx], full.ok[idx])
    np.testing.assert_array_equal(merged.smooth_ok[idx], full.smooth_ok[idx])
    np.testing.assert_array_equal(merged.kink, full.kink)
    assert merged.ok[passed].all() and merged.smooth_ok[passed].all()
    np.testing.assert_array_equal(merged.ok, full.ok)
    if idx.size:
        np.testing.assert_array_equal(merged.jump, full.jump[idx])
        np.testing.assert_array_equal(merged.tol, full.tol[idx])
    smooth = merged.smooth_ok
    assert (merged.max_rel is None) == (not smooth.any())
    if smooth.any():
        assert smooth[merged.argmax_rel]
        assert merged.max_abs >= 0 and merged.max_rel >= 0
        # the largest error and its point come together (the table's "max error" and "worst x")
        assert smooth[merged.argmax_abs]
        if merged.argmax_abs in idx:  # a point of the full test: its own error is the max
            assert merged.max_abs == merged.abs_err[merged.pos(np.array([merged.argmax_abs]))][0]


def test_central_screen_is_sound_exactly_on_its_threshold():
    """The soundness claim taken literally (method.md s.4: 'never accepts what the full test
    would reject'): a straight line (D(h) = D(2h) = R, so the slack of the argument is zero)
    and g exactly on the screen's threshold, float32 tolerances, batch scale 1."""
    tol = tolerance_for("float32")
    h = np.array([2.0 ** -6])
    vals = [np.array([0.001 * k * h[0]]) for k in (-2, -1, 0, 1, 2)]
    g = np.array([0.000744859375])  # D(h) = 0.001 minus the screen's tolerance
    screen, _, full = full_and_screen(g, vals, h, tol, fglobal=1.0)
    assert not (screen.passed & ~full.ok).any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_central_screen_settles_a_smooth_function_with_its_exact_derivative(dtype):
    """The screen must do its job (not only be sound): with the exact derivative of smooth
    functions every point is settled from f(x +- h) alone, so the full test runs on none."""
    x = np.linspace(-8, 8, 4001)
    tol = tolerance_for(dtype)
    h = fd_step(as_dtype(x, dtype), tol.eps)
    for f, df in ((np.sin, np.cos), (np.tanh, lambda t: 1 - np.tanh(t) ** 2), (np.exp, np.exp)):
        vals = fd_values(f, x, h, dtype)
        g = as_dtype(df(as_dtype(x, dtype)), dtype)
        screen, _, full = full_and_screen(g, vals, h, tol)
        assert screen.passed.all(), x[~screen.passed][:5]
        assert full.ok.all()
        # the maxima it keeps instead of per-point errors: over every (passed) point
        d = (vals[3] - vals[1]) / (2 * h)
        err = np.abs(g - d)
        rel = err / np.maximum(np.abs(d), 1e-3 * np.abs(g).max())
        assert screen.max_abs == err.max()
        assert screen.max_rel == pytest.approx(rel.max(), rel=1e-12)
        assert rel[screen.argmax_rel] == pytest.approx(rel.max(), rel=1e-12)
        assert err[screen.argmax_abs] == screen.max_abs  # the max error's own point


def test_central_screen_accepts_nothing_above_its_rtol_limit():
    """Above fd_rtol = 5 the soundness argument breaks ((1 + rtol) / 3 > 2), so every point must
    go to the full test. Here g = D(h) exactly, which any screen would pass; the point below
    shows the full test really rejects one the unguarded screen inequality would accept."""
    assert SCREEN_MAX_RTOL == 5
    x = np.linspace(-3, 3, 64)
    base = tolerance_for("float64")
    h = fd_step(x, base.eps)
    fm1, fp1 = np.sin(x - h), np.sin(x + h)
    g = (fp1 - fm1) * (0.5 / h)
    at5 = Tolerance("float64", base.eps, 5.0, 1e-9, 5.0, 1e-9)
    at10 = Tolerance("float64", base.eps, 10.0, 1e-9, 10.0, 1e-9)
    assert central_screen(g, fm1, fp1, h, 1.0, at5).passed.all()
    s10 = central_screen(g, fm1, fp1, h, 1.0, at10)
    assert not s10.passed.any()
    assert s10.max_abs is None and s10.max_rel is None and s10.argmax_rel is None

    # why: D(h) = 1, D(2h) = 1.3 (delta = -0.3, R = 0.9), g = D + rtol |D|
    one = np.ones(1)
    vals = [-2.6 * one, -one, 0 * one, one, 2.6 * one]  # h = 1
    g = np.array([11.0])
    d, t = screen_tolerance(vals[1], vals[3], one, 0.0, at10)
    assert abs(g[0] - d[0]) <= t[0]  # the screen's inequality holds...
    full = compare_with_fd(g, quotients(*vals, one, at10.eps), at10)
    assert not full.ok[0]  # ...but the full test rejects: the screen must not pass it
    assert not central_screen(g, vals[1], vals[3], one, 0.0, at10).passed[0]


def test_merge_screen_leaves_the_screen_unchanged():
    """merge_screen must not modify the CentralScreen it is given (a frozen dataclass): a
    caller looking at screen.passed afterwards would see points the screen never passed."""
    x = np.linspace(-1, 1, 32)
    tol = tolerance_for("float64")
    # a coarse step: D(h)'s truncation error fails the screen, Richardson (with its 2 |delta|
    # slack) passes the full smooth test
    h = fd_step(x, tol.eps) * 2.0 ** 8
    g = 3 * np.cos(3 * x)
    screen, q, full = full_and_screen(g, fd_values(lambda t: np.sin(3 * t), x, h, "float64"), h, tol)
    idx = np.nonzero(~screen.passed)[0]
    require(idx.size and full.smooth_ok[idx].any(), "a point the screen leaves and the full test passes")
    before = screen.passed.copy()
    merge_screen(screen, idx, compare_with_fd(g[idx], q.subset(idx), tol, screen.rel_floor))
    np.testing.assert_array_equal(screen.passed, before)


# ------------------------------------------------------------------------------------------
# 2. fd_step
# ------------------------------------------------------------------------------------------
def finite_x(width):
    return st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=width),
                     st.sampled_from([0.0, -0.0, 1.0, -1.0, 5e-324, 1e-300, 1e-40, 1.5, 2.0 - 2.0 ** -52, 1e300]))


@PROPERTY
@given(xs=st.lists(finite_x(64), min_size=1, max_size=12), dtype=st.sampled_from(DTYPES),
       shape2=st.booleans())
def test_fd_step_is_the_power_of_two_below_the_textbook_step(xs, dtype, shape2):
    """h = eps^(1/3) max(1, |x|) rounded down to a power of two: exactly 2**k (so x +- h
    does not round h), never larger than the textbook step and more than half of it, and of
    x's shape (the Stencil reshapes it with the batch)."""
    x = np.array(xs)
    if shape2 and x.size % 2 == 0:
        x = x.reshape(2, -1)
    eps = EPS[dtype]
    h = fd_step(x, eps)
    assert h.shape == x.shape and h.dtype == np.float64
    mantissa, _ = np.frexp(h)
    assert (mantissa == 0.5).all()  # powers of two
    ideal = np.cbrt(eps) * np.maximum(1.0, np.abs(x))
    assert (h <= ideal).all() and (ideal < 2 * h).all()


def realised(x, k, h, dtype):
    """The step really taken: fl(x + k h) - x, exact (as a fraction), in ``dtype``."""
    xs = np.array(x, dtype=dtype)
    return Fraction(float(xs + np.array(k * h, dtype=dtype))) - Fraction(float(xs))


@PROPERTY
@given(x=st.one_of(finite_x(32), finite_x(64)), dtype=st.sampled_from(DTYPES))
def test_fd_step_shifts_are_exact_unless_they_climb_a_binade(x, dtype):
    """x +- h and x +- 2h, computed in the checked dtype, are exactly the points the quotients
    assume (x + h - x == h) wherever x + kh stays within x's binade or goes below it. Climbing
    into the next binade can round (x = 2 - 2**-52: see the report); even then the step
    really taken is within 4 eps^(2/3) of kh (h is never much below eps^(1/3) |x|)."""
    with np.errstate(over="ignore"):
        x = float(np.array(x, dtype=dtype))  # a number of the checked dtype
    fi = np.finfo(dtype)
    if not np.isfinite(x):
        return  # beyond float32
    eps = float(fi.eps)
    h = float(fd_step(np.array(x), eps))
    if abs(x) + 2 * h > float(fi.max):
        return  # x + 2h overflows
    for k in (-2, -1, 1, 2):
        exact = Fraction(k) * Fraction(h)
        target = Fraction(x) + exact
        step = realised(x, k, h, dtype)
        if x == 0 or target == 0 or np.frexp(abs(float(target)))[1] <= np.frexp(abs(x))[1]:
            assert step == exact, (x, k, h)
            if abs(k) == 1:
                xs, hs = np.array(x, dtype=dtype), np.array(h, dtype=dtype)
                assert (xs + k * hs) - xs == k * hs
        assert abs(step - exact) <= 4 * eps ** (2 / 3) * Fraction(h), (x, k, h)


def test_fd_step_matches_the_documented_sizes():
    """method.md s.4: about 6e-6 in float64 and 4e-3 in float32 at |x| <= 1, growing with |x|."""
    assert fd_step(np.array([0.0, 0.5, -1.0]), EPS["float64"]).tolist() == [2.0 ** -18] * 3
    assert fd_step(np.array([0.0]), EPS["float32"])[0] == 2.0 ** -8
    assert fd_step(np.array([1024.0]), EPS["float64"])[0] == 2.0 ** -8
    assert fd_step(np.float64(3.0), EPS["float64"]).shape == ()


# ------------------------------------------------------------------------------------------
# 3. kinks between samples
# ------------------------------------------------------------------------------------------
ROUND_KINKS = (0.0, 0.5, 2.0, -1.25, 6.0, 0.37, -2.5)


@PROPERTY
@given(k=st.one_of(st.floats(-50, 50), st.sampled_from(ROUND_KINKS)),
       a=st.floats(-10, 10), b=st.floats(-10, 10), c=st.floats(-10, 10),
       dx=st.floats(1e-3, 0.5), n=st.integers(4, 200), where=st.floats(0, 1), frac=st.floats(0.05, 0.95),
       dtype=st.sampled_from(DTYPES))
def test_kink_of_a_piecewise_linear_function_is_located(k, a, b, c, dx, n, where, frac, dtype):
    """Between two samples around a kink the two tangent lines meet exactly at the kink
    (method.md s.2): one candidate, within rounding of k, snapped to k itself when k is a
    round number (kinks sit at 0, 0.5, 2...; checking exactly there finds NaN traps)."""
    assume(abs(a - b) >= 0.01 * max(abs(a), abs(b)) and max(abs(a), abs(b)) >= 1e-3)  # not too faint
    j = min(int(where * (n - 1)), n - 2)
    x = k + (np.arange(n) - j - frac) * dx  # k strictly between x[j] and x[j + 1]
    assert np.all(np.diff(x) > 0) and x[j] < k < x[j + 1]
    f = c + np.where(x < k, a * (x - k), b * (x - k))
    g = np.where(x < k, a, b)
    found = kink_candidates(x, f, g, EPS[dtype])
    assert found.size == 1, found
    scale = abs(c) + (abs(a) + abs(b)) * (abs(k) + n * dx)
    rounding = 64 * EPS["float64"] * scale / abs(a - b)
    assert abs(found[0] - k) <= 1e-7 * max(1.0, abs(k)) + rounding
    if round(k, 6) == k:
        assert found[0] == k
    elif abs(round(k, 6) - k) > 2e-7 * max(1.0, abs(k)) + rounding:
        assert abs(found[0] - k) <= rounding  # not a round number: not moved


@PROPERTY
@given(lo=st.floats(-16, 15), width=st.floats(1, 32), n=st.integers(256, 4096), dtype=st.sampled_from(DTYPES),
       fn=st.sampled_from(["line", "tanh", "sin", "softplus", "square", "exp"]))
def test_no_kink_is_located_on_straight_lines_and_smooth_functions_on_an_even_grid(lo, width, n, dtype, fn):
    """A smooth, resolved function has no isolated change of gradient, so nothing is added to
    the batch as a 'kink between samples' (each would cost evaluations and be reported)."""
    x = as_dtype(np.linspace(lo, lo + width, n), dtype)
    f, df = {"line": (lambda t: 3 * t - 1, lambda t: np.full_like(t, 3.0)),
             "tanh": (np.tanh, lambda t: 1 - np.tanh(t) ** 2),
             "sin": (np.sin, np.cos),
             "softplus": (lambda t: np.logaddexp(0, t), lambda t: 1 / (1 + np.exp(-t))),
             "square": (lambda t: t * t, lambda t: 2 * t),
             "exp": (lambda t: np.exp(t / 8), lambda t: np.exp(t / 8) / 8)}[fn]
    found = kink_candidates(x, as_dtype(f(x), dtype), as_dtype(df(x), dtype), EPS[dtype])
    assert found.size == 0, found[:5]


def sorted_batch(seed, dtype="float64"):
    """The points gradcheck searches for kinks: the default batch (2048 in [-8, 8]), sorted."""
    rows, n = sample_rows(-8.0, 8.0, 2048, seed, dtype)
    return np.sort(rows.ravel()[:n])


def test_no_kink_is_located_on_a_smooth_function_sampled_as_gradcheck_samples():
    """The pipeline searches the sorted batch itself, not an even grid: the grid half, the
    random half and the special points interleave, so neighbouring intervals differ widely."""
    x = sorted_batch(0)
    assert kink_candidates(x, np.tanh(x), 1 - np.tanh(x) ** 2, EPS["float64"]).size == 0


def test_a_kink_on_top_of_a_smooth_function_is_located_on_gradcheck_batch():
    """sin(x) + 3 relu(x - k): the kink is between samples and no literal names it, so only
    kink location can add it to the batch (where a NaN trap at the kink would show)."""
    x = sorted_batch(1)
    k = 7.9123456789
    alone = kink_candidates(x, 3 * np.maximum(x - k, 0), 3.0 * (x > k), EPS["float64"])
    require(np.abs(alone - k).min() < 1e-6, "the kink alone is located")
    found = kink_candidates(x, np.sin(x) + 3 * np.maximum(x - k, 0), np.cos(x) + 3 * (x > k), EPS["float64"])
    assert np.min(np.abs(found - k)) < 1e-4


def test_kink_candidates_ignores_too_few_samples_and_non_finite_gradients():
    """Fewer than 4 samples give nothing; a NaN gradient is not a kink (no NaN candidate)."""
    assert kink_candidates(np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0]),
                           EPS["float64"]).size == 0
    x = np.linspace(-1, 1, 50)
    g = np.where(x < 0.3, 0.0, 1.0)
    g[10] = np.nan
    found = kink_candidates(x, np.maximum(x - 0.3, 0), g, EPS["float64"])
    assert np.isfinite(found).all() and found.tolist() == [0.3]


# ------------------------------------------------------------------------------------------
# 4. compare_with_fd
# ------------------------------------------------------------------------------------------
def compare_at(f, g, x, dtype, fglobal=0.0):
    x = as_dtype(np.asarray(x, dtype=float), dtype)
    tol = tolerance_for(dtype)
    h = fd_step(x, tol.eps)
    q = quotients(*fd_values(f, x, h, dtype), h, tol.eps, fglobal)
    return compare_with_fd(np.asarray(g, dtype=float), q, tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_compare_with_fd_accepts_the_exact_derivative_of_smooth_functions(dtype):
    """No false alarm on smooth functions anywhere on the default range, in either dtype."""
    x = as_dtype(np.linspace(-8, 8, 4001), dtype)
    for f, df in ((np.sin, np.cos), (np.tanh, lambda t: 1 - np.tanh(t) ** 2), (lambda t: t ** 3, lambda t: 3 * t ** 2)):
        cmp = compare_at(f, as_dtype(df(x), dtype), x, dtype)
        assert cmp.ok.all(), x[~cmp.ok][:5]
        assert cmp.smooth_ok.all() and not cmp.kink.any() and not (cmp.jump > 0).any()
        assert cmp.max_rel is not None and cmp.max_rel < 10 * tolerance_for(dtype).fd_rtol


def test_compare_with_fd_rejects_a_derivative_off_by_one_percent():
    """A gradient 1% off fails in float64 wherever 1% of it is clearly above the error
    estimates: the Richardson error estimate does not swallow real errors."""
    x = np.linspace(-8, 8, 4001)
    cmp = compare_at(np.sin, 1.01 * np.cos(x), x, "float64")
    assert not cmp.ok[np.abs(np.cos(x)) > 0.01].any()
    assert (~cmp.ok).mean() > 0.99


def test_compare_with_fd_rejects_one_percent_in_float32_near_the_origin():
    """float32 noise is ~1e-3 relative at the standard step (2**-8 for |x| <= 1): 1% stands out."""
    x = as_dtype(np.linspace(-1, 1, 1001), "float32")
    cmp = compare_at(np.sin, as_dtype(1.01 * np.cos(x), "float32"), x, "float32")
    assert not cmp.ok.any()


@pytest.mark.parametrize("dtype, factor", [("float64", 1 + 2.5e-5), ("float32", 1.01)])
def test_compare_with_fd_does_not_excuse_a_wrong_gradient_where_the_function_is_only_curved(dtype, factor):
    """method.md s.4: only a kink (one-sided slopes differing and not doubling from h to 2h)
    excuses a g between the one-sided slopes. sin at x = 7 is smooth; a gradient 25x fd_rtol
    off (float64) or 1% off (float32) must fail there, as it does near x = 0."""
    cmp = compare_at(np.sin, as_dtype(factor * np.cos(np.array([7.0])), dtype), [7.0], dtype)
    require(not cmp.smooth_ok[0] and not cmp.kink[0], "the smooth test fails and it is no kink")
    assert not cmp.ok[0]


def test_compare_with_fd_rejects_one_percent_in_float32_on_the_whole_range():
    """Curvature excuses nothing: sin's gradient 1% off fails in float32 wherever 1% of it is
    above float32's noise (|cos| > 0.15: 1% of it is 1.5e-3, the noise at step 2**-8 about 1e-3),
    not only near the origin."""
    x = as_dtype(np.linspace(-8, 8, 4001), "float32")
    cmp = compare_at(np.sin, as_dtype(1.01 * np.cos(x), "float32"), x, "float32")
    assert not cmp.ok[np.abs(np.cos(x)) > 0.15].any()


@PROPERTY
@given(a=st.floats(-1.99, 1.99), s1=st.floats(-3, 3), ds=st.floats(0.2, 4) | st.floats(-4, -0.2),
       c=st.floats(-2, 2), x0=st.floats(-6, 6), dtype=st.sampled_from(DTYPES))
def test_compare_with_fd_accepts_the_one_sided_derivative_near_a_kink_between_curved_pieces(a, s1, ds, c, x0,
                                                                                              dtype):
    """A kink at x + a*h (|a| < 2, so inside the stencil) between curved pieces: the exact
    derivative on x's side passes, wherever the kink sits (the curvature rule must not take a
    kink for curvature)."""
    x = as_dtype(np.array([x0]), dtype)
    h = fd_step(x, EPS[dtype])
    k = float(x[0] + a * h[0])
    assume(abs(k - x[0]) > 1e-3 * h[0])
    f = lambda t: s1 * t + c * t * t + ds * np.maximum(t - k, 0)  # noqa: E731
    g = s1 + 2 * c * x + (ds if x[0] > k else 0.0)
    cmp = compare_at(f, as_dtype(g, dtype), x, dtype)
    assert cmp.ok[0], (cmp.abs_err[0], cmp.tol[0], cmp.spread[0])


@pytest.mark.parametrize("g", [-1.0, -0.75, -0.3, 0.25, 0.5, 1.0, 1.0 + 1e-10])
def test_compare_with_fd_accepts_subgradients_at_a_kink(g):
    """|x| at 0: any g between the one-sided slopes -1 and 1 is a valid subgradient, accepted
    and marked as a kink (listed in the report as informational)."""
    cmp = compare_at(np.abs, [g], [0.0], "float64")
    assert cmp.ok[0] and cmp.kink[0] and not cmp.smooth_ok[0]
    assert cmp.spread[0] == pytest.approx(2.0)


def test_compare_with_fd_at_a_kink_accepts_the_average_slope_smoothly():
    """g = 0 at |x|'s kink equals the central estimate: accepted by the smooth test (that is
    TensorFlow's abs gradient at 0)."""
    cmp = compare_at(np.abs, [0.0], [0.0], "float64")
    assert cmp.ok[0] and cmp.smooth_ok[0]


@pytest.mark.parametrize("g", [2.0, -1.5, 1.01, np.nan, np.inf])
def test_compare_with_fd_rejects_what_is_outside_the_one_sided_slopes_at_a_kink(g):
    """A kink excuses only subgradients: g = 2 at |x|'s kink is wrong, and so is NaN/inf."""
    cmp = compare_at(np.abs, [g], [0.0], "float64")
    assert not cmp.ok[0]


@pytest.mark.parametrize("g", [0.0, 1.0])
def test_compare_with_fd_accepts_relu_at_zero_as_a_kink(g):
    """relu at 0 (one-sided slopes 0 and 1): TensorFlow's 0 and a hand-written 1 both pass."""
    cmp = compare_at(lambda t: np.maximum(t, 0), [g], [0.0], "float64")
    assert cmp.ok[0] and cmp.kink[0]


def test_compare_with_fd_rejects_a_wrong_gradient_at_a_seam_of_a_smooth_function():
    """relu(x) - relu(-x) = x: autodiff gives 0 at 0, the one-sided slopes agree (1), so it is
    no kink and 0 fails (method.md s.4)."""
    cmp = compare_at(lambda t: np.maximum(t, 0) - np.maximum(-t, 0), [0.0], [0.0], "float64")
    assert not cmp.ok[0] and not cmp.kink[0]


@pytest.mark.parametrize("offset", [0.0, 0.5, -0.5, 0.999])
@pytest.mark.parametrize("dtype", DTYPES)
def test_compare_with_fd_rejects_a_jump_and_measures_it(offset, dtype):
    """A step within h of the point (at the point, or between x and x +- h): whatever g, it
    fails, and jump is the step's size (reported as 'discontinuous at x')."""
    x0 = 0.25
    h = fd_step(np.array([x0]), EPS[dtype])[0]
    s = x0 + offset * h
    step = lambda t: np.where(t >= s, 1.0, 0.0) + 0.5 * t  # noqa: E731
    for g in (0.0, 0.5, 1.0):
        cmp = compare_at(step, [g], [x0], dtype)
        assert not cmp.ok[0]
        assert cmp.jump[0] == pytest.approx(1.0, rel=0.01)
        assert not cmp.kink[0]
        np.testing.assert_array_equal(cmp.jumps(), [0])


def test_compare_with_fd_no_jump_on_a_steep_continuous_function():
    """Steep but continuous (slope 1e3 over a tiny range) is not a jump."""
    cmp = compare_at(lambda t: 1e3 * t, [1e3], [0.3], "float64")
    assert cmp.ok[0] and cmp.jump[0] == 0


# ------------------------------------------------------------------------------------------
# 5. tolerances
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_tolerance_for_a_known_dtype_is_its_table_row(dtype):
    """float64 and float32 take their own row (method.md s.5) and their own eps."""
    tol = tolerance_for(dtype)
    assert (tol.fd_rtol, tol.fd_atol, tol.exact_rtol, tol.exact_atol) == TABLE[dtype]
    assert tol.eps == EPS[dtype] and tol.dtype == dtype


def test_tolerance_table_matches_the_documentation():
    """The numbers method.md s.5 publishes (read from its table)."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "method.md").read_text()
    published = {}
    for dtype in ("float64", "float32"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {dtype} |"))
        published[dtype] = tuple(float(c) for c in row.strip("| ").split("|")[1:])
    assert {d: TABLE[d] for d in published} == published


@pytest.mark.parametrize("dtype", DTYPES)
def test_tolerance_overrides_replace_both_pairs(dtype):
    """--rtol/--atol replace the finite-difference and the exact tolerances, each alone too."""
    tol = tolerance_for(dtype, rtol=0.05, atol=0.002)
    assert (tol.fd_rtol, tol.exact_rtol, tol.fd_atol, tol.exact_atol) == (0.05, 0.05, 0.002, 0.002)
    only_r = tolerance_for(dtype, rtol=0.05)
    assert (only_r.fd_rtol, only_r.exact_rtol) == (0.05, 0.05)
    assert (only_r.fd_atol, only_r.exact_atol) == (TABLE[dtype][1], TABLE[dtype][3])
    only_a = tolerance_for(dtype, atol=0.0)
    assert (only_a.fd_atol, only_a.exact_atol) == (0.0, 0.0)
    assert (only_a.fd_rtol, only_a.exact_rtol) == (TABLE[dtype][0], TABLE[dtype][2])
    assert tol.eps == EPS[dtype]


def test_unknown_dtype_takes_float32s_row_with_its_own_eps():
    """float16 has no row: float32's tolerances, but float16's eps (the FD noise and step)."""
    tol = tolerance_for("float16")
    assert (tol.fd_rtol, tol.fd_atol, tol.exact_rtol, tol.exact_atol) == TABLE["float32"]
    assert tol.eps == float(np.finfo(np.float16).eps) and tol.dtype == "float16"


# ------------------------------------------------------------------------------------------
# 6. sampling
# ------------------------------------------------------------------------------------------
def f32_floats(lo, hi):
    return st.floats(lo, hi, width=32)


@PROPERTY
@given(lo=f32_floats(-100, 50), width=f32_floats(2.0 ** -10, 100), n=st.integers(0, 300),
       seed=st.integers(0, 2 ** 32 - 1), dtype=st.sampled_from(DTYPES), rows=st.sampled_from([1, 3, 8]),
       literals=st.lists(st.floats(-120, 120), max_size=4), declared=st.lists(st.floats(-120, 120), max_size=2))
def test_sample_rows_contract(lo, width, n, seed, dtype, rows, literals, declared):
    """(rows, count): count = n + the special points; every point representable in the dtype
    (the dtype TensorFlow computes in), within [lo, hi] (ends representable), the padding
    repeats the last point, the buffer aligned for TensorFlow, the grid half first and
    sorted, the special points all present, and the same seed gives the same points."""
    hi = float(np.float32(lo + width))
    assume(hi > lo)
    X, count = sample_rows(lo, hi, n, seed, dtype, tuple(declared), tuple(literals), width=rows)
    special = special_points(lo, hi, dtype, tuple(declared), tuple(literals))
    assert count == n + special.size
    assert X.shape == (-(-count // rows), rows) and X.dtype == np.float64
    assert X.ctypes.data % ALIGN == 0 and X.flags.c_contiguous
    flat = X.ravel()
    pts = flat[:count]
    np.testing.assert_array_equal(pts, as_dtype(pts, dtype))
    assert (pts >= lo).all() and (pts <= hi).all()
    if count:
        assert (flat[count:] == flat[count - 1]).all()
    n_grid = n // 2 if n > 1 else 0
    assert (np.diff(pts[:n_grid]) >= 0).all()
    if n_grid:
        assert pts[0] == lo and (n_grid == 1 or pts[n_grid - 1] == hi)  # the grid spans the range
    np.testing.assert_array_equal(pts[n:], as_dtype(special, dtype))
    again, count2 = sample_rows(lo, hi, n, seed, dtype, tuple(declared), tuple(literals), width=rows)
    assert count2 == count
    np.testing.assert_array_equal(again, X)


def test_sample_rows_random_half_depends_on_the_seed():
    """Another seed moves the random half (no aliasing with one fixed set), not the grid half."""
    a, n = sample_rows(-8, 8, 64, 1, "float64")
    b, _ = sample_rows(-8, 8, 64, 2, "float64")
    a, b = a.ravel(), b.ravel()
    np.testing.assert_array_equal(a[:32], b[:32])
    assert not np.isin(a[32:64], b[32:64]).any()
    assert len(np.unique(a[32:64])) == 32


def test_sample_rows_float32_stays_inside_a_range_with_unrepresentable_ends():
    """--range 0.7 1 in float32: no point may fall below 0.7 (a domain such as x >= 0.7)."""
    X, n = sample_rows(0.7, 1.0, 16, 0, "float32")
    assert (X.ravel()[:n] >= 0.7).all()


def test_special_points_hold_where_bugs_hide():
    """0, +-tiny, +-1e-3, +-1, the ends, every multiple of 0.01 (the same doubles as the
    literals 0.37 or -1.7 in code), declared kinks and +- every literal in range."""
    pts = special_points(-2.0, 3.0, "float64", declared=(0.123,), literals=(0.37, 1.2345, -2.5, 250.0))
    for p in (0.0, TINY, -TINY, 1e-3, -1e-3, 1.0, -1.0, -2.0, 3.0, 0.123, 0.37, -0.37, 1.2345, -1.2345, 2.5,
              0.01, -1.99, 2.99):
        assert p in pts, p
    assert 250.0 not in pts and -250.0 not in pts  # out of range
    assert (np.diff(pts) > 0).all()
    k = np.arange(-200, 301)
    assert np.isin(k / 100, pts).all()


def test_special_points_on_a_wide_range_use_a_coarser_grid():
    """On wide ranges the decimal grid coarsens (at most ~4000 of them), still with 0 and the ends."""
    pts = special_points(-1e4, 1e4, "float64")
    assert pts.size <= 4100
    assert {0.0, -1e4, 1e4, 10.0, -10.0, 1.0, TINY} <= set(pts.tolist())


def test_number_literals_finds_floats_ints_and_underscores():
    """Breakpoints as written: floats, ints with underscores, exponents; complex skipped, no duplicates."""
    assert number_literals("x * 0.37 + 1_000") == (0.37, 1000.0)
    assert number_literals("tf.where(x > 2.5e-1, x, 3j * 0.25 + 2.5e-1)") == (0.25,)
    assert number_literals("1e400 + 7") == (7.0,)  # not finite: no breakpoint
    assert number_literals(None) == () and number_literals("") == ()
    assert number_literals("    def f(x):\n        return x + 1.5\n") == (1.5,)  # indented (a method)
    assert number_literals("a = 1.0\nb = 2.0\nc = 3.0\nd = 1.0", limit=2) == (1.0, 2.0)
    assert number_literals("0.5 * (x") == (0.5,)  # unfinished source: what was read before


# ------------------------------------------------------------------------------------------
# 7. layout
# ------------------------------------------------------------------------------------------
@PROPERTY
@given(size=st.integers(1, 300), seed=st.integers(0, 2 ** 32 - 1), dtype=st.sampled_from(DTYPES))
def test_rows_of_equals_indexing_the_padded_rows(size, seed, dtype):
    """rows_of(flat, rows) = to_rows(flat)[rows] (the Stencil's shifted subsets) including the
    padded last row, and to_rows pads with the last value into an aligned buffer."""
    rng = np.random.default_rng(seed)
    flat = rng.standard_normal(size).astype(dtype)
    R = to_rows(flat)
    assert R.shape == (-(-size // WIDTH), WIDTH) and R.dtype == flat.dtype
    assert R.ctypes.data % ALIGN == 0
    np.testing.assert_array_equal(R.ravel()[:size], flat)
    assert (R.ravel()[size:] == flat[-1]).all()
    rows = np.sort(rng.choice(R.shape[0], rng.integers(1, R.shape[0] + 1), replace=False))
    rows = np.concatenate([rows, [R.shape[0] - 1]])  # always the padded row too (repeat allowed)
    np.testing.assert_array_equal(rows_of(flat, rows), R[rows])


@PROPERTY
@given(shape=st.tuples(st.integers(1, 50), st.integers(1, 9)), seed=st.integers(0, 2 ** 32 - 1))
def test_upstream_gradients_are_away_from_zero_and_not_all_ones(shape, seed):
    """+-[0.5, 1.5]: dividing by them stays exact, and a gradient that forgets dy cannot hide
    behind an all-ones upstream (method.md s.3)."""
    u = upstream(np.random.default_rng(seed), shape)
    assert u.shape == shape
    assert ((np.abs(u) >= 0.5) & (np.abs(u) <= 1.5)).all()
    assert not (u == 1).all()
    if u.size >= 8:
        assert np.unique(u).size > u.size // 2  # random, not a constant


def test_upstream_repeats_one_block_on_large_batches_and_is_seeded():
    """Beyond 65536 values one random block repeats (documented), aligned; same seed, same values."""
    u = upstream(np.random.default_rng(3), (9000, WIDTH))
    flat = u.ravel()
    np.testing.assert_array_equal(flat[65536:], flat[:flat.size - 65536])
    assert u.ctypes.data % ALIGN == 0
    np.testing.assert_array_equal(u, upstream(np.random.default_rng(3), (9000, WIDTH)))
    assert (flat < 0).any() and (flat > 0).any()


@PROPERTY
@given(n=st.integers(0, 200_000), m=st.integers(2, 5000))
def test_spread_rows_is_sorted_unique_and_keeps_the_last_rows(n, m):
    """All rows when there are few; else m sorted distinct rows: the first row, the last m // 2
    rows (where the special points are) and rows spread over the whole batch."""
    r = spread_rows(n, m)
    assert r.dtype.kind == "i"
    if n <= m:
        np.testing.assert_array_equal(r, np.arange(n))
        return
    assert r.size == m
    assert (np.diff(r) > 0).all() and r[0] == 0 and r[-1] == n - 1
    np.testing.assert_array_equal(r[-(m // 2):], np.arange(n - m // 2, n))
    spread = r[:m - m // 2]
    if spread.size > 1:
        assert spread[-1] == n - m // 2 - 1  # reaches the end of the rest: the whole range is covered
    gaps = np.diff(spread)
    assert gaps.size == 0 or gaps.max() - gaps.min() <= 1  # evenly spread


# ------------------------------------------------------------------------------------------
# 8. no TensorFlow
# ------------------------------------------------------------------------------------------
def test_the_numerics_modules_do_not_import_tensorflow():
    """fd, tolerances, sampling, layout and arrays are pure NumPy: the workers' cheap start and
    these tests rely on it (importing TensorFlow costs seconds)."""
    code = ("import sys\n"
            "import gradcheck.verify.fd, gradcheck.verify.tolerances, gradcheck.verify.sampling\n"
            "import gradcheck.verify.layout, gradcheck.verify.arrays\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
