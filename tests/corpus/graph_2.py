"""Red-team class (i): eager vs tf.function behaviour."""

import warnings

import keras
import numpy as np
import tensorflow as tf

EXPECTED = {
    "clip_numpy_max": ("fail", "graph"),
    "annealed_swish_python_counter": ("fail", "gradient_vs_fd"),
    "gelu_exact_eager_tanh_graph": ("fail", "graph"),
    "clip_autograph_if": ("pass", None),
    "horner_poly_tanh": ("pass", None),
    "static_rank_branch": ("pass", None),
    "swish_with_print": ("pass", None),
    "mish_jit_compiled": ("pass", None),
    "leaky_inner_variable": ("fail", "graph"),
    "autograph_for_range_newton": ("pass", None),
    "float_guard_autograph": ("pass", None),
    "CountingSwishLayer": ("fail", "gradient_vs_fd"),
    "py_function_tanh": ("fail", "xla"),
}


def clip_numpy_max(x):
    """BUG: clip bound computed with .numpy() (fails under tf.function)."""
    bound = max(3.0, float(np.percentile(np.abs(x.numpy()), 99)))
    return tf.clip_by_value(tf.tanh(x) * 4.0, -bound, bound)


_STATE = {"step": 0}


def annealed_swish_python_counter(x):
    """BUG: Python-side annealing state: beta changes on every call."""
    _STATE["step"] += 1
    beta = 1.0 + 1e-3 * _STATE["step"]
    return x * tf.sigmoid(beta * x)


def gelu_exact_eager_tanh_graph(x):
    """BUG: 'fast path' in graph mode uses the tanh approximation (differs by up to ~5e-4)."""
    if tf.executing_eagerly():
        return tf.nn.gelu(x, approximate=False)
    return tf.nn.gelu(x, approximate=True)


def clip_autograph_if(x):
    """Tensor-valued if (AutoGraph turns it into tf.cond): clip only when large values are present."""
    if tf.reduce_max(tf.abs(x)) > 6.0:
        x = tf.clip_by_value(x, -6.0, 6.0)
    return tf.tanh(x)


def horner_poly_tanh(x, coeffs=(0.02, -0.1, 0.3, 1.0)):
    """Python loop over constants (unrolled at trace time): tanh of a cubic."""
    p = tf.zeros_like(x)
    for c in coeffs:
        p = p * x + c
    return tf.tanh(p * x)


def static_rank_branch(x):
    """Branches on the static rank: same in eager and graph."""
    if len(x.shape) >= 2:
        return tf.nn.silu(x)
    return x * tf.sigmoid(x)


def swish_with_print(x):
    print("swish called with", x.shape)
    return tf.nn.silu(x)


@tf.function(jit_compile=True)
def mish_jit_compiled(x):
    return x * tf.tanh(tf.math.softplus(x))


def leaky_inner_variable(x):
    """BUG: creates a tf.Variable on every call (tf.function refuses on retrace / non-first call)."""
    slope = tf.Variable(0.1, dtype=x.dtype, trainable=False)
    return tf.where(x > 0, x, slope * x)


def autograph_for_range_newton(x):
    """Cube root-like unit via 5 Newton steps on y^3 + y = x with a tf.range loop (AutoGraph while)."""
    y = x / 2.0
    for _ in tf.range(6):
        y = y - (y * y * y + y - x) / (3.0 * y * y + 1.0)
    return y


def float_guard_autograph(x):
    """Debug guard with float(tensor) under an if: AutoGraph converts float() to a cast and the if to tf.cond."""
    if float(tf.reduce_max(tf.abs(x))) > 1e6:
        warnings.warn("huge activation input")
    return tf.tanh(x)


class CountingSwishLayer(keras.layers.Layer):
    """BUG: Python attribute incremented per call modulates the output (warm-up schedule)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def call(self, x):
        self.calls += 1
        warm = self.calls / (self.calls + 100.0)
        return x * tf.sigmoid(warm * x)


def py_function_tanh(x):
    """tf.py_function is differentiable (the eager function runs under the tape) and works in graphs, but
    has no XLA kernel: model.fit fails where Keras compiles the train step with XLA (its default on a GPU).
    Relabeled pass -> fail when the xla check came (issue #12)."""
    y = tf.py_function(lambda t: tf.tanh(t), [x], x.dtype)
    y.set_shape(x.shape)
    return y
