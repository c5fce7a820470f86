"""Corpus class (h): numerical stability for large |x| and low precision.

The naive formulas are correct (and pass every gradient check) on [-8, 8] in float32 and
float64, but exp() overflows in float32 for x > 88.7 (float16: x > 11), giving inf outputs
or inf * 0 = NaN gradients for finite inputs: warn. The stable formulations compute the
same functions without any overflow and must pass.
"""

import math

import tensorflow as tf

_LOG2 = math.log(2.0)

EXPECTED = {
    "softplus_naive": ("warn", "stability"),
    "sigmoid_naive": ("warn", "stability"),
    "swish_naive": ("warn", "stability"),
    "mish_naive": ("warn", "stability"),
    "elu_where_naive": ("warn", "stability"),
    "logcosh_naive": ("warn", "stability"),
    "tanh_naive_exp": ("warn", "stability"),
    "softplus_logaddexp": ("pass", None),
    "sigmoid_via_tanh": ("pass", None),
    "swish_via_tanh": ("pass", None),
    "elu_safe_where": ("pass", None),
    "logcosh_stable": ("pass", None),
}


def softplus_naive(x):
    """RISK: log(1 + exp(x)); exp overflows in float32 for x > 88.7: inf output, NaN gradient."""
    return tf.math.log(1.0 + tf.exp(x))


def sigmoid_naive(x):
    """RISK: 1 / (1 + exp(-x)); for x < -88.7 (float32) the output is 0 but the gradient is 0 * inf = NaN."""
    return 1.0 / (1.0 + tf.exp(-x))


def swish_naive(x):
    """RISK: swish as x / (1 + exp(-x)); NaN gradient for x < -88.7 in float32."""
    return x / (1.0 + tf.exp(-x))


def mish_naive(x):
    """RISK: x * tanh(log(1 + exp(x))); the output stays finite for large x but the gradient is NaN."""
    return x * tf.tanh(tf.math.log(1.0 + tf.exp(x)))


def elu_where_naive(x):
    """RISK: ELU as where(x > 0, x, exp(x) - 1); the unused branch overflows for large x and where's gradient is 0 * inf = NaN."""
    return tf.where(x > 0, x, tf.exp(x) - 1.0)


def logcosh_naive(x):
    """RISK: log(cosh(x)); cosh overflows in float32 for |x| > 89: inf output, NaN gradient."""
    return tf.math.log(tf.cosh(x))


def tanh_naive_exp(x):
    """RISK: tanh as (exp(2x) - 1) / (exp(2x) + 1); inf / inf = NaN for x > 44 in float32 and x > 5.5 in float16."""
    e = tf.exp(2.0 * x)
    return (e - 1.0) / (e + 1.0)


def softplus_logaddexp(x):
    """Stable softplus m + log(exp(-m) + exp(x - m)) with m = stop_gradient(max(x, 0)); gradient sigmoid(x) everywhere."""
    m = tf.stop_gradient(tf.maximum(x, 0.0))
    return m + tf.math.log(tf.exp(-m) + tf.exp(x - m))


def sigmoid_via_tanh(x):
    """Stable sigmoid 0.5 * (1 + tanh(x / 2)); nothing overflows."""
    return 0.5 * (1.0 + tf.tanh(0.5 * x))


def swish_via_tanh(x):
    """Stable swish x * 0.5 * (1 + tanh(x / 2))."""
    return x * (0.5 * (1.0 + tf.tanh(0.5 * x)))


def elu_safe_where(x):
    """ELU with the safe-where trick: exp(min(x, 0)) - 1 in the negative branch cannot overflow."""
    return tf.where(x > 0, x, tf.exp(tf.minimum(x, 0.0)) - 1.0)


def logcosh_stable(x):
    """Stable log(cosh(x)) = |x| + softplus(-2|x|) - log 2; its TF gradient is right at 0 too (0)."""
    ax = tf.abs(x)
    return ax + tf.math.softplus(-2.0 * ax) - _LOG2
