"""Corpus class (j): NaN traps inside the checked range.

``tf.where`` differentiates both branches and multiplies the unused one by 0; if that
branch's derivative is inf or NaN at some x, 0 * inf = NaN leaks into the gradient although
the forward value is fine (log and pow leak; TF's Sqrt/Rsqrt gradients return 0 for a zero
upstream, so a sqrt in the unused branch does not). sqrt(x^2) and x / |x| blow up at 0.
The "double where" / clamp versions feed the unused branch a harmless input and must pass.
"""

import tensorflow as tf

EXPECTED = {
    "sinc_where_trap": ("fail", "gradient"),
    "sinc_double_where": ("pass", None),
    "log_linear_where_trap": ("fail", "gradient"),
    "log_linear_safe": ("pass", None),
    "sqrt_unit_pow_where_trap": ("fail", "gradient"),
    "sqrt_unit_pow_safe": ("pass", None),
    "sqrt_unit_where_tf_safe": ("fail", "xla"),
    "abs_via_sqrt_square": ("fail", "gradient"),
    "symlog_where_sign_trap": ("fail", "gradient"),
    "symlog_double_where": ("pass", None),
    "symlog_x_over_abs": ("fail", "forward"),
}


def sinc_where_trap(x):
    """BUG: sinc as where(x == 0, 1, sin(x) / x); the unused branch's gradient is 0/0 at x = 0, so NaN."""
    return tf.where(tf.equal(x, 0.0), tf.ones_like(x), tf.sin(x) / x)


def sinc_double_where(x):
    """Sinc with the double-where trick: the division sees 1 instead of 0, gradient 0 at x = 0 (right)."""
    is_zero = tf.equal(x, 0.0)
    safe_x = tf.where(is_zero, tf.ones_like(x), x)
    return tf.where(is_zero, tf.ones_like(x), tf.sin(safe_x) / safe_x)


def log_linear_where_trap(x):
    """BUG: C1 'log above 1, linear below' as where(x > 1, 1 + log(x), x); log'(0) = inf gives a NaN gradient at x = 0."""
    return tf.where(x > 1.0, 1.0 + tf.math.log(x), x)


def log_linear_safe(x):
    """Same function with log(max(x, 1)) in the unused branch: finite everywhere."""
    return tf.where(x > 1.0, 1.0 + tf.math.log(tf.maximum(x, 1.0)), x)


def sqrt_unit_pow_where_trap(x):
    """BUG: where(x > 0, (1 + x) ** 0.5 - 1, x); Pow's gradient of the unused branch is NaN for x <= -1, and 0 * NaN = NaN."""
    return tf.where(x > 0, (1.0 + x) ** 0.5 - 1.0, x)


def sqrt_unit_pow_safe(x):
    """Same function with (1 + max(x, 0)) ** 0.5 in the unused branch; kink at 0 (slopes 1 and 0.5)."""
    return tf.where(x > 0, (1.0 + tf.maximum(x, 0.0)) ** 0.5 - 1.0, x)


def sqrt_unit_where_tf_safe(x):
    """Same function with tf.sqrt in the unused branch: NaN forward there. In eager mode and tf.function
    SqrtGrad is 0 for a zero upstream, so no NaN leaks; XLA's SqrtGrad is NaN there, and model.fit with
    XLA (Keras's default on a GPU) turns the weights to NaN. Relabeled pass -> fail when the xla check came."""
    return tf.where(x > 0, tf.sqrt(1.0 + x) - 1.0, x)


def abs_via_sqrt_square(x):
    """BUG: |x| written as sqrt(x * x); the gradient at 0 is 0 * inf = NaN."""
    return tf.sqrt(x * x)


def symlog_where_sign_trap(x):
    """BUG: symlog with a 'protected' sign where(x == 0, 0, x / |x|); the unused x / |x| makes the gradient NaN at 0."""
    s = tf.where(tf.equal(x, 0.0), tf.zeros_like(x), x / tf.abs(x))
    return s * tf.math.log1p(tf.abs(x))


def symlog_double_where(x):
    """Symlog sign(x) log(1 + |x|) as two clamped branches; TF's gradient at 0 is 1, the true slope."""
    return tf.where(x >= 0, tf.math.log1p(tf.maximum(x, 0.0)), -tf.math.log1p(tf.maximum(-x, 0.0)))


def symlog_x_over_abs(x):
    """BUG: symlog as x / |x| * log1p(|x|); the forward itself is 0/0 = NaN at x = 0."""
    return x / tf.abs(x) * tf.math.log1p(tf.abs(x))
