"""Is the activation elementwise, and are the rows of a batch independent? (docs/method.md
s.2): the answer decides between the pointwise checks (gradient_vs_fd) and the directional
ones (vjp_vs_fd), and how rows may be subset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layout import WIDTH
from .subject import Subject

# Probes: 4 rows of WIDTH; columns 3 and 6 and row 2 are moved (any would do: fixed for
# reproducibility). The real batch is confirmed on its CONFIRM_ROWS first and last rows.
PROBE_ROWS = 4
PROBE_COLUMNS = (3, 6)
PROBE_ROW = 2
CONFIRM_ROWS = 64
# Outputs closer than this (relative) count as unmoved: elementwise ops leave them bit-identical.
SAME = 1e-12


@dataclass(frozen=True)
class RowMixing:
    """Evidence that rows mix: the probe batch ``X`` (output ``y``), the same with row ``row``
    changed, and the other rows whose outputs moved (by up to ``change``)."""

    X: np.ndarray
    y: np.ndarray
    row: int
    moved: tuple[int, ...]
    change: float
    scale: float  # the probe's inputs were within +-scale of the range's centre


def probe_structure(subject: Subject, rng, lo: float, hi: float) -> tuple[bool, bool, RowMixing | None]:
    """(elementwise, rows independent, evidence of mixing), from 4x8 probes at three scales
    (the range, 1, 0.1 around its centre): change one column, then one row, and see which
    outputs move. Elementwise TF ops leave the other entries bit-identical. Small scales
    matter: a sharp softmax or a sparsemax over widely spread inputs couples entries below
    float precision."""
    centre = min(max(0.0, lo), hi)
    elementwise, rows_independent, mixing = True, True, None
    for scale in ((hi - lo) / 2, 1.0, 0.1):
        X = np.clip(centre + scale * rng.uniform(-1, 1, (PROBE_ROWS, WIDTH)), lo, hi)
        y0 = subject.forward(X)
        reshapes = y0.shape != X.shape  # GLU, maxout, CReLU: not elementwise, checked by VJPs
        elementwise &= not reshapes
        for col in PROBE_COLUMNS:
            X1 = X.copy()
            X1[:, col] = np.clip(X[:, col] + scale * rng.uniform(0.2, 0.6, PROBE_ROWS) *
                                 rng.choice([-1, 1], PROBE_ROWS), lo, hi)
            y1 = subject.forward(X1)  # drawn and called either way: the same random stream
            if reshapes:
                continue
            moved = ~_same(y0, y1)
            moved[:, col] = False
            elementwise &= not moved.any()
        X2 = X.copy()
        X2[PROBE_ROW] = np.clip(centre + scale * rng.uniform(-1, 1, WIDTH), lo, hi)
        y2 = subject.forward(X2)
        y0, y2 = y0.reshape(PROBE_ROWS, -1), y2.reshape(PROBE_ROWS, -1)  # rows, whatever the trailing shape
        other = np.arange(PROBE_ROWS) != PROBE_ROW
        same = _same(y0[other], y2[other])
        if mixing is None and not same.all():
            rows = np.flatnonzero(other)[~same.all(axis=1)]
            with np.errstate(all="ignore"):
                change = np.nanmax(np.abs(y2[rows] - y0[rows]))
            mixing = RowMixing(X, y0, PROBE_ROW, tuple(int(r) for r in rows), float(change), float(scale))
        rows_independent &= bool(same.all())
    return elementwise, rows_independent, mixing


def same_outputs(a: np.ndarray, b: np.ndarray) -> bool:
    """Two calls' outputs equal entry by entry (NaN equal to NaN), as the probes compare them
    (the probes keep outputs as rows: ``a`` is compared in ``b``'s shape)."""
    if a.shape != b.shape:
        if a.size != b.size:
            return False
        a = a.reshape(b.shape)
    return bool(_same(a, b).all())


def still_elementwise(subject: Subject, X, Y, rng, lo: float, hi: float) -> bool:
    """Confirm the probe on the real batch's extreme rows (the first and last rows hold the
    range ends): move one column and check that no other output moves. Couplings that only
    start at large inputs (clipping a row's norm at 18) are invisible to 4x8 probes."""
    col = PROBE_COLUMNS[0]
    rows = np.r_[0:min(CONFIRM_ROWS, X.shape[0]), max(0, X.shape[0] - CONFIRM_ROWS):X.shape[0]]
    Xs = X[rows].copy()
    Xs[:, col] = np.clip(Xs[:, col] + (hi - lo) * rng.uniform(0.05, 0.2, rows.size) * rng.choice([-1, 1], rows.size),
                         lo, hi)
    moved = ~_same(Y[rows], subject.forward(Xs))
    moved[:, col] = False
    return not moved.any()


def _same(a, b):
    scale = np.maximum(np.abs(a), np.abs(b))
    return (a == b) | (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= SAME * scale)
