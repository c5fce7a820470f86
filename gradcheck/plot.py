"""``--plot DIR``: one PNG per activation, the function above and its gradients below.

    write_plot(curves, result, plot_dir) -> str   # the path of the PNG written

matplotlib is an optional extra (``pip install 'gradcheck[plot]'``) and is imported only
when a plot is drawn, through the object-oriented API on an Agg canvas: no pyplot, no GUI
backend, no global figure registry (workers may draw many plots in one process).

Top panel: the function. Bottom panel: the gradient training uses (``curves.grad``),
autodiff of the forward (``curves.autodiff``, custom-gradient functions) and finite
differences (``curves.fd``). Points where the gradient was judged wrong are red crosses,
kinks are dotted vertical lines. Non-finite values are masked out of the lines and shown
as ticks along the bottom edge of their panel.
"""

from __future__ import annotations

import hashlib
import os
import re
import textwrap
from dataclasses import dataclass
from typing import Any

INSTALL_HINT = "--plot needs matplotlib: pip install 'gradcheck[plot]'"
SIZE_PX = (1000, 700)
DPI = 100
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
    failing: Any
    kinks: list
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
    failing = getattr(curves, "failing", None)
    failing = None if failing is None else np.asarray(failing, dtype=bool).ravel()
    if failing is not None and failing.size != n:
        failing = None
    kinks = [float(k) for k in (getattr(curves, "kinks", None) or ()) if np.isfinite(k)]
    return _Series(x, np.isfinite(x), y, grad, autodiff, fd, failing, kinks, getattr(curves, "note", None))


def write_plot(curves, result, plot_dir) -> str:
    """Draw ``curves`` (a ``verify.Curves``) for ``result`` (an ``ActivationResult``) into
    ``plot_dir`` (created if needed); return the PNG's path."""
    Figure, FigureCanvasAgg = _matplotlib()
    d = _series_of(curves)
    fig = Figure(figsize=(SIZE_PX[0] / DPI, SIZE_PX[1] / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax_f, ax_g = fig.subplots(2, 1, sharex=True)
    fig.suptitle(title_of(result), fontsize=12, color=STATUS_COLORS.get(result.status, "black"))
    _draw_function(ax_f, d, result)
    _draw_gradients(ax_g, d)
    for ax in (ax_f, ax_g):
        ax.grid(True, color="#d0d7de", lw=0.6)
        if ax.get_legend_handles_labels()[0]:  # outside, right: never hides the data
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9,
                      frameon=False)
    if d.keep.any():
        lo, hi = float(d.x[d.keep].min()), float(d.x[d.keep].max())
        if hi > lo:
            ax_g.set_xlim(lo, hi)
    where = result.id if len(result.id) <= 150 else "…" + result.id[-149:]
    ax_f.text(0.0, 1.02, f"{where}  ({result.kind})", transform=ax_f.transAxes, fontsize=8,
              color="#57606a", ha="left", va="bottom")
    os.makedirs(plot_dir, exist_ok=True)
    path = os.path.join(os.fspath(plot_dir), plot_filename(result.id))
    fig.savefig(path, format="png", dpi=DPI)
    return path


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


def _draw_gradients(ax_g, d: _Series) -> None:
    """Bottom panel: the gradient training uses, autodiff of the forward, finite differences,
    and crosses where the gradient was judged wrong."""
    import numpy as np

    x, keep, grad, fd, failing = d.x, d.keep, d.grad, d.fd, d.failing
    drawn = []
    # Passing: the references are a wide pale band under the gradient. Failing: the
    # gradient may be noise (a VJP that ignores dy), so the references go on top of it.
    wrong = failing is not None and bool((failing & keep).any())
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
            _mark_wrong(ax_g, d)
    if drawn:
        _set_ylim(ax_g, drawn)
    else:
        why = ("not elementwise: the gradient was checked as a vector-Jacobian product, not drawn"
               if d.y is not None or d.note else "no gradient to draw")
        ax_g.text(0.5, 0.5, why, transform=ax_g.transAxes, ha="center", va="center", color="#57606a")
        ax_g.set_yticks([])
    ax_g.set_ylabel("df/dx")
    ax_g.set_xlabel("x")
    _kinks(ax_g, d.kinks, label=False)


def _mark_wrong(ax_g, d: _Series) -> None:
    import numpy as np

    bad = d.failing & d.keep
    at = np.where(np.isfinite(d.grad), d.grad, d.fd if d.fd is not None else np.nan)[bad]
    xs = d.x[bad][np.isfinite(at)]
    at = at[np.isfinite(at)]
    if xs.size > MAX_MARKERS:  # a cross per point would bury the curves: thin them out evenly
        pick = np.unique(np.linspace(0, xs.size - 1, MAX_MARKERS).round().astype(int))
        xs, at = xs[pick], at[pick]
    ax_g.plot(xs, at, "x", color="#cf222e", ms=6, mew=1.4, zorder=3.5,
              label=f"gradient wrong ({int(bad.sum())} of {int(d.keep.sum())} points)")


def _mark_non_finite(ax, x, v, label):
    """Ticks along the bottom edge of ``ax`` where ``v`` is NaN or infinite."""
    import numpy as np

    bad = ~np.isfinite(v)
    if not bad.any():
        return
    ax.plot(x[bad], np.zeros(int(bad.sum())), "|", color="#8250df", ms=12, mew=1.5, clip_on=False,
            transform=ax.get_xaxis_transform(), label=f"{label} ({int(bad.sum())})", zorder=5)


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
