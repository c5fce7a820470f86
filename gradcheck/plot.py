"""``--plot DIR``: one PNG per activation, the function, its gradients and their error.

    draw_plot(curves, result) -> Figure            # what the PNG shows, for tests and notebooks
    write_plot(curves, result, plot_dir) -> str   # the path of the PNG written

matplotlib is an optional extra (``pip install 'gradcheck[plot]'``) and is imported only
when a plot is drawn, through the object-oriented API on an Agg canvas: no pyplot, no GUI
backend, no global figure registry (workers may draw many plots in one process).

Panels, top to bottom: the function; the gradient training uses (``curves.grad``), autodiff
of the forward (``curves.autodiff``, custom-gradient functions) and finite differences
(``curves.fd``); the error |gradient - reference| on a log scale, the reference being what
the failing check compared with (autodiff for ``custom_vs_autodiff``, finite differences
otherwise), so a 0.1% error stands out from the 1e-10 of a correct gradient; for a layer
whose ``weights`` check failed, one panel per failing weight (``curves.weights``): the
weighted output as the weight moves, with the slope its gradient gives and the slope finite
differences give. The failing check's points are red crosses, counted once, in the legend,
as the check counts them in the title. Kinks are dotted vertical lines; non-finite values
are ticks along the bottom edge of their panel. The stability sweep's first bad input (from
the ``stability`` check's result) is a line where it is inside the plotted range, else an
arrow at the edge it lies beyond, with its x.

Only result objects are read: ``verify.Curves`` and the ``ActivationResult``.
"""

from __future__ import annotations

import hashlib
import os
import re
import textwrap
from dataclasses import dataclass
from typing import Any

INSTALL_HINT = "--plot needs matplotlib: pip install 'gradcheck[plot]'"
SIZE_PX = (1000, 700)  # function and gradient panels; the error and weight panels add their height
ERROR_PANEL_PX = 220
WEIGHT_PANEL_PX = 300
MAX_WEIGHT_PANELS = 3  # failing weights drawn at most (side by side)
DPI = 100
STABILITY_COLOR = "#8250df"
MAX_MARKERS = 120  # red crosses drawn at most (evenly spread over the failing points)
MAX_NAME = 200  # bytes in a file name, well under the usual 255
STATUS_COLORS = {"pass": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e", "error": "#a40e26", "skip": "#57606a"}


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed (or cannot be imported)."""


def check_available() -> None:
    """Raise :class:`PlotUnavailable` unless matplotlib can be found, without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("matplotlib")
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise PlotUnavailable(INSTALL_HINT)


def _matplotlib():
    """(Figure, FigureCanvasAgg), imported on first use."""
    try:
        import matplotlib  # noqa: F401  (first: a cached submodule must not hide a blocked package)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(INSTALL_HINT) from None
    return Figure, FigureCanvasAgg


def plot_filename(activation_id: str) -> str:
    """A file name for ``activation_id`` (``dir/bad.py::f`` -> ``dir_bad.py__f.png``)."""
    file, sep, name = activation_id.rpartition("::")
    if not sep:
        file, name = "", activation_id

    def clean(part):
        return re.sub(r"[^\w.\-]+", "_", part).strip("_")

    parts = [clean(p) for p in re.split(r"[\\/]+", file) if p not in ("", ".", "..")]
    stem = "_".join(p for p in parts if p)
    name = clean(name) or "activation"
    stem = (f"{stem}__{name}" if stem else name).lstrip("._-") or "activation"
    if len(stem.encode("utf-8")) > MAX_NAME:  # deep absolute paths: keep the end, add a hash
        digest = hashlib.sha1(activation_id.encode("utf-8")).hexdigest()[:10]
        tail = stem.encode("utf-8")[-(MAX_NAME - 12):].decode("utf-8", "ignore")
        stem = f"{digest}_{tail}"
    return f"{stem}.png"


def title_of(result, width: int = 110) -> str:
    """``name — STATUS: message``, wrapped on two lines at most and shortened to fit."""
    text = f"{result.name} — {result.status.upper()}: {' '.join(str(result.message).split())}"
    return "\n".join(textwrap.wrap(text, width=width, max_lines=2, placeholder=" …"))


@dataclass(frozen=True)
class _Series:
    """The curves as float arrays of one length (None where missing or misshapen)."""

    x: Any
    keep: Any  # x is finite: an x that is not finite cannot be placed at all
    y: Any
    grad: Any
    autodiff: Any
    fd: Any
    failing: Any  # where gradient_vs_fd judged the gradient wrong
    kinks: list
    autodiff_failing: Any = None  # where custom_vs_autodiff judged the hand-written gradient wrong
    fd_not_used: Any = None  # accepted without the standard-step fd (kinks, finer steps)
    note: str | None = None  # why there is no function to draw (Curves.note)


def _series_of(curves) -> _Series:
    import numpy as np

    x = np.asarray(curves.x, dtype=float).ravel()
    n = x.size

    def series(values):
        if values is None:
            return None
        v = np.asarray(values, dtype=float).ravel()
        return v if v.size == n else None

    y, grad, autodiff, fd = (series(getattr(curves, k, None)) for k in ("y", "grad", "autodiff", "fd"))
    def mask(name):
        m = getattr(curves, name, None)
        m = None if m is None else np.asarray(m, dtype=bool).ravel()
        return m if m is not None and m.size == n else None

    kinks = [float(k) for k in (getattr(curves, "kinks", None) or ()) if np.isfinite(k)]
    return _Series(x, np.isfinite(x), y, grad, autodiff, fd, mask("failing"), kinks, mask("autodiff_failing"),
                   mask("fd_not_used"), getattr(curves, "note", None))


def draw_plot(curves, result):
    """The figure for ``curves`` (a ``verify.Curves``) and ``result`` (an ``ActivationResult``),
    on an Agg canvas, not saved."""
    Figure, FigureCanvasAgg = _matplotlib()
    d = _series_of(curves)
    has_gradients = d.grad is not None or d.fd is not None or d.autodiff is not None
    weights = tuple(getattr(curves, "weights", None) or ())[:MAX_WEIGHT_PANELS]
    rows = [("f", 1.0), ("g", 1.0)] + ([("err", 0.75)] if has_gradients else []) + \
        ([("w", 1.1)] if weights else [])
    height = SIZE_PX[1] + (ERROR_PANEL_PX if has_gradients else 0) + (WEIGHT_PANEL_PX if weights else 0)
    fig = Figure(figsize=(SIZE_PX[0] / DPI, height / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(rows), max(1, len(weights)), height_ratios=[r for _, r in rows])
    ax_f = fig.add_subplot(grid[0, :])
    ax_g = fig.add_subplot(grid[1, :], sharex=ax_f)
    ax_e = fig.add_subplot(grid[2, :], sharex=ax_f) if has_gradients else None
    fig.suptitle(title_of(result), fontsize=12, color=STATUS_COLORS.get(result.status, "black"))
    marks = _marks_of(result, d)
    _draw_function(ax_f, d, result)
    _draw_gradients(ax_g, d, marks)
    if ax_e is not None:
        _draw_error(ax_e, d, marks)
    main = [a for a in (ax_f, ax_g, ax_e) if a is not None]
    for ax in main[:-1]:
        ax.tick_params(labelbottom=False)
        ax.set_xlabel("")
    main[-1].set_xlabel("x")
    if d.keep.any():
        lo, hi = float(d.x[d.keep].min()), float(d.x[d.keep].max())
        if hi > lo:
            ax_f.set_xlim(lo, hi)
    _mark_stability(ax_f, ax_g, result)
    for i, w in enumerate(weights):
        _draw_weight(fig.add_subplot(grid[len(rows) - 1, i]), w)
    for ax in fig.axes:
        ax.grid(True, color="#d0d7de", lw=0.6)
        if ax in main and ax.get_legend_handles_labels()[0]:  # outside, right: never hides the data
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9, frameon=False)
    where = result.id if len(result.id) <= 150 else "…" + result.id[-149:]
    ax_f.text(0.0, 1.02, f"{where}  ({result.kind})", transform=ax_f.transAxes, fontsize=8,
              color="#57606a", ha="left", va="bottom")
    return fig


def write_plot(curves, result, plot_dir) -> str:
    """Draw ``curves`` for ``result`` into ``plot_dir`` (created if needed); return the PNG's path."""
    fig = draw_plot(curves, result)
    os.makedirs(plot_dir, exist_ok=True)
    path = os.path.join(os.fspath(plot_dir), plot_filename(result.id))
    fig.savefig(path, format="png", dpi=DPI)
    return path


@dataclass(frozen=True)
class _Marks:
    """The points one failing check judged wrong, and the reference it compared with."""

    check: str | None  # None: no elementwise gradient check failed
    mask: Any  # bool per point, or None
    reference: str  # "finite differences" | "autodiff of the forward"
    ref: Any  # the reference's values, or None
    quoted: bool  # the title quotes this check (and so its count)


# The elementwise gradient checks whose failing points a plot marks: (check, Curves field
# of its mask, the reference it compares with, the Curves field of the reference).
MARKED_CHECKS = (("custom_vs_autodiff", "autodiff_failing", "autodiff of the forward", "autodiff"),
                 ("gradient_vs_fd", "failing", "finite differences", "fd"))


def _marks_of(result, d: _Series) -> _Marks:
    """The check whose points are marked: of the failing elementwise gradient checks, the one
    the title quotes (its message leads), else the first that failed."""
    lead = getattr(result, "lead", None)  # the check the title's message leads with
    found = []
    for check, mask_field, reference, ref_field in MARKED_CHECKS:
        c = result.check(check) if hasattr(result, "check") else None
        mask, ref = getattr(d, mask_field), getattr(d, ref_field)
        if c is not None and c.status == "fail" and mask is not None and bool((mask & d.keep).any()):
            found.append((check, mask, reference, ref))
    if found:
        check, mask, reference, ref = next((f for f in found if lead is not None and f[0] == lead.name), found[0])
        return _Marks(check, mask, reference, ref, lead is not None and check == lead.name)
    if d.fd is not None:
        return _Marks(None, None, "finite differences", d.fd, False)
    return _Marks(None, None, "autodiff of the forward", d.autodiff, False)


def _marks_label(marks: _Marks, d: _Series) -> str:
    """The marked points' legend entry. One count per figure: when the title quotes the
    marked check, its count, worded as the check words it (the same number); otherwise the
    title counts something else (another check's points) and the legend names the check only."""
    if not marks.quoted:
        return f"wrong by {marks.check}"
    bad = int((marks.mask & d.keep).sum())
    verb = "differs" if marks.check == "custom_vs_autodiff" else "wrong"
    return f"{verb} at {bad} of {int(d.keep.sum())} points"


def _draw_function(ax_f, d: _Series, result) -> None:
    """Top panel: the function. Not elementwise (softmax, norms): an output depends on its
    whole row, not only on x, so the points are not a curve: dots, and no gradient panel."""
    import numpy as np

    x, keep, y = d.x, d.keep, d.y
    pointwise = getattr(result, "elementwise", None) is not False and not (d.grad is None and d.fd is None)
    if y is not None and pointwise:
        ax_f.plot(x[keep], np.ma.masked_invalid(y[keep]), color="#0969da", lw=1.6, label="f(x)")
    elif y is not None:
        ax_f.plot(x[keep], np.ma.masked_invalid(y[keep]), ".", color="#0969da", ms=2.5, alpha=0.6,
                  label="outputs (each depends on its whole row)")
    if y is not None:
        _mark_non_finite(ax_f, x[keep], y[keep], "f(x) NaN/inf")
        _set_ylim(ax_f, [y[keep]])
    elif d.note:  # an output of another shape (GLU): no curve of x
        ax_f.text(0.5, 0.5, d.note, transform=ax_f.transAxes, ha="center", va="center", color="#57606a")
        ax_f.set_yticks([])
    ax_f.set_ylabel("f(x)")
    _kinks(ax_f, d.kinks, label=True)


def _draw_gradients(ax_g, d: _Series, marks: _Marks) -> None:
    """The gradient training uses, autodiff of the forward, finite differences, and crosses
    where the marked check judged the gradient wrong."""
    import numpy as np

    x, keep, grad, fd = d.x, d.keep, d.grad, d.fd
    drawn = []
    # Passing: the references are a wide pale band under the gradient. Failing: the
    # gradient may be noise (a VJP that ignores dy), so the references go on top of it.
    wrong = marks.mask is not None
    if fd is not None:
        ax_g.plot(x[keep], np.ma.masked_invalid(fd[keep]), color="#8c959f", lw=4.5, alpha=0.55,
                  solid_capstyle="butt", label=None if wrong else "finite differences", zorder=1)
        if wrong:
            ax_g.plot(x[keep], np.ma.masked_invalid(fd[keep]), color="#24292f", lw=1.3,
                      label="finite differences", zorder=4)
        drawn.append(fd[keep])
    if d.autodiff is not None:
        ax_g.plot(x[keep], np.ma.masked_invalid(d.autodiff[keep]), color="#bf8700", lw=1.6, ls=(0, (5, 3)),
                  label="autodiff of the forward", zorder=4.5)
        drawn.append(d.autodiff[keep])
    if grad is not None:
        ax_g.plot(x[keep], np.ma.masked_invalid(grad[keep]), color="#0969da", lw=1.0 if wrong else 1.4,
                  alpha=0.8 if wrong else 1.0, label="gradient used in training", zorder=3)
        _mark_non_finite(ax_g, x[keep], grad[keep], "gradient NaN/inf")
        drawn.append(grad[keep])
        if wrong:
            at = np.where(np.isfinite(grad), grad, marks.ref if marks.ref is not None else np.nan)
            _crosses(ax_g, d, marks, at, _marks_label(marks, d))
    if drawn:
        _set_ylim(ax_g, drawn)
    else:
        why = ("not elementwise: the gradient was checked as a vector-Jacobian product, not drawn"
               if d.y is not None or d.note else "no gradient to draw")
        ax_g.text(0.5, 0.5, why, transform=ax_g.transAxes, ha="center", va="center", color="#57606a")
        ax_g.set_yticks([])
    ax_g.set_ylabel("df/dx")
    _kinks(ax_g, d.kinks, label=False)


def _crosses(ax, d: _Series, marks: _Marks, at, label, size: float = 6) -> None:
    """Red crosses at the marked points (at most MAX_MARKERS, evenly spread), at height ``at``."""
    import numpy as np

    bad = marks.mask & d.keep
    xs, ys = d.x[bad], np.asarray(at, dtype=float)[bad]
    fin = np.isfinite(ys)
    xs, ys = xs[fin], ys[fin]
    if xs.size > MAX_MARKERS:  # a cross per point would bury the curves: thin them out evenly
        pick = np.unique(np.linspace(0, xs.size - 1, MAX_MARKERS).round().astype(int))
        xs, ys = xs[pick], ys[pick]
    ax.plot(xs, ys, "x", color="#cf222e", ms=size, mew=1.4 if size >= 6 else 1.0, zorder=3.5, label=label)


# Errors below this fraction of the gradient's scale are drawn at it (log scale: 0 has no
# place; method.md s.6b).
ERROR_FLOOR = 1e-17


def _draw_error(ax_e, d: _Series, marks: _Marks) -> None:
    """|gradient - reference| on a log scale (the reference: what the marked check compared
    with); where both references exist, the other one's error is drawn faint."""
    import numpy as np

    ax_e.set_yscale("log")
    ax_e.set_ylabel("|error|")
    if d.grad is None:
        ax_e.text(0.5, 0.5, "no gradient to compare", transform=ax_e.transAxes, ha="center", va="center",
                  color="#57606a")
        return
    keep = d.keep
    others = [(name, ref) for name, ref in (("finite differences", d.fd), ("autodiff of the forward", d.autodiff))
              if ref is not None and name != marks.reference]
    with np.errstate(all="ignore"):
        scale = max(float(np.nanmax(np.abs(np.where(np.isfinite(d.grad), d.grad, np.nan)), initial=0.0)), 1.0) \
            if np.isfinite(d.grad).any() else 1.0
        floor = ERROR_FLOOR * scale

        def error(ref, name):
            e = np.abs(d.grad - ref)
            e = np.where(np.isfinite(e), np.maximum(e, floor), np.nan)
            if name == "finite differences" and d.fd_not_used is not None:
                e[d.fd_not_used] = np.nan  # a kink's average of two slopes, a too-coarse step: no error
            return e

        drawn = []
        for name, ref in others:
            e = error(ref, name)
            ax_e.plot(d.x[keep], np.ma.masked_invalid(e[keep]), color="#8c959f", lw=0.9, alpha=0.8,
                      label=f"|gradient − {name}|", zorder=2)
            drawn.append(e[keep])
        if marks.ref is not None:
            e = error(marks.ref, marks.reference)
            ax_e.plot(d.x[keep], np.ma.masked_invalid(e[keep]), color="#0969da", lw=1.2,
                      label=f"|gradient − {marks.reference}|", zorder=3)
            drawn.append(e[keep])
            if marks.mask is not None:
                _crosses(ax_e, d, marks, e, None, size=4)  # counted once, in the gradient panel's legend
    finite = np.concatenate([v[np.isfinite(v)] for v in drawn]) if drawn else np.empty(0)
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        ax_e.set_ylim(lo / 3, max(hi * 3, lo * 30))
    _kinks(ax_e, d.kinks, label=False)


def _mark_stability(ax_f, ax_g, result) -> None:
    """The stability sweep's first bad input: a line where it lies inside the plotted range,
    else an arrow at the edge it lies beyond, with the check's words (and so its x)."""
    check = result.check("stability") if hasattr(result, "check") else None
    if check is None or check.status != "warn" or check.worst_input is None:
        return
    x0 = float(check.worst_input)
    text = "stability: " + str(check.message).replace(" (finite inputs)", "")
    ax = ax_f if "output is" in str(check.message) else ax_g
    lo, hi = ax.get_xlim()
    if lo <= x0 <= hi:
        ax.axvline(x0, color=STABILITY_COLOR, ls="--", lw=1.2, zorder=5, label=text)
        return
    right = x0 > hi
    ax.annotate(f"{text} (outside the plotted range)", xy=(1.0 if right else 0.0, 0.88), xycoords="axes fraction",
                xytext=(-14 if right else 14, 0), textcoords="offset points", ha="right" if right else "left",
                va="center", fontsize=8.5, color=STABILITY_COLOR, zorder=6,
                bbox=dict(boxstyle="round,pad=0.25", fc="white", ec=STABILITY_COLOR, lw=0.8, alpha=0.85),
                arrowprops=dict(arrowstyle="-|>", color=STABILITY_COLOR, lw=1.2))


def _draw_weight(ax, w) -> None:
    """One failing weight: the weighted output as the weight moves by t, and the lines through
    t = 0 with the slope its gradient gives and the slope finite differences give."""
    import numpy as np

    t, phi = np.asarray(w.t, dtype=float), np.asarray(w.phi, dtype=float)
    phi0 = float(phi[np.argmin(np.abs(t))])
    ax.plot(t, np.ma.masked_invalid(phi), color="#0969da", lw=1.6, label="Σ u·f(x)", zorder=3)
    ax.plot(t, phi0 + w.fd * t, color="#24292f", lw=1.2, label=f"finite differences: slope {_num(w.fd)}", zorder=4)
    if w.tape is not None and np.isfinite(w.tape):
        ax.plot(t, phi0 + w.tape * t, color="#cf222e", lw=1.4, ls=(0, (5, 3)),
                label=f"gradient: slope {_num(w.tape)}", zorder=5)
    else:
        ax.plot([], [], " ", label=f"gradient: no slope ({getattr(w, 'unusable', None) or 'None'})")
    _set_ylim(ax, [phi])
    ax.set_title(f"weight '{w.name}' along {w.along}\n(gradient wrong along {w.wrong} of {w.directions} directions)",
                 fontsize=9)
    ax.set_xlabel("t (weight + t · direction)")
    ax.set_ylabel("Σ u·f(x)")
    ax.legend(loc="best", fontsize=8, frameon=True, framealpha=0.85)


def _num(v) -> str:
    return f"{float(v):.4g}"


def _mark_non_finite(ax, x, v, label):
    """Ticks along the bottom edge of ``ax`` where ``v`` is NaN or infinite."""
    import numpy as np

    bad = ~np.isfinite(v)
    if not bad.any():
        return
    ax.plot(x[bad], np.zeros(int(bad.sum())), "|", color="#8250df", ms=12, mew=1.5, clip_on=False,
            transform=ax.get_xaxis_transform(), label=label, zorder=5)  # no count: the title's is the one


def _kinks(ax, kinks, label):
    for i, k in enumerate(kinks[:50]):
        ax.axvline(k, color="#57606a", ls=":", lw=1.1, zorder=0, label="kink" if label and i == 0 else None)


def _set_ylim(ax, arrays):
    """Limits that show every finite value, unless a few outliers would flatten the rest."""
    import numpy as np

    vals = np.concatenate([np.asarray(a, dtype=float)[np.isfinite(a)] for a in arrays]) if arrays else np.empty(0)
    if vals.size == 0:
        return
    lo, hi = float(vals.min()), float(vals.max())
    p_lo, p_hi = (float(v) for v in np.percentile(vals, [0.5, 99.5]))
    core = p_hi - p_lo
    if core > 0 and hi - lo > 20 * core:  # huge spikes: clip them, the crosses still say where
        lo, hi = p_lo - 0.5 * core, p_hi + 0.5 * core
    span = hi - lo
    pad = 0.06 * span if span > 0 else max(1.0, abs(hi)) * 0.5
    ax.set_ylim(lo - pad, hi + pad)
