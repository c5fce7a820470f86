"""Corpus class (e): shapes, dtypes and gradients that do not exist.

TF does not validate what a hand-written gradient returns: a scalar, a (1,)-shaped tensor,
None or a float32 tensor for a float64 input all come back from the tape silently. A NumPy
round trip cuts the tape (None). A forward that returns a scalar or a NumPy array cannot be
checked at all (error). The correct ones are rank- and dtype-agnostic and must pass.
"""

import keras
import numpy as np
import tensorflow as tf

EXPECTED = {
    "swish_any_rank": ("pass", None),
    "gelu_dtype_cast_constants": ("pass", None),
    "silu_keras_ops": ("pass", None),
    "grad_returns_scalar": ("fail", "gradient"),
    "grad_returns_keepdims": ("fail", "gradient"),
    "grad_returns_none": ("fail", "gradient"),
    "grad_returns_float32": ("fail", "gradient"),
    "tanh_through_numpy": ("fail", "gradient"),
    "forward_returns_scalar": ("error", "forward"),
    "forward_returns_numpy": ("error", "forward"),
}


def swish_any_rank(x):
    """Swish via tf.nn.silu; works for any rank and float dtype."""
    return tf.nn.silu(x)


def gelu_dtype_cast_constants(x):
    """Exact GELU with its constants cast to x.dtype (works in float16 through float64)."""
    half = tf.cast(0.5, x.dtype)
    inv_sqrt2 = tf.cast(0.7071067811865476, x.dtype)
    return half * x * (tf.cast(1.0, x.dtype) + tf.math.erf(x * inv_sqrt2))


def silu_keras_ops(x):
    """SiLU written with backend-agnostic keras.ops."""
    return keras.ops.multiply(x, keras.ops.sigmoid(x))


@tf.custom_gradient
def grad_returns_scalar(x):
    """BUG: the gradient is reduced to a scalar, tf.reduce_sum(dy * cos(x)), instead of an x-shaped tensor."""
    y = tf.sin(x)

    def grad(dy):
        return tf.reduce_sum(dy * tf.cos(x))

    return y, grad


@tf.custom_gradient
def grad_returns_keepdims(x):
    """BUG: the gradient is reduced over the last axis with keepdims=True (wrong shape, broadcastable)."""
    y = tf.tanh(x)

    def grad(dy):
        return tf.reduce_sum(dy * (1.0 - y * y), axis=-1, keepdims=True)

    return y, grad


@tf.custom_gradient
def grad_returns_none(x):
    """BUG: the hand-written gradient returns None, so the tape reports no gradient."""
    y = tf.tanh(x)

    def grad(dy):
        return None

    return y, grad


@tf.custom_gradient
def grad_returns_float32(x):
    """BUG: the gradient is cast to float32 whatever the input dtype (wrong dtype for float64 input)."""
    y = tf.sin(x)

    def grad(dy):
        return tf.cast(dy * tf.cos(x), tf.float32)

    return y, grad


def tanh_through_numpy(x):
    """BUG: NumPy inside, tf.constant(np.tanh(x.numpy())) cuts the tape (gradient None)."""
    return tf.constant(np.tanh(x.numpy()))


def forward_returns_scalar(x):
    """BUG: reduces the activation to a scalar, so the output shape differs from the input shape (error)."""
    return tf.reduce_sum(tf.nn.relu(x))


def forward_returns_numpy(x):
    """BUG: returns a NumPy array, not a tensor (error)."""
    return np.tanh(np.asarray(x))
