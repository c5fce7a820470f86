"""Red team 2: cancellation-prone formulas with safe wheres, float32-only constants,
and hand-written gradients that use a numerically different but equivalent formula."""

import tensorflow as tf

EXPECTED = {'exprel2_naive': ('warn', 'stability'),
 'one_minus_cos_over_sq': ('pass', None),
 'tanh_remainder_ratio': ('warn', 'stability'),
 'half_sinc_sq_f32': ('pass', None),
 'tanhshrink_scaled_f32': ('pass', None),
 'sigmoid_grad_exp_abs': ('pass', None),
 'log_sigmoid_grad_expm1': ('pass', None),
 'swish_grad_stable_split': ('pass', None),
 'mish_grad_paper_form': ('warn', 'stability'),
 'sine_minus_x_f32': ('pass', None)}


def exprel2_naive(x):
    """(e^x - 1 - x) / x^2, Taylor series near 0 behind a double where."""
    small = tf.abs(x) < 1e-3
    xs = tf.where(small, tf.ones_like(x), x)
    exact = (tf.exp(xs) - 1.0 - xs) / (xs * xs)
    series = 0.5 + x / 6.0 + x * x / 24.0 + x * x * x / 120.0
    return tf.where(small, series, exact)


def one_minus_cos_over_sq(x):
    """(1 - cos x) / x^2 with a double where and its Taylor series below 1e-2."""
    small = tf.abs(x) < 1e-2
    xs = tf.where(small, tf.ones_like(x), x)
    exact = (1.0 - tf.cos(xs)) / (xs * xs)
    x2 = x * x
    series = 0.5 - x2 / 24.0 + x2 * x2 / 720.0
    return tf.where(small, series, exact)


def tanh_remainder_ratio(x):
    """(x - tanh x) / x^3, series 1/3 - 2x^2/15 + 17x^4/315 for tiny |x|."""
    small = tf.abs(x) < 1e-3
    xs = tf.where(small, tf.ones_like(x), x)
    exact = (xs - tf.tanh(xs)) / (xs * xs * xs)
    x2 = x * x
    series = 1.0 / 3.0 - 2.0 * x2 / 15.0 + 17.0 * x2 * x2 / 315.0
    return tf.where(small, series, exact)


def half_sinc_sq_f32(x):
    """(1 - cos x)/x^2 written stably as 0.5 * sinc(x/2)^2; float32 constants."""
    h = x * tf.constant(0.5)
    small = tf.abs(h) < tf.constant(0.1)
    hs = tf.where(small, tf.ones_like(h), h)
    h2 = h * h
    series = 1.0 - h2 / 6.0 + h2 * h2 / 120.0 - h2 * h2 * h2 / 5040.0
    s = tf.where(small, series, tf.sin(hs) / hs)
    return tf.constant(0.5) * s * s


def tanhshrink_scaled_f32(x):
    """x - a tanh(x / a) with a float32 scale a: cancels like x^3 near 0."""
    a = tf.constant(0.9)
    return x - a * tf.tanh(x / a)


@tf.custom_gradient
def sigmoid_grad_exp_abs(x):
    """Sigmoid whose gradient is written with e = exp(-|x|): e / (1 + e)^2 (never overflows)."""
    y = tf.sigmoid(x)

    def grad(dy):
        e = tf.exp(-tf.abs(x))
        return dy * e / tf.square(1.0 + e)

    return y, grad


@tf.custom_gradient
def log_sigmoid_grad_expm1(x):
    """log sigmoid(x); gradient sigmoid(-x) computed as -expm1(y)."""
    y = tf.math.log_sigmoid(x)

    def grad(dy):
        return dy * -tf.math.expm1(y)

    return y, grad


@tf.custom_gradient
def swish_grad_stable_split(x):
    """Swish; gradient s + x e/(1+e)^2 with e = exp(-|x|) and s picked per sign."""
    y = x * tf.sigmoid(x)

    def grad(dy):
        e = tf.exp(-tf.abs(x))
        inv = 1.0 / (1.0 + e)
        s = tf.where(x >= 0, inv, e * inv)
        return dy * (s + x * e * inv * inv)

    return y, grad


@tf.custom_gradient
def mish_grad_paper_form(x):
    """Mish with the closed-form derivative from the paper: e^x * omega / delta^2."""
    y = x * tf.tanh(tf.nn.softplus(x))

    def grad(dy):
        ex = tf.exp(x)
        e2 = tf.exp(2.0 * x)
        e3 = tf.exp(3.0 * x)
        omega = 4.0 * (x + 1.0) + 4.0 * e2 + e3 + ex * (4.0 * x + 6.0)
        delta = 2.0 * ex + e2 + 2.0
        return dy * ex * omega / (delta * delta)

    return y, grad


def sine_minus_x_f32(x):
    """x - sin(x) scaled, float32 constant: gradient 1 - cos(x) cancels near 0."""
    return (x - tf.sin(x)) * tf.constant(0.5)
