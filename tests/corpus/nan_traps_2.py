"""Red-team class (j): NaN traps at single points inside the range, and their safe rewrites."""

import tensorflow as tf

EXPECTED = {
    "log1p_where_trap": ("fail", "gradient"),
    "log1p_double_where": ("pass", None),
    "pow_1_5_where_trap": ("fail", "gradient"),
    "pow_1_5_clamped": ("pass", None),
    "relu_via_sqrt_square": ("fail", "gradient"),
    "symlog_log_abs_where_trap": ("fail", "gradient"),
    "symlog_log_abs_clamped": ("pass", None),
    "sqrt_of_relu_pow": ("fail", "gradient"),
    "exprel_where_trap": ("fail", "gradient"),
    "exprel_double_where": ("fail", "gradient_vs_fd"),
    "symlog_div_no_nan": ("fail", "gradient_vs_fd"),
    "smooth_abs_eps": ("warn", "stability"),
    "xlogx_where_trap": ("fail", "gradient"),
    "unit_sign_rsqrt": ("fail", "forward"),
    "log_compress_where_trap_quarter": ("fail", "gradient"),
}


def log1p_where_trap(x):
    """BUG: where(x > 0, log1p(x), x); log1p's gradient at x = -1 is inf, 0 * inf = NaN there."""
    return tf.where(x > 0.0, tf.math.log1p(x), x)


def log1p_double_where(x):
    pos = x > 0.0
    return tf.where(pos, tf.math.log1p(tf.where(pos, x, tf.zeros_like(x))), x)


def pow_1_5_where_trap(x):
    """BUG: where(x >= 0, x ** 1.5, 0): Pow's derivative of a negative base is NaN."""
    return tf.where(x >= 0.0, tf.pow(x, 1.5), tf.zeros_like(x))


def pow_1_5_clamped(x):
    return tf.where(x >= 0.0, tf.pow(tf.maximum(x, 0.0), 1.5), tf.zeros_like(x))


def relu_via_sqrt_square(x):
    """BUG: relu(x) as (x + sqrt(x^2)) / 2: NaN gradient at 0."""
    return 0.5 * (x + tf.sqrt(tf.square(x)))


def symlog_log_abs_where_trap(x):
    """BUG: linear inside [-1, 1], sign(x) (1 + log|x|) outside; log|0| in the unused branch: NaN at 0."""
    ax = tf.abs(x)
    return tf.where(ax > 1.0, tf.sign(x) * (1.0 + tf.math.log(ax)), x)


def symlog_log_abs_clamped(x):
    ax = tf.abs(x)
    return tf.where(ax > 1.0, tf.sign(x) * (1.0 + tf.math.log(tf.maximum(ax, 1.0))), x)


def sqrt_of_relu_pow(x):
    """BUG: sqrt(relu(x)) as pow(relu(x), 0.5): inf * 0 = NaN gradient for every x <= 0."""
    return tf.pow(tf.nn.relu(x), 0.5)


def exprel_where_trap(x):
    """BUG: (e^x - 1) / x with where(x == 0 ...) protection only on the value: NaN gradient at 0."""
    return tf.where(tf.equal(x, 0.0), tf.ones_like(x), tf.math.expm1(x) / x)


def exprel_double_where(x):
    """BUG at the seam: double-where removes the NaN but the constant 1 at x = 0 has gradient 0,
    while exprel'(0) = 1/2 (unlike sinc, whose slope at 0 is 0). Also inf output for x > 88.7 in float32."""
    z = tf.equal(x, 0.0)
    xs = tf.where(z, tf.ones_like(x), x)
    return tf.where(z, tf.ones_like(x), tf.math.expm1(xs) / xs)


def symlog_div_no_nan(x):
    """BUG at the seam: sign via divide_no_nan(x, |x|) * log1p(|x|): forward fine, gradient 0 at 0 (true 1)."""
    ax = tf.abs(x)
    return tf.math.divide_no_nan(x, ax) * tf.math.log1p(ax)


def smooth_abs_eps(x):
    """sqrt(x^2 + 1e-12): smooth, gradient right in float32/64; but 1e-12 underflows to 0 in
    float16, where it becomes sqrt(x^2) with a NaN gradient at (and near) 0: half-precision risk."""
    return tf.sqrt(x * x + 1e-12)


def xlogx_where_trap(x):
    """BUG: x log|x| with the value protected at 0 but not the gradient."""
    return tf.where(tf.equal(x, 0.0), tf.zeros_like(x), x * tf.math.log(tf.abs(x)))


def unit_sign_rsqrt(x):
    """BUG: sign-like x * rsqrt(x^2) times tanh: forward 0 * inf = NaN at 0."""
    return x * tf.math.rsqrt(x * x) * tf.tanh(tf.abs(x))


def log_compress_where_trap_quarter(x):
    """BUG: linear up to 0.25, 0.25 + log1p(x - 0.25) above (C1); the unused log1p has an infinite
    derivative at x = -0.75 exactly, so the gradient is 0 * inf = NaN there (finite elsewhere)."""
    return tf.where(x > 0.25, 0.25 + tf.math.log1p(x - 0.25), x)
