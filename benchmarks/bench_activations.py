"""The activations bench_speed.py times (imported only by its child processes: imports TF).

- ``swish``: a simple elementwise function, autodiff gradient.
- ``tanh_custom``: ``tf.custom_gradient`` tanh with a hand-written gradient.
- ``softmax_last``: softmax along the last axis (not elementwise: gradcheck's vjp_vs_fd path).
"""

from __future__ import annotations

import tensorflow as tf


def swish(x):
    return x * tf.sigmoid(x)


@tf.custom_gradient
def tanh_custom(x):
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y * y)

    return y, grad


def softmax_last(x):
    e = tf.exp(x - tf.reduce_max(x, axis=-1, keepdims=True))
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


ACTIVATIONS = {"swish": swish, "tanh_custom": tanh_custom, "softmax_last": softmax_last}
