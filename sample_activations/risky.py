"""Correct on the usual range but numerically risky: gradcheck should warn about each.

The gradients are right on [-8, 8] in float32 and float64; the float32 / half-precision
sweep to large |x| finds inf outputs or NaN gradients for finite inputs.

    gradcheck sample_activations/risky.py
"""

import tensorflow as tf


def softplus_naive(x):
    """log(1 + exp(x)): exp overflows in float32 for x > 88.7, so the output is inf and the gradient NaN."""
    return tf.math.log(1.0 + tf.exp(x))


def elu_where_naive(x):
    """ELU as where(x > 0, x, exp(x) - 1): exp overflows in the unused branch for large x (float32 x > 88.7), and where's gradient 0 * inf is NaN."""
    return tf.where(x > 0, x, tf.exp(x) - 1.0)


def sigmoid_naive(x):
    """1 / (1 + exp(-x)): for x < -88.7 in float32 the output is 0 but the gradient is 0 * inf = NaN."""
    return 1.0 / (1.0 + tf.exp(-x))
