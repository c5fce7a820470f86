"""Corpus class (g): hand-written gradients that are almost right.

Off by 0.1 %, wrong only for x > 5, wrong only on one branch, a missing factor in one term,
an argument shifted by 0.01. A tight custom-vs-autodiff comparison must flag every one of
them, while exact alternative formulas (1 / cosh^2, sigmoid(x) sigmoid(-x), a correct
tanh-GELU derivative) must pass despite float32 rounding.
"""

import math

import tensorflow as tf

_C = math.sqrt(2.0 / math.pi)
_K = 0.044715

EXPECTED = {
    "tanh_grad_cosh_form": ("pass", None),
    "sigmoid_grad_product_form": ("pass", None),
    "gelu_tanh_custom": ("pass", None),
    "tanh_grad_factor_1001": ("fail", "custom_vs_autodiff"),
    "softplus_grad_clipped_above_5": ("fail", "custom_vs_autodiff"),
    "leaky_relu_grad_wrong_sign_negative": ("fail", "custom_vs_autodiff"),
    "elu_grad_wrong_negative_branch": ("fail", "custom_vs_autodiff"),
    "gelu_tanh_grad_forgets_3": ("fail", "custom_vs_autodiff"),
    "softplus_grad_shifted": ("fail", "custom_vs_autodiff"),
}


def _gelu_tanh_parts(x):
    xc = tf.clip_by_value(x, -10.0, 10.0)  # tanh is saturated beyond; keeps float16 finite
    t = tf.tanh(_C * (xc + _K * xc * xc * xc))
    return xc, t, 0.5 * x * (1.0 + t)


@tf.custom_gradient
def tanh_grad_cosh_form(x):
    """Tanh with the gradient written as dy / cosh(x)^2 (exact, different rounding than 1 - y^2)."""
    y = tf.tanh(x)

    def grad(dy):
        c = tf.cosh(x)
        return dy / (c * c)

    return y, grad


@tf.custom_gradient
def sigmoid_grad_product_form(x):
    """Sigmoid with the gradient written as dy * sigmoid(x) * sigmoid(-x) (exact)."""
    y = tf.sigmoid(x)

    def grad(dy):
        return dy * y * tf.sigmoid(-x)

    return y, grad


@tf.custom_gradient
def gelu_tanh_custom(x):
    """Tanh-approximate GELU with its correct derivative 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3k x^2)."""
    xc, t, y = _gelu_tanh_parts(x)

    def grad(dy):
        return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _C * (1.0 + 3.0 * _K * xc * xc))

    return y, grad


@tf.custom_gradient
def tanh_grad_factor_1001(x):
    """BUG: the tanh gradient is 0.1 % too large: 1.001 * dy * (1 - y^2)."""
    y = tf.tanh(x)

    def grad(dy):
        return 1.001 * dy * (1.0 - y * y)

    return y, grad


@tf.custom_gradient
def softplus_grad_clipped_above_5(x):
    """BUG: 'saturation shortcut' gradient 1 for x > 5 instead of sigmoid(x) (wrong by 7e-3 at 5, 3e-4 at 8)."""
    y = tf.math.softplus(x)

    def grad(dy):
        return dy * tf.where(x > 5.0, tf.ones_like(x), tf.sigmoid(x))

    return y, grad


@tf.custom_gradient
def leaky_relu_grad_wrong_sign_negative(x):
    """BUG: leaky ReLU (slope 0.01) whose gradient on the negative branch has the wrong sign (-0.01)."""
    y = tf.nn.leaky_relu(x, alpha=0.01)

    def grad(dy):
        return dy * tf.where(x > 0, tf.ones_like(x), -0.01 * tf.ones_like(x))

    return y, grad


@tf.custom_gradient
def elu_grad_wrong_negative_branch(x):
    """BUG: ELU gradient on the negative branch written as y instead of y + 1 (positive branch right)."""
    y = tf.nn.elu(x)

    def grad(dy):
        return dy * tf.where(x > 0, tf.ones_like(x), y)

    return y, grad


@tf.custom_gradient
def gelu_tanh_grad_forgets_3(x):
    """BUG: tanh-GELU derivative with d/dx (k x^3) written as k x^2 (the factor 3 is missing)."""
    xc, t, y = _gelu_tanh_parts(x)

    def grad(dy):
        return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _C * (1.0 + _K * xc * xc))

    return y, grad


@tf.custom_gradient
def softplus_grad_shifted(x):
    """BUG: softplus gradient evaluated at a shifted point, sigmoid(x + 0.01) instead of sigmoid(x)."""
    y = tf.math.softplus(x)

    def grad(dy):
        return dy * tf.sigmoid(x + 0.01)

    return y, grad
