"""Corpus class (b): piecewise-linear and kinked activations.

At a kink the one-sided slopes differ and any subgradient between them is acceptable, so
every correct autodiff here must pass (the kinks are informational). The last four are
functions that are *differentiable* at the seam (both one-sided slopes agree) but are
assembled from relu/max/abs/sign pieces whose TF gradient at the seam is wrong:
TF uses relu'(0) = 0, sign'(x) = 0, abs'(0) = sign(0) = 0, and gives the gradient of both
tf.maximum and tf.minimum to x on a tie. They fail exactly at x = 0. The very last one has a
real kink (slopes 0.25 and 1) but TF's gradient there, 0, lies outside [0.25, 1].
"""

import tensorflow as tf

EXPECTED = {
    "relu": ("pass", None),
    "leaky_relu": ("pass", None),
    "relu6": ("pass", None),
    "hard_tanh": ("pass", None),
    "clipped_linear": ("pass", None),
    "abs_activation": ("pass", None),
    "piecewise_linear": ("pass", None),
    "selu": ("pass", None),
    "hard_sigmoid": ("pass", None),
    "hard_swish": ("pass", None),
    "abs_times_tanh": ("pass", None),
    "relu_minus_relu_neg": ("fail", "gradient_vs_fd"),
    "max_plus_min": ("fail", "gradient_vs_fd"),
    "softplus_relu_abs": ("fail", "gradient_vs_fd"),
    "symlog_sign": ("fail", "gradient_vs_fd"),
    "prelu_relu_difference": ("fail", "gradient_vs_fd"),
}


def relu(x):
    """ReLU; kink at 0 (TF's gradient there is 0, a valid subgradient)."""
    return tf.nn.relu(x)


def leaky_relu(x):
    """Leaky ReLU with slope 0.1 for x < 0; kink at 0."""
    return tf.nn.leaky_relu(x, alpha=0.1)


def relu6(x):
    """ReLU6: min(max(x, 0), 6); kinks at 0 and 6."""
    return tf.nn.relu6(x)


def hard_tanh(x):
    """Hard tanh clip(x, -1, 1); kinks at -1 and 1."""
    return tf.clip_by_value(x, -1.0, 1.0)


def clipped_linear(x):
    """2x clipped to [-3, 3] with tf.maximum/tf.minimum; kinks at -1.5 and 1.5."""
    return tf.minimum(tf.maximum(2.0 * x, -3.0), 3.0)


def abs_activation(x):
    """|x|; kink at 0 with one-sided slopes -1 and 1 (TF gives 0)."""
    return tf.abs(x)


def piecewise_linear(x):
    """Continuous three-piece linear: slope 0.1 below -2, 1 on [-2, 2], 0.5 above 2."""
    return tf.where(x < -2.0, -2.0 + 0.1 * (x + 2.0), tf.where(x > 2.0, 2.0 + 0.5 * (x - 2.0), x))


def selu(x):
    """SELU; kink at 0 (slope 1.0507 on the right, 1.0507 * 1.6733 on the left)."""
    return tf.nn.selu(x)


def hard_sigmoid(x):
    """Hard sigmoid clip(0.2 x + 0.5, 0, 1); kinks at -2.5 and 2.5."""
    return tf.clip_by_value(0.2 * x + 0.5, 0.0, 1.0)


def hard_swish(x):
    """Hard swish x * relu6(x + 3) / 6; kinks at -3 and 3."""
    return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


def abs_times_tanh(x):
    """|x| * tanh(x): built with abs but C1; autodiff sign(x) tanh(x) + |x| (1 - tanh^2) is right at 0 too (0)."""
    return tf.abs(x) * tf.tanh(x)


def relu_minus_relu_neg(x):
    """BUG at the seam: relu(x) - relu(-x) equals x, but TF's relu'(0) = 0 gives gradient 0 at x = 0."""
    return tf.nn.relu(x) - tf.nn.relu(-x)


def max_plus_min(x):
    """BUG at the seam: max(x, 0) + min(x, 0) equals x, but on the tie both give x the gradient: 2 at x = 0."""
    return tf.maximum(x, 0.0) + tf.minimum(x, 0.0)


def softplus_relu_abs(x):
    """BUG at the seam: 'stable' softplus relu(x) + log1p(exp(-|x|)) has gradient 0 at x = 0 instead of 0.5."""
    return tf.nn.relu(x) + tf.math.log1p(tf.exp(-tf.abs(x)))


def symlog_sign(x):
    """BUG at the seam: sign(x) * log1p(|x|) has slope 1 at 0, TF gives 0 (sign' = 0, abs'(0) = 0)."""
    return tf.sign(x) * tf.math.log1p(tf.abs(x))


def prelu_relu_difference(x):
    """BUG at the kink: PReLU as relu(x) - 0.25 relu(-x) gets gradient 0 at x = 0, outside the subgradients [0.25, 1]."""
    return tf.nn.relu(x) - 0.25 * tf.nn.relu(-x)
