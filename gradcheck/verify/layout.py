"""How sample points are laid out for TensorFlow (docs/method.md s.2): rows of WIDTH, the
random upstream gradients, and the subsets of rows that checks acting on every point alike
run on.

Pure NumPy: nothing here calls TensorFlow or the user's code.
"""

from __future__ import annotations

import numpy as np

from .arrays import aligned_empty

WIDTH = 8  # inputs are laid out as (rows, WIDTH): the last axis is what softmax-like activations act on



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


# Large batches repeat one random upstream block of this many values (upstream()).
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


# Checks that act on every point alike (upstream linearity, graph vs eager, weights) run on a
# subset of this many rows (x WIDTH inputs): see spread_rows.
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
