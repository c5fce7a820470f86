"""Tolerances, one row per dtype (docs/method.md s.5), like jax's dtype-keyed table.

Pure NumPy: nothing here calls TensorFlow or the user's code.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

# Rounding of a whole activation is a few ulps of its output, not one: each TF op rounds
# (method.md s.4, the noise term of every finite-difference tolerance).
ULPS_PER_EVAL = 8.0


@dataclass(frozen=True)
class Tolerance:
    """Per-dtype tolerances (see docs/method.md s.5)."""

    dtype: str
    eps: float
    # gradient vs finite differences (after the FD error estimate is added)
    fd_rtol: float
    fd_atol: float
    # two analytic gradients of the same forward (hand-written vs autodiff, graph vs eager)
    exact_rtol: float
    exact_atol: float


# (fd_rtol, fd_atol, exact_rtol, exact_atol) per dtype; any other dtype takes float32's row.
TABLE = {
    # exact_rtol 1e-5: TF itself rounds some float64 constants through float32 (tf.nn.gelu's
    # 1/sqrt(2)), so a textbook gradient differs from autodiff by ~2e-6; 0.1% is 100x more.
    # exact_atol 1e-7 (x the largest gradient): the same float32 rounding, ~6e-8 of terms of
    # the gradient's size, is all that is left where those terms cancel (gelu' near -0.75).
    # fd_atol 1e-7 for the same reason: finite differences of such a forward differ from its
    # exact derivative by that much (gelu_textbook_grad: 5.6e-9 at x=-0.7518).
    "float64": (1e-6, 1e-7, 1e-5, 1e-7),
    # float32: FD noise is ~eps/h ~ 3e-5 relative; a 0.1% error must still be caught by the
    # exact comparison (hand-written vs autodiff), so that one stays well below 1e-3.
    "float32": (1e-3, 1e-5, 1e-4, 2e-5),
}


def tolerance_for(dtype: str, rtol: float | None = None, atol: float | None = None) -> Tolerance:
    """The row of ``dtype``; ``rtol``/``atol`` (the command line's) replace both the finite-
    difference and the exact tolerances."""
    fd_rtol, fd_atol, exact_rtol, exact_atol = TABLE.get(dtype, TABLE["float32"])
    tol = Tolerance(dtype, float(np.finfo(np.dtype(dtype)).eps), fd_rtol, fd_atol, exact_rtol, exact_atol)
    if rtol is not None:
        tol = dataclasses.replace(tol, fd_rtol=rtol, exact_rtol=rtol)
    if atol is not None:
        tol = dataclasses.replace(tol, fd_atol=atol, exact_atol=atol)
    return tol
