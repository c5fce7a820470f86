"""Corpus class (a): smooth activations built from plain TF ops.

Autodiff of these is exact; the only disagreement with finite differences is float32 /
float64 rounding noise, so every correct one must pass. The two ``*_detached_*`` ones put
``tf.stop_gradient`` on a factor that depends on ``x``, a real-world slip that makes the
tape gradient disagree with the function everywhere.
"""

import math

import tensorflow as tf

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)

EXPECTED = {
    "gelu_tanh": ("pass", None),
    "gelu_erf": ("pass", None),
    "mish": ("pass", None),
    "swish": ("pass", None),
    "softsign": ("pass", None),
    "elu": ("pass", None),
    "softplus": ("pass", None),
    "lecun_tanh": ("pass", None),
    "sine": ("pass", None),
    "gaussian": ("pass", None),
    "swish_beta": ("pass", None),
    "swish_detached_gate": ("fail", "gradient_vs_fd"),
    "mish_detached_softplus": ("fail", "gradient_vs_fd"),
}


def gelu_tanh(x):
    """GELU, tanh approximation; the cubic sees x clipped to +-10 (tanh is saturated there) so float16 cannot overflow."""
    xc = tf.clip_by_value(x, -10.0, 10.0)
    return 0.5 * x * (1.0 + tf.tanh(_SQRT_2_OVER_PI * (xc + 0.044715 * xc * xc * xc)))


def gelu_erf(x):
    """Exact GELU: x * Phi(x) with the error function."""
    return 0.5 * x * (1.0 + tf.math.erf(x * _INV_SQRT_2))


def mish(x):
    """Mish: x * tanh(softplus(x)) with TF's stable softplus."""
    return x * tf.tanh(tf.math.softplus(x))


def swish(x):
    """Swish / SiLU: x * sigmoid(x)."""
    return x * tf.sigmoid(x)


def softsign(x):
    """Softsign x / (1 + |x|); |x| has a kink at 0 but the quotient is C1 and autodiff gives 1 there."""
    return x / (1.0 + tf.abs(x))


def elu(x):
    """ELU with alpha = 1 (C1 at 0: both one-sided slopes are 1)."""
    return tf.nn.elu(x)


def softplus(x):
    """Softplus through tf.math.softplus (numerically stable)."""
    return tf.math.softplus(x)


def lecun_tanh(x):
    """LeCun's scaled tanh 1.7159 * tanh(2x/3)."""
    return 1.7159 * tf.tanh(x * (2.0 / 3.0))


def sine(x):
    """SIREN-style periodic activation sin(x)."""
    return tf.sin(x)


def gaussian(x):
    """Gaussian bump exp(-x^2)."""
    return tf.exp(-x * x)


def swish_beta(x, beta=1.702):
    """Swish with a fixed beta (the sigmoid approximation of GELU); beta has a default so one tensor suffices."""
    return x * tf.sigmoid(beta * x)


def swish_detached_gate(x):
    """BUG: stop_gradient on the sigmoid gate, so the tape gradient is sigmoid(x) instead of swish'(x)."""
    return x * tf.stop_gradient(tf.sigmoid(x))


def mish_detached_softplus(x):
    """BUG: stop_gradient on softplus(x) inside mish, dropping the x * tanh' * sigmoid term."""
    return x * tf.tanh(tf.stop_gradient(tf.math.softplus(x)))
