"""The numerical core: check one activation, return its verdict. No I/O, no click or rich.

    check_activation(activation, settings) -> (ActivationResult, Curves | None)

pipeline.py runs the checks in order; checks.py, graph.py and stability.py hold one
function per check; fd.py (finite differences), sampling.py, layout.py, tolerances.py and
arrays.py are pure NumPy; subject.py is the one place that calls the user's activation.
Importing this package is cheap: TensorFlow is imported with pipeline.py, on first use.
"""

from __future__ import annotations

from .context import Curves


def check_activation(activation, settings, *, want_curves: bool = False):
    """Run every check on ``activation`` (a discover.Activation): (ActivationResult, Curves | None)."""
    from .pipeline import check_activation as run

    return run(activation, settings, want_curves=want_curves)


__all__ = ["check_activation", "Curves"]
