"""The xla check (docs/method.md s.3): forward and gradient compiled with XLA, as Keras 3
compiles the train step by default on a GPU or TPU (``model.compile(jit_compile="auto")``).

Compiling costs 50-200 ms of LLVM per activation, 1.5-6x a whole default check, so it is
paid only where it can tell something:

* The graph check's trace of the forward+gradient is read first. When it is made only of
  ``FAITHFUL_OPS`` (elementwise math and its gradients, reductions, shapes), each with an
  XLA kernel for its dtypes, and every integer in it (axes, shapes) is known when compiling,
  XLA compiles it and computes what eager mode computes, up to rounding: ``pass`` without
  compiling. ``tests/test_xla.py`` checks op by op that XLA gives the same values as eager
  mode for these ops, on special inputs too (0, +-1e-30, inf, NaN, a zero upstream).
* Anything else is traced again under ``jit_compile=True`` (XLA's context changes the trace:
  AutoGraph bounds ``tf.range`` loops for XLA), compiled and run on a subset of rows, and
  compared with eager mode. This is where XLA rejects what it cannot compile (no XLA
  kernel: ``tf.py_function``, ``tf.numpy_function``, ``tf.print``, string ops, Bessel /
  Dawson / Fresnel functions; a gradient through a ``while`` loop with no maximum number of
  iterations), and where its kernels differ: XLA's Sqrt, Rsqrt and Reciprocal gradients are
  NaN for a zero upstream where eager mode returns 0 (a ``tf.where`` guarding ``tf.sqrt``
  trains in eager mode and turns the weights to NaN under XLA), and XLA rewrites ``a / b /
  c`` as ``a / (b * c)``, which under- or overflows sooner.

No I/O; the user's exceptions become results.
"""

from __future__ import annotations

import os
import re

import numpy as np
import tensorflow as tf

from ..results import FAIL, PASS, SKIP, CheckResult
from ..tracebacks import GRADCHECK_DIR
from .graph import disagreeing, first_disagreement, with_float32_fallback
from .layout import WIDTH
from .messages import fmt, input_at
from .subject import Subject, UserCodeError, describe_exception, to_tensor
from .tolerances import Tolerance

XLA_HINT = ("Keras 3 compiles the train step with XLA by default on a GPU or TPU (model.compile(jit_compile=\"auto\")), "
            "so model.fit would fail there: use ops XLA supports, or opt out with model.compile(jit_compile=False)")
NAN_HINT = ("XLA's gradients of sqrt, rsqrt and 1/x are NaN where eager mode's are 0 (a zero upstream, as in the "
            "unselected branch of a tf.where): guard the op's input, e.g. tf.sqrt(tf.where(x > 0, x, 1.0)); "
            "model.compile(jit_compile=False) opts out of XLA")
NO_OPT_OUT = "; its tf.function(jit_compile=False) does not keep it out of an XLA-compiled train step"

# TensorFlow ops that XLA compiles to the values eager mode computes, up to rounding, also
# for 0, +-1e-6 ... +-1e4, inf, NaN and a zero upstream (tests/test_xla.py), as long as their
# integer inputs (axes, shapes) are known when compiling. Not: control flow (XLA's context
# changes its trace), gathers, Slice (its gradient differs under XLA), SqrtGrad, RsqrtGrad
# and ReciprocalGrad (NaN under XLA for a zero upstream, 0 in eager mode), Softmax (NaN under
# XLA for a row holding -inf), Digamma (its gradient at inf). XLA rewrites a / b / c as a / (b * c): it differs only where b * c
# under- or overflows (|b| beyond 1e+-19 in float32), far outside the range.
FAITHFUL_OPS = frozenset("""
    Placeholder Identity IdentityN Const NoOp StopGradient PreventGradient ReadVariableOp PartitionedCall
    StatefulPartitionedCall Mul AddV2 Add Sub AddN Neg RealDiv Div DivNoNan Reciprocal Square SquaredDifference Abs
    Sign Maximum Minimum Pow Exp Expm1 Log Log1p Sigmoid Tanh Softplus Softsign Relu Relu6 Elu Selu LeakyRelu Erf Erfc
    Sqrt Rsqrt Sin Cos Tan Atan Atan2 Sinh Cosh Asinh Atanh Floor Ceil Round Rint FloorMod FloorDiv IsFinite IsNan
    IsInf Lgamma Xlogy Xdivy Xlog1py TanhGrad SigmoidGrad ReluGrad Relu6Grad EluGrad SeluGrad SoftplusGrad
    SoftsignGrad LeakyReluGrad Greater GreaterEqual Less LessEqual Equal NotEqual LogicalAnd LogicalOr LogicalNot
    Select SelectV2 ZerosLike OnesLike Fill Cast Shape ShapeN Size Rank Reshape ExpandDims Squeeze BroadcastTo
    BroadcastGradientArgs Range Pack Unpack StridedSlice StridedSliceGrad ConcatV2 Tile Transpose Sum Mean Max Min
    Prod All Any LogSoftmax Cumsum Cumprod MatMul BatchMatMulV2 BiasAdd BiasAddGrad ClipByValue
""".split())
# Integers made by these (or from them alone) are known when compiling.
STATIC_SOURCES = frozenset({"Const", "Shape", "ShapeN", "Size", "Rank"})
# Handled by XLA's bridge itself, not by a kernel of the registry.
NO_KERNEL_NEEDED = frozenset({"Placeholder", "NoOp", "PartitionedCall", "StatefulPartitionedCall"})
XLA_DEVICE = "XLA_CPU_JIT"
# Where XLA and eager mode disagree, eager mode is also evaluated this far on either side
# (relative to max(1, |x|)): at a kink or a jump, fused arithmetic rounds a point to the
# other side (0.2 * -2.5 + 0.5 is 0 in eager mode, -2.8e-17 with a fused multiply-add), and
# any value between the two sides is right.
SIDE_STEP = {"float64": 2.0 ** -30, "float32": 2.0 ** -16}
# At most this many disagreeing points are looked at from both sides; more are not kinks.
MAX_SIDED = 256

# Python functions TensorFlow ops stand for, for the failure message.
OP_NAMES = {
    "EagerPyFunc": "tf.py_function",
    "PyFunc": "tf.numpy_function",
    "PyFuncStateless": "tf.numpy_function",
    "PrintV2": "tf.print",
    "AsString": "tf.strings.as_string",
    "StringToNumber": "tf.strings.to_number",
    "StringFormat": "tf.strings.format, as tf.print uses",
    "HistogramFixedWidth": "tf.histogram_fixed_width",
    "UniqueWithCounts": "tf.unique_with_counts",
    "SegmentSum": "tf.math.segment_sum",
    **{op: f"tf.math.special.{op.lower()}" for op in ("Dawsn", "Expint", "Spence", "BesselJ0", "BesselJ1", "BesselY0",
                                                      "BesselY1", "BesselK0", "BesselK1", "BesselK0e", "BesselK1e")},
    "FresnelCos": "tf.math.special.fresnel_cos",
    "FresnelSin": "tf.math.special.fresnel_sin",
}
# XLA's messages that have a known cause in Python code: (part of the message, what to add).
CAUSES = (
    ("fixed tensor list size", "a while loop without maximum_iterations (a Python while on tensor values?) keeps "
                               "each iteration's values for the gradient"),
)
LOOP_HINT = ("bound the loop where XLA can see it: tf.while_loop(..., maximum_iterations=N), or a for loop over "
             "tf.range(N) or range(N); or opt out with model.compile(jit_compile=False)")
# Longest reason quoted from XLA's message.
MAX_REASON = 220


def check_xla(subject: Subject, X: np.ndarray, U: np.ndarray, y: np.ndarray, g: np.ndarray, tol: Tolerance,
              make_subject=None, run: bool | None = None) -> CheckResult:
    """Forward and gradient compiled with XLA against eager mode, same inputs and upstream.
    Passes without compiling when the traced forward+gradient holds only FAITHFUL_OPS with
    integers known at compile time (``run=True`` compiles anyway). Otherwise compiles
    (a failure is ``fail`` with XLA's reason in one line and a hint) and runs it. Tolerance:
    fd_rtol*((|a|+|b|)/2 + max|eager|), graph.py's rule: XLA fuses and reorders arithmetic
    (ulps of the intermediates) and approximates exp/tanh/erf to ~1 ulp; the differences
    this looks for (NaN gradients, a value from another formula) are far larger. A
    disagreement is excused where the XLA value lies between eager mode's values just left
    and right of the point (SIDE_STEP): a kink or jump rounded to its other side. Non-finite
    values must sit in the same places. A float64 subject that XLA cannot take (an op
    without a float64 XLA kernel) is checked in float32, the dtype training uses."""
    opt_out = _opts_out(subject)
    if opt_out is not None:
        return CheckResult("xla", SKIP, f"not run: {opt_out}", dtype=subject.dtype)
    if _jit_compile_of(subject) is True:
        return CheckResult("xla", PASS, "already a tf.function(jit_compile=True): eager calls run XLA's code",
                           dtype=subject.dtype)

    def compare(s, X, U, y, g, tol):
        return _xla_vs_eager(s, X, U, y, g, tol, run)

    try:
        return with_float32_fallback(compare, subject, X, U, y, g, tol, make_subject, _float64_failure)
    except NotTraced as exc:
        return CheckResult("xla", SKIP, f"not run: does not run under tf.function ({exc})", dtype=subject.dtype)
    except Exception as exc:
        reason = _reason(exc)
        hint = LOOP_HINT if CAUSES[0][1] in reason else XLA_HINT
        hint += NO_OPT_OUT if _jit_compile_of(subject) is False else ""
        return CheckResult("xla", FAIL, f"does not compile with XLA: {reason}", dtype=subject.dtype, hint=hint,
                           line=getattr(exc, "line", None))


class XlaError(Exception):
    """XLA rejected the graph; ``reason`` is one line, ``line`` the line of the activation's
    file where the op it names was made (None if XLA's message does not say)."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line


class NotTraced(Exception):
    """The forward+gradient did not trace under tf.function (the graph check reports it)."""


def _float64_failure(exc: Exception) -> str:
    return f"fails to trace: {exc}" if isinstance(exc, NotTraced) else f"does not compile: {_reason(exc)}"


def _reason(exc: Exception) -> str:
    if isinstance(exc, (XlaError, UserCodeError)):
        return exc.reason
    return describe_exception(exc)


def _xla_vs_eager(subject: Subject, X, U, y, g, tol: Tolerance, run: bool | None) -> CheckResult:
    dtype = subject.dtype
    if not run and _faithful(subject):
        return CheckResult("xla", PASS, "compiles with XLA to what eager mode computes: only elementwise math, "
                           "reductions and static shapes (not run)" + _note(subject), dtype=dtype)
    # traced anew under jit_compile=True: XLA's context changes the trace (AutoGraph gives
    # tf.range loops the maximum number of iterations XLA needs for their gradient)
    fn = subject.graph_function((None, WIDTH), jit_compile=True)
    try:
        getattr(fn, "function", fn).get_concrete_function()  # a layer's: the tf.function inside
    except Exception as exc:
        raise NotTraced(exc.reason if isinstance(exc, UserCodeError) else describe_exception(exc)) from exc
    xt, ut = to_tensor(X, subject.tf_dtype), to_tensor(U, subject.tf_dtype)
    try:
        yx, gx = fn(xt, ut)
    except tf.errors.OpError as exc:
        raise XlaError(xla_reason(str(exc)), op_line(str(exc), subject.activation.file)) from exc
    yx, gx = np.asarray(yx.numpy(), np.float64), np.asarray(gx.numpy(), np.float64)
    for what, a, b in (("output", y, yx), ("gradient", g, gx)):
        found = _unexcused(subject, X, U, what, a, b, tol)
        if found is None:
            continue
        kind, i, err = found
        at, x = input_at(X, a.shape, i)
        if kind == "finite":
            fa = bool(np.isfinite(a.ravel()[i]))
            return CheckResult("xla", FAIL, f"{what} compiled with XLA is {fmt(b.ravel()[i])} at {at} where "
                               f"eager mode gives {fmt(a.ravel()[i])}", worst_input=x, dtype=dtype,
                               hint=NAN_HINT if fa else XLA_HINT)
        return CheckResult("xla", FAIL, f"{what} compiled with XLA is {fmt(b.ravel()[i])} but eager gives "
                           f"{fmt(a.ravel()[i])} at {at}", max_abs_error=err,
                           worst_input=x, dtype=dtype, hint=XLA_HINT)
    return CheckResult("xla", PASS, "compiled with XLA, forward and gradient agree with eager mode" + _note(subject),
                       dtype=dtype)


def _unexcused(subject: Subject, X, U, what: str, a, b, tol: Tolerance):
    """first_disagreement of eager ``a`` and XLA ``b``, leaving out the points where ``b`` lies
    between eager mode's values at x -+ SIDE_STEP (a finite ``b``; a non-finite one only where
    eager mode is non-finite on a side too). More than MAX_SIDED points are not kinks."""
    mask = disagreeing(a, b, tol)[0].ravel()
    flat = np.flatnonzero(mask)
    # an output of another trailing shape has no entry per input to move sideways
    if flat.size == 0 or flat.size > MAX_SIDED or a.shape != X.shape:
        return first_disagreement(a, b, tol)
    left, right = _eager_sides(subject, X, U, flat, what)
    lo, hi, v = np.minimum(left, right), np.maximum(left, right), b.ravel()[flat]
    with np.errstate(all="ignore"):
        slack = tol.fd_rtol * (np.maximum(np.abs(lo), np.abs(hi)) + float(np.nanmax(np.abs(a[np.isfinite(a)]), initial=1.0)))
        between = np.where(np.isfinite(v), (v >= lo - slack) & (v <= hi + slack), ~np.isfinite(left) | ~np.isfinite(right))
    b = b.copy()
    b.ravel()[flat[between]] = a.ravel()[flat[between]]
    return first_disagreement(a, b, tol)


def _eager_sides(subject: Subject, X, U, flat: np.ndarray, what: str):
    """Eager output (or VJP) at the entries ``flat`` with those entries moved left and right
    by SIDE_STEP (their rows only)."""
    rows, cols = np.unravel_index(flat, X.shape)
    urows, local = np.unique(rows, return_inverse=True)
    step = SIDE_STEP.get(subject.dtype, SIDE_STEP["float32"]) * np.maximum(1.0, np.abs(X[rows, cols]))
    out = []
    for sign in (-1.0, 1.0):
        Xs = X[urows].copy()
        Xs[local, cols] += sign * step
        ev = subject.evaluate(Xs, U[urows])
        vals = ev.y if what == "output" else ev.g
        out.append(np.full(flat.size, np.nan) if vals is None else vals[local, cols])
    return out


def _faithful(subject: Subject) -> bool:
    """Whether the graph check's trace of the forward+gradient (traced here if it was not)
    holds only FAITHFUL_OPS with an XLA kernel for their dtypes and integers known when
    compiling."""
    try:
        fn = subject.graph_traced.get((None, WIDTH)) or subject.graph_function((None, WIDTH))
        graph = getattr(fn, "function", fn).get_concrete_function().graph
        return unfaithful_op(graph) is None
    except Exception:  # does not trace, or TensorFlow moved its internals: compile it
        return False


def unfaithful_op(graph) -> str | None:
    """The first op of ``graph`` (a FuncGraph, with the functions it calls) that XLA must be
    asked about: outside FAITHFUL_OPS, without an XLA kernel for its dtypes, or making
    integers from values (a shape or an axis XLA would need at compile time). None if none."""
    static: set[str] = set()
    for op in graph.get_operations():
        ints = [t for t in op.outputs if t.dtype.is_integer]
        from_static = op.type != "Placeholder" and bool(op.inputs) and all(t.name in static for t in op.inputs)
        # any op of integers known when compiling (a gather of a shape, a permutation) is
        # shape arithmetic XLA folds away
        if op.type not in FAITHFUL_OPS and not (from_static and len(ints) == len(op.outputs)):
            return op.type
        if op.type not in NO_KERNEL_NEEDED and not _has_xla_kernel(op):
            return op.type
        if ints:
            if not (op.type in STATIC_SOURCES or from_static):
                return op.type
            static.update(t.name for t in ints)
    for fn in graph._functions.values():  # bodies of nested tf.functions
        found = unfaithful_op(fn.graph)
        if found is not None:
            return found
    return None


def _has_xla_kernel(op) -> bool:
    """An XLA_CPU_JIT kernel of the registry accepts ``op``'s type attributes."""
    for constraints in _xla_kernels(op.type):
        try:
            values = [op.get_attr(name) for name, _ in constraints]
        except ValueError:  # an attribute this op does not have
            continue
        if all(all(getattr(v, "as_datatype_enum", None) in allowed for v in (value if isinstance(value, list) else
                                                                             [value]))
               for value, (_, allowed) in zip(values, constraints)):
            return True
    return False


_KERNELS: dict[str, tuple] = {}


def _xla_kernels(op_type: str) -> tuple:
    """The type constraints ((attr, allowed dtype enums), ...) of each XLA_CPU_JIT kernel of
    ``op_type``. TensorFlow registers XLA's kernels when XLA first compiles in a process:
    a tiny function is lowered before the first look-up, so every activation of a run is
    judged alike."""
    if op_type not in _KERNELS:
        from tensorflow.python.framework import kernels

        start_xla()
        _KERNELS[op_type] = tuple(
            tuple((c.name, frozenset(c.allowed_values.list.type)) for c in k.constraint)
            for k in kernels.get_registered_kernels_for_op(op_type).kernel if k.device_type == XLA_DEVICE)
    return _KERNELS[op_type]


_STARTED: list[bool] = []


def start_xla() -> None:
    """Lower one tiny function, once per process: XLA registers its kernels and starts its
    compiler (which reserves ~0.8 GB of address space, not memory; the worker does this before
    it caps a child's address space for --max-memory)."""
    if not _STARTED:
        x = tf.zeros([1], tf.float32)
        tf.function(lambda t: t + 1.0, jit_compile=True, autograph=False).experimental_get_compiler_ir(x)(stage="hlo")
        _STARTED.append(True)


def xla_reason(text: str) -> str:
    """XLA's multi-line error as one line: the ops without an XLA kernel (with the Python
    function they stand for), or the first line of its message without graph names and
    attributes, with the Python cause of a known message (CAUSES)."""
    ops = list(dict.fromkeys(re.findall(r"No registered '(\w+)' OpKernel for XLA_\w+ devices", text)))
    if ops:
        names = [f"{op} ({OP_NAMES[op]})" if op in OP_NAMES else op for op in ops]
        reason = f"no XLA kernel for {', '.join(names)}"
    else:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        first = re.sub(r"\{\{[^}]*\}\}", "", first)  # {{node x}} {{function_node f}}
        first = re.sub(r"__inference_\w+(\[[^\]]*\])?", "the graph", first)
        reason = " ".join(first.split())
        if len(reason) > MAX_REASON:
            cut = reason.rfind(". ", 0, MAX_REASON)
            reason = reason[:cut + 1] if cut > 40 else reason[:MAX_REASON - 3] + "..."
    cause = next((why for part, why in CAUSES if part in text), None)
    if cause is not None:
        reason = f"{reason} ({cause})"
    return reason


def op_line(text: str, file: str | None) -> int | None:
    """The line of ``file`` (the activation's) where XLA's message says the op it names was
    made: the deepest frame in ``file`` of the creation stack it prints (paths without their
    leading /) below gradcheck's own frames, or None."""
    if not file:
        return None
    path = os.path.abspath(file).lstrip(os.sep).replace(os.sep, "/")
    ours = GRADCHECK_DIR.lstrip(os.sep).replace(os.sep, "/")
    frames = [(f.lstrip("/"), n) for f, n in re.findall(r'File "([^"]+)", line (\d+)', text)]
    # below gradcheck's own frames: the activation, not a script that called gradcheck.check
    deepest_ours = max((i for i, (f, _) in enumerate(frames) if f.startswith(ours)), default=-1)
    lines = [int(n) for f, n in frames[deepest_ours + 1:] if f == path]
    return lines[-1] if lines else None


def _opts_out(subject: Subject) -> str | None:
    """Why Keras never compiles this activation with XLA, or None: a layer that declares
    ``supports_jit = False`` turns XLA off for the whole model (keras ``model_supports_jit``)."""
    layer = subject.layer
    if layer is not None and getattr(layer, "supports_jit", True) is False:
        return "the layer sets supports_jit = False, so Keras does not compile a model holding it with XLA"
    return None


def _jit_compile_of(subject: Subject):
    """The activation's own tf.function jit_compile setting (True, False or None)."""
    if not subject.is_tf_function:
        return None
    return getattr(subject.activation.obj, "_jit_compile", None)


def _note(subject: Subject) -> str:
    return "; its tf.function(jit_compile=False) does not keep it out of an XLA-compiled train step" \
        if _jit_compile_of(subject) is False else ""
