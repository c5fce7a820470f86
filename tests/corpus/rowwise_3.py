"""Red team 2: activations that reduce over the last axis (softmax, logsumexp, norms)."""

import tensorflow as tf

EXPECTED = {'centered_softmax': ('pass', None),
 'softmax_gated_x': ('pass', None),
 'power_mean_norm_p3': ('pass', None),
 'log_softmax_temperature_custom': ('pass', None),
 'log_softmax_temperature_custom_forgets_t': ('fail', 'custom_vs_autodiff'),
 'softmax_sharp_f32': ('pass', None),
 'standardize_detached_std': ('fail', 'vjp_vs_fd'),
 'log_softmax_detached_lse': ('fail', 'vjp_vs_fd'),
 'row_max_center': ('pass', None),
 'row_norm_clip': ('pass', None),
 'rms_norm_custom_missing_inv_n': ('fail', 'custom_vs_autodiff'),
 'soft_weighted_center': ('pass', None)}


def centered_softmax(x):
    """softmax(x) - 1/n: zero-mean attention weights."""
    n = tf.cast(tf.shape(x)[-1], x.dtype)
    return tf.nn.softmax(x, axis=-1) - 1.0 / n


def softmax_gated_x(x):
    """Self-gating by the row softmax: x * softmax(x) * n."""
    n = tf.cast(tf.shape(x)[-1], x.dtype)
    return n * x * tf.nn.softmax(x, axis=-1)


def power_mean_norm_p3(x):
    """Normalise by the cubic power mean of |x| over the last axis."""
    m = tf.reduce_mean(tf.abs(x) ** 3, axis=-1, keepdims=True)
    return x / (m + 1e-6) ** (1.0 / 3.0)


_T = 0.5


@tf.custom_gradient
def log_softmax_temperature_custom(x):
    """x - T * logsumexp(x / T) over the last axis; VJP dy - softmax(x/T) * sum(dy)."""
    lse = tf.reduce_logsumexp(x / _T, axis=-1, keepdims=True)
    y = x - _T * lse

    def grad(dy):
        p = tf.exp(x / _T - lse)
        return dy - p * tf.reduce_sum(dy, axis=-1, keepdims=True)

    return y, grad


@tf.custom_gradient
def log_softmax_temperature_custom_forgets_t(x):
    """Same, but the VJP uses softmax(x) instead of softmax(x / T)."""
    lse = tf.reduce_logsumexp(x / _T, axis=-1, keepdims=True)
    y = x - _T * lse

    def grad(dy):
        p = tf.nn.softmax(x, axis=-1)
        return dy - p * tf.reduce_sum(dy, axis=-1, keepdims=True)

    return y, grad


def softmax_sharp_f32(x):
    """Very sharp softmax, temperature 0.02 as a float32 constant."""
    return tf.nn.softmax(x / tf.constant(0.02), axis=-1)


def standardize_detached_std(x):
    """(x - mean) / std over the last axis, with the std detached."""
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    std = tf.sqrt(tf.reduce_mean(tf.square(x - mean), axis=-1, keepdims=True) + 1e-5)
    return (x - mean) / tf.stop_gradient(std)


def log_softmax_detached_lse(x):
    """log_softmax with the whole logsumexp detached (not only the max shift)."""
    return x - tf.stop_gradient(tf.reduce_logsumexp(x, axis=-1, keepdims=True))


def row_max_center(x):
    """Subtract the row maximum (no stop_gradient)."""
    return x - tf.reduce_max(x, axis=-1, keepdims=True)


def row_norm_clip(x):
    """Rescale rows whose L2 norm exceeds 18 down to norm 18; identity otherwise."""
    norm = tf.sqrt(tf.reduce_sum(x * x, axis=-1, keepdims=True) + 1e-12)
    return x * tf.minimum(18.0 / norm, 1.0)


@tf.custom_gradient
def rms_norm_custom_missing_inv_n(x):
    """RMSNorm x / sqrt(mean(x^2) + eps); VJP drops the 1/n of the projection term."""
    ms = tf.reduce_mean(x * x, axis=-1, keepdims=True) + 1e-6
    r = tf.math.rsqrt(ms)
    y = x * r

    def grad(dy):
        proj = tf.reduce_sum(dy * x, axis=-1, keepdims=True)
        return r * dy - x * r * r * r * proj  # should be ... * proj / n

    return y, grad


def soft_weighted_center(x):
    """Subtract the softmax-weighted mean of the row."""
    p = tf.nn.softmax(x, axis=-1)
    return x - tf.reduce_sum(p * x, axis=-1, keepdims=True)
