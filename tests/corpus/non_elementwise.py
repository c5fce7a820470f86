"""Corpus class (d): non-elementwise activations working along the last axis.

Output i depends on every input of its row, so the gradient is a full Jacobian-vector
product, checked as u . J . v against directional finite differences. The buggy ones are
hand-written VJPs that keep only the diagonal of the Jacobian or treat a row statistic as
a constant.
"""

import tensorflow as tf

EXPECTED = {
    "softmax": ("pass", None),
    "log_softmax": ("pass", None),
    "softmax_custom": ("pass", None),
    "log_softmax_custom": ("pass", None),
    "layer_norm": ("pass", None),
    "rms_norm_custom": ("pass", None),
    "l2_normalize": ("pass", None),
    "mean_centered": ("pass", None),
    "softmax_diagonal_only": ("fail", "custom_vs_autodiff"),
    "log_softmax_missing_sum": ("fail", "custom_vs_autodiff"),
    "rms_norm_constant_scale": ("fail", "custom_vs_autodiff"),
}


def softmax(x):
    """Softmax over the last axis (tf.nn.softmax)."""
    return tf.nn.softmax(x, axis=-1)


def log_softmax(x):
    """Log-softmax over the last axis (tf.nn.log_softmax)."""
    return tf.nn.log_softmax(x, axis=-1)


@tf.custom_gradient
def softmax_custom(x):
    """Softmax with the full hand-written VJP y * (dy - sum(dy * y))."""
    y = tf.nn.softmax(x, axis=-1)

    def grad(dy):
        return y * (dy - tf.reduce_sum(dy * y, axis=-1, keepdims=True))

    return y, grad


@tf.custom_gradient
def log_softmax_custom(x):
    """Log-softmax with the hand-written VJP dy - softmax(x) * sum(dy)."""
    y = tf.nn.log_softmax(x, axis=-1)

    def grad(dy):
        return dy - tf.exp(y) * tf.reduce_sum(dy, axis=-1, keepdims=True)

    return y, grad


def layer_norm(x):
    """Parameter-free layer normalization (x - mean) / sqrt(var + 1e-5) over the last axis."""
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    centered = x - mean
    var = tf.reduce_mean(centered * centered, axis=-1, keepdims=True)
    return centered * tf.math.rsqrt(var + 1e-5)


@tf.custom_gradient
def rms_norm_custom(x):
    """RMS normalization x / r, r = sqrt(mean(x^2) + 1e-6), with the VJP (dy - y * mean(dy * y)) / r."""
    r = tf.sqrt(tf.reduce_mean(x * x, axis=-1, keepdims=True) + 1e-6)
    y = x / r

    def grad(dy):
        return (dy - y * tf.reduce_mean(dy * y, axis=-1, keepdims=True)) / r

    return y, grad


def l2_normalize(x):
    """Unit L2 norm along the last axis (tf.math.l2_normalize)."""
    return tf.math.l2_normalize(x, axis=-1)


def mean_centered(x):
    """Subtract the row mean: x - mean(x)."""
    return x - tf.reduce_mean(x, axis=-1, keepdims=True)


@tf.custom_gradient
def softmax_diagonal_only(x):
    """BUG: softmax VJP keeps only the Jacobian diagonal, dy * y * (1 - y), dropping -y_i y_j."""
    y = tf.nn.softmax(x, axis=-1)

    def grad(dy):
        return dy * y * (1.0 - y)

    return y, grad


@tf.custom_gradient
def log_softmax_missing_sum(x):
    """BUG: log-softmax VJP dy - softmax * dy, the row sum of dy is missing (diagonal only)."""
    y = tf.nn.log_softmax(x, axis=-1)

    def grad(dy):
        return dy - tf.exp(y) * dy

    return y, grad


@tf.custom_gradient
def rms_norm_constant_scale(x):
    """BUG: RMS-norm VJP dy / r treats the row scale r as a constant."""
    r = tf.sqrt(tf.reduce_mean(x * x, axis=-1, keepdims=True) + 1e-6)

    def grad(dy):
        return dy / r

    return x / r, grad
