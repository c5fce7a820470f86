"""Red-team class (c): discontinuous forwards whose gradient is None / zero / blind to the jumps."""

import keras
import tensorflow as tf

EXPECTED = {
    "ceil_activation": ("fail", "gradient"),
    "keras_sign_binary": ("fail", "gradient_vs_fd"),
    "quantize_int64_cast": ("fail", "gradient"),
    "where_step_odd_threshold": ("fail", "gradient"),
    "round_to_eighths": ("fail", "gradient"),
    "floordiv_half": ("fail", "gradient"),
    "binary_step_via_sign": ("fail", "gradient_vs_fd"),
    "floor_plus_leak": ("fail", "gradient_vs_fd"),
    "bias_step_at_0_37": ("fail", "gradient_vs_fd"),
    "keras_round_activation": ("fail", "gradient"),
    "stop_gradient_tanh": ("fail", "gradient"),
    "constant_ones_like": ("warn", None),
    "x_minus_x": ("warn", None),
    "constant_keras_zeros": ("warn", None),
}


def ceil_activation(x):
    return tf.math.ceil(x)


def keras_sign_binary(x):
    return keras.ops.sign(x)


def quantize_int64_cast(x):
    """Quantize to 1/4 steps through an int64 cast (truncation toward 0)."""
    return tf.cast(tf.cast(x * 4.0, tf.int64), x.dtype) / 4.0


def where_step_odd_threshold(x):
    return tf.where(x > 0.3, tf.ones_like(x), tf.zeros_like(x))


def round_to_eighths(x):
    return tf.round(x * 8.0) / 8.0


def floordiv_half(x):
    return tf.math.floordiv(x, 0.5)


def binary_step_via_sign(x):
    """{0, 1} step written as 0.5 sign(x) + 0.5: TF's sign gradient is 0 everywhere."""
    return 0.5 * tf.sign(x) + 0.5


def floor_plus_leak(x):
    """BUG: 'leaky staircase' floor(x) + 0.1 x; tape gradient 0.1 ignores the unit jumps at integers."""
    return tf.floor(x) + 0.1 * x


def bias_step_at_0_37(x):
    """BUG: x + [x > 0.37]; gradient 1 everywhere, the forward jumps by 1 at 0.37."""
    return x + tf.cast(x > 0.37, x.dtype)


def keras_round_activation(x):
    return keras.ops.round(x)


def stop_gradient_tanh(x):
    """BUG: whole activation behind stop_gradient: gradient None while the output changes."""
    return tf.stop_gradient(tf.tanh(x))


def constant_ones_like(x):
    """Constant 0.7; tape gradient None."""
    return 0.7 * tf.ones_like(x)


def x_minus_x(x):
    """Constant 0 with an exact zero gradient."""
    return x - x


def constant_keras_zeros(x):
    return keras.ops.zeros_like(x) + 0.25
