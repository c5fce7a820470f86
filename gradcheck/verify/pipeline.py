"""The checks of one activation as one list of steps (docs/method.md s.3).

    check_activation(activation, settings) -> (ActivationResult, Curves | None)

``start`` chooses the dtype, probes the structure and runs the main pass; then STEPS run in
order, each reading and filling in the CheckContext. A step that needs a usable gradient
is reported as skipped, with the reason, when the forward or gradient check failed first.
Adding a check is one function and one line in STEPS; the text table's columns follow the
check names. No I/O here; the user's exceptions become results.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..discover import Kind
from ..results import (ERROR, FAIL, JUMP, MODE_PHRASES, PASS, SKIP, WARN, ActivationResult, CheckResult, lead_order,
                       short_message, worst)
from ..seeding import seed_all
from ..settings import Settings
from . import checks as C
from .arrays import divide
from .context import CheckContext, Curves, MainPass, Pointwise
from .fd import kink_candidates
from .graph import check_graph
from .layout import SUBSET_ROWS, WIDTH, spread_rows, to_rows, upstream
from .messages import fmt
from .ranks import RANK_ROWS, NotComparable, Reference, WeightsDiffer, check_ranks
from .ranks import skip as skip_ranks
from .repeat import check_determinism, check_two_calls, identical
from .sampling import numbers_of, sample_rows, source_of
from .second_order import check_second_order
from .stability import check_stability
from .stencil import elementwise_fd, locate_jumps, refine_fd
from .structure import probe_structure, still_elementwise
from .subject import Subject, UserCodeError, choose_subject, to_tensor, training_modes
from .tolerances import tolerance_for
from .xla import check_xla

# Kinks and jumps between samples are searched among all points sorted up to this many
# points; above it, only in the grid half, which is sorted already (method.md s.2).
SORT_LIMIT = 131072
# Graph vs eager runs on this many rows when rows are independent (all rows otherwise).
GRAPH_ROWS = 4 * SUBSET_ROWS
# XLA's compiled forward+gradient, when it is run, on this many rows (all when rows mix).
XLA_ROWS = SUBSET_ROWS
# Weight finite differences re-run the forward: this many rows.
WEIGHT_ROWS = SUBSET_ROWS // 2
# Each of the two calls of the two_calls check gets this many rows: ranks' rows, so that
# both (and determinism on large batches) start from the same evaluation (_shared_rows).
TWO_CALL_ROWS = RANK_ROWS
# CheckResult.mode of each value of a layer's training argument (subject.training_modes).
MODES = {True: "training", False: "inference", None: None}


@dataclass(frozen=True)
class Step:
    """One step of the pipeline: a check (``name`` is its result's name) or, with ``name``
    None, a preparation that fills in the context for the checks after it."""

    name: str | None
    run: Callable[[CheckContext], CheckResult | None]
    applies: Callable[[CheckContext], bool] = lambda ctx: True
    needs_gradient: bool = True  # skipped when the forward or the gradient check failed first
    # Judges only the values of the function and its gradients (on the range, around the
    # sample points, on the weights): in a layer's second mode whose main pass equals the
    # first mode's bit for bit, it would repeat the first mode's verdict, so it is skipped.
    judges_values: bool = False


def check_activation(activation, settings: Settings, *, want_curves: bool = False):
    """Run every check on ``activation`` (a discover.Activation) and return (result, curves).

    A Keras layer whose ``call`` takes ``training`` is checked in both modes, training=True
    (what fit runs) then training=False (what predict runs), each from the same seed: its
    rows carry the mode (CheckResult.mode); the curves are the first mode's. The global
    generators the activation's own code draws from (a layer's initial weights) are seeded
    from ``settings.seed`` first (seeding.py)."""
    seed_all(settings.seed)
    results, first = [], None
    for training in training_modes(activation):
        ctx = CheckContext(activation, settings, np.random.default_rng(settings.seed), mode=training, first=first)
        run_mode(ctx)
        results += ctx.results if training is None else \
            [dataclasses.replace(r, mode=MODES[training]) for r in ctx.results]
        first = ctx if first is None else first
    return verdict(activation, results, first.elementwise), first.curves.sorted() if want_curves else None


def run_mode(ctx: CheckContext) -> None:
    """``start`` and every step in one mode, into ``ctx.results``."""
    scopes = _keras_name_scopes()
    try:
        start(ctx)
        for step in STEPS:
            _run_step(step, ctx)
    except UserCodeError as exc:
        # the user's code raised (or returned junk) in whatever step was running
        ctx.results.append(CheckResult(exc.stage, exc.status, exc.reason, dtype=ctx.dtype, line=_blamed_line(ctx, exc)))
    finally:
        _keras_name_scopes(scopes)


def _blamed_line(ctx: CheckContext, exc: UserCodeError) -> int | None:
    """The grad function's line when the user's code raised because of its hand-written
    gradient (fail: a grad function that gives no gradient for a variable it must), else None."""
    if exc.status != FAIL or ctx.activation.kind != Kind.CUSTOM_GRADIENT:
        return None
    try:  # before a subject was chosen (the forward raised): a subject only to find the line
        subject = ctx.subject or Subject(ctx.activation, "float32", ctx.mode)
        return subject.gradient_line()
    except UserCodeError:
        return None


def _run_step(step: Step, ctx: CheckContext) -> None:
    why = (blocked(ctx) if step.needs_gradient else None) or _changes_between_calls(ctx)
    if not step.applies(ctx):
        return
    if why is None and step.judges_values and ctx.same_as_first:
        why = (f"the output and gradients are the same as {MODE_PHRASES[MODES[ctx.first.mode]]} at every sample "
               "point: judged there")
    if why is not None:
        if step.name is not None:
            ctx.results.append(CheckResult(step.name, SKIP, f"not run: {why}", dtype=ctx.dtype))
        return
    result = step.run(ctx)
    if result is not None:
        ctx.results.append(result)


def blocked(ctx: CheckContext) -> str | None:
    """Why the checks that need the gradient cannot run, or None."""
    if ctx.result("forward").status != PASS:
        return "the forward check failed first"
    ev, X = ctx.main.ev, ctx.main.X
    unusable = ev.g is None or ev.not_tensor is not None or ev.g.shape != X.shape or \
        getattr(ev.g_raw.dtype, "name", None) != ctx.dtype
    return "the gradient check failed first" if unusable else None


def _changes_between_calls(ctx: CheckContext) -> str | None:
    """Why nothing after the determinism check is judged on this path, or None: the function
    changes from call to call (finite differences would compare different functions)."""
    repeat = ctx.result("determinism")
    if repeat is not None and repeat.status in (ERROR, FAIL):
        return "the output or gradient differs between two calls with the same input"
    return None


def start(ctx: CheckContext) -> None:
    """Choose the dtype, probe the structure, sample the points and run the main pass (in a
    layer's second mode, first as the first mode did: see _start_as_first)."""
    if ctx.first is not None and _start_as_first(ctx):
        return
    lo, hi = ctx.lo_hi
    rng, settings, activation = ctx.rng, ctx.settings, ctx.activation
    probe = rng.uniform(lo, hi, (4, WIDTH))
    ctx.subject, ctx.note = choose_subject(activation, probe, ctx.mode)
    subject = ctx.subject
    ctx.tol = tolerance_for(subject.tol_dtype, settings.rtol, settings.atol)
    ctx.elementwise, ctx.rows_independent, ctx.mixing = probe_structure(subject, rng, lo, hi)
    ctx.source = source_of(activation.obj)  # read once: breakpoints here, fix hints in the sweep
    X, n = sample_rows(lo, hi, settings.samples, settings.seed, subject.dtype, settings.kinks,
                       numbers_of(activation.obj, subject.layer, ctx.source), width=WIDTH)
    if not ctx.elementwise:
        flat = X.reshape(-1)
        rng.shuffle(flat[:n])  # rows of mixed inputs, not sorted runs
        flat[n:] = flat[n - 1]  # the padding repeats the last point
    U = upstream(rng, subject.out_shape(X.shape))  # the output's shape (GLU: half the input's)
    ev = subject.evaluate(X, U, weights=True)  # a layer's weights, the variables a function reads
    ctx.main = MainPass(X, n, U, ev)
    ctx.curves.x = X.ravel()[:n]
    if ev.y.shape == X.shape:  # a plot shows at least the function (of one variable: shape kept)
        ctx.curves.y = ev.y.ravel()[:n]
    else:
        ctx.curves.note = (f"output of shape (n, {', '.join(map(str, ev.y.shape[1:]))}) for input (n, "
                           f"{', '.join(map(str, X.shape[1:]))}): no curve of one variable to draw")


def _start_as_first(ctx: CheckContext) -> bool:
    """A layer's second mode, started from the first mode's choices: its dtype, tolerances and
    structure, its sample points and upstream. If this mode's main pass on them equals the
    first mode's bit for bit (output, input and weight gradients), both modes compute the
    same thing there: the context is filled in from the first, ``same_as_first`` is set (the
    steps that only judge those values are skipped) and True is returned. Otherwise False,
    and ``start`` chooses and probes for this mode on its own."""
    first = ctx.first
    if first.main is None:
        return False
    try:
        subject = Subject(ctx.activation, first.subject.dtype, ctx.mode)
        subject.tol_dtype, subject.grad_tol_dtype = first.subject.tol_dtype, first.subject.grad_tol_dtype
        ev = subject.evaluate(first.main.X, first.main.U, weights=True)
    except UserCodeError:
        return False
    a = first.main.ev
    wa, wb = a.weight_grads or [], ev.weight_grads or []
    same = a.not_tensor == ev.not_tensor and len(wa) == len(wb) and \
        all(identical(p, q) for p, q in [(a.y, ev.y), (a.g, ev.g)] + list(zip(wa, wb)))
    if same:
        ctx.subject, ctx.note, ctx.tol, ctx.source = subject, first.note, first.tol, first.source
        ctx.elementwise, ctx.rows_independent, ctx.mixing = first.elementwise, first.rows_independent, first.mixing
        ctx.main = dataclasses.replace(first.main, ev=ev)
        ctx.same_as_first = True
    return same


# -- the steps ------------------------------------------------------------------------------
def _forward(ctx: CheckContext) -> CheckResult:
    return C.check_forward(ctx.main.X, ctx.main.ev.y, ctx.dtype, ctx.note)


def _gradient(ctx: CheckContext) -> CheckResult:
    m = ctx.main
    return C.check_gradient(m.X, m.ev.y, m.ev.g_raw, m.ev.g, ctx.subject, ctx.elementwise, m.ev.not_tensor)


def _determinism(ctx: CheckContext) -> CheckResult:
    """Randomness shows at every point alike: the main pass and a second call on the same batch
    when it has at most SUBSET_ROWS rows (as at the default samples), else two calls on the
    rows shared with two_calls and ranks (_shared_rows). In a layer's
    second mode whose main pass equals the first mode's bit for bit, that pass was the second
    call: the first mode's was on the same input."""
    m = ctx.main
    if ctx.same_as_first:
        first = ctx.first.result("determinism")
        if first is not None and first.status == PASS:
            return CheckResult("determinism", PASS, "gives the same output and gradient as "
                               f"{MODE_PHRASES[MODES[ctx.first.mode]]} on the same input (bit for bit), which is "
                               "deterministic", dtype=ctx.dtype)
    if m.X.shape[0] <= SUBSET_ROWS:
        return check_determinism(ctx.subject, m.X, m.U, m.ev, ctx.tol)
    shared = _shared_rows(ctx)
    return check_determinism(ctx.subject, shared.X, shared.U, shared.ev, ctx.tol)


def _shared_rows(ctx: CheckContext) -> MainPass:
    """RANK_ROWS rows spread over the batch (the special points among them: spread_rows) and
    their forward and backward pass on their own, weight gradients included, made once: the
    first call of determinism on a large batch, the first call's gradient alone in two_calls
    and the (rows, 8) reference of ranks are all this batch. Only for a batch of more rows."""
    if ctx.shared is None:
        m = ctx.main
        rows = spread_rows(m.X.shape[0], RANK_ROWS)
        X, U = m.X[rows], m.U[rows]
        ctx.shared = MainPass(X, X.size, U, ctx.subject.evaluate(X, U, weights=bool(ctx.subject.weights)))
    return ctx.shared


def _upstream(ctx: CheckContext) -> CheckResult:
    """Linearity in dy shows at every point alike: the base is a batch already evaluated with
    upstream u (the main pass up to SUBSET_ROWS rows, as at the default samples, else the rows
    of _shared_rows, which hold the special points), and only the scaled upstreams k*u are
    new calls."""
    subject, weights = ctx.subject, bool(ctx.subject.weights)
    m = ctx.main
    base = m if m.X.shape[0] <= SUBSET_ROWS else _shared_rows(ctx)
    scaled = {k: subject.evaluate(base.X, k * base.U, weights=weights) for k in C.UPSTREAM_FACTORS}
    return _blame_hand_written(ctx, C.check_upstream(base.ev, scaled, ctx.tol, ctx.custom, ctx.dtype, base.X))


def _blame_hand_written(ctx: CheckContext, result: CheckResult) -> CheckResult:
    """A failure of a hand-written gradient points at its grad function's line."""
    if result.status != FAIL or not ctx.custom:
        return result
    return dataclasses.replace(result, line=ctx.subject.gradient_line())


def _confirm_elementwise(ctx: CheckContext) -> None:
    lo, hi = ctx.lo_hi
    if not still_elementwise(ctx.subject, ctx.main.X, ctx.main.ev.y, ctx.rng, lo, hi):
        ctx.elementwise = False  # the small probes missed a coupling


def _pointwise(ctx: CheckContext) -> None:
    """Every point's gradient (VJP / upstream), the kinks and jumps located between samples
    added (NaN traps hide there), all compared with finite differences."""
    m, tol, subject = ctx.main, ctx.tol, ctx.subject
    n = m.n
    x, y, u = m.X.ravel()[:n], m.ev.y.ravel()[:n], m.U.ravel()[:n]
    v = m.ev.g.ravel()[:n]
    g = divide(v, u)
    extra = _between_samples(ctx, x, y, g)
    if extra.size:
        x, y, u, v, g = _append_points(ctx, extra, x, y, u, v, g)
    # no points appended: the main pass's input tensor is the finite differences' too
    fd = elementwise_fd(subject, x, y, g, tol, (m.X, m.ev.x_tensor) if x.size == n else None)
    cmp = refine_fd(subject, x, y, g, fd.cmp, tol)
    ctx.points = Pointwise(x, y, u, v, g, fd, cmp)
    c = ctx.curves
    c.x, c.y, c.grad, c.fd, c.failing = x, y, g, fd.estimate, ~cmp.ok  # fd: computed when plotted
    c.fd_not_used = cmp.ok & ~cmp.smooth_ok  # kinks, and points a finer step accepted


def _between_samples(ctx: CheckContext, x, y, g) -> np.ndarray:
    """Kinks (tangent intersections) and jumps (bisection) located between neighbouring samples."""
    if x.size <= SORT_LIMIT:
        order = np.argsort(x, kind="stable")
        xs, ys, gs = x[order], y[order], g[order]
    else:
        m = ctx.settings.samples // 2
        xs, ys, gs = x[:m], y[:m], g[:m]
    return np.concatenate([kink_candidates(xs, ys, gs, ctx.tol.eps), locate_jumps(ctx.subject, xs, ys, gs, ctx.tol.eps)])


def _append_points(ctx: CheckContext, extra, x, y, u, v, g):
    """(x, y, u, v, g) with the points ``extra`` appended, evaluated in the columns they take
    when appended after the n points, so that an activation with per-column weights (a
    per-channel slope) sees them where the finite differences will. A gradient that is
    non-finite there fails the gradient check."""
    pad = x.size % WIDTH
    Xk = to_rows(np.concatenate([np.full(pad, extra[0]), extra]))
    Uk = upstream(ctx.rng, Xk.shape)
    evk = ctx.subject.evaluate(Xk, Uk)
    if evk.g is None or evk.g.shape != Xk.shape:
        return x, y, u, v, g
    k = extra.size
    x = np.concatenate([x, extra])
    y = np.concatenate([y, evk.y.ravel()[pad:pad + k]])
    u = np.concatenate([u, Uk.ravel()[pad:pad + k]])
    v = np.concatenate([v, evk.g.ravel()[pad:pad + k]])
    with np.errstate(all="ignore"):
        g = v / u
    if ctx.result("gradient").status == PASS and (~np.isfinite(g[-k:]) & np.isfinite(y[-k:])).any():
        ctx.replace_result("gradient", _nan_at_kink(x[-k:], y[-k:], g[-k:], ctx.dtype))
    return x, y, u, v, g


def _nan_at_kink(x, y, g, dtype) -> CheckResult:
    bad = ~np.isfinite(g) & np.isfinite(y)
    i = int(np.argmax(bad))
    what = "NaN" if np.isnan(g[i]) else "inf"
    return CheckResult("gradient", FAIL, f"gradient is {what} at x={fmt(x[i])} (a kink found between samples) where "
                       "the output is finite", worst_input=float(x[i]), dtype=dtype)


def _custom_vs_autodiff(ctx: CheckContext) -> CheckResult:
    return _blame_hand_written(ctx, _compare_custom_with_autodiff(ctx))


def _compare_custom_with_autodiff(ctx: CheckContext) -> CheckResult:
    tol = _custom_tol(ctx)
    if ctx.points is not None:
        p = ctx.points
        va = _autodiff(ctx.subject, p.x, p.u)
        if va is not None:
            with np.errstate(all="ignore"):
                ctx.curves.autodiff = va / p.u
        failed = []
        result = C.check_custom_vs_autodiff(p.x, p.u, p.v, va, tol, ctx.dtype, p.cmp, p.fd.stencil.quotients,
                                            ctx.tol, failed=failed)
        ctx.curves.autodiff_failing = failed[0] if failed else None
        return result
    m = ctx.main
    va = _autodiff(ctx.subject, m.X, m.U)
    return C.check_custom_vs_autodiff(m.X, m.U, m.ev.g, va, tol, ctx.dtype)


def _custom_tol(ctx: CheckContext):
    """Tolerances for hand-written vs autodiff: float32's when the hand-written gradient
    computes in float32 (as training in float32 would), else the subject's."""
    if ctx.subject.grad_tol_dtype == "float32" and ctx.tol.dtype == "float64":
        return tolerance_for("float32", ctx.settings.rtol, ctx.settings.atol)
    return ctx.tol


def _autodiff(subject: Subject, x: np.ndarray, u: np.ndarray):
    """Autodiff VJP of the custom-gradient function's forward ops; None if unavailable."""
    shape = x.shape
    X = to_rows(x.ravel()) if x.ndim == 1 else x
    Ux = to_rows(u.ravel()) if u.ndim == 1 else u
    try:
        va = subject.autodiff_of_forward(X, Ux)
    except Exception:
        return None
    if va is None:
        return None
    return va.ravel()[: x.size] if len(shape) == 1 else va


def _gradient_vs_fd(ctx: CheckContext) -> CheckResult:
    p = ctx.points
    result = C.check_gradient_vs_fd(p.x, p.g, p.fd, ctx.tol, ctx.dtype, p.cmp, ctx.custom)
    ctx.curves.kinks = result.kinks
    # a wrong value is the hand-written gradient's; a jump is the forward's
    return result if result.finding == JUMP else _blame_hand_written(ctx, result)


def _vjp_vs_fd(ctx: CheckContext) -> CheckResult:
    m = ctx.main
    return C.check_vjp_vs_fd(ctx.subject, m.X, m.U, m.ev.g, ctx.tol, ctx.rng, ctx.rows_independent, m.ev.y)


def _weights(ctx: CheckContext) -> CheckResult:
    """Finite differences on weights re-run the forward: a subset is enough, and the weight
    gradients to compare are then that subset's (a weight gradient sums over the rows)."""
    m = ctx.main
    rows = spread_rows(m.X.shape[0], WEIGHT_ROWS)
    Xw, Uw = m.X[rows], m.U[rows]
    wg = m.ev.weight_grads
    if rows.size != m.X.shape[0] or len(wg or []) != len(ctx.subject.weights):
        wg = ctx.subject.evaluate(Xw, Uw, weights=True).weight_grads
    failed = []
    result = C.check_weights(ctx.subject, Xw, Uw, wg, ctx.tol, ctx.rng, failed=failed)
    if failed:  # the failing weights' curves: computed only if a plot asks (sorted())
        subject = ctx.subject
        ctx.curves.weights = lambda: tuple(c for c in (C.weight_curve(subject, Xw, Uw, e) for e in failed)
                                           if c is not None)
    return _blame_hand_written(ctx, result)


def _two_calls(ctx: CheckContext) -> CheckResult:
    """State shared between calls shows at every point alike. X1 is the whole batch when it has
    at most SUBSET_ROWS rows (as at the default samples: its gradient alone is the main
    pass's), else the TWO_CALL_ROWS rows of _shared_rows (their gradient alone is made
    there); X2 is X1 rolled by half its rows (a different input
    at every position, and not its mirror image: an even function's cache would hide behind
    -x). Each gradient alone is of the same batch as in the pair (a gradient that wrongly
    mixes rows differs between a subset and the whole batch). A failure of a hand-written
    gradient points at its grad function."""
    m = ctx.main
    first = m if m.X.shape[0] <= SUBSET_ROWS else _shared_rows(ctx)
    X1, U1, alone1 = first.X, first.U, first.ev.g
    axis, shift = (1, WIDTH // 2) if X1.shape[0] == 1 else (0, X1.shape[0] // 2)  # one row: roll inside it
    X2, U2 = np.roll(X1, shift, axis=axis), np.roll(U1, shift, axis=axis)
    return _blame_hand_written(ctx, check_two_calls(ctx.subject, X1, U1, X2, U2, ctx.tol, alone1))


def _graph(ctx: CheckContext) -> CheckResult:
    """Graph-vs-eager differences come from Python-side logic, which acts on every point alike
    (all rows when rows mix: the outputs of a subset would differ from the batch's)."""
    m = ctx.main
    rows = spread_rows(m.X.shape[0], GRAPH_ROWS if ctx.elementwise or ctx.rows_independent else m.X.shape[0])
    return check_graph(ctx.subject, m.X[rows], m.U[rows], m.ev.y[rows], m.ev.g[rows], ctx.tol,
                       lambda dt: Subject(ctx.activation, dt, ctx.mode))


def _second_order(ctx: CheckContext) -> CheckResult:
    """--order 2: elementwise, at every point the first-order finite differences saw (the
    kinks located between samples included); otherwise on the main pass's rows. The second
    derivative of a custom-gradient function is the derivative of its grad function: a
    failure points there."""
    up = ctx.result("upstream")
    if up is not None and up.status != PASS:  # then VJP / upstream is not the derivative
        return CheckResult("second_order", SKIP, "not run: the upstream check failed first", dtype=ctx.dtype)
    tol = _custom_tol(ctx)
    finite = ctx.result("gradient").status != FAIL
    if ctx.elementwise:
        p = ctx.points
        result = check_second_order(ctx.subject, tol, ctx.rng, elementwise=True, x=p.x, u=p.u,
                                    gradient_finite=finite)
    else:
        m = ctx.main
        result = check_second_order(ctx.subject, tol, ctx.rng, elementwise=False, X=m.X, U=m.U,
                                    rows_independent=ctx.rows_independent, gradient_finite=finite)
    return _blame_hand_written(ctx, result)


def _xla(ctx: CheckContext) -> CheckResult:
    """XLA lowers the same graph whatever the batch size; when it is run, its differences from
    eager mode (clamped indices, saturated casts) act on every point alike: a subset of rows
    (all rows when rows mix, as in the graph check)."""
    m = ctx.main
    rows = spread_rows(m.X.shape[0], XLA_ROWS if ctx.elementwise or ctx.rows_independent else m.X.shape[0])
    return check_xla(ctx.subject, m.X[rows], m.U[rows], m.ev.y[rows], m.ev.g[rows], ctx.tol,
                     lambda dt: Subject(ctx.activation, dt, ctx.mode))


def _batch(ctx: CheckContext) -> CheckResult:
    """A layer that mixes the batch in training mode only is probed in inference mode too (with
    a generator of its own: the other checks' random draws stay as they were)."""
    training_only = False
    if ctx.mode is True and ctx.mixing is not None:
        lo, hi = ctx.lo_hi
        inference = Subject(ctx.activation, ctx.dtype, False)
        training_only = probe_structure(inference, np.random.default_rng(ctx.settings.seed), lo, hi)[2] is None
    return C.check_batch(ctx.subject, ctx.mixing, ctx.dtype, training_only)


def _ranks(ctx: CheckContext) -> CheckResult:
    """The same points as 3-D and 4-D inputs against (rows, 8): RANK_ROWS rows spread over the
    batch with the special points (_shared_rows; repeated when there are fewer), evaluated again
    as (rows, 8) unless they are the whole batch, so that both layouts hold exactly the same
    batch (noise drawn for the input's shape matches then). Skipped when a check failed on
    (rows, 8) before (no reference), when rows mix (the batch check's warning: another layout
    mixes other examples) or the activation declares 2-D inputs (an input_signature, an
    InputSpec). A
    layer is built afresh on each rank (a built layer keeps the weights of its first input
    shape) and given the 2-D instance's weights."""
    subject, m = ctx.subject, ctx.main
    failed = next((r for r in ctx.results if r.status in (FAIL, ERROR)), None)
    if failed is not None:  # its (rows, 8) results are no reference; fix that first
        return skip_ranks(f"the {failed.name} check failed first", ctx.dtype)
    if not (ctx.elementwise or ctx.rows_independent):
        return skip_ranks("the examples of a batch mix (see batch), so other layouts of the same points give other "
                          "results", ctx.dtype)
    declared = subject.declared_rank
    if declared not in (None, 1):
        by = "its tf.function's input_signature" if subject.is_tf_function else "its InputSpec"
        return skip_ranks(f"{by} declares rank-{declared} inputs", ctx.dtype)
    weights = bool(subject.weights)
    n_rows = m.X.shape[0]
    if n_rows == RANK_ROWS:
        X, U, ev = m.X, m.U, m.ev
    elif n_rows > RANK_ROWS:
        shared = _shared_rows(ctx)
        X, U, ev = shared.X, shared.U, shared.ev
    else:
        rows = np.resize(np.arange(n_rows), RANK_ROWS)
        X, U = m.X[rows], m.U[rows]
        ev = subject.evaluate(X, U, weights=weights)
    if ev.g is None or ev.not_tensor is not None or ev.g.shape != X.shape:
        return skip_ranks("no usable gradient on the subset of rows", ctx.dtype)
    ref = Reference(X, U, ev.y, ev.g, ev.weight_grads if weights else None)

    def subject_for(Xn: np.ndarray) -> Subject:
        if subject.layer is None or not isinstance(ctx.activation.obj, type):
            return subject  # a function: any rank; an instance given to the API: as it is
        fresh = Subject(ctx.activation, subject.dtype, ctx.mode)
        fresh.call(to_tensor(Xn, fresh.tf_dtype))  # builds it for this rank
        built, want = len(fresh.layer.weights), len(subject.layer.weights)
        if built != want:
            raise NotComparable(f"it builds {built} weights where (rows, 8) inputs build {want}")
        problem = fresh.adopt_weights(subject)
        if problem is not None:
            raise WeightsDiffer(problem)
        return fresh

    grad_tol = _custom_tol(ctx) if ctx.custom else ctx.tol
    return check_ranks(subject_for, ref, ctx.tol, grad_tol, ctx.custom, ctx.dtype, subject.gradient_line)


def _stability(ctx: CheckContext) -> CheckResult:
    lo, hi = ctx.lo_hi
    subject = ctx.subject

    def make(dtype):
        return subject if dtype == subject.dtype else Subject(ctx.activation, dtype, ctx.mode)

    try:
        return check_stability(make, lo, hi, ctx.source, bool(ctx.elementwise))
    except UserCodeError as exc:
        return CheckResult("stability", SKIP, f"not run: does not run in float32 ({exc.reason})", dtype="float32")


STEPS = (
    Step("forward", _forward, needs_gradient=False),
    Step("gradient", _gradient, needs_gradient=False),
    Step("determinism", _determinism, needs_gradient=False),
    Step("upstream", _upstream, judges_values=True),
    Step(None, _confirm_elementwise, lambda ctx: ctx.elementwise, judges_values=True),
    Step(None, _pointwise, lambda ctx: ctx.elementwise, judges_values=True),
    Step("custom_vs_autodiff", _custom_vs_autodiff, lambda ctx: ctx.custom, judges_values=True),
    Step("gradient_vs_fd", _gradient_vs_fd, lambda ctx: ctx.elementwise, judges_values=True),
    Step("vjp_vs_fd", _vjp_vs_fd, lambda ctx: not ctx.elementwise, judges_values=True),
    Step("weights", _weights, lambda ctx: bool(ctx.subject.weights), judges_values=True),
    Step("two_calls", _two_calls, judges_values=True),
    Step("graph", _graph),
    Step("xla", _xla),
    Step("batch", _batch, needs_gradient=False),
    Step("ranks", _ranks, judges_values=True),
    Step("second_order", _second_order, lambda ctx: ctx.settings.order == 2, judges_values=True),
    Step("stability", _stability, lambda ctx: ctx.settings.stability, needs_gradient=False, judges_values=True),
)
CHECK_NAMES = tuple(s.name for s in STEPS if s.name is not None)


# -- the verdict ------------------------------------------------------------------------------
def verdict(activation, checks: list[CheckResult], elementwise) -> ActivationResult:
    """The activation's status (the worst of its checks) and its one-line message: the check
    that best explains it (results.lead_order), then "also: <check>: <short>" for every other
    failing check; or "gradient correct" with the kinks found."""
    status = worst(c.status for c in checks) if checks else ERROR
    if status in (ERROR, FAIL, WARN):
        lead, *others = lead_order(checks, status)
        # "raised ValueError: ..." reads best alone; anything else names its check
        plain = status == ERROR and lead.name == "forward"
        message = lead.message if plain else f"{lead.name}: {lead.message}"
        if lead.mode is not None:
            message = f"{MODE_PHRASES[lead.mode]}: {message}"
        seen = {(lead.name, short_message(lead, with_mode=False))}
        for c in others:
            key = (c.name, short_message(c, with_mode=False))
            if key not in seen:  # a layer's two modes may say the same
                seen.add(key)
                message += f"; also: {c.name}: {short_message(c)}"
    else:
        fd = next((c for c in checks if c.name in ("gradient_vs_fd", "vjp_vs_fd")), None)
        dtype = checks[0].dtype if checks else None
        message = f"gradient correct ({dtype})"
        if fd is not None and fd.kinks:
            message += f"; kinks at x={', '.join(fmt(k) for k in fd.kinks[:6])}"
    # each check's own message names its mode too (the JSON's checks, the table's rows)
    checks = [c if c.mode is None else dataclasses.replace(c, message=f"{MODE_PHRASES[c.mode]}: {c.message}")
              for c in checks]
    return ActivationResult(id=activation.id, file=activation.file, name=activation.name, kind=activation.kind,
                            status=status, message=message, checks=tuple(checks), elementwise=elementwise)


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


__all__ = ["check_activation", "Curves", "STEPS", "CHECK_NAMES", "Step"]
