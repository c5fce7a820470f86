"""Where to sample (docs/method.md s.2): the grid and random half, the special points, and
the numbers an activation is written with (literals and constants harvested from its
source and module), where breakpoints and NaN traps hide.

No TensorFlow here; the user's code is only read (its source and module attributes).
"""

from __future__ import annotations

import functools
import inspect
import io
import tokenize

import numpy as np

from ..discover import innermost
from .arrays import aligned_empty

# "Tiny": below ~eps, exp(x) - 1 rounds to 0 and min/max pieces tie (special_points).
TINY = 1e-6

def special_points(lo: float, hi: float, dtype: str, declared=(), literals=()) -> np.ndarray:
    """Points where bugs hide: 0, +-tiny, +-1, the range ends, every multiple of 0.01 (of a
    coarser power of ten on wide ranges), declared kinks, and +- every number literal in the
    activation's source (breakpoints such as ``x > 0.37`` or ``relu(x + 1.7)``).

    Multiples of 0.01 are k/100, which is the same double as the literal ``0.37`` in code, so
    a seam or NaN trap at a two-decimal breakpoint is hit exactly. "tiny" is 1e-6, not the
    smallest float: below ~eps, formulas like exp(x) - 1 round to 0 and min/max pieces tie, so
    autodiff differentiates a rounding plateau that no real input hits.
    """
    cand = [0.0, TINY, -TINY, 1e-3, -1e-3, 1.0, -1.0, lo, hi, *declared]
    lits = [v for lit in literals for v in (lit, -lit)]
    decimals = 2
    while (hi - lo) * 10.0 ** decimals > 4000 and decimals > -6:
        decimals -= 1
    k = np.arange(np.ceil(lo * 10.0 ** decimals), np.floor(hi * 10.0 ** decimals) + 1)
    grid = k / 10.0 ** decimals if decimals >= 0 else k * 10.0 ** -decimals
    pts = np.concatenate([np.asarray(cand + lits, dtype=np.float64), grid])
    pts = pts[(pts >= lo) & (pts <= hi)]
    return np.unique(pts)


def sample_rows(lo: float, hi: float, n: int, seed: int, dtype: str, declared=(), literals=(),
                width: int = 1) -> tuple[np.ndarray, int]:
    """``n`` points: half an even grid (no gaps, sorted, first), half uniform random (no
    aliasing), then the special points. Every point is exactly representable in ``dtype``.
    Not deduplicated: a repeated point costs nothing and sorting a million points does.

    Laid out in rows of ``width`` (the last row padded with the last point), built in place in
    one aligned array (TensorFlow takes it without a copy). Returns (rows, number of points).
    """
    special = special_points(lo, hi, dtype, declared, literals)
    count = n + special.size
    flat = aligned_empty(count + (-count) % width)
    flat[:n] = _grid_and_random(float(lo), float(hi), int(n), seed)
    flat[n:count] = special
    if dtype != "float64":
        dt = np.dtype(dtype)
        vals = flat[:count].astype(dt)
        # Rounding to nearest can step outside the range (0.7 -> 0.699999988 in float32): the
        # representable ends bound it instead, so a domain such as x >= 0.7 holds.
        lo_r, hi_r = dt.type(lo), dt.type(hi)
        if float(lo_r) < lo:  # compared as doubles (NumPy 2 would compare in dtype)
            lo_r = np.nextafter(lo_r, dt.type(np.inf))
        if float(hi_r) > hi:
            hi_r = np.nextafter(hi_r, dt.type(-np.inf))
        if lo_r <= hi_r:
            np.clip(vals, lo_r, hi_r, out=vals)
        flat[:count] = vals
    flat[count:] = flat[count - 1] if count else 0.0
    return flat.reshape(-1, width), count


@functools.lru_cache(maxsize=2)
def _grid_and_random(lo: float, hi: float, n: int, seed: int) -> np.ndarray:
    """The first ``n`` points of sample_rows: n // 2 on an even grid, then uniform random ones
    from ``seed``. Kept (read-only): a worker checks activation after activation with the same
    settings, and drawing a million points costs a fifth of a forward pass; a copy costs less."""
    rng = np.random.default_rng(seed)
    n_grid = n // 2 if n > 1 else 0
    out = np.empty(n)
    out[:n_grid] = np.linspace(lo, hi, n_grid)
    rand = out[n_grid:]
    rng.random(out=rand)  # = rng.uniform(lo, hi), in place
    rand *= hi - lo
    rand += lo
    out.flags.writeable = False
    return out


# -- the numbers an activation is written with ------------------------------------------------
# At most this many literals from one source text, and numbers in all (method.md s.2): enough
# for any hand-written activation; a module of generated tables must not blow up the batch.
MAX_LITERALS = 200
MAX_NUMBERS = 600
# Module attributes looked at for numeric constants (a module holding data has many).
MAX_ATTRIBUTES = 2000

def _defining_object(obj):
    """The user's function or class behind ``obj`` (a layer instance's class)."""
    obj = innermost(obj)
    return obj if (inspect.isfunction(obj) or inspect.isclass(obj)) else type(obj)


def source_of(obj) -> str | None:
    """The activation's source text (its class for a layer instance), or None."""
    try:
        return inspect.getsource(_defining_object(obj))
    except (OSError, TypeError):
        return None


def _module_of(obj):
    try:
        return inspect.getmodule(_defining_object(obj))
    except (TypeError, AttributeError):
        return None


def module_source_of(obj) -> str | None:
    """The source of the module that defines the activation, or None (linecache keeps the
    file's lines, so activations of one module do not read it again)."""
    module = _module_of(obj)
    try:
        return inspect.getsource(module) if module is not None else None
    except (OSError, TypeError):
        return None


# Irrational breakpoints people write inline (x - np.pi / 4, the golden ratio, log 2).
COMMON_CONSTANTS = (np.pi / 4, np.pi / 2, np.pi, 2 * np.pi, np.e, np.log(2.0), np.log(3.0), np.log(10.0),
                    np.sqrt(2.0), np.sqrt(3.0), 1 / np.sqrt(2.0), (1 + np.sqrt(5.0)) / 2, (np.sqrt(5.0) - 1) / 2)


def numbers_of(activation_obj, layer=None, source: str | None = None) -> tuple[float, ...]:
    """Where breakpoints of a piecewise definition or NaN traps are likely: every number
    literal in the activation's source and its module, the module's numeric constants
    (K = math.log(3.0)), a layer's numeric attributes, the reciprocals of all of these (poles
    of 1/(1 + p*x)), and a few common irrational constants. Signs are added by the caller."""
    source = source if source is not None else source_of(activation_obj)
    found = list(number_literals(source)) + list(number_literals(module_source_of(activation_obj)))
    found += _numeric_values(getattr(_module_of(activation_obj), "__dict__", {}))
    if layer is not None:
        found += _numeric_values(getattr(layer, "__dict__", {}))
    found += [1.0 / v for v in found if v != 0 and np.isfinite(1.0 / v)]
    found += list(COMMON_CONSTANTS)
    return tuple(dict.fromkeys(float(v) for v in found))[:MAX_NUMBERS]


def _numeric_values(namespace: dict) -> list[float]:
    vals = []
    for v in list(namespace.values())[:MAX_ATTRIBUTES]:
        if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool):
            f = float(v)
            if np.isfinite(f):
                vals.append(f)
    return vals


def number_literals(source: str | None, limit: int = MAX_LITERALS) -> tuple[float, ...]:
    """Finite float/int literals in ``source`` (breakpoints of piecewise definitions)."""
    if not source:
        return ()
    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(inspect.cleandoc(source)).readline):
            if tok.type == tokenize.NUMBER and not tok.string.endswith(("j", "J")):
                try:
                    v = float(tok.string.replace("_", ""))
                except ValueError:
                    continue
                if np.isfinite(v) and v not in found:
                    found.append(v)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return tuple(found[:limit])
