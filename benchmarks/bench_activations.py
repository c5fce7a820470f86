"""The activations bench_speed.py times (imported only by its child processes: imports TF).

- ``swish``: a simple elementwise function, autodiff gradient.
- ``tanh_custom``: ``tf.custom_gradient`` tanh with a hand-written gradient.
- ``softmax_last``: softmax along the last axis (not elementwise: gradcheck's vjp_vs_fd path).
"""

from __future__ import annotations

import tensorflow as tf


def seed_as_a_worker() -> None:
    """Give TensorFlow the global seed a CLI worker child has when it checks an activation:
    gradcheck's default ``--seed``, set before the file's import (gradcheck/seeding.py). A
    check then finds it set and leaves TF's kernel cache alone, as in the CLI. Without this,
    each ``gradcheck.check`` from a process whose seed differs sets it (clearing the kernel
    cache: ~15 ms of kernel set-up in the check) and puts the caller's back, which the CLI
    never pays; the README's API section says how a test suite avoids it."""
    try:
        from gradcheck.settings import Settings
        seed = Settings().seed
    except ImportError:  # a checkout from before seeding existed: nothing resets the seed
        return
    tf.random.set_seed(seed)


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
