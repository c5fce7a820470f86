"""Classic gradient mistakes: gradcheck should fail every one of them, each for its own reason.

    gradcheck sample_activations/bad.py
"""

import numpy as np
import tensorflow as tf


@tf.custom_gradient
def tanh_wrong_derivative(x):
    """Wrong derivative: tanh's gradient written as dy * (1 - y) instead of dy * (1 - y^2)."""
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y)

    return y, grad


@tf.custom_gradient
def sine_forgets_upstream(x):
    """Missing upstream factor: returns cos(x) instead of dy * cos(x)."""
    y = tf.sin(x)

    def grad(dy):
        return tf.cos(x)

    return y, grad


def tanh_numpy_inside(x):
    """NumPy inside: tf.constant(np.tanh(x.numpy())) cuts the tape, so the gradient is None."""
    return tf.constant(np.tanh(x.numpy()))


def abs_sqrt_square(x):
    """NaN at 0: |x| as sqrt(x * x) has gradient x / sqrt(x^2) = 0 / 0 at x = 0."""
    return tf.sqrt(x * x)


def log_linear_where(x):
    """NaN at 0 through tf.where: where(x > 1, 1 + log(x), x) also differentiates log(x), and 0 * inf = NaN at 0."""
    return tf.where(x > 1.0, 1.0 + tf.math.log(x), x)


@tf.custom_gradient
def sigmoid_sign_error(x):
    """Sign error: the sigmoid gradient is written as -dy * y * (1 - y)."""
    y = tf.sigmoid(x)

    def grad(dy):
        return -dy * y * (1.0 - y)

    return y, grad


@tf.custom_gradient
def softplus_grad_off_by_0_1_percent(x):
    """Off by a factor of 1.001: softplus gradient 1.001 * dy * sigmoid(x)."""
    y = tf.math.softplus(x)

    def grad(dy):
        return 1.001 * dy * tf.sigmoid(x)

    return y, grad


@tf.custom_gradient
def softmax_diagonal_only(x):
    """Diagonal-only Jacobian: softmax VJP dy * y * (1 - y) drops the -y_i y_j off-diagonal terms."""
    y = tf.nn.softmax(x, axis=-1)

    def grad(dy):
        return dy * y * (1.0 - y)

    return y, grad


@tf.custom_gradient
def sine_grad_wrong_shape(x):
    """Wrong-shape gradient: tf.reduce_sum(dy * cos(x)) is a scalar, not a tensor shaped like x."""
    y = tf.sin(x)

    def grad(dy):
        return tf.reduce_sum(dy * tf.cos(x))

    return y, grad


def round_activation(x):
    """Round-based forward: tf.round has no gradient in TF (None) although the output jumps."""
    return tf.round(x)


def floor_via_floormod(x):
    """Floor-based forward: x - floormod(x, 1) is a staircase whose TF gradient is 0 everywhere."""
    return x - tf.math.floormod(x, 1.0)
