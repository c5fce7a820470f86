"""Sixth set: activations that change the trailing shape, and custom-gradient functions that
read tf.Variables (issue #12, items 5 and 3).

Shapes: GLU and its variants halve the last axis, maxout reduces groups of it, CReLU doubles
it. The contract allows that (a floating output, the batch dimension kept); the gradient is
then checked as a vector-Jacobian product against directional finite differences. Correct
ones pass, kinks included (maxout's ties, CReLU at 0); hand-written gradients with the gate's
derivative wrong or the gate's half missing fail. A reduction to a scalar stays an error.

Variables: a @tf.custom_gradient function may read a module-level tf.Variable; its grad
function then takes ``variables=None`` and returns ``(dx, [dvar])``. The variable's gradient
is checked against finite differences on the variable, as a layer's weights are. A wrong or
missing (None) variable gradient fails; a non-trainable variable is not differentiated.
"""

import keras
import numpy as np
import tensorflow as tf

EXPECTED = {
    # shape-changing: correct
    "glu": ("pass", None),
    "geglu": ("pass", None),
    "swiglu": ("pass", None),
    "glu_custom": ("pass", None),
    "GLUDense": ("pass", None),
    "maxout": ("pass", None),
    "crelu": ("pass", None),
    # shape-changing: buggy
    "glu_custom_gate_wrong": ("fail", "custom_vs_autodiff"),
    "glu_custom_gate_missing": ("fail", "custom_vs_autodiff"),
    "maxout_custom_argmin": ("fail", "custom_vs_autodiff"),
    "sum_to_scalar": ("error", "forward"),
    # variables read by the function: correct
    "prelu_var": ("pass", None),
    "swish_beta_var": ("pass", None),
    "scaled_tanh_frozen_var": ("pass", None),
    # variables: buggy
    "prelu_var_grad_sign": ("fail", "weights"),
    "prelu_var_grad_none": ("fail", "weights"),
    "prelu_var_grad_unsummed_mean": ("fail", "weights"),
    "channel_prelu_var": ("pass", None),
    "channel_prelu_var_1pct": ("fail", "weights"),
}


def glu(x):
    a, b = tf.split(x, 2, axis=-1)
    return a * tf.sigmoid(b)


def geglu(x):
    a, b = tf.split(x, 2, axis=-1)
    return a * tf.nn.gelu(b, approximate=False)


def swiglu(x):
    a, b = tf.split(x, 2, axis=-1)
    return a * tf.nn.silu(b)


@tf.custom_gradient
def glu_custom(x):
    a, b = tf.split(x, 2, axis=-1)
    s = tf.sigmoid(b)

    def grad(dy):
        return tf.concat([dy * s, dy * a * s * (1.0 - s)], axis=-1)

    return a * s, grad


@tf.custom_gradient
def glu_custom_gate_wrong(x):
    """BUG: the gate's derivative is sigmoid(b), not sigmoid(b) * (1 - sigmoid(b))."""
    a, b = tf.split(x, 2, axis=-1)
    s = tf.sigmoid(b)

    def grad(dy):
        return tf.concat([dy * s, dy * a * s], axis=-1)

    return a * s, grad


@tf.custom_gradient
def glu_custom_gate_missing(x):
    """BUG: no gradient flows into the gate's half (zeros): the gate never trains."""
    a, b = tf.split(x, 2, axis=-1)
    s = tf.sigmoid(b)

    def grad(dy):
        return tf.concat([dy * s, tf.zeros_like(b)], axis=-1)

    return a * s, grad


class GLUDense(keras.layers.Layer):
    """A projection to twice the units, then a GLU: the output has `units` features."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.proj = keras.layers.Dense(2 * units)

    def build(self, input_shape):
        self.proj.build(input_shape)

    def call(self, x):
        a, b = tf.split(self.proj(x), 2, axis=-1)
        return a * tf.sigmoid(b)


def maxout(x):
    """Maxout over groups of 2 along the last axis: kinks where the two pieces tie."""
    z = tf.reshape(x, tf.concat([tf.shape(x)[:-1], [x.shape[-1] // 2, 2]], axis=0))
    return tf.reduce_max(z, axis=-1)


@tf.custom_gradient
def maxout_custom_argmin(x):
    """BUG: the gradient is routed to the smaller element of each group, not the larger."""
    z = tf.reshape(x, [-1, x.shape[-1] // 2, 2])
    y = tf.reduce_max(z, axis=-1)

    def grad(dy):
        pick = tf.one_hot(tf.argmin(z, axis=-1), 2, dtype=dy.dtype)
        return tf.reshape(dy[..., None] * pick, tf.shape(x))

    return tf.reshape(y, tf.concat([tf.shape(x)[:-1], [x.shape[-1] // 2]], axis=0)), grad


def crelu(x):
    """CReLU doubles the last axis; kink at 0 in both halves."""
    return tf.concat([tf.nn.relu(x), tf.nn.relu(-x)], axis=-1)


def sum_to_scalar(x):
    """BUG: reduces the batch to a scalar (error: the batch dimension is lost)."""
    return tf.reduce_sum(tf.tanh(x))


def glu_two_inputs(x, gate):
    """Two required tensors: not an activation of one input (listed in not_checked)."""
    return x * tf.sigmoid(gate)


# -- variables read by the function ---------------------------------------------------------
alpha = tf.Variable(0.25, name="alpha")
beta = tf.Variable(1.5, dtype=tf.float64, name="beta")
scale = tf.Variable(1.7, trainable=False, name="scale")
leak = tf.Variable(0.1, name="leak")
leak2 = tf.Variable(0.2, name="leak2")
leak3 = tf.Variable(0.3, name="leak3")


@tf.custom_gradient
def prelu_var(x):
    a = tf.cast(alpha, x.dtype)
    y = tf.where(x > 0, x, a * x)

    def grad(dy, variables=None):
        dx = dy * tf.where(x > 0, tf.ones_like(x), a * tf.ones_like(x))
        da = tf.reduce_sum(dy * tf.where(x > 0, tf.zeros_like(x), x))
        return dx, [tf.cast(da, alpha.dtype)]

    return y, grad


def swish_beta_var(x):
    """Plain TF ops reading a float64 variable: autodiff's gradient w.r.t. beta is right."""
    return x * tf.sigmoid(tf.cast(beta, x.dtype) * x)


def scaled_tanh_frozen_var(x):
    """Reads a non-trainable variable: not differentiated (nothing to check on it)."""
    return tf.cast(scale, x.dtype) * tf.tanh(x)


@tf.custom_gradient
def prelu_var_grad_sign(x):
    """BUG: the gradient w.r.t. the leak has the wrong sign."""
    a = tf.cast(leak, x.dtype)
    y = tf.where(x > 0, x, a * x)

    def grad(dy, variables=None):
        dx = dy * tf.where(x > 0, tf.ones_like(x), a * tf.ones_like(x))
        da = -tf.reduce_sum(dy * tf.where(x > 0, tf.zeros_like(x), x))
        return dx, [tf.cast(da, leak.dtype)]

    return y, grad


@tf.custom_gradient
def prelu_var_grad_none(x):
    """BUG: returns None for the variable's gradient: the leak never trains."""
    a = tf.cast(leak2, x.dtype)
    y = tf.where(x > 0, x, a * x)

    def grad(dy, variables=None):
        dx = dy * tf.where(x > 0, tf.ones_like(x), a * tf.ones_like(x))
        return dx, [None]

    return y, grad


@tf.custom_gradient
def prelu_var_grad_unsummed_mean(x):
    """BUG: averages the leak's gradient over the entries instead of summing."""
    a = tf.cast(leak3, x.dtype)
    y = tf.where(x > 0, x, a * x)

    def grad(dy, variables=None):
        dx = dy * tf.where(x > 0, tf.ones_like(x), a * tf.ones_like(x))
        da = tf.reduce_mean(dy * tf.where(x > 0, tf.zeros_like(x), x))
        return dx, [tf.cast(da, leak3.dtype)]

    return y, grad


slopes = tf.Variable(np.linspace(0.1, 0.4, 8), dtype=tf.float32, name="slopes")
slopes_b = tf.Variable(np.linspace(0.1, 0.4, 8), dtype=tf.float32, name="slopes_b")


@tf.custom_gradient
def channel_prelu_var(x):
    """A float32 slope per channel, read by a float64 computation: its steps round to float32."""
    a = tf.cast(slopes, x.dtype)
    y = tf.where(x > 0, x, a * x)

    def grad(dy, variables=None):
        dx = dy * tf.where(x > 0, tf.ones_like(x), a * tf.ones_like(x))
        # summed over every axis but the channels: (batch, ...) inputs of any rank
        da = tf.reduce_sum(dy * tf.where(x > 0, tf.zeros_like(x), x), axis=tf.range(tf.rank(x) - 1))
        return dx, [tf.cast(da, slopes.dtype)]

    return y, grad


@tf.custom_gradient
def channel_prelu_var_1pct(x):
    """BUG: the slopes' gradient is 1% too large (a leftover factor)."""
    a = tf.cast(slopes_b, x.dtype)
    y = tf.where(x > 0, x, a * x)

    def grad(dy, variables=None):
        dx = dy * tf.where(x > 0, tf.ones_like(x), a * tf.ones_like(x))
        da = 1.01 * tf.reduce_sum(dy * tf.where(x > 0, tf.zeros_like(x), x), axis=tf.range(tf.rank(x) - 1))
        return dx, [tf.cast(da, slopes_b.dtype)]

    return y, grad
