"""Red-team class (b): kinks (informational, must pass) and seams where TF's gradient is wrong."""

import keras
import tensorflow as tf

EXPECTED = {
    "pwl_odd_breakpoints": ("pass", None),
    "relu_shifted_keras": ("pass", None),
    "hard_sigmoid_keras": ("pass", None),
    "hard_silu_keras": ("pass", None),
    "signed_square_abs": ("pass", None),
    "clip_odd_bounds": ("pass", None),
    "leaky_via_maximum": ("pass", None),
    "huber_activation": ("pass", None),
    "relu_squared_difference": ("pass", None),
    "abs_minus_shifted_abs": ("pass", None),
    "x_times_sign": ("pass", None),
    "soft_threshold": ("pass", None),
    "leaky_relu6_odd": ("pass", None),
    "abs_times_sign_identity": ("fail", "gradient_vs_fd"),
    "elu_max_min": ("fail", "gradient_vs_fd"),
    "softplus_max_abs": ("fail", "gradient_vs_fd"),
    "identity_seam_at_0_3": ("fail", "gradient_vs_fd"),
    "shifted_relu_pair_seam_minus_1_7": ("fail", "gradient_vs_fd"),
}


def pwl_odd_breakpoints(x):
    """Continuous piecewise linear, breakpoints -1.7, 0.3, 2.2, slopes 0.05 / 0.5 / 1 / 0.2."""
    y1 = -1.0 + 0.05 * (x + 1.7)              # x < -1.7
    y2 = -1.0 + 0.5 * (x + 1.7)               # -1.7 <= x < 0.3   (value 0 at 0.3)
    y3 = x - 0.3                              # 0.3 <= x < 2.2    (value 1.9 at 2.2)
    y4 = 1.9 + 0.2 * (x - 2.2)                # x >= 2.2
    return tf.where(x < -1.7, y1, tf.where(x < 0.3, y2, tf.where(x < 2.2, y3, y4)))


def relu_shifted_keras(x):
    return keras.ops.relu(x - 0.3)


def hard_sigmoid_keras(x):
    return keras.ops.hard_sigmoid(x)


def hard_silu_keras(x):
    return keras.ops.hard_silu(x)


def signed_square_abs(x):
    """x |x|: C1, TF's gradient 2|x| is right at 0 too."""
    return x * tf.abs(x)


def clip_odd_bounds(x):
    return tf.clip_by_value(x, -1.7, 2.2)


def leaky_via_maximum(x):
    """max(x, 0.01 x): on the tie at 0 TF gives 1, a valid subgradient."""
    return tf.maximum(x, 0.01 * x)


def huber_activation(x):
    """Huber-shaped: 0.5 x^2 inside |x| < 1, |x| - 0.5 outside; C1 at +-1."""
    ax = tf.abs(x)
    return tf.where(ax < 1.0, 0.5 * x * x, ax - 0.5)


def relu_squared_difference(x):
    """relu(x)^2 - relu(-x)^2 = x |x|; the relu'(0) = 0 choice is harmless here (factor relu(0) = 0)."""
    return tf.square(tf.nn.relu(x)) - tf.square(tf.nn.relu(-x))


def abs_minus_shifted_abs(x):
    """|x| - |x - 2.2|: kinks at 0 and 2.2; TF's 1 at 0 lies in [0, 2]."""
    return tf.abs(x) - tf.abs(x - 2.2)


def x_times_sign(x):
    """|x| as x * sign(x): gradient sign(x), 0 at 0 (a valid subgradient of |x|)."""
    return x * tf.sign(x)


def soft_threshold(x, lam=0.3):
    """Soft shrinkage sign(x) max(|x| - lam, 0): flat on [-0.3, 0.3]."""
    return tf.sign(x) * tf.nn.relu(tf.abs(x) - lam)


def leaky_relu6_odd(x):
    """Leaky ReLU capped at 6, negative slope 0.3 via keras.ops."""
    return keras.ops.minimum(keras.ops.leaky_relu(x, negative_slope=0.3), 6.0)


def abs_times_sign_identity(x):
    """BUG at the seam: |x| sign(x) == x, but TF gives sign(0)^2 = 0 at x = 0."""
    return tf.abs(x) * tf.sign(x)


def elu_max_min(x):
    """BUG at the seam: ELU as max(x, 0) + min(exp(x) - 1, 0); both ties at 0 pass the gradient: 2 instead of 1."""
    return tf.maximum(x, 0.0) + tf.minimum(tf.exp(x) - 1.0, 0.0)


def softplus_max_abs(x):
    """BUG at the seam: max(x, 0) + log1p(exp(-|x|)); TF gives 1 + 0 at x = 0 instead of 0.5."""
    return tf.maximum(x, 0.0) + tf.math.log1p(tf.exp(-tf.abs(x)))


def identity_seam_at_0_3(x):
    """BUG at an odd seam: relu(x - 0.3) - relu(0.3 - x) + 0.3 == x, TF gives 0 at x = 0.3 exactly."""
    return tf.nn.relu(x - 0.3) - tf.nn.relu(0.3 - x) + 0.3


def shifted_relu_pair_seam_minus_1_7(x):
    """BUG at an odd seam: 'linear unit' tanh-free: relu(x + 1.7) - relu(-x - 1.7) - 1.7 == x; gradient 0 at -1.7."""
    return tf.nn.relu(x + 1.7) - tf.nn.relu(-x - 1.7) - 1.7
