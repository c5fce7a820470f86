"""Corpus: activations holding float32 tf.constant values, so they only run in float32.

Mixing a float32 constant with a float64 (or float16) input raises in TF. These are still
correct float32 activations, as used in float32 training: a good tool checks them in float32
(and says so) instead of reporting an error. Bugs in them must still be found in float32.
"""

import tensorflow as tf

_ONE = tf.constant(1.0)
_SLOPE = tf.constant(0.1)

EXPECTED = {
    "hard_sigmoid_f32": ("pass", None),
    "gelu_f32": ("pass", None),
    "leaky_relu_f32": ("pass", None),
    "swish_custom_f32": ("pass", None),
    "tanh_custom_f32_wrong": ("fail", "custom_vs_autodiff"),
    "sigmoid_custom_f32_forgets_upstream": ("fail", "upstream"),
    "softplus_f32_naive": ("warn", "stability"),
}


def hard_sigmoid_f32(x):
    """Hard sigmoid clip(0.2 x + 0.5, 0, 1) with float32 tf.constant coefficients."""
    return tf.clip_by_value(tf.constant(0.2) * x + tf.constant(0.5), tf.constant(0.0), tf.constant(1.0))


def gelu_f32(x):
    """Exact GELU with float32 constants tf.constant(0.5) and tf.constant(0.70710677)."""
    return tf.constant(0.5) * x * (_ONE + tf.math.erf(x * tf.constant(0.70710677)))


def leaky_relu_f32(x):
    """Leaky ReLU where(x > 0, x, 0.1 x) with a module-level float32 slope constant."""
    return tf.where(x > tf.constant(0.0), x, _SLOPE * x)


@tf.custom_gradient
def swish_custom_f32(x):
    """Swish x * sigmoid(beta x), beta = tf.constant(1.0), with a correct hand-written gradient."""
    beta = tf.constant(1.0)
    s = tf.sigmoid(beta * x)

    def grad(dy):
        return dy * (s + beta * x * s * (_ONE - s))

    return x * s, grad


@tf.custom_gradient
def tanh_custom_f32_wrong(x):
    """BUG: LeCun tanh A tanh(B x) (float32 constants) with gradient A B (1 - t) instead of A B (1 - t^2)."""
    a = tf.constant(1.7159)
    b = tf.constant(0.6666667)
    t = tf.tanh(b * x)

    def grad(dy):
        return dy * a * b * (_ONE - t)

    return a * t, grad


@tf.custom_gradient
def sigmoid_custom_f32_forgets_upstream(x):
    """BUG: sigmoid(x / T), T = tf.constant(2.0), whose gradient y (1 - y) / T forgets dy."""
    temperature = tf.constant(2.0)
    y = tf.sigmoid(x / temperature)

    def grad(dy):
        return y * (_ONE - y) / temperature

    return y, grad


def softplus_f32_naive(x):
    """RISK: log(1 + exp(x)) with a float32 constant 1; overflows for x > 88.7."""
    return tf.math.log(_ONE + tf.exp(x))
