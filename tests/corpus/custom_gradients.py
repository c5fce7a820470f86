"""Corpus: activations with hand-written gradients (tf.custom_gradient / keras.ops.custom_gradient).

The correct ones must pass, including ``relu_ge_custom`` whose gradient at the kink (1)
differs from TF's autodiff (0) but is a valid subgradient. The buggy ones have a wrong
formula (caught by comparing with autodiff of the same forward) or a VJP that is not
linear in the upstream gradient (``upstream``).
"""

import math

import keras
import tensorflow as tf

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

EXPECTED = {
    "sigmoid_custom": ("pass", None),
    "tanh_custom": ("pass", None),
    "swish_custom": ("pass", None),
    "softplus_custom": ("pass", None),
    "gelu_custom": ("pass", None),
    "elu_custom": ("pass", None),
    "hard_tanh_custom": ("pass", None),
    "relu_ge_custom": ("pass", None),
    "log1pexp_keras_ops": ("pass", None),
    "tanh_grad_one_minus_y": ("fail", "custom_vs_autodiff"),
    "sine_grad_sign_error": ("fail", "custom_vs_autodiff"),
    "softplus_grad_is_softplus": ("fail", "custom_vs_autodiff"),
    "swish_grad_forgets_product_rule": ("fail", "custom_vs_autodiff"),
    "cosine_forgets_upstream": ("fail", "upstream"),
    "swish_grad_adds_upstream": ("fail", "upstream"),
}


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


@tf.custom_gradient
def swish_custom(x):
    """Swish with gradient dy * (s + x s (1 - s)), s = sigmoid(x)."""
    s = tf.sigmoid(x)
    y = x * s

    def grad(dy):
        return dy * (s + x * s * (1.0 - s))

    return y, grad


@tf.custom_gradient
def softplus_custom(x):
    """Softplus with gradient dy * sigmoid(x)."""
    y = tf.math.softplus(x)

    def grad(dy):
        return dy * tf.sigmoid(x)

    return y, grad


@tf.custom_gradient
def gelu_custom(x):
    """Exact GELU with gradient dy * (Phi(x) + x phi(x))."""
    cdf = 0.5 * (1.0 + tf.math.erf(x * _INV_SQRT_2))
    y = x * cdf

    def grad(dy):
        pdf = _INV_SQRT_2PI * tf.exp(-0.5 * x * x)
        return dy * (cdf + x * pdf)

    return y, grad


@tf.custom_gradient
def elu_custom(x):
    """ELU (alpha = 1) with gradient dy * (1 if x > 0 else y + 1)."""
    y = tf.nn.elu(x)

    def grad(dy):
        return dy * tf.where(x > 0, tf.ones_like(x), y + 1.0)

    return y, grad


@tf.custom_gradient
def hard_tanh_custom(x):
    """Hard tanh with gradient dy * [|x| <= 1] (kinks at +-1)."""
    y = tf.clip_by_value(x, -1.0, 1.0)

    def grad(dy):
        return dy * tf.cast(tf.abs(x) <= 1.0, dy.dtype)

    return y, grad


@tf.custom_gradient
def relu_ge_custom(x):
    """ReLU with gradient dy * [x >= 0]: at 0 it says 1 where TF says 0; both are valid subgradients."""
    y = tf.nn.relu(x)

    def grad(dy):
        return dy * tf.cast(x >= 0, dy.dtype)

    return y, grad


@keras.ops.custom_gradient
def log1pexp_keras_ops(x):
    """Softplus written with keras.ops.custom_gradient (Keras 3 docs style grad(*args, upstream=None))."""
    y = keras.ops.softplus(x)

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return keras.ops.multiply(upstream, keras.ops.sigmoid(x))

    return y, grad


@tf.custom_gradient
def tanh_grad_one_minus_y(x):
    """BUG: tanh derivative written as dy * (1 - y) instead of dy * (1 - y^2)."""
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y)

    return y, grad


@tf.custom_gradient
def sine_grad_sign_error(x):
    """BUG: sign error, the gradient of sin is written as -dy * cos(x)."""
    y = tf.sin(x)

    def grad(dy):
        return -dy * tf.cos(x)

    return y, grad


@tf.custom_gradient
def softplus_grad_is_softplus(x):
    """BUG: returns dy * softplus(x) (the function) instead of dy * sigmoid(x) (its derivative)."""
    y = tf.math.softplus(x)

    def grad(dy):
        return dy * y

    return y, grad


@tf.custom_gradient
def swish_grad_forgets_product_rule(x):
    """BUG: swish gradient dy * sigmoid(x), forgetting the x * sigmoid'(x) term of the product rule."""
    s = tf.sigmoid(x)

    def grad(dy):
        return dy * s

    return x * s, grad


@tf.custom_gradient
def cosine_forgets_upstream(x):
    """BUG: returns -sin(x) without multiplying by the upstream gradient dy."""
    y = tf.cos(x)

    def grad(dy):
        return -tf.sin(x)

    return y, grad


@tf.custom_gradient
def swish_grad_adds_upstream(x):
    """BUG: adds the upstream gradient (dy + swish'(x)) instead of multiplying: not linear in dy."""
    s = tf.sigmoid(x)

    def grad(dy):
        return dy + (s + x * s * (1.0 - s))

    return x * s, grad
