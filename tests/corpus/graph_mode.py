"""Corpus class (i): eager versus tf.function (graph) behaviour.

Keras trains inside tf.function, so an activation that only works eagerly is broken in
practice. ``.numpy()``, ``bool(tensor)`` and a ``raise`` under a tensor condition work
eagerly but fail when traced; a ``tf.executing_eagerly()`` branch makes graph results differ.
A plain Python ``if`` on a tensor is converted to tf.cond by AutoGraph (tf.function's default)
and must pass, as must tf.function-decorated activations and ``if`` on static dtypes.
"""

import numpy as np
import tensorflow as tf

EXPECTED = {
    "swish_tf_function": ("pass", None),
    "softplus_tf_function_custom": ("pass", None),
    "elu_autograph_if": ("pass", None),
    "gelu_static_dtype_if": ("pass", None),
    "swish_numpy_debug_check": ("fail", "graph"),
    "elu_python_bool": ("fail", "graph"),
    "tanh_raise_in_tensor_if": ("fail", "graph"),
    "swish_eager_only_branch": ("fail", "graph"),
}


@tf.function
def swish_tf_function(x):
    """Swish compiled with @tf.function."""
    return x * tf.sigmoid(x)


@tf.function
@tf.custom_gradient
def softplus_tf_function_custom(x):
    """Softplus with a correct hand-written gradient, wrapped in @tf.function."""
    y = tf.math.softplus(x)

    def grad(dy):
        return dy * tf.sigmoid(x)

    return y, grad


def elu_autograph_if(x):
    """ELU with a Python if on a tensor (all non-negative -> identity); AutoGraph turns it into tf.cond."""
    if tf.reduce_all(x >= 0):
        return x
    return tf.nn.elu(x)


def gelu_static_dtype_if(x):
    """Exact GELU computed in float32 for half-precision inputs: the Python if is on the static dtype."""
    if x.dtype in (tf.float16, tf.bfloat16):
        return tf.cast(tf.nn.gelu(tf.cast(x, tf.float32), approximate=False), x.dtype)
    return tf.nn.gelu(x, approximate=False)


def swish_numpy_debug_check(x):
    """BUG (graph): a debugging check calls x.numpy(), which does not exist on symbolic tensors."""
    if np.any(np.abs(x.numpy()) > 1e6):
        print("swish: very large input")
    return x * tf.sigmoid(x)


def elu_python_bool(x):
    """BUG (graph): bool(tensor) forces a Python boolean, which AutoGraph cannot convert."""
    if bool(tf.reduce_all(x >= 0)):
        return x
    return tf.nn.elu(x)


def tanh_raise_in_tensor_if(x):
    """BUG (graph): raise under a tensor condition; eagerly skipped, but tracing both tf.cond branches raises."""
    if tf.reduce_any(tf.math.is_nan(x)):
        raise ValueError("NaN input")
    return tf.tanh(x)


def swish_eager_only_branch(x):
    """BUG (graph): a tf.executing_eagerly() branch, so the traced function computes x * sigmoid(1.702 x) instead."""
    if tf.executing_eagerly():
        return x * tf.sigmoid(x)
    return x * tf.sigmoid(1.702 * x)
