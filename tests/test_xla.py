"""The xla and batch checks (issue #12, items 6 and 7), through what users see: the Python
API's verdicts, messages and hints, and the command line's report. Then the assumption the
xla check rests on: the ops of ``xla.FAITHFUL_OPS`` give eager mode's values under XLA, op
by op, on special inputs (it passes those without compiling).

Most activations are the labeled corpus's; the others are defined here at module level (so
``inspect`` finds their source). Names must not start with ``test`` (pytest would collect them).
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import gradcheck
from gradcheck.loader import load_module
from gradcheck.verify import xla
from gradcheck.verify.subject import Subject
from gradcheck.verify.tolerances import tolerance_for

FAST = 512


def run(activation, **options):
    options.setdefault("samples", FAST)
    return gradcheck.check(activation, **options)


def _line_of(fn, text):
    """The line of ``fn``'s file holding ``text`` (inside ``fn``)."""
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


def check_named(result, name):
    return next(c for c in result.checks if c.name == name)


# ------------------------------------------------------------------------------------------
# activations: the corpus's (tests/corpus/network_xla_5.py, kinks.py, graph_2.py), and a few
# more defined here at module level (so ``inspect`` finds their source)
# ------------------------------------------------------------------------------------------
CORPUS = Path(__file__).parent / "corpus"
net = load_module(str(CORPUS / "network_xla_5.py"))
kinks = load_module(str(CORPUS / "kinks.py"))
graph_2 = load_module(str(CORPUS / "graph_2.py"))


def newton_over_tf_range(x):
    """AutoGraph gives a tf.range loop the bound XLA needs when it traces in XLA's context."""
    y = x / 2.0
    for _ in tf.range(6):
        y = y - (y * y * y + y - x) / (3.0 * y * y + 1.0)
    return y


@tf.function(jit_compile=False)
def py_function_not_jitted(x):
    return net.tanh_py_function(x)


class NoJitLayer(keras.layers.Layer):
    """Declares itself unfit for XLA: Keras then compiles no model holding it with XLA."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_jit = False

    def call(self, x):
        return net.tanh_py_function(x)


# ------------------------------------------------------------------------------------------
# xla: what users see
# ------------------------------------------------------------------------------------------
def test_py_function_fails_xla_with_one_line_reason_and_the_keras_hint():
    r = run(net.tanh_py_function)
    assert r.status == "fail"
    c = check_named(r, "xla")
    assert c.status == "fail"
    assert c.message.startswith("does not compile with XLA: no XLA kernel for EagerPyFunc (tf.py_function)")
    assert "\n" not in c.message and len(c.message) < 200
    assert c.line == _line_of(net.tanh_py_function, "tf.py_function(lambda")  # where the user's code made the op
    assert "XLA by default" in c.hint and "model.compile(jit_compile=False)" in c.hint
    assert r.message == "xla: " + c.message
    # eager and tf.function are fine: only XLA breaks it
    assert check_named(r, "graph").status == "pass" and check_named(r, "gradient_vs_fd").status == "pass"


def test_where_guarded_sqrt_is_nan_under_xla():
    r = run(net.sqrt_where_guarded)
    c = check_named(r, "xla")
    assert r.status == "fail" and c.status == "fail"
    assert "gradient compiled with XLA is nan" in c.message and "where eager mode gives" in c.message
    assert c.worst_input is not None and c.worst_input < 0
    assert "tf.where" in c.hint and "jit_compile=False" in c.hint


def test_python_while_on_tensors_fails_xla_but_a_tf_range_loop_compiles():
    r = run(net.cube_root_newton_while)
    c = check_named(r, "xla")
    assert c.status == "fail"
    assert "fixed tensor list size" in c.message and "maximum_iterations" in c.message
    assert "maximum_iterations" in c.hint
    assert check_named(r, "graph").status == "pass"
    assert check_named(run(newton_over_tf_range), "xla").status == "pass"


def test_jit_compile_false_does_not_opt_out_and_jit_compile_true_is_xla_already():
    c = check_named(run(py_function_not_jitted), "xla")
    assert c.status == "fail" and "does not keep it out" in c.hint
    c = check_named(run(graph_2.mish_jit_compiled), "xla")
    assert c.status == "pass" and "jit_compile=True" in c.message


def test_layer_that_sets_supports_jit_false_is_not_compiled():
    c = check_named(run(NoJitLayer), "xla")
    assert c.status == "skip" and "supports_jit = False" in c.message


@pytest.mark.parametrize("fn", [net.swish_jit_false, net.tanh_exp_erf_mix_f32, net.gelu_erf_f64, kinks.hard_sigmoid,
                                kinks.selu, net.layer_norm_last_axis, net.softmax_features],
                         ids=lambda f: getattr(f, "__name__", str(f)))
def test_correct_activations_pass_xla(fn):
    r = run(fn)
    assert r.status == "pass", r.message
    assert check_named(r, "xla").status == "pass"


@pytest.mark.parametrize("fn, dtype", [(net.tanh_exp_erf_mix_f32, "float32"), (net.gelu_erf_f64, "float64"),
                                       (net.mish_softplus, "float32"), (kinks.hard_sigmoid, "float64"),
                                       (kinks.hard_sigmoid, "float32"), (kinks.selu, "float64"),
                                       (net.layer_norm_last_axis, "float32")],
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_compiled_and_run_they_agree_with_eager_within_tolerance(fn, dtype):
    """The shortcut aside: compiled and run, XLA's ~1 ulp differences (float32 tanh, exp, erf)
    and the kinks a fused multiply-add moves (hard_sigmoid at -2.5) are not failures."""
    from gradcheck.discover import Activation, Kind

    act = Activation(fn.__name__, Kind.FUNCTION, fn, fn.__module__, {}, f"corpus::{fn.__name__}")
    subject = Subject(act, dtype)
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.uniform(-8, 8, (64, 8)), np.linspace(-8, 8, 64 * 8).reshape(64, 8),
                        np.full((1, 8), -2.5), np.full((1, 8), 2.5), np.zeros((1, 8))])
    U = rng.uniform(0.5, 1.5, X.shape)
    ev = subject.evaluate(X, U)
    res = xla.check_xla(subject, X, U, ev.y, ev.g, tolerance_for(dtype), run=True)
    assert res.status == "pass", res.message
    assert "agree with eager mode" in res.message


def test_xla_reason_is_one_line_and_the_op_line_is_the_users():
    text = ("Detected unsupported operations when trying to compile graph __inference_f_55[_XlaMustCompile=true,"
            "config_proto=1,executor_type=2] on XLA_CPU_JIT: EagerPyFunc (No registered 'EagerPyFunc' OpKernel for "
            "XLA_CPU_JIT devices compatible with node {{node EagerPyFunc}}){{node EagerPyFunc}}\n"
            "The op is created at: \nFile \"home/me/run.py\", line 3, in <module>\n"
            f"File \"{xla.GRADCHECK_DIR.lstrip('/')}verify/subject.py\", line 180, in fwd_bwd\n"
            "File \"home/me/acts.py\", line 12, in act\n\ttf2xla conversion failed while converting ...")
    assert xla.xla_reason(text) == "no XLA kernel for EagerPyFunc (tf.py_function)"
    assert xla.op_line(text, "/home/me/acts.py") == 12
    # a script that called gradcheck is not where the op was made
    assert xla.op_line(text, "/home/me/run.py") is None


# ------------------------------------------------------------------------------------------
# batch: what users see
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [net.softmax_over_batch, net.batch_center], ids=lambda f: f.__name__)
def test_batch_mixing_is_a_warning_with_the_rows_that_moved(fn):
    r = run(fn)
    assert r.status == "warn"
    c = check_named(r, "batch")
    assert c.status == "warn"
    assert c.message.startswith("mixes the examples of a batch: reduces over axis 0? changing row 2 of a 4x8 batch")
    assert "moved the outputs of rows 0, 1, 3" in c.message
    assert r.message == "batch: " + c.message
    assert "axis=-1" in c.hint


@pytest.mark.parametrize("fn", [net.softmax_features, net.layer_norm_last_axis, net.mish_softplus],
                         ids=lambda f: f.__name__)
def test_row_wise_and_elementwise_activations_do_not_mix_the_batch(fn):
    c = check_named(run(fn), "batch")
    assert c.status == "pass" and "its own row" in c.message


def test_batch_statistics_in_training_only_pass_and_in_inference_too_warn():
    modes = load_module(str(CORPUS / "network_modes_5.py"))
    r = run(modes.BatchCenteredTanh)  # a moving mean in inference, as BatchNormalization
    assert r.status == "pass"
    training = next(c for c in r.checks if c.name == "batch" and c.mode == "training")
    assert training.status == "pass" and "training mode only" in training.message
    r = run(net.BatchStatsAlwaysNorm)
    assert r.status == "warn" and "mixes the examples of a batch" in r.message


def test_state_that_changes_between_calls_is_not_called_batch_mixing():
    r = run(graph_2.CountingSwishLayer)
    assert check_named(r, "batch").status == "skip"
    assert r.status == "fail"  # other checks judge the state


# ------------------------------------------------------------------------------------------
# the command line
# ------------------------------------------------------------------------------------------
def test_cli_reports_the_xla_failure_with_its_hint_and_the_batch_warning(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "acts.py").write_text(textwrap.dedent("""\
        import tensorflow as tf

        def tanh_py(x):
            y = tf.py_function(lambda t: tf.tanh(t), [x], x.dtype)
            y.set_shape(x.shape)
            return y

        def softmax_batch(x):
            return tf.nn.softmax(x, axis=0)
        """))
    cmd = [sys.executable, "-m", "gradcheck", "--samples", "256", "acts.py"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "NO_COLOR": "1"})
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "acts.py:3: FAIL tanh_py: xla: does not compile with XLA: no XLA kernel for EagerPyFunc (tf.py_function)\n" \
        "    acts.py:4: the op XLA does not compile\n" in out
    assert "hint: Keras 3 compiles the train step with XLA by default" in out
    assert "acts.py:8: WARN softmax_batch: batch: mixes the examples of a batch: reduces over axis 0?" in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("activation"))
    assert " xla " in header and " batch " in header
    doc = json.loads(subprocess.run(cmd + ["--format", "json"], cwd=tmp_path, capture_output=True, text=True,
                                    timeout=600).stdout)
    checks = {r["name"]: {c["name"]: c for c in r["checks"]} for r in doc["results"]}
    assert checks["tanh_py"]["xla"]["status"] == "fail" and "jit_compile=False" in checks["tanh_py"]["xla"]["hint"]
    assert checks["softmax_batch"]["batch"]["status"] == "warn"


# ------------------------------------------------------------------------------------------
# the shortcut's assumption, op by op
# ------------------------------------------------------------------------------------------
SPECIAL = np.array([0.0, -0.0, 1e-6, -1e-6, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 6.0, -6.0, 20.0, -20.0, 88.0, -88.0,
                    1e4, -1e4, np.inf, -np.inf, np.nan, 3.0])  # an even count: pairs for row-wise ops


def _rows(x):
    return tf.reshape(x, [-1, 2])


def _keep_shape(f):
    return lambda x: tf.reshape(f(_rows(x)) * tf.ones([1, 2], x.dtype), tf.shape(x))


UNARY = {
    "Tanh": tf.tanh, "Sigmoid": tf.sigmoid, "Exp": tf.exp, "Expm1": tf.math.expm1, "Log": tf.math.log,
    "Log1p": tf.math.log1p, "Softplus": tf.math.softplus, "Softsign": tf.nn.softsign, "Relu": tf.nn.relu,
    "Relu6": tf.nn.relu6, "Elu": tf.nn.elu, "Selu": tf.nn.selu, "LeakyRelu": lambda x: tf.nn.leaky_relu(x, 0.1),
    "Erf": tf.math.erf, "Erfc": tf.math.erfc, "Sin": tf.sin, "Cos": tf.cos,
    # the forward ops only: their gradient ops are not in the shortcut (see the last test)
    "Sqrt": lambda x: x * tf.stop_gradient(tf.sqrt(x)), "Rsqrt": lambda x: x * tf.stop_gradient(tf.math.rsqrt(x)),
    "Reciprocal": tf.math.log,  # Log's gradient is dy * Reciprocal(x)
    "Tan": tf.tan, "Atan": tf.atan, "Sinh": tf.sinh, "Cosh": tf.cosh, "Asinh": tf.asinh, "Atanh": tf.atanh,
    "Floor": tf.floor, "Ceil": tf.math.ceil, "Round": tf.round, "Rint": tf.math.rint, "Abs": tf.abs, "Sign": tf.sign,
    "Neg": tf.negative, "Square": tf.square,
    "Lgamma": tf.math.lgamma, "IsFinite": lambda x: tf.where(tf.math.is_finite(x), x, 0.0),
    "IsNan": lambda x: tf.where(tf.math.is_nan(x), tf.zeros_like(x), x),
    "IsInf": lambda x: tf.where(tf.math.is_inf(x), tf.zeros_like(x), x),
    "ClipByValue": lambda x: tf.clip_by_value(x, -2.5, 2.5),
    "LogSoftmax": lambda x: tf.reshape(tf.nn.log_softmax(_rows(x), -1), tf.shape(x)),
    "Cumsum": lambda x: tf.reshape(tf.cumsum(_rows(x), -1), tf.shape(x)),
    "Cumprod": lambda x: tf.reshape(tf.math.cumprod(_rows(x), -1), tf.shape(x)),
    "Sum": _keep_shape(lambda r: tf.reduce_sum(r, -1, keepdims=True)),
    "Mean": _keep_shape(lambda r: tf.reduce_mean(r, -1, keepdims=True)),
    "Max": _keep_shape(lambda r: tf.reduce_max(r, -1, keepdims=True)),
    "Min": _keep_shape(lambda r: tf.reduce_min(r, -1, keepdims=True)),
    "Prod": _keep_shape(lambda r: tf.reduce_prod(r, -1, keepdims=True)),
    "Transpose": lambda x: tf.reshape(tf.transpose(_rows(x)), tf.shape(x)),
    "Tile": lambda x: tf.tile(x, [2])[: tf.size(x)],
    "MatMul": lambda x: tf.reshape(tf.linalg.matmul(_rows(x), tf.constant([[1.0, -2.0], [0.5, 3.0]], x.dtype)),
                                   tf.shape(x)),
}
BINARY = {
    "Mul": tf.multiply, "AddV2": tf.add, "Sub": tf.subtract, "RealDiv": tf.divide, "DivNoNan": tf.math.divide_no_nan,
    "Maximum": tf.maximum, "Minimum": tf.minimum, "Pow": tf.pow, "SquaredDifference": tf.math.squared_difference,
    "FloorMod": tf.math.floormod, "FloorDiv": tf.math.floordiv, "Xlogy": tf.math.xlogy, "Xdivy": tf.math.xdivy,
    "Xlog1py": tf.math.xlog1py, "Atan2": tf.atan2, "SelectV2": lambda a, b: tf.where(a > b, a, b),
    "AddN": lambda a, b: tf.add_n([a, b, a]),
}
# Ops of FAITHFUL_OPS that move, shape or compare values without arithmetic of their own (the
# ops above use them), or are gradients of the ops above.
NO_ARITHMETIC = set("""
    Placeholder Identity IdentityN Const NoOp StopGradient PreventGradient ReadVariableOp PartitionedCall
    StatefulPartitionedCall Add Div Greater GreaterEqual Less LessEqual Equal NotEqual LogicalAnd LogicalOr LogicalNot
    Select ZerosLike OnesLike Fill Cast Shape ShapeN Size Rank Reshape ExpandDims Squeeze BroadcastTo
    BroadcastGradientArgs Range Pack Unpack StridedSlice StridedSliceGrad ConcatV2 All Any BatchMatMulV2 BiasAdd
    BiasAddGrad TanhGrad SigmoidGrad ReluGrad Relu6Grad EluGrad SeluGrad SoftplusGrad SoftsignGrad LeakyReluGrad
""".split())


def _fwd_bwd(fn, dtype, upstream):
    def fwd_bwd(*xs):
        with tf.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            y = fn(*xs)
        gs = tape.gradient(y, list(xs), output_gradients=tf.constant(np.resize(upstream, y.shape), dtype))
        return [y] + [tf.zeros_like(x) if g is None else g for g, x in zip(gs, xs)]

    return fwd_bwd


def _eager_and_xla(fn, args, dtype, upstream):
    xs = [tf.constant(a, dtype) for a in args]
    f = _fwd_bwd(fn, dtype, upstream)
    eager = [v.numpy().astype(np.float64) for v in f(*xs)]
    compiled = [v.numpy().astype(np.float64) for v in tf.function(f, jit_compile=True, autograph=False)(*xs)]
    return eager, compiled


def _xla_worse(fn, args, dtype, upstream):
    """Flat indices of the points (all inputs finite or infinite, none NaN) where XLA is
    non-finite and eager mode finite, or both finite and apart by more than the xla check
    allows: beyond fd_rtol of the values, and outside eager mode's values just left and
    right of the point (a kink's other side, as the check excuses them)."""
    eager, compiled = _eager_and_xla(fn, args, dtype, upstream)
    rtol = tolerance_for(np.dtype(dtype).name).fd_rtol
    step = xla.SIDE_STEP[np.dtype(dtype).name]
    sides = []
    for k in range(len(args)):
        for sign in (-1.0, 1.0):
            with np.errstate(all="ignore"):  # inf - inf
                moved = [a + sign * step * np.maximum(1.0, np.abs(a)) if j == k else a for j, a in enumerate(args)]
            sides.append([v.numpy().astype(np.float64) for v in _fwd_bwd(fn, dtype, upstream)(
                *[tf.constant(m, dtype) for m in moved])])
    no_nan = ~np.any([np.isnan(a) for a in args], axis=0)
    bad = np.zeros(no_nan.shape, bool)
    for c, (a, b) in enumerate(zip(eager, compiled)):
        a, b = a.ravel(), b.ravel()
        near = np.array([side[c].ravel() for side in sides] + [a])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN bounds, nothing excused
            lo, hi = np.nanmin(near, axis=0), np.nanmax(near, axis=0)
            slack = rtol * (np.maximum(np.abs(lo), np.abs(hi)) + 1.0)
            far = (np.abs(a - b) > rtol * (np.maximum(np.abs(a), np.abs(b)) + 1.0)) & ((b < lo - slack) | (b > hi + slack))
        worse = (np.isfinite(a) & ~np.isfinite(b)) | (np.isfinite(a) & np.isfinite(b) & far)
        bad |= worse[: bad.size] if worse.size >= bad.size else np.resize(worse, bad.shape)
    return np.flatnonzero(bad & no_nan)


def test_every_arithmetic_op_of_the_shortcut_is_tested_below():
    assert xla.FAITHFUL_OPS - NO_ARITHMETIC == set(UNARY) | set(BINARY)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("upstream", [[1.0, -0.7, 1.3], [0.0]], ids=["upstream", "zero-upstream"])
def test_faithful_ops_give_eager_values_under_xla(dtype, upstream):
    a, b = (v.ravel() for v in np.meshgrid(SPECIAL, SPECIAL))
    worse = {}
    for name, fn in UNARY.items():
        bad = _xla_worse(fn, [SPECIAL], dtype, upstream)
        if bad.size:
            worse[name] = SPECIAL[bad[:4]]
    for name, fn in BINARY.items():
        bad = _xla_worse(fn, [a, b], dtype, upstream)
        if bad.size:
            worse[name] = list(zip(a[bad[:4]], b[bad[:4]]))
    assert worse == {}


@pytest.mark.parametrize("name", ["SqrtGrad", "RsqrtGrad", "ReciprocalGrad", "Softmax"])
def test_the_ops_left_out_of_the_shortcut_differ_under_xla(name):
    """Why they are left out (and why a tf.where-guarded sqrt is compiled and run)."""
    assert name not in xla.FAITHFUL_OPS
    if name == "Softmax":
        fn, x, upstream = (lambda t: tf.reshape(tf.nn.softmax(_rows(t), -1), tf.shape(t))), SPECIAL, [1.0]
    else:
        op = {"SqrtGrad": tf.sqrt, "RsqrtGrad": tf.math.rsqrt, "ReciprocalGrad": tf.math.reciprocal}[name]
        fn, x, upstream = (lambda t: tf.where(t > 0, op(t), t)), np.array([-1.0, 0.0, 4.0]), [0.0]
    assert _xla_worse(fn, [x], np.float32, upstream).size
