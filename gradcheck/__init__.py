"""gradcheck: verify the gradients of custom TensorFlow/Keras activations.

Importing the package is cheap: TensorFlow is only imported when a check runs.
"""

from __future__ import annotations

from .marker import options, skip

# The installed metadata's version is built from this line (pyproject: dynamic version), so
# `--version` needs no importlib.metadata (20 ms of imports at every start-up).
__version__ = "0.1.0"

__all__ = ["__version__", "options", "skip", "check", "assert_gradient", "activations_of"]


def check(activation, **options):
    """Check one activation in this process and return its :class:`~gradcheck.results.ActivationResult`."""
    from .api import check as _check

    return _check(activation, **options)


def assert_gradient(activation, **options):
    """Raise ``AssertionError`` with gradcheck's message unless ``activation`` passes (warnings allowed)."""
    __tracebackhide__ = True  # pytest shows the user's test, not gradcheck's frames
    from .api import assert_gradient as _assert

    return _assert(activation, **options)


def activations_of(module):
    """The activations ``module`` defines (discovery's rules), for
    ``@pytest.mark.parametrize("activation", gradcheck.activations_of(my_acts))``: one test
    per activation, named after it."""
    from .api import activations_of as _of

    return _of(module)
