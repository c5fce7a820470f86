"""Red-team class (e): hand-written gradients of wrong shape / None / wrong dtype; bad forwards."""

import keras
import numpy as np
import tensorflow as tf

EXPECTED = {
    "grad_transposed": ("fail", "gradient"),
    "grad_batch_mean": ("fail", "gradient"),
    "grad_tuple_none": ("fail", "gradient"),
    "grad_float16": ("fail", "gradient"),
    "grad_list_single": ("pass", None),
    "grad_numpy_array": ("fail", "graph"),
    "tanh_numpy_function": ("fail", "gradient"),
    "forward_returns_list": ("error", "forward"),
    "forward_returns_python_float": ("error", "forward"),
    "crelu_concat": ("pass", None),  # the contract allows another trailing shape (issue #12 item 5)
    "glu_split": ("pass", None),
    "gelu_computed_in_float32": ("pass", None),
    "swish_keras_custom_grad_none": ("fail", "gradient"),
    "grad_row_sum_broadcast": ("fail", "gradient"),
}


@tf.custom_gradient
def grad_transposed(x):
    """BUG: gradient transposed (a leftover from a matmul-style derivation)."""
    y = tf.sin(x)

    def grad(dy):
        return tf.transpose(dy * tf.cos(x))

    return y, grad


@tf.custom_gradient
def grad_batch_mean(x):
    """BUG: gradient averaged over the batch axis: shape (features,) instead of (batch, features)."""
    y = tf.tanh(x)

    def grad(dy):
        return tf.reduce_mean(dy * (1.0 - y * y), axis=0)

    return y, grad


@tf.custom_gradient
def grad_tuple_none(x):
    """BUG: gradient left as a TODO placeholder: returns (None,)."""
    y = tf.math.softplus(x)

    def grad(dy):
        return (None,)

    return y, grad


@tf.custom_gradient
def grad_float16(x):
    """BUG: gradient computed in float16 'for speed' and not cast back."""
    y = tf.sigmoid(x)

    def grad(dy):
        return tf.cast(dy * y * (1.0 - y), tf.float16)

    return y, grad


@tf.custom_gradient
def grad_list_single(x):
    """Gradient returned as a one-element list: TF flattens it, fine."""
    y = tf.tanh(x)

    def grad(dy):
        return [dy * (1.0 - y * y)]

    return y, grad


@tf.custom_gradient
def grad_numpy_array(x):
    """BUG: gradient built with NumPy from .numpy(): works eagerly, breaks under tf.function."""
    y = tf.sin(x)

    def grad(dy):
        return dy.numpy() * np.cos(x.numpy())

    return y, grad


def tanh_numpy_function(x):
    return tf.numpy_function(np.tanh, [x], x.dtype)


def forward_returns_list(x):
    return [tf.tanh(x)]


def forward_returns_python_float(x):
    return float(tf.reduce_mean(tf.tanh(x)))


def crelu_concat(x):
    """CReLU doubles the last axis: checked as a vector-Jacobian product."""
    return tf.nn.crelu(x)


def glu_split(x):
    a, b = tf.split(x, 2, axis=-1)
    return a * tf.sigmoid(b)


def gelu_computed_in_float32(x):
    """Computes in float32 and casts back: a float32-accurate but correct activation."""
    return tf.cast(tf.nn.gelu(tf.cast(x, tf.float32), approximate=False), x.dtype)


@keras.ops.custom_gradient
def swish_keras_custom_grad_none(x):
    """BUG: keras.ops.custom_gradient whose grad returns None (wrong upstream unpacking path)."""
    s = keras.ops.sigmoid(x)

    def grad(*args, upstream=None):
        if upstream is None:
            return None
        return upstream * (s + x * s * (1.0 - s))

    return x * s, grad


@tf.custom_gradient
def grad_row_sum_broadcast(x):
    """BUG: gradient summed over the last axis with keepdims=False, shape (batch,)."""
    y = tf.nn.elu(x)

    def grad(dy):
        return tf.reduce_sum(dy * tf.where(x > 0, tf.ones_like(x), y + 1.0), axis=-1)

    return y, grad
