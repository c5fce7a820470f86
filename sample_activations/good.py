"""Correct activations: gradcheck should pass every one of them.

Plain TF functions, tf.custom_gradient functions with correct hand-written gradients, a
plain/custom pair of the same function, Keras layers with trainable weights, and a
non-elementwise softmax with its full VJP. Constants are Python floats, so everything
works in float64 as well as float32.

    gradcheck sample_activations/good.py
"""

import keras
import tensorflow as tf


def swish(x):
    """Swish / SiLU: x * sigmoid(x)."""
    return x * tf.sigmoid(x)


def softplus_stable(x):
    """Softplus as m + log(exp(-m) + exp(x - m)), m = stop_gradient(max(x, 0)): no overflow, gradient sigmoid(x)."""
    m = tf.stop_gradient(tf.maximum(x, 0.0))
    return m + tf.math.log(tf.exp(-m) + tf.exp(x - m))


def hard_sigmoid(x):
    """Hard sigmoid clip(0.2 x + 0.5, 0, 1); kinks at -2.5 and 2.5."""
    return tf.clip_by_value(0.2 * x + 0.5, 0.0, 1.0)


def leaky_relu(x):
    """Leaky ReLU where(x > 0, x, 0.01 x); kink at 0."""
    return tf.where(x > 0, x, 0.01 * x)


@tf.custom_gradient
def sigmoid_custom(x):
    """Sigmoid with the hand-written gradient dy * y * (1 - y)."""
    y = tf.sigmoid(x)

    def grad(dy):
        return dy * y * (1.0 - y)

    return y, grad


@tf.custom_gradient
def tanh_custom(x):
    """Tanh with the hand-written gradient dy * (1 - y^2)."""
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y * y)

    return y, grad


def my_activation(x):
    """Mish x * tanh(softplus(x)), plain TF ops (autodiff)."""
    return x * tf.tanh(tf.math.softplus(x))


@tf.custom_gradient
def my_activation_with_gradient(x):
    """The same mish with its hand-written gradient tanh(sp) + x (1 - tanh(sp)^2) sigmoid(x)."""
    t = tf.tanh(tf.math.softplus(x))

    def grad(dy):
        return dy * (t + x * (1.0 - t * t) * tf.sigmoid(x))

    return x * t, grad


@tf.custom_gradient
def softmax_custom(x):
    """Softmax over the last axis with the full hand-written VJP y * (dy - sum(dy * y))."""
    y = tf.nn.softmax(x, axis=-1)

    def grad(dy):
        return y * (dy - tf.reduce_sum(dy * y, axis=-1, keepdims=True))

    return y, grad


class LearnableSlopePReLU(keras.layers.Layer):
    """PReLU where(x > 0, x, alpha x) with one trainable slope alpha (init 0.25)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer=keras.initializers.Constant(0.25))

    def call(self, x):
        return tf.where(x > 0, x, self.alpha * x)


class ParametricSwish(keras.layers.Layer):
    """Swish x * sigmoid(beta x) with a trainable beta (init 1.0)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.beta = self.add_weight(name="beta", shape=(), initializer=keras.initializers.Constant(1.0))

    def call(self, x):
        return x * tf.sigmoid(self.beta * x)
