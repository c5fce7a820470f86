"""Red-team class (a): smooth activations; only float rounding noise separates autodiff from FD."""

import math

import keras
import tensorflow as tf

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_TWO_OVER_PI = tf.constant(2.0 / math.pi)  # float32 constant: float32-only activation

EXPECTED = {
    "gelu_erfc": ("pass", None),
    "silu_nn_beta": ("pass", None),
    "mish_keras_activation": ("pass", None),
    "bent_identity": ("pass", None),
    "isru": ("pass", None),
    "snake": ("pass", None),
    "sqnl": ("pass", None),
    "tanhexp_clamped": ("pass", None),
    "serf": ("pass", None),
    "logish": ("pass", None),
    "smish": ("pass", None),
    "squareplus": ("pass", None),
    "softclip_softplus_diff": ("pass", None),
    "growing_cosine_unit": ("pass", None),
    "log_sigmoid_keras": ("pass", None),
    "gelu_tanh_tf_function": ("pass", None),
    "arctan_scaled_f32": ("pass", None),
    "sine_high_freq_f32": ("pass", None),
    "softsign_keras_custom": ("pass", None),
    "serf_detached_erf": ("fail", "gradient_vs_fd"),
    "logish_grad_wrong_quotient": ("fail", "custom_vs_autodiff"),
}


def gelu_erfc(x):
    """Exact GELU written with erfc: 0.5 x erfc(-x / sqrt 2)."""
    return 0.5 * x * tf.math.erfc(-x * _INV_SQRT2)


def silu_nn_beta(x):
    """tf.nn.silu with a fixed beta."""
    return tf.nn.silu(x, beta=1.3)


def mish_keras_activation(x):
    return keras.activations.mish(x)


def bent_identity(x):
    return (tf.sqrt(x * x + 1.0) - 1.0) / 2.0 + x


def isru(x, alpha=0.5):
    """Inverse square root unit x / sqrt(1 + a x^2)."""
    return x * tf.math.rsqrt(1.0 + alpha * tf.square(x))


def snake(x, a=0.5):
    """Snake: x + sin^2(a x) / a."""
    return x + tf.square(tf.sin(a * x)) / a


def sqnl(x):
    """Square nonlinearity: C1 piecewise quadratic, saturating at +-1 for |x| > 2."""
    pos = x - x * x / 4.0
    neg = x + x * x / 4.0
    return tf.where(x > 2.0, tf.ones_like(x), tf.where(x >= 0.0, pos, tf.where(x >= -2.0, neg, -tf.ones_like(x))))


def tanhexp_clamped(x):
    """TanhExp x tanh(e^x) with e^x clamped: tanh(e^10) == 1 exactly, so nothing overflows."""
    return x * tf.tanh(tf.exp(tf.minimum(x, 10.0)))


def serf(x):
    return x * tf.math.erf(tf.math.softplus(x))


def logish(x):
    return x * tf.math.log1p(tf.sigmoid(x))


def smish(x):
    return x * tf.tanh(tf.math.log1p(tf.sigmoid(x)))


def squareplus(x, b=4.0):
    return 0.5 * (x + tf.sqrt(x * x + b))


def softclip_softplus_diff(x):
    """Soft clip to [0, 5]: softplus(x) - softplus(x - 5)."""
    return tf.math.softplus(x) - tf.math.softplus(x - 5.0)


def growing_cosine_unit(x):
    return x * tf.cos(x)


def log_sigmoid_keras(x):
    return keras.ops.log_sigmoid(x)


@tf.function
def gelu_tanh_tf_function(x):
    return tf.nn.gelu(x, approximate=True)


def arctan_scaled_f32(x):
    """(2 / pi) atan(x) with a float32 tf.constant."""
    return _TWO_OVER_PI * tf.atan(x)


def sine_high_freq_f32(x):
    """A high-frequency periodic unit with float32 constants: 0.25 sin(6x) + x."""
    return tf.constant(0.25) * tf.sin(tf.constant(6.0) * x) + x


@keras.ops.custom_gradient
def softsign_keras_custom(x):
    d = 1.0 + keras.ops.abs(x)
    y = x / d

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return upstream / keras.ops.square(d)

    return y, grad


def serf_detached_erf(x):
    """BUG: erf(softplus(x)) computed under stop_gradient (to 'save memory')."""
    return x * tf.stop_gradient(tf.math.erf(tf.math.softplus(x)))


@tf.custom_gradient
def logish_grad_wrong_quotient(x):
    """BUG: d/dx log(1 + s) written as s (1 - s) instead of s (1 - s) / (1 + s)."""
    s = tf.sigmoid(x)
    y = x * tf.math.log1p(s)

    def grad(dy):
        return dy * (tf.math.log1p(s) + x * s * (1.0 - s))

    return y, grad
