"""One set of rules for option values, wherever they come from.

``[tool.gradcheck]`` and its per-activation overrides (:mod:`gradcheck.config`),
:class:`~gradcheck.settings.Settings` (so the ``@gradcheck.options`` marker and
``gradcheck.check(..., **options)`` too) all validate through :func:`validate_option`; the
command line's click types call the same predicates. Constants, ``math`` and ``numbers``
only: the command line imports this before ``--help``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .defaults import FORMATS, OPTION_NAMES, ORDERS

# Smallest value of each integer option.
INT_MINIMUM = {"samples": 1, "jobs": 1, "seed": 0}
# Largest values that still make sense, so that absurd ones are usage errors, not crashes:
# a hundred million points (a million takes a second), a timeout of 115 days (later ones
# overflow the clock), sample points finite in float32 (|x| < 3.4e38).
MAXIMUM = {"samples": 10**8, "timeout": 1e7, "range": 1e38}
POSITIVE = ("timeout", "rtol", "atol")
# Workers per run: a number, or "auto" (what the machine's cores and memory allow).
AUTO = "auto"
# None means "not set" for these: tolerances chosen per dtype, no reason to skip.
UNSET_OK = ("rtol", "atol", "skip")


def is_number(value: Any) -> bool:
    """A finite real number (``True``/``False`` are not numbers here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def is_positive(value: Any) -> bool:
    """A finite real number > 0."""
    return is_number(value) and value > 0


def unknown_names(names, allowed=OPTION_NAMES) -> list[str]:
    """The names in ``names`` that are not in ``allowed``, sorted."""
    return sorted(set(names) - set(allowed))


def _items(value: Any) -> list | None:
    """The items of a list, a tuple or a 1-D array; None for anything else (strings, tables)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if hasattr(value, "__array__") and getattr(value, "ndim", None) == 1:
        return list(value)
    return None


def _expected(name: str, value: Any) -> tuple[str | None, Any]:
    """(what ``value`` should have been, or None if it is fine; the normalised value)."""
    if name == "jobs" and value == AUTO:
        return None, value
    if name in INT_MINIMUM:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= INT_MINIMUM[name]
        if name in MAXIMUM:
            ok = ok and value <= MAXIMUM[name]
            expected = f"an integer from {INT_MINIMUM[name]} to {MAXIMUM[name]}"
        else:
            expected = f"an integer >= {INT_MINIMUM[name]}" + (" or 'auto'" if name == "jobs" else "")
        return (None, int(value)) if ok else (expected, value)
    if name in POSITIVE:
        if name in MAXIMUM:
            ok = is_positive(value) and value <= MAXIMUM[name]
            return (None, float(value)) if ok else (f"a number > 0 and <= {MAXIMUM[name]:g}", value)
        return (None, float(value)) if is_positive(value) else ("a number > 0", value)
    if name == "range":
        pair = _items(value)
        if pair is None or len(pair) != 2 or not all(map(is_number, pair)):
            return "a list [LO, HI] of two numbers", value
        if not pair[0] < pair[1]:
            return "a list [LO, HI] with LO < HI", value
        if max(abs(pair[0]), abs(pair[1])) > MAXIMUM["range"]:
            return f"a list [LO, HI] within +-{MAXIMUM['range']:g} (finite in float32)", value
        return None, (float(pair[0]), float(pair[1]))
    if name == "kinks":
        points = _items(value)
        if points is None or not all(map(is_number, points)):
            return "a list of numbers", value
        return None, [float(x) for x in points]
    if name == "skip":
        return (None, value) if isinstance(value, str) else ("a reason (a string)", value)
    if name == "order":
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value in ORDERS
        return (None, int(value)) if ok else (" or ".join(map(str, ORDERS)), value)
    if name == "stability":
        return (None, value) if isinstance(value, bool) else ("true or false", value)
    if name in ("exclude", "files"):
        globs = [value] if isinstance(value, str) else value
        if not (isinstance(globs, list) and all(isinstance(g, str) for g in globs)):
            return "a glob or a list of globs", value
        return None, tuple(globs)
    if name == "format":
        return (None, value) if value in FORMATS else (f"one of {', '.join(FORMATS)}", value)
    if name == "plot":
        return (None, value) if isinstance(value, str) and value else ("a folder path", value)
    raise ValueError(f"unknown option '{name}'")


def validate_option(name: str, value: Any) -> Any:
    """``value`` checked and normalised for the option ``name``.

    Integers stay ``int``, ``timeout``/``rtol``/``atol`` become ``float``, ``range`` a
    ``(lo, hi)`` tuple of floats, ``kinks`` a list of floats, ``order`` 1 or 2, ``exclude`` and ``files`` a tuple
    of globs.
    ``None`` is accepted for ``rtol``, ``atol`` and ``skip`` (not set). Raises ``ValueError``
    reading ``'name' must be <what>, got <value>``.
    """
    if value is None and name in UNSET_OK:
        return None
    expected, normalised = _expected(name, value)
    if expected is not None:
        raise ValueError(f"'{name}' must be {expected}, got {value!r}")
    return normalised
