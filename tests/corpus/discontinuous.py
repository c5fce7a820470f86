"""Corpus class (c): discontinuous / piecewise-constant forwards.

The forward jumps, but the tape gradient is None (round, floor, comparisons and integer
casts are not differentiable in TF) or identically zero (sign, floormod), so gradient
descent gets no signal although the output changes: these fail. A constant function has a
zero gradient that is actually right: warn. ``soft_round`` looks like a staircase but is
smooth, and must pass. ``round_straight_through`` is the straight-through estimator:
deliberately biased, its gradient (1) disagrees with the function (slope 0 between jumps).
"""

import math

import tensorflow as tf

EXPECTED = {
    "round_activation": ("fail", "gradient"),
    "floor_activation": ("fail", "gradient"),
    "heaviside_step": ("fail", "gradient"),
    "int_cast_roundtrip": ("fail", "gradient"),
    "sign_activation": ("fail", "gradient_vs_fd"),
    "quantize_floormod": ("fail", "gradient_vs_fd"),
    "round_straight_through": ("fail", "gradient_vs_fd"),
    "constant_activation": ("warn", None),
    "soft_round": ("pass", None),
}


def round_activation(x):
    """BUG: tf.round forward; TF registers no gradient for Round (None)."""
    return tf.round(x)


def floor_activation(x):
    """BUG: tf.floor forward; gradient None."""
    return tf.floor(x)


def heaviside_step(x):
    """BUG: step function via cast(x > 0); the boolean cuts the gradient (None)."""
    return tf.cast(x > 0, x.dtype)


def int_cast_roundtrip(x):
    """BUG: truncation by casting to int32 and back; the integer cast cuts the gradient (None)."""
    return tf.cast(tf.cast(x, tf.int32), x.dtype)


def sign_activation(x):
    """BUG: tf.sign forward; TF's gradient of sign is 0 everywhere although it jumps at 0."""
    return tf.sign(x)


def quantize_floormod(x):
    """BUG: quantize to a 0.25 grid as x - floormod(x, 0.25); gradient 1 - 1 = 0 everywhere, jumps at the grid."""
    return x - tf.math.floormod(x, 0.25)


@tf.custom_gradient
def round_straight_through(x):
    """Straight-through estimator: round forward, identity gradient, so the gradient disagrees with the function."""

    def grad(dy):
        return dy

    return tf.round(x), grad


def constant_activation(x):
    """Constant 1 written as 0 * x + 1: the zero gradient is right but nothing can be learned (warn)."""
    return 0.0 * x + 1.0


def soft_round(x):
    """Smooth staircase x - sin(2 pi x) / (2 pi); gradient 1 - cos(2 pi x), zero at the integers."""
    return x - tf.sin((2.0 * math.pi) * x) * (1.0 / (2.0 * math.pi))
