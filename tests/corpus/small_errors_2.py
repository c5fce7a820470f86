"""Red-team class (g): hand-written gradients that are almost right, and exact alternative forms."""

import math

import tensorflow as tf

_C = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

EXPECTED = {
    "gelu_tanh_grad_const_0447": ("fail", "custom_vs_autodiff"),
    "gelu_tanh_rounded_const_consistent": ("pass", None),
    "silu_grad_factor_1005": ("fail", "custom_vs_autodiff"),
    "mish_grad_factor_0999": ("fail", "custom_vs_autodiff"),
    "tanh_grad_zero_above_4": ("fail", "custom_vs_autodiff"),
    "swish_grad_zero_below_minus3": ("fail", "custom_vs_autodiff"),
    "selu_grad_negative_branch_missing_scale": ("fail", "custom_vs_autodiff"),
    "isru_grad_missing_eps": ("fail", "custom_vs_autodiff"),
    "leaky_swish_grad_missing_leak": ("fail", "custom_vs_autodiff"),
    "gelu_erf_custom_exact": ("pass", None),
    "softplus_grad_tanh_form": ("pass", None),
    "tanh_grad_exp_form": ("pass", None),
    "gelu_erf_custom_f32_rounded_const": ("pass", None),
    "sigmoid_grad_f32_factor_1001": ("fail", "custom_vs_autodiff"),
    "sigmoid_grad_f32_factor_10003": ("fail", "custom_vs_autodiff"),
    "elu_grad_branch_at_zero_inclusive": ("pass", None),
}


def _gelu_tanh(x, k):
    inner = _C * (x + k * x * x * x)
    t = tf.tanh(tf.clip_by_value(inner, -20.0, 20.0))
    return t, 0.5 * x * (1.0 + t)


@tf.custom_gradient
def gelu_tanh_grad_const_0447(x):
    """BUG: forward uses 0.044715, the hand-written derivative 0.0447."""
    t, y = _gelu_tanh(x, 0.044715)

    def grad(dy):
        k = 0.0447
        return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _C * (1.0 + 3.0 * k * x * x))

    return y, grad


@tf.custom_gradient
def gelu_tanh_rounded_const_consistent(x):
    """0.0447 in both the forward and the derivative: a slightly different but consistent function."""
    k = 0.0447
    t, y = _gelu_tanh(x, k)

    def grad(dy):
        return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _C * (1.0 + 3.0 * k * x * x))

    return y, grad


@tf.custom_gradient
def silu_grad_factor_1005(x):
    """BUG: gradient 0.5 % too large."""
    s = tf.sigmoid(x)

    def grad(dy):
        return 1.005 * dy * (s * (1.0 + x * (1.0 - s)))

    return x * s, grad


@tf.custom_gradient
def mish_grad_factor_0999(x):
    """BUG: gradient 0.1 % too small."""
    sp = tf.math.softplus(x)
    t = tf.tanh(sp)

    def grad(dy):
        return 0.999 * dy * (t + x * (1.0 - t * t) * tf.sigmoid(x))

    return x * t, grad


@tf.custom_gradient
def tanh_grad_zero_above_4(x):
    """BUG: 'saturated' shortcut: gradient 0 for |x| > 4 (true 1.3e-3 at 4, 4.5e-7 at 8)."""
    y = tf.tanh(x)

    def grad(dy):
        return dy * tf.where(tf.abs(x) > 4.0, tf.zeros_like(x), 1.0 - y * y)

    return y, grad


@tf.custom_gradient
def swish_grad_zero_below_minus3(x):
    """BUG: gradient set to 0 for x < -3 (true swish' is -0.088 at -3, -2.3e-3 at -8)."""
    s = tf.sigmoid(x)

    def grad(dy):
        g = s * (1.0 + x * (1.0 - s))
        return dy * tf.where(x < -3.0, tf.zeros_like(x), g)

    return x * s, grad


_SELU_A = 1.6732632423543772
_SELU_L = 1.0507009873554805


@tf.custom_gradient
def selu_grad_negative_branch_missing_scale(x):
    """BUG: the negative-branch derivative forgets lambda (alpha e^x instead of lambda alpha e^x)."""
    y = tf.nn.selu(x)

    def grad(dy):
        return dy * tf.where(x > 0, _SELU_L * tf.ones_like(x), _SELU_A * tf.exp(tf.minimum(x, 0.0)))

    return y, grad


@tf.custom_gradient
def isru_grad_missing_eps(x):
    """BUG: forward x / sqrt(1 + x^2 + 1e-3); the derivative drops the 1e-3 (5e-4 relative at 0)."""
    d = 1.0 + x * x + 1e-3
    y = x * tf.math.rsqrt(d)

    def grad(dy):
        return dy * tf.pow(1.0 + x * x, -1.5)

    return y, grad


@tf.custom_gradient
def leaky_swish_grad_missing_leak(x):
    """BUG: forward x sigmoid(x) + 0.01 x; the derivative forgets the 0.01."""
    s = tf.sigmoid(x)

    def grad(dy):
        return dy * s * (1.0 + x * (1.0 - s))

    return x * s + 0.01 * x, grad


@tf.custom_gradient
def gelu_erf_custom_exact(x):
    y = 0.5 * x * tf.math.erfc(-x / math.sqrt(2.0))

    def grad(dy):
        return dy * (0.5 * tf.math.erfc(-x / math.sqrt(2.0)) + x * _INV_SQRT_2PI * tf.exp(-0.5 * x * x))

    return y, grad


@tf.custom_gradient
def softplus_grad_tanh_form(x):
    """Softplus with the exact gradient written 0.5 (1 + tanh(x / 2))."""
    y = tf.math.softplus(x)

    def grad(dy):
        return dy * 0.5 * (1.0 + tf.tanh(0.5 * x))

    return y, grad


@tf.custom_gradient
def tanh_grad_exp_form(x):
    """Tanh with the gradient 4 / (e^x + e^-x)^2: overflows to inf in the denominator, giving 0 (right)."""
    y = tf.tanh(x)

    def grad(dy):
        d = tf.exp(x) + tf.exp(-x)
        return dy * 4.0 / (d * d)

    return y, grad


@tf.custom_gradient
def gelu_erf_custom_f32_rounded_const(x):
    """float32 GELU with 7-digit constants in the gradient: exact to float32 rounding."""
    half = tf.constant(0.5)
    y = half * x * (tf.constant(1.0) + tf.math.erf(x * tf.constant(0.70710678)))

    def grad(dy):
        cdf = half * (tf.constant(1.0) + tf.math.erf(x * tf.constant(0.70710678)))
        pdf = tf.constant(0.39894228) * tf.exp(-half * x * x)
        return dy * (cdf + x * pdf)

    return y, grad


@tf.custom_gradient
def sigmoid_grad_f32_factor_1001(x):
    """BUG (float32-only activation): gradient 0.1 % too large."""
    one = tf.constant(1.0)
    y = tf.sigmoid(x * one)

    def grad(dy):
        return tf.constant(1.001) * dy * y * (one - y)

    return y, grad


@tf.custom_gradient
def sigmoid_grad_f32_factor_10003(x):
    """BUG (float32-only activation): gradient 0.03 % too large (3e-4, ~2500 float32 ulps)."""
    one = tf.constant(1.0)
    y = tf.sigmoid(x * one)

    def grad(dy):
        return tf.constant(1.0003) * dy * y * (one - y)

    return y, grad


@tf.custom_gradient
def elu_grad_branch_at_zero_inclusive(x):
    """ELU whose gradient uses x >= 0 for the linear branch: 1 at 0 either way (C1)."""
    y = tf.nn.elu(x)

    def grad(dy):
        return dy * tf.where(x >= 0, tf.ones_like(x), y + 1.0)

    return y, grad
