"""Array plumbing for the numerical core: aligned buffers TensorFlow can take without a
copy, cache-sized pieces run on every core, and the few reductions the checks share.

Pure NumPy: nothing here calls TensorFlow or the user's code.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ALIGN = 128  # bytes: at least the alignment TensorFlow's kernels need (Eigen: 64 with AVX-512)


def aligned_empty(shape, dtype=np.float64) -> np.ndarray:
    """An uninitialized C-contiguous array whose data starts on an ALIGN-byte boundary, so that
    TensorFlow can take it without a copy (subject.to_tensor)."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    buf = np.empty(n * dtype.itemsize + ALIGN, np.uint8)
    start = (-buf.ctypes.data) % ALIGN
    return buf[start:start + n * dtype.itemsize].view(dtype).reshape(shape)


# Elements per piece: 128k float64 = 1 MB, so a pass's temporaries stay in L2 (ARCHITECTURE.md).
CHUNK = 1 << 17
# Threads for NumPy pieces: NumPy releases the GIL, more than 8 only adds overhead.
MAX_THREADS = 8


def chunks(shape) -> list:
    """Slices of CHUNK elements along the first axis of ``shape`` (one () for a scalar)."""
    n = shape[0] if shape else 1
    return [slice(i, i + CHUNK) for i in range(0, max(n, 1), CHUNK)] if shape else [()]


_POOL: ThreadPoolExecutor | None = None


def for_chunks(fn, shape) -> list:
    """[fn(piece) for each cache-sized piece of an array of ``shape``], on every core when there
    are several pieces: NumPy releases the GIL inside its loops, and each piece writes its own
    part of preallocated outputs. ``fn`` must set its own np.errstate (it is per thread)."""
    pieces = chunks(shape)
    if len(pieces) == 1:
        return [fn(pieces[0])]
    global _POOL
    if _POOL is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        _POOL = ThreadPoolExecutor(max_workers=max(1, min(cores, MAX_THREADS)), thread_name_prefix="gradcheck-numerics")
    return list(_POOL.map(fn, pieces))


def masked_argmax(a: np.ndarray, mask: np.ndarray) -> int | None:
    """Index of the largest ``a`` where ``mask`` (None if none): one plain argmax when the
    overall maximum is already inside the mask (the usual case)."""
    if a.size == 0 or not mask.any():
        return None
    i = int(np.argmax(a))
    if mask[i] and not np.isnan(a[i]):
        return i
    idx = np.nonzero(mask)[0]
    return int(idx[np.argmax(a[idx])])


def masked_max(a: np.ndarray, mask: np.ndarray) -> float:
    """max of ``a`` where ``mask`` (0.0 if none)."""
    i = masked_argmax(a, mask)
    return 0.0 if i is None else float(a[i])


def all_finite(a: np.ndarray) -> bool:
    """True when every entry is finite: one sum (NaN and inf survive it) instead of an
    isfinite pass; the exact test only when the sum is not finite (or overflowed)."""
    with np.errstate(all="ignore"):
        if np.isfinite(np.sum(a)):
            return True
    return bool(np.isfinite(a).all())


def finite_absmax(a: np.ndarray) -> float:
    """max |a| over the finite entries (two fast reductions unless a has inf/NaN)."""
    if a.size == 0:
        return 0.0
    hi, lo = float(np.max(a)), float(np.min(a))
    if np.isfinite(hi) and np.isfinite(lo):
        return max(abs(hi), abs(lo))
    aa = np.abs(a)
    return float(np.max(aa, initial=0.0, where=np.isfinite(aa)))




def divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b for two 1-D arrays of one length, on every core (non-finite results allowed)."""
    out = np.empty(a.shape)

    def piece(sl):
        with np.errstate(all="ignore"):
            np.divide(a[sl], b[sl], out=out[sl])

    for_chunks(piece, out.shape)
    return out

