"""A user's own pytest test of their activations, one test per activation (README, "Python API
and pytest"). Run it with ``pytest examples/test_activations_example.py``: it fails on purpose
for the buggy samples."""

import importlib.util
from pathlib import Path

import pytest

import gradcheck


def _module(name):  # in a real project: `import my_project.activations as acts`
    path = Path(__file__).resolve().parents[1] / "sample_activations" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"sample_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


good, bad = _module("good"), _module("bad")


@pytest.mark.parametrize("activation", gradcheck.activations_of(good))
def test_good_activations(activation):
    gradcheck.assert_gradient(activation, samples=256)


@pytest.mark.parametrize("activation", gradcheck.activations_of(bad))
def test_bad_activations(activation):
    gradcheck.assert_gradient(activation, samples=256)
