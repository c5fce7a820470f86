"""The numerical core: check one activation, return its verdict.

    check_activation(activation, settings) -> (ActivationResult, Curves | None)

Order of the checks, each building on the one before (docs/method.md):
forward -> gradient -> upstream -> custom_vs_autodiff -> gradient_vs_fd | vjp_vs_fd ->
weights -> graph -> stability. No I/O here; the user's exceptions become results.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from ..results import ERROR, FAIL, PASS, SKIP, WARN, ActivationResult, CheckResult, worst
from ..settings import Settings
from . import checks as C
from .numerics import divide, kink_candidates, sample_rows, tolerance_for
from .subject import Subject, UserCodeError, choose_subject


# Checks that act on every point alike (upstream linearity, graph vs eager, weights) run on a
# subset of this many rows (x8 inputs): see spread_rows.
SUBSET_ROWS = 1024


def spread_rows(n_rows: int, m: int) -> np.ndarray:
    """``m`` of ``n_rows`` row indices (all if fewer), sorted: half evenly spread over the whole
    batch (the grid half is sorted, so its first rows cover only the range's lower end), half
    the last rows (the special points: 0, +-1, literals, multiples of 0.01)."""
    if n_rows <= m:
        return np.arange(n_rows)
    tail = m // 2
    spread = np.linspace(0, n_rows - tail - 1, m - tail).astype(np.int64)
    return np.concatenate([spread, np.arange(n_rows - tail, n_rows)])


@dataclass(frozen=True)
class Curves:
    """What a plot needs: inputs sorted, function, gradients and where they failed."""

    x: np.ndarray
    y: np.ndarray
    grad: np.ndarray | None  # the gradient training uses
    autodiff: np.ndarray | None  # autodiff of the forward (custom-gradient functions)
    fd: np.ndarray | None  # finite differences (Richardson)
    failing: np.ndarray | None  # bool mask of points where the gradient was judged wrong
    kinks: tuple[float, ...] = ()


def check_activation(activation, settings: Settings, *, want_curves: bool = False):
    """Run every check on ``activation`` (a discover.Activation) and return (result, curves)."""
    checks: list[CheckResult] = []
    state: dict = {}
    scopes = _keras_name_scopes()
    try:
        elementwise = _run(activation, settings, checks, state)
    except UserCodeError as exc:
        # the user's code raised (or returned junk) in whatever step was running
        checks.append(CheckResult(exc.stage, ERROR, exc.reason, dtype=state.get("dtype")))
        elementwise = state.get("elementwise")
    finally:
        _keras_name_scopes(scopes)
    result = _verdict(activation, checks, elementwise)
    curves = _curves(state) if want_curves else None
    return result, curves


def _keras_name_scopes(restore: list | None = None) -> list:
    """Keras's name-scope stack, or put it back as it was. A layer that raises inside its call
    while tf.function traces it leaves its scope open (Keras pops it only on a clean exit), and
    every later layer's weights would be named under it ('broken_layer/next_layer/w')."""
    global_state = sys.modules.get("keras.src.backend.common.global_state")
    stack = global_state.get_global_attribute("name_scope_stack") if global_state is not None else None
    if restore is None:
        return list(stack or [])
    if stack is not None:
        stack[:] = restore
    return restore


def _verdict(activation, checks, elementwise) -> ActivationResult:
    status = worst(c.status for c in checks) if checks else ERROR
    if status in (ERROR, FAIL, WARN):
        first = next(c for c in checks if c.status == status)
        # "raised ValueError: ..." reads best alone; anything else names its check
        plain = status == ERROR and first.name == "forward"
        message = first.message if plain else f"{first.name}: {first.message}"
    else:
        fd = next((c for c in checks if c.name in ("gradient_vs_fd", "vjp_vs_fd")), None)
        dtype = checks[0].dtype if checks else None
        message = f"gradient correct ({dtype})"
        if fd is not None and fd.kinks:
            message += f"; kinks at x={', '.join(C.fmt(k) for k in fd.kinks[:6])}"
    return ActivationResult(id=activation.id, file=activation.file, name=activation.name, kind=activation.kind,
                            status=status, message=message, checks=tuple(checks), elementwise=elementwise)


def _probe_structure(subject: Subject, rng, lo: float, hi: float) -> tuple[bool, bool]:
    """(elementwise, rows independent), from 4x8 probes at three scales (the range, 1, 0.1
    around its centre): change one column, then one row, and see which outputs move.
    Elementwise TF ops leave the other entries bit-identical. Small scales matter: a sharp
    softmax or a sparsemax over widely spread inputs couples entries below float precision."""
    centre = min(max(0.0, lo), hi)
    elementwise, rows_independent = True, True
    for scale in ((hi - lo) / 2, 1.0, 0.1):
        X = np.clip(centre + scale * rng.uniform(-1, 1, (4, C.WIDTH)), lo, hi)
        y0 = subject.forward(X)
        for col in (3, 6):
            X1 = X.copy()
            X1[:, col] = np.clip(X[:, col] + scale * rng.uniform(0.2, 0.6, 4) * rng.choice([-1, 1], 4), lo, hi)
            moved = ~_same(y0, subject.forward(X1))
            moved[:, col] = False
            elementwise &= not moved.any()
        X2 = X.copy()
        X2[2] = np.clip(centre + scale * rng.uniform(-1, 1, C.WIDTH), lo, hi)
        y2 = subject.forward(X2)
        other = np.arange(4) != 2
        rows_independent &= bool(_same(y0[other], y2[other]).all())
    return elementwise, rows_independent


def _still_elementwise(subject: Subject, X, Y, rng, lo: float, hi: float) -> bool:
    """Confirm the probe on the real batch's extreme rows (the first and last rows hold the
    range ends): move one column and check that no other output moves. Couplings that only
    start at large inputs (clipping a row's norm at 18) are invisible to 4x8 probes."""
    rows = np.r_[0:min(64, X.shape[0]), max(0, X.shape[0] - 64):X.shape[0]]
    Xs = X[rows].copy()
    Xs[:, 3] = np.clip(Xs[:, 3] + (hi - lo) * rng.uniform(0.05, 0.2, rows.size) * rng.choice([-1, 1], rows.size), lo, hi)
    moved = ~_same(Y[rows], subject.forward(Xs))
    moved[:, 3] = False
    return not moved.any()


def _same(a, b):
    scale = np.maximum(np.abs(a), np.abs(b))
    return (a == b) | (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= 1e-12 * scale)


def _run(activation, settings: Settings, checks: list, state: dict) -> bool | None:
    lo, hi = settings.range
    rng = np.random.default_rng(settings.seed)
    probe = rng.uniform(lo, hi, (4, C.WIDTH))
    subject, note = choose_subject(activation, probe)
    state["dtype"] = dtype = subject.dtype
    tol = tolerance_for(subject.tol_dtype, settings.rtol, settings.atol)
    custom = subject.kind == "custom_gradient" and subject.custom is not None

    elementwise, rows_independent = _probe_structure(subject, rng, lo, hi)
    state["elementwise"] = elementwise

    # -- one batched forward + backward pass over every sample point ---------------------
    source = C.source_of(activation.obj)  # read once: breakpoints here, fix hints in the sweep
    X, n = sample_rows(lo, hi, settings.samples, settings.seed, dtype, settings.kinks,
                       C.numbers_of(activation.obj, subject.layer, source), width=C.WIDTH)
    if not elementwise:
        flat = X.reshape(-1)
        rng.shuffle(flat[:n])  # rows of mixed inputs, not sorted runs
        flat[n:] = flat[n - 1]  # the padding repeats the last point
    U = C.upstream(rng, X.shape)
    ev = subject.evaluate(X, U, weights=bool(subject.weights))
    state.update(x=X.ravel()[:n], y=ev.y.ravel()[:n])  # a plot shows at least the function

    fwd = C.check_forward(X.ravel(), ev.y.ravel(), dtype, note)
    checks.append(fwd)
    grad = C.check_gradient(X, ev.y, ev.g_raw, ev.g, subject, elementwise, ev.not_tensor)
    checks.append(grad)
    unusable = ev.g is None or ev.not_tensor is not None or ev.g.shape != X.shape or \
        getattr(ev.g_raw.dtype, "name", None) != dtype
    if fwd.status != PASS or unusable:
        _skip_rest(checks, custom, subject, elementwise, "the gradient check failed first" if fwd.status == PASS
                   else "the forward check failed first")
        _stability(activation, subject, settings, checks, elementwise, source)
        return elementwise

    # Linearity in dy shows at every point alike: a subset (with the special points) is enough.
    sub = X[spread_rows(X.shape[0], SUBSET_ROWS)]
    Us = C.upstream(rng, sub.shape)
    evs = subject.evaluate(sub, Us, weights=bool(subject.weights))
    scaled = {k: subject.evaluate(sub, k * Us, weights=bool(subject.weights)) for k in C.UPSTREAM_FACTORS}
    checks.append(C.check_upstream(evs, scaled, tol, custom, dtype))

    if elementwise and not _still_elementwise(subject, X, ev.y, rng, lo, hi):
        elementwise = state["elementwise"] = False  # the small probes missed a coupling
    if elementwise:
        x, y, u = X.ravel()[:n], ev.y.ravel()[:n], U.ravel()[:n]
        v = ev.g.ravel()[:n]
        g = divide(v, u)
        # kinks located between neighbouring samples are checked too (NaN traps hide there);
        # for large samples only the (already sorted) grid half is searched
        if n <= 131072:
            order = np.argsort(x, kind="stable")
            xs_, ys_, gs_ = x[order], y[order], g[order]
        else:
            m = settings.samples // 2
            xs_, ys_, gs_ = x[:m], y[:m], g[:m]
        # ... and so are jumps between samples, narrowed down by bisection
        extra = np.concatenate([kink_candidates(xs_, ys_, gs_, tol.eps),
                                C.locate_jumps(subject, xs_, ys_, gs_, tol.eps)])
        if extra.size:
            # evaluated in the columns they take when appended after the n points, so that an
            # activation with per-column weights (a per-channel slope) sees them where the
            # finite differences will
            pad = n % C.WIDTH
            Xk = C.to_rows(np.concatenate([np.full(pad, extra[0]), extra]))
            Uk = C.upstream(rng, Xk.shape)
            evk = subject.evaluate(Xk, Uk)
            if evk.g is not None and evk.g.shape == Xk.shape:
                k = extra.size
                x = np.concatenate([x, extra])
                y = np.concatenate([y, evk.y.ravel()[pad:pad + k]])
                u = np.concatenate([u, Uk.ravel()[pad:pad + k]])
                v = np.concatenate([v, evk.g.ravel()[pad:pad + k]])
                with np.errstate(all="ignore"):
                    g = v / u
                if checks[1].status == PASS and (~np.isfinite(g[-k:]) & np.isfinite(y[-k:])).any():
                    checks[1] = _nan_at_kink(x[-k:], y[-k:], g[-k:], dtype)
        # no points appended: the main pass's input tensor is the finite differences' too
        fd = C.elementwise_fd(subject, x, y, g, tol, (X, ev.x_tensor) if x.size == n else None)
        cmp = C.refine_fd(subject, x, y, g, fd.cmp, tol)
        fd_check, cmp = C.check_gradient_vs_fd(x, g, fd, tol, dtype, cmp)
        state.update(x=x, y=y, grad=g, fd=fd.estimate, failing=~cmp.ok, kinks=fd_check.kinks)  # fd: when plotted
        if custom:
            va = _autodiff(subject, x, u)
            if va is not None:
                with np.errstate(all="ignore"):
                    state["autodiff"] = va / u
            checks.append(C.check_custom_vs_autodiff(x, u, v, va, _custom_tol(subject, tol, settings), dtype, cmp,
                                                     fd.stencil.quotients, tol))
        checks.append(fd_check)
    else:
        if custom:
            va = _autodiff(subject, X, U)
            checks.append(C.check_custom_vs_autodiff(X, U, ev.g, va, _custom_tol(subject, tol, settings), dtype))
        checks.append(C.check_vjp_vs_fd(subject, X, U, ev.g, tol, rng, rows_independent, ev.y))
        state.update(x=X.ravel()[:n], y=ev.y.ravel()[:n], grad=None)

    if subject.weights:
        # finite differences on weights re-run the forward: a subset is enough, and the weight
        # gradients to compare are then that subset's (a weight gradient sums over the rows)
        rows = spread_rows(X.shape[0], SUBSET_ROWS // 2)
        Xw, Uw = X[rows], U[rows]
        wg = ev.weight_grads if rows.size == X.shape[0] else subject.evaluate(Xw, Uw, weights=True).weight_grads
        checks.append(C.check_weights(subject, Xw, Uw, wg, tol, rng))

    # Graph-vs-eager differences come from Python-side logic, which acts on every point alike.
    # (all rows when rows mix: the outputs of a subset would differ from the batch's)
    rows = spread_rows(X.shape[0], 4 * SUBSET_ROWS if elementwise or rows_independent else X.shape[0])
    checks.append(C.check_graph(subject, X[rows], U[rows], ev.y[rows], ev.g[rows], tol,
                                lambda dt: Subject(activation, dt)))
    _stability(activation, subject, settings, checks, elementwise, source)
    return elementwise


def _custom_tol(subject: Subject, tol, settings: Settings):
    """Tolerances for hand-written vs autodiff: float32's when the hand-written gradient
    computes in float32 (as training in float32 would), else the subject's."""
    if subject.grad_tol_dtype == "float32" and tol.dtype == "float64":
        return tolerance_for("float32", settings.rtol, settings.atol)
    return tol


def _nan_at_kink(x, y, g, dtype) -> CheckResult:
    bad = ~np.isfinite(g) & np.isfinite(y)
    i = int(np.argmax(bad))
    what = "NaN" if np.isnan(g[i]) else "inf"
    return CheckResult("gradient", FAIL, f"gradient is {what} at x={C.fmt(x[i])} (a kink found between samples) where "
                       "the output is finite", worst_input=float(x[i]), dtype=dtype)


def _autodiff(subject: Subject, x: np.ndarray, u: np.ndarray):
    """Autodiff VJP of the custom-gradient function's forward ops; None if unavailable."""
    shape = x.shape
    X = C.to_rows(x.ravel()) if x.ndim == 1 else x
    Ux = C.to_rows(u.ravel()) if u.ndim == 1 else u
    try:
        va = subject.autodiff_of_forward(X, Ux)
    except Exception:
        return None
    if va is None:
        return None
    return va.ravel()[: x.size] if len(shape) == 1 else va


def _skip_rest(checks, custom, subject, elementwise, why):
    names = ["upstream"] + (["custom_vs_autodiff"] if custom else []) + \
        (["gradient_vs_fd"] if elementwise else ["vjp_vs_fd"]) + (["weights"] if subject.weights else []) + ["graph"]
    for name in names:
        checks.append(CheckResult(name, SKIP, f"not run: {why}", dtype=subject.dtype))


def _stability(activation, subject: Subject, settings: Settings, checks: list, elementwise, source) -> None:
    if not settings.stability:
        return
    lo, hi = settings.range

    def make(dtype):
        if dtype == subject.dtype:
            return subject
        return Subject(activation, dtype)

    try:
        checks.append(C.check_stability(make, lo, hi, source, bool(elementwise)))
    except UserCodeError as exc:
        checks.append(CheckResult("stability", SKIP, f"not run: does not run in float32 ({exc.reason})", dtype="float32"))


def _curves(state: dict) -> Curves | None:
    if "x" not in state:
        return None
    order = np.argsort(state["x"])

    def pick(key):
        v = state.get(key)
        v = v() if callable(v) else v
        return None if v is None else np.asarray(v)[order]

    return Curves(x=state["x"][order], y=state["y"][order], grad=pick("grad"), autodiff=pick("autodiff"),
                  fd=pick("fd"), failing=pick("failing"), kinks=tuple(state.get("kinks", ())))
