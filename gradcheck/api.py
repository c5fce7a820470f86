"""In-process Python API: ``gradcheck.check(fn_or_layer)`` and ``assert_gradient(...)``.

Runs in the caller's process (no worker isolation): meant for a user's own pytest suite,
where the activation is already imported.
"""

from __future__ import annotations

import contextlib
import inspect
import shutil
import tempfile

from .discover import Activation, classify, innermost
from .marker import options_of
from .results import ERROR, FAIL, WARN, ActivationResult, activation_id
from .settings import Settings, resolve_settings


def _as_activation(obj, name: str | None) -> Activation:
    kind = classify(obj)
    if kind is None:
        raise TypeError(f"{obj!r} is not an activation: expected a function of one tensor, a "
                        "tf.custom_gradient function or a keras Layer (class buildable with no arguments, or instance)")
    name = name or getattr(obj, "__name__", None) or type(obj).__name__
    inner = innermost(obj)  # through tf.function / custom_gradient wrappers
    try:
        file = inspect.getsourcefile(inner if inspect.isfunction(inner) or inspect.isclass(inner) else type(inner))
    except TypeError:
        file = None
    file = file or "<python>"
    return Activation(name=name, kind=kind, obj=obj, file=file, options=options_of(obj), id=activation_id(file, name))


def check(activation, *, name: str | None = None, **options) -> ActivationResult:
    """Check ``activation`` with gradcheck's defaults, overridden by ``options`` (samples, range,
    seed, rtol, atol, kinks, stability, ...) and by its own ``@gradcheck.options`` marker.

    The global random generators are seeded from the seed as in a CLI run (a layer built
    here gets the same weights), and the caller's generator states are put back after."""
    from .seeding import kept_seeds
    from .verify import check_activation

    act = _as_activation(activation, name)
    settings = resolve_settings(Settings().merged(options), None, act)
    if settings.skip:
        return ActivationResult.skipped(act.file, act.name, act.kind, settings.skip)
    with kept_seeds(), _private_tempdir():
        result, _ = check_activation(act, settings)
    return result


@contextlib.contextmanager
def _private_tempdir():
    """A temp dir of the check's own, removed after it: TensorFlow's AutoGraph writes an
    ``__autograph_generated_file*.py`` for each function it converts (the graph and xla checks
    trace the activation) and never removes it, so a test suite calling ``check`` left
    thousands in the caller's temp dir. A CLI run gives its workers such a dir (runner.py)."""
    saved = tempfile.tempdir
    path = tempfile.mkdtemp(prefix="gradcheck-")
    tempfile.tempdir = path  # what tempfile (and so AutoGraph) reads on each new file
    try:
        yield
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(path, ignore_errors=True)


def activations_of(module) -> list:
    """The activations ``module`` (an imported module) defines, as ``pytest.param(obj,
    id=name)`` when pytest is installed (plain objects otherwise), in definition order."""
    from .discover import survey

    file = getattr(module, "__file__", None) or module.__name__
    found = [(a.name, a.obj) for a in survey(module, file).activations]
    try:
        import pytest
    except ImportError:
        return [obj for _, obj in found]
    return [pytest.param(obj, id=name) for name, obj in found]


def assert_gradient(activation, *, allow_warnings: bool = True, **options) -> ActivationResult:
    """Raise ``AssertionError`` with gradcheck's verdict unless ``activation`` passes.

    Warnings (e.g. float32 overflow far outside the range) pass unless ``allow_warnings=False``.
    Returns the result so a test can inspect it further.
    """
    __tracebackhide__ = True  # pytest shows the user's test, not gradcheck's frames
    result = check(activation, **options)
    bad = (FAIL, ERROR) if allow_warnings else (FAIL, ERROR, WARN)
    if result.status in bad:
        lines = [f"{result.name}: {result.status.upper()}: {result.message}"]
        lines += [f"  {c.name:<20} {c.status:<5} {c.message}" for c in result.checks]
        raise AssertionError("\n".join(lines))
    return result
