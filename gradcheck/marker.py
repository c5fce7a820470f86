"""``@gradcheck.options(...)``: per-activation settings written next to the activation.

The decorator only stores a dict on the object and returns the object itself, so it
changes nothing about how the activation runs in training, and importing it costs no
TensorFlow import.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from .validation import unknown_names

T = TypeVar("T")
ATTRIBUTE = "__gradcheck_options__"


def options(**opts: Any) -> Callable[[T], T]:
    """Attach gradcheck settings to an activation (function, custom-gradient function or Layer class).

    Accepted keys: ``range=(lo, hi)``, ``samples``, ``seed``, ``timeout``, ``rtol``,
    ``atol``, ``kinks=[...]`` (inputs where a kink is expected), ``skip="reason"``,
    ``stability=False``, ``order=2`` (also check second derivatives). An unknown key raises
    ``TypeError`` here; values are validated (:func:`gradcheck.validation.validate_option`)
    when the activation is checked, so a bad value makes that one activation an error instead
    of failing its module's import.
    """
    unknown = unknown_names(opts)
    if unknown:
        raise TypeError(f"gradcheck.options() got unknown option(s): {', '.join(unknown)}")

    def mark(obj: T) -> T:
        merged = {**getattr(obj, ATTRIBUTE, {}), **opts}
        try:
            setattr(obj, ATTRIBUTE, merged)
        except (AttributeError, TypeError):
            # Some callables (e.g. tf.function objects) refuse new attributes: reach the
            # function they wrap.
            inner = getattr(obj, "python_function", None) or getattr(obj, "__wrapped__", None)
            if inner is None:
                raise
            setattr(inner, ATTRIBUTE, merged)
        return obj

    return mark


def skip(reason: str) -> Callable[[T], T]:
    """Shorthand for ``options(skip=reason)``."""
    return options(skip=reason)


def options_of(obj: Any) -> dict[str, Any]:
    """The options attached to ``obj`` (looking through tf.function / custom_gradient wrappers)."""
    seen = set()
    while obj is not None and id(obj) not in seen:
        seen.add(id(obj))
        found = getattr(obj, ATTRIBUTE, None)
        if isinstance(found, dict):
            return dict(found)
        obj = getattr(obj, "python_function", None) or getattr(obj, "__wrapped__", None)
    return {}
