"""The knobs of a check, in one frozen dataclass, and the one place that resolves them.

Command-line flags, ``[tool.gradcheck]`` in pyproject.toml, per-activation overrides and
the ``@gradcheck.options`` marker all end up as a :class:`Settings` (values checked by
:func:`gradcheck.validation.validate_option`); :func:`resolve_settings` layers them for one
activation. Importing this module is cheap (no TensorFlow, no NumPy).
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .defaults import DEFAULT_ORDER, DEFAULT_RANGE, DEFAULT_SAMPLES, DEFAULT_SEED, DEFAULT_TIMEOUT, OPTION_NAMES
from .validation import unknown_names, validate_option


@dataclass(frozen=True)
class Settings:
    """How one activation is checked. Every value is validated (and normalised) on construction."""

    samples: int = DEFAULT_SAMPLES
    range: tuple[float, float] = DEFAULT_RANGE
    seed: int = DEFAULT_SEED
    timeout: float = DEFAULT_TIMEOUT
    # None: chosen per dtype (see docs/method.md).
    rtol: float | None = None
    atol: float | None = None
    # Inputs where the user declares a kink; always sampled, subgradients accepted there.
    kinks: tuple[float, ...] = ()
    # A reason to skip this activation (from the marker or a per-activation override).
    skip: str | None = None
    # Also sweep float32/float16/bfloat16 far outside the range for overflow and NaN.
    stability: bool = True
    # 1: first derivatives; 2: also second derivatives (the second_order check).
    order: int = DEFAULT_ORDER

    def __post_init__(self):
        for f in fields(self):
            value = validate_option(f.name, getattr(self, f.name))
            if f.name == "kinks":
                value = tuple(value)  # frozen: a tuple, so Settings stays hashable
            object.__setattr__(self, f.name, value)

    def merged(self, overrides: dict[str, Any] | None) -> Settings:
        """These settings with ``overrides`` applied (unknown keys and bad values raise ``ValueError``)."""
        if not overrides:
            return self
        unknown = unknown_names(overrides)
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(unknown)}; known: {', '.join(sorted(OPTION_NAMES))}")
        return replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["range"] = list(self.range)
        d["kinks"] = list(self.kinks)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Settings:
        return cls().merged(d)


def resolve_settings(base: Settings, overrides: dict[str, dict[str, Any]] | None, activation) -> Settings:
    """The settings ``activation`` (a :class:`~gradcheck.discover.Activation`) is checked with.

    Lowest to highest precedence: ``base`` (built-in defaults, ``[tool.gradcheck]``, flags),
    each ``[tool.gradcheck.overrides."<glob>"]`` whose glob matches the activation's id or
    name (in table order), then the activation's ``@gradcheck.options``. Raises
    ``ValueError`` (or ``TypeError``) for an unknown option or a bad value.
    """
    settings = base
    for glob, opts in (overrides or {}).items():
        if fnmatch.fnmatch(activation.id, glob) or fnmatch.fnmatch(activation.name, glob):
            settings = settings.merged(opts)
    return settings.merged(activation.options)


if OPTION_NAMES != tuple(f.name for f in fields(Settings)):  # defaults.py lists them for cheap imports
    raise ImportError("gradcheck.defaults.OPTION_NAMES is out of date with Settings")
