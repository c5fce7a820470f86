"""Option values: one validator for every source, and one precedence for one activation
(no TensorFlow here)."""

from __future__ import annotations

import pytest

from gradcheck.discover import Activation, Kind
from gradcheck.settings import Settings, resolve_settings
from gradcheck.validation import validate_option


@pytest.mark.parametrize("name, value, normalised", [
    ("samples", 16, 16),
    ("seed", 0, 0),
    ("timeout", 5, 5.0),
    ("rtol", 1e-3, 1e-3),
    ("atol", None, None),
    ("range", [-2, 3], (-2.0, 3.0)),
    ("range", (0.5, 3), (0.5, 3.0)),
    ("kinks", (0,), [0.0]),
    ("skip", "slow", "slow"),
    ("stability", False, False),
    ("exclude", "legacy_*", ("legacy_*",)),
    ("format", "junit", "junit"),
])
def test_valid_values_are_normalised(name, value, normalised):
    assert validate_option(name, value) == normalised
    assert type(validate_option(name, value)) is type(normalised)


@pytest.mark.parametrize("name, value, expected", [
    ("samples", 0, "an integer from 1 to 100000000"),
    ("samples", True, "an integer from 1 to 100000000"),
    ("samples", 2.5, "an integer from 1 to 100000000"),
    ("samples", 10**22, "an integer from 1 to 100000000"),
    ("seed", -1, "an integer >= 0"),
    ("timeout", 0, "a number > 0 and <= 1e+07"),
    ("timeout", 1e10, "a number > 0 and <= 1e+07"),
    ("rtol", float("nan"), "a number > 0"),
    ("atol", float("inf"), "a number > 0"),
    ("range", [3, 1], "a list [LO, HI] with LO < HI"),
    ("range", [0, 1, 2], "a list [LO, HI] of two numbers"),
    ("range", "01", "a list [LO, HI] of two numbers"),
    ("kinks", "zero", "a list of numbers"),
    ("skip", 3, "a reason (a string)"),
    ("stability", "no", "true or false"),
    ("format", "xml", "one of text, json, junit, github"),
    ("range", [-1e308, 1e308], "a list [LO, HI] within +-1e+38 (finite in float32)"),
    ("plot", "", "a folder path"),
])
def test_invalid_values_say_what_was_expected(name, value, expected):
    with pytest.raises(ValueError) as info:
        validate_option(name, value)
    assert str(info.value) == f"'{name}' must be {expected}, got {value!r}"


def test_settings_validate_every_field():
    with pytest.raises(ValueError, match="'samples' must be an integer from 1 to 100000000, got 0"):
        Settings(samples=0)
    with pytest.raises(ValueError, match="'seed'"):
        Settings().merged({"seed": -3})
    with pytest.raises(ValueError, match="unknown option"):
        Settings().merged({"width": 3})
    s = Settings(range=[0, 4], kinks=[0], timeout=3)
    assert (s.range, s.kinks, s.timeout) == ((0.0, 4.0), (0.0,), 3.0)
    assert Settings.from_dict(s.to_dict()) == s


def _activation(name="relu", file="acts.py", **options):
    return Activation(name, Kind.FUNCTION, abs, file, options, f"{file}::{name}")


def test_precedence_base_then_matching_overrides_then_marker():
    base = Settings(samples=100, seed=1)
    overrides = {
        "*::relu": {"samples": 50, "range": (-1, 1)},  # matches the id
        "relu": {"samples": 40},  # matches the name; later in the table, so it wins
        "*::gelu": {"samples": 7},  # does not match
    }
    s = resolve_settings(base, overrides, _activation(samples=30))
    assert (s.samples, s.seed, s.range) == (30, 1, (-1.0, 1.0))
    assert resolve_settings(base, overrides, _activation()).samples == 40
    assert resolve_settings(base, None, _activation("gelu")) == base


def test_a_bad_marker_value_is_reported_when_resolving():
    with pytest.raises(ValueError, match="'timeout' must be a number > 0 and <= 1e\\+07"):
        resolve_settings(Settings(), {}, _activation(timeout=-1))
