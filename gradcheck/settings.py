"""The knobs of a check, in one frozen dataclass.

Command-line flags, ``[tool.gradcheck]`` in pyproject.toml, per-activation overrides and
the ``@gradcheck.options`` marker all end up as a :class:`Settings`. Importing this module
is cheap (no TensorFlow).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .defaults import DEFAULT_RANGE, DEFAULT_SAMPLES, DEFAULT_SEED, DEFAULT_TIMEOUT, OPTION_NAMES


@dataclass(frozen=True)
class Settings:
    """How one activation is checked."""

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

    def __post_init__(self):
        lo, hi = self.range
        if not (lo < hi):
            raise ValueError(f"range must satisfy LO < HI, got {self.range}")
        if self.samples < 1:
            raise ValueError(f"samples must be at least 1, got {self.samples}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")

    def merged(self, overrides: dict[str, Any] | None) -> Settings:
        """These settings with ``overrides`` applied (unknown keys raise ``ValueError``)."""
        if not overrides:
            return self
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        clean = dict(overrides)
        if "range" in clean:
            clean["range"] = tuple(float(v) for v in clean["range"])
        if "kinks" in clean:
            clean["kinks"] = tuple(float(v) for v in clean["kinks"])
        return replace(self, **clean)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["range"] = list(self.range)
        d["kinks"] = list(self.kinks)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Settings:
        return cls().merged(d)


if OPTION_NAMES != tuple(f.name for f in fields(Settings)):  # defaults.py lists them for cheap imports
    raise ImportError("gradcheck.defaults.OPTION_NAMES is out of date with Settings")
