"""What the checks of one activation share: the CheckContext the pipeline fills in as it
goes (pipeline.py), and the Curves a plot is drawn from. No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..discover import Kind
from ..results import CheckResult
from ..settings import Settings


@dataclass(frozen=True)
class WeightCurve:
    """A weight whose gradient failed, for a plot: the weighted output sum(u * f(x; w0 + t v))
    as the weight moves by t along one direction v, and the two slopes at t = 0."""

    name: str
    along: str  # the direction: "element [2]", "direction +1 (a scalar)", "a random unit direction"
    t: np.ndarray
    phi: np.ndarray
    tape: float | None  # the slope the gradient gives (None: no gradient)
    fd: float  # the slope finite differences give
    directions: int  # how many directions the weights check probed
    wrong: int  # along how many of them the gradient was wrong
    unusable: str | None = None  # why the gradient gives no slope: "None", "shape (), not (8,)"


@dataclass(frozen=True)
class Curves:
    """What a plot needs: inputs sorted, function, gradients and where they failed."""

    x: np.ndarray
    y: np.ndarray
    grad: np.ndarray | None  # the gradient training uses
    autodiff: np.ndarray | None  # autodiff of the forward (custom-gradient functions)
    fd: np.ndarray | None  # finite differences (Richardson)
    failing: np.ndarray | None  # bool mask of points where gradient_vs_fd judged the gradient wrong
    kinks: tuple[float, ...] = ()
    # bool mask of points where custom_vs_autodiff judged the hand-written gradient wrong
    autodiff_failing: np.ndarray | None = None
    weights: tuple[WeightCurve, ...] = ()  # the weights whose gradient failed
    # bool mask of points where the gradient was accepted without the standard-step estimate
    # ``fd`` (a subgradient at a kink, where it averages the two slopes, or a finer step's
    # estimate): its difference from the gradient there is no error
    fd_not_used: np.ndarray | None = None
    note: str | None = None  # why the function is not drawn (an output of another shape)


@dataclass
class CurveData:
    """Curves as the checks produce them, unsorted; ``fd`` may be a function computing them
    (only plots need the finite-difference curve at every point)."""

    x: np.ndarray | None = None
    y: np.ndarray | None = None
    grad: np.ndarray | None = None
    autodiff: np.ndarray | None = None
    fd: np.ndarray | Callable[[], np.ndarray] | None = None
    failing: np.ndarray | None = None
    kinks: tuple[float, ...] = ()
    autodiff_failing: np.ndarray | None = None
    fd_not_used: np.ndarray | None = None
    # the weights' curves, or a function computing them (only plots need them)
    weights: tuple[WeightCurve, ...] | Callable[[], tuple[WeightCurve, ...]] = ()
    note: str | None = None

    def sorted(self) -> Curves | None:
        if self.x is None:
            return None
        order = np.argsort(self.x)

        def pick(v):
            v = v() if callable(v) else v
            return None if v is None or np.size(v) != self.x.size else np.asarray(v)[order]

        weights = self.weights() if callable(self.weights) else self.weights
        return Curves(x=self.x[order], y=pick(self.y), grad=pick(self.grad), autodiff=pick(self.autodiff),
                      fd=pick(self.fd), failing=pick(self.failing), kinks=tuple(self.kinks),
                      autodiff_failing=pick(self.autodiff_failing), weights=tuple(weights),
                      fd_not_used=pick(self.fd_not_used), note=self.note)


@dataclass
class MainPass:
    """The one batched forward and backward pass every check starts from."""

    X: np.ndarray  # (rows, WIDTH) sample points, padded by repeating the last one
    n: int  # how many of them are real points
    U: np.ndarray  # the random upstream gradient, X's shape
    ev: Any  # subject.Evaluation: output, gradient, weight gradients


@dataclass
class Pointwise:
    """An elementwise activation at every sample point and at the kinks and jumps located
    between them: inputs, outputs, upstream, VJP and gradient (VJP / upstream), and the
    gradient compared with finite differences."""

    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    g: np.ndarray
    fd: Any  # stencil.FDData
    cmp: Any  # fd.FDComparison after the second look (stencil.refine_fd)


@dataclass
class CheckContext:
    """Everything the checks of one activation share, filled in by the pipeline's steps in
    order: the subject and its dtype's tolerances, the structure found by probing, the main
    pass, the pointwise finite differences, the results so far and the curves."""

    activation: Any  # discover.Activation
    settings: Settings
    rng: np.random.Generator
    mode: bool | None = None  # the training argument a layer is called with (subject.training_modes)
    first: Any = None  # the first mode's CheckContext, in a layer's second mode
    same_as_first: bool = False  # this mode's main pass equals the first's bit for bit
    subject: Any = None  # subject.Subject, once chosen
    note: str | None = None  # why float32 (or float32 tolerances), for the forward check
    tol: Any = None  # tolerances.Tolerance of the subject's arithmetic
    elementwise: bool | None = None  # probed, then confirmed on the real batch
    rows_independent: bool = True
    mixing: Any = None  # structure.RowMixing: the evidence that rows mix, when they do
    source: str | None = None  # the activation's source text (literals, fix hints)
    main: MainPass | None = None
    points: Pointwise | None = None  # elementwise activations only
    # a few rows of the main pass's batch evaluated again on their own (pipeline._shared_rows)
    shared: MainPass | None = None
    results: list[CheckResult] = field(default_factory=list)
    curves: CurveData = field(default_factory=CurveData)

    @property
    def dtype(self) -> str | None:
        return None if self.subject is None else self.subject.dtype

    @property
    def custom(self) -> bool:
        """A hand-written gradient to compare with autodiff of the forward."""
        return self.subject.kind == Kind.CUSTOM_GRADIENT and self.subject.custom is not None

    @property
    def lo_hi(self) -> tuple[float, float]:
        return self.settings.range

    def result(self, name: str) -> CheckResult | None:
        return next((r for r in self.results if r.name == name), None)

    def replace_result(self, name: str, new: CheckResult) -> None:
        """Put ``new`` where the check ``name``'s result stands (a later step knows better)."""
        i = next(i for i, r in enumerate(self.results) if r.name == name)
        self.results[i] = new
