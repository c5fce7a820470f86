"""Second derivatives (`--order 2`): nested-tape second derivatives against finite differences
of the gradient. Every activation here carries ``@gradcheck.options(order=2)``, so the corpus run
(default options) checks it at order 2.

Correct ones pass, kinks of the function included (the gradient jumps there: no second
derivative, any value accepted) and piecewise-linear functions whose second derivative TF
reports as None (tf.maximum, tf.clip_by_value: 0 wherever it exists). The bugs have a right
first derivative and a wrong or missing second one: a hand-written gradient cut from the graph
(tf.stop_gradient, NumPy, tf.round), a factor detached (`3 * x * tf.stop_gradient(x)` for
x^3), a hand-written gradient whose own hand-written derivative is wrong, TF ops whose second
derivative is wrong (tf.nn.moments detaches the mean inside the variance), NaN (pow of relu)
or missing (tf.nn.softsign: no gradient registered for SoftsignGrad).
"""

import keras
import numpy as np
import tensorflow as tf

import gradcheck

EXPECTED = {
    # correct: pass
    "tanh_o2": ("pass", None),
    "gelu_o2": ("pass", None),
    "gelu_tanh_approx_o2": ("pass", None),
    "softplus_o2": ("pass", None),
    "swish_o2": ("pass", None),
    "mish_o2": ("pass", None),
    "elu_o2": ("pass", None),
    "relu_o2": ("pass", None),
    "leaky_relu_o2": ("pass", None),
    "relu_maximum_o2": ("pass", None),
    "hard_sigmoid_o2": ("pass", None),
    "relu_squared_o2": ("pass", None),
    "tanh_custom_o2": ("pass", None),
    "softplus_custom_o2": ("pass", None),
    "swish_custom_in_x_o2": ("pass", None),
    "softmax_last_o2": ("pass", None),
    "log_softmax_o2": ("pass", None),
    "layer_norm_manual_o2": ("pass", None),
    "ScaledSwishO2": ("pass", None),
    # bugs: fail
    "tanh_grad_stop_gradient": ("fail", "second_order"),
    "tanh_grad_numpy": ("fail", "graph"),
    "tanh_grad_numpy_function": ("fail", "second_order"),
    "cube_grad_detached_factor": ("fail", "second_order"),
    "softplus_grad_wrong_own_derivative": ("fail", "second_order"),
    "square_grad_rounded_input": ("fail", "second_order"),
    "softmax_grad_detached_output": ("fail", "second_order"),
    "layer_norm_tf_moments": ("fail", "second_order"),
    "relu_pow_1_5": ("fail", "second_order"),
    "logcosh_abs_form": ("fail", "second_order"),
    "softsign_tf": ("fail", "second_order"),
}

O2 = gradcheck.options(order=2)


# -- correct: smooth -------------------------------------------------------------------------
@O2
def tanh_o2(x):
    return tf.tanh(x)


@O2
def gelu_o2(x):
    return tf.nn.gelu(x)


@O2
def gelu_tanh_approx_o2(x):
    return tf.nn.gelu(x, approximate=True)


@O2
def softplus_o2(x):
    return tf.nn.softplus(x)


@O2
def swish_o2(x):
    return x * tf.sigmoid(x)


@O2
def mish_o2(x):
    return x * tf.tanh(tf.nn.softplus(x))


# -- correct: kinks (the gradient jumps, or its derivative does) --------------------------
@O2
def elu_o2(x):
    """f' is continuous at 0, f'' jumps from 1 to 0 there: a kink of the gradient."""
    return tf.nn.elu(x)


@O2
def relu_o2(x):
    """The gradient jumps at 0; TF's second derivative is 0 (ReluGrad's gradient)."""
    return tf.nn.relu(x)


@O2
def leaky_relu_o2(x):
    return tf.nn.leaky_relu(x, alpha=0.2)


@O2
def relu_maximum_o2(x):
    """tf.maximum's gradient is a select on x >= 0: TF's second derivative is None, the true one 0."""
    return tf.maximum(x, 0.0)


@O2
def hard_sigmoid_o2(x):
    """Piecewise linear, kinks at -2.5 and 2.5: a None second derivative (clip's gradient is a select)."""
    return tf.clip_by_value(0.2 * x + 0.5, 0.0, 1.0)


@O2
def relu_squared_o2(x):
    """f' = 2 relu(x) is continuous; f'' jumps from 0 to 2 at 0 (TF gives 0 there, a one-sided value)."""
    return tf.square(tf.nn.relu(x))


# -- correct: hand-written gradients that TF can differentiate ----------------------------
@O2
@tf.custom_gradient
def tanh_custom_o2(x):
    """dy * (1 - y^2) with y the forward's output: y is on the tape, so the second derivative is right."""
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y * y)

    return y, grad


@O2
@tf.custom_gradient
def softplus_custom_o2(x):
    def grad(dy):
        return dy * tf.sigmoid(x)

    return tf.nn.softplus(x), grad


@O2
@tf.custom_gradient
def swish_custom_in_x_o2(x):
    """Swish with its derivative s + x s (1 - s) written out in x."""
    s = tf.sigmoid(x)

    def grad(dy):
        return dy * (s + x * s * (1.0 - s))

    return x * s, grad


# -- correct: along the last axis ----------------------------------------------------------
@O2
def softmax_last_o2(x):
    return tf.nn.softmax(x, axis=-1)


@O2
def log_softmax_o2(x):
    return tf.nn.log_softmax(x, axis=-1)


@O2
def layer_norm_manual_o2(x):
    """Layer normalization with mean and variance written out (nothing detached)."""
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    var = tf.reduce_mean(tf.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * tf.math.rsqrt(var + 1e-3)


@O2
class ScaledSwishO2(keras.layers.Layer):
    """x * sigmoid(beta * x) with a trainable beta (second derivatives with respect to x)."""

    def build(self, input_shape):
        self.beta = self.add_weight(shape=(), initializer=keras.initializers.Constant(1.5), name="beta")

    def call(self, x):
        return x * tf.sigmoid(self.beta * x)


# -- bugs: the hand-written gradient is cut from the graph ---------------------------------
@O2
@tf.custom_gradient
def tanh_grad_stop_gradient(x):
    """Right first derivative, wrapped in tf.stop_gradient: the second derivative is None."""
    y = tf.tanh(x)

    def grad(dy):
        return dy * tf.stop_gradient(1.0 - y * y)

    return y, grad


@O2
@tf.custom_gradient
def tanh_grad_numpy(x):
    """The derivative computed in NumPy from .numpy(): fails under tf.function first, and has no
    second derivative (None)."""
    y = tf.tanh(x)

    def grad(dy):
        return dy * tf.constant(1.0 - np.tanh(x.numpy()) ** 2, dtype=dy.dtype)

    return y, grad


@O2
@tf.custom_gradient
def tanh_grad_numpy_function(x):
    """The derivative computed in NumPy through tf.numpy_function: runs under tf.function too, right
    values, no second derivative (None)."""
    y = tf.tanh(x)

    def grad(dy):
        d = tf.numpy_function(lambda a: (1.0 - np.tanh(a) ** 2).astype(a.dtype), [x], x.dtype)
        return dy * tf.reshape(d, tf.shape(x))

    return y, grad


@O2
@tf.custom_gradient
def square_grad_rounded_input(x):
    """x^2 whose gradient snaps x to a 2^-30 grid first (tf.round): first derivative off by < 1e-9,
    second derivative None (tf.round has no gradient) instead of 2."""

    def grad(dy):
        q = tf.round(x * 2.0**30) / 2.0**30
        return dy * 2.0 * q

    return x * x, grad


# -- bugs: the second derivative is wrong, the first is right -------------------------------
@O2
@tf.custom_gradient
def cube_grad_detached_factor(x):
    """x^3 with gradient 3 x stop_gradient(x): 3 x^2 as it should, but its derivative is 3x, not 6x."""

    def grad(dy):
        return dy * 3.0 * x * tf.stop_gradient(x)

    return x * x * x, grad


@tf.custom_gradient
def _sigmoid_wrong_derivative(x):
    s = tf.sigmoid(x)

    def grad(dy):
        return dy * s  # should be dy * s * (1 - s)

    return s, grad


@O2
@tf.custom_gradient
def softplus_grad_wrong_own_derivative(x):
    """Softplus whose gradient sigmoid(x) is right in value but is itself a custom-gradient function
    with a wrong derivative (s instead of s (1 - s))."""

    def grad(dy):
        return dy * _sigmoid_wrong_derivative(x)

    return tf.nn.softplus(x), grad


@O2
@tf.custom_gradient
def softmax_grad_detached_output(x):
    """Softmax with the right VJP y * (dy - sum(dy * y)), y detached: the second derivative is None."""
    y = tf.nn.softmax(x, axis=-1)
    ys = tf.stop_gradient(y)

    def grad(dy):
        return ys * (dy - tf.reduce_sum(dy * ys, axis=-1, keepdims=True))

    return y, grad


@O2
def layer_norm_tf_moments(x):
    """Layer normalization through tf.nn.moments (what keras.ops.layer_normalization uses with the
    TensorFlow backend): the variance is taken around stop_gradient(mean), which leaves the first
    derivative right (its gradient to the mean is 0) and the second one wrong."""
    mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(var + 1e-3)


@O2
def relu_pow_1_5(x):
    """relu(x)^1.5: the gradient 1.5 relu^0.5 is fine, its derivative 0.75 relu^-0.5 * relu' is
    inf * 0 = NaN for every x <= 0."""
    return tf.pow(tf.nn.relu(x), 1.5)


@O2
def logcosh_abs_form(x):
    """log(cosh x) as |x| + softplus(-2|x|) - log 2: first derivative right everywhere (0 at 0), but
    TF's derivative of |x| at 0 is 0, so the second derivative at 0 is 0 instead of 1 (a seam)."""
    ax = tf.abs(x)
    return ax + tf.math.softplus(-2.0 * ax) - np.log(2.0)


@O2
def softsign_tf(x):
    """tf.nn.softsign: TF has no gradient for SoftsignGrad, so a second derivative raises LookupError."""
    return tf.nn.softsign(x)
