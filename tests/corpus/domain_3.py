"""Red team 2: activations defined only for positive inputs, marked with a range."""

import tensorflow as tf

import gradcheck

EXPECTED = {'log_pos': ('pass', None),
 'box_cox_quarter': ('pass', None),
 'rsqrt_pos': ('pass', None),
 'inverse_square_pos': ('warn', 'stability'),
 'x_pow_x': ('warn', 'stability'),
 'lgamma_pos': ('pass', None),
 'softplus_inverse_stable': ('pass', None),
 'lambert_w_newton': ('pass', None),
 'xlogx_pos': ('pass', None),
 'sqrt_shifted': ('warn', 'stability')}


@gradcheck.options(range=(0.01, 8))
def log_pos(x):
    """Natural log on its domain."""
    return tf.math.log(x)


@gradcheck.options(range=(0.01, 8))
def box_cox_quarter(x):
    """Box-Cox transform with lambda = 1/4."""
    lam = 0.25
    return (tf.pow(x, lam) - 1.0) / lam


@gradcheck.options(range=(0.01, 8))
def rsqrt_pos(x):
    """1 / sqrt(x)."""
    return tf.math.rsqrt(x)


@gradcheck.options(range=(0.01, 8))
def inverse_square_pos(x):
    """1 / x^2 (its gradient -2/x^3 overflows float16 near 0.01)."""
    return 1.0 / (x * x)


@gradcheck.options(range=(0.01, 8))
def x_pow_x(x):
    """x^x = exp(x log x)."""
    return tf.pow(x, x)


@gradcheck.options(range=(0.01, 8))
def lgamma_pos(x):
    """log Gamma(x)."""
    return tf.math.lgamma(x)


@gradcheck.options(range=(0.01, 8))
def softplus_inverse_stable(x):
    """Inverse of softplus, log(e^x - 1) = x + log(-expm1(-x)) (no overflow)."""
    return x + tf.math.log(-tf.math.expm1(-x))


@gradcheck.options(range=(0.01, 8))
@tf.custom_gradient
def lambert_w_newton(x):
    """Lambert W by Newton's method (forward detached); implicit gradient 1 / (e^W (1 + W))."""
    xd = tf.stop_gradient(x)
    w = tf.math.log1p(xd)
    for _ in range(30):
        ew = tf.exp(w)
        w = w - (w * ew - xd) / (ew * (w + 1.0))

    def grad(dy):
        return dy / (tf.exp(w) * (1.0 + w))

    return w, grad


@gradcheck.options(range=(0.01, 8))
def xlogx_pos(x):
    """x log x (entropy term) on its domain."""
    return x * tf.math.log(x)


def sqrt_shifted(x):
    """sqrt(x + 8.5): defined on the default range, NaN below -8.5."""
    return tf.sqrt(x + 8.5)
