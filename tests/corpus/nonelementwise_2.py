"""Red-team class (d): activations along the last axis (and one over the batch axis)."""

import keras
import tensorflow as tf

EXPECTED = {
    "softmax_temperature": ("pass", None),
    "softmax_temperature_custom": ("pass", None),
    "softmax_temperature_custom_forgets_T": ("fail", "custom_vs_autodiff"),
    "softmax_custom_wrong_axis": ("fail", "custom_vs_autodiff"),
    "sparsemax": ("pass", None),
    "sparsemax_custom": ("pass", None),
    "sparsemax_custom_diagonal": ("fail", "custom_vs_autodiff"),
    "l2_normalize_custom": ("pass", None),
    "l2_normalize_custom_wrong_axis": ("fail", "custom_vs_autodiff"),
    "layer_norm_custom": ("pass", None),
    "layer_norm_custom_no_mean_term": ("fail", "custom_vs_autodiff"),
    "layer_norm_keras_ops": ("pass", None),
    "log_softmax_logsumexp": ("pass", None),
    "softmax_stopgrad_max": ("pass", None),
    "centered_stopgrad_max": ("fail", "vjp_vs_fd"),
    "batch_standardize": ("warn", "batch"),
    "cumsum_custom": ("pass", None),
    "cumsum_custom_wrong_direction": ("fail", "custom_vs_autodiff"),
    "softmax_f32_temperature": ("pass", None),
}


def softmax_temperature(x, temperature=0.7):
    return tf.nn.softmax(x / temperature, axis=-1)


@tf.custom_gradient
def softmax_temperature_custom(x):
    t = 0.7
    y = tf.nn.softmax(x / t, axis=-1)

    def grad(dy):
        return y * (dy - tf.reduce_sum(dy * y, axis=-1, keepdims=True)) / t

    return y, grad


@tf.custom_gradient
def softmax_temperature_custom_forgets_T(x):
    """BUG: the 1 / T chain-rule factor is missing."""
    t = 0.7
    y = tf.nn.softmax(x / t, axis=-1)

    def grad(dy):
        return y * (dy - tf.reduce_sum(dy * y, axis=-1, keepdims=True))

    return y, grad


@tf.custom_gradient
def softmax_custom_wrong_axis(x):
    """BUG: the row sum of the softmax VJP is taken over axis 0 (the batch)."""
    y = tf.nn.softmax(x, axis=-1)

    def grad(dy):
        return y * (dy - tf.reduce_sum(dy * y, axis=0, keepdims=True))

    return y, grad


def _sparsemax_forward(x):
    z = x - tf.reduce_max(x, axis=-1, keepdims=True)
    n = tf.shape(z)[-1]
    z_sorted = tf.sort(z, axis=-1, direction="DESCENDING")
    k = tf.cast(tf.range(1, n + 1), z.dtype)
    cumsum = tf.cumsum(z_sorted, axis=-1)
    support = tf.cast(1.0 + k * z_sorted > cumsum, z.dtype)
    k_z = tf.reduce_sum(support, axis=-1, keepdims=True)
    tau_sum = tf.reduce_sum(support * z_sorted, axis=-1, keepdims=True)
    tau = (tau_sum - 1.0) / k_z
    return tf.nn.relu(z - tau)


def sparsemax(x):
    """Sparsemax (Martins & Astudillo) by sorting; plain autodiff."""
    return _sparsemax_forward(x)


@tf.custom_gradient
def sparsemax_custom(x):
    y = _sparsemax_forward(x)

    def grad(dy):
        s = tf.cast(y > 0, dy.dtype)
        mean = tf.reduce_sum(dy * s, axis=-1, keepdims=True) / tf.reduce_sum(s, axis=-1, keepdims=True)
        return s * (dy - mean)

    return y, grad


@tf.custom_gradient
def sparsemax_custom_diagonal(x):
    """BUG: only the diagonal of the Jacobian (support mask), the -1/|S| coupling is dropped."""
    y = _sparsemax_forward(x)

    def grad(dy):
        return dy * tf.cast(y > 0, dy.dtype)

    return y, grad


@tf.custom_gradient
def l2_normalize_custom(x):
    n = tf.sqrt(tf.reduce_sum(x * x, axis=-1, keepdims=True) + 1e-12)
    y = x / n

    def grad(dy):
        return (dy - y * tf.reduce_sum(dy * y, axis=-1, keepdims=True)) / n

    return y, grad


@tf.custom_gradient
def l2_normalize_custom_wrong_axis(x):
    """BUG: the projection sum uses axis=0."""
    n = tf.sqrt(tf.reduce_sum(x * x, axis=-1, keepdims=True) + 1e-12)
    y = x / n

    def grad(dy):
        return (dy - y * tf.reduce_sum(dy * y, axis=0, keepdims=True)) / n

    return y, grad


@tf.custom_gradient
def layer_norm_custom(x):
    eps = 1e-5
    mu = tf.reduce_mean(x, axis=-1, keepdims=True)
    xc = x - mu
    inv = tf.math.rsqrt(tf.reduce_mean(xc * xc, axis=-1, keepdims=True) + eps)
    y = xc * inv

    def grad(dy):
        return inv * (dy - tf.reduce_mean(dy, axis=-1, keepdims=True) - y * tf.reduce_mean(dy * y, axis=-1, keepdims=True))

    return y, grad


@tf.custom_gradient
def layer_norm_custom_no_mean_term(x):
    """BUG: forgets the -mean(dy) term (treats the mean as a constant)."""
    eps = 1e-5
    mu = tf.reduce_mean(x, axis=-1, keepdims=True)
    xc = x - mu
    inv = tf.math.rsqrt(tf.reduce_mean(xc * xc, axis=-1, keepdims=True) + eps)
    y = xc * inv

    def grad(dy):
        return inv * (dy - y * tf.reduce_mean(dy * y, axis=-1, keepdims=True))

    return y, grad


def layer_norm_keras_ops(x):
    return keras.ops.layer_normalization(x, axis=-1, epsilon=1e-5)


def log_softmax_logsumexp(x):
    return x - tf.reduce_logsumexp(x, axis=-1, keepdims=True)


def softmax_stopgrad_max(x):
    """Softmax with a detached max shift: softmax is shift invariant, so the gradient is still exact."""
    z = x - tf.stop_gradient(tf.reduce_max(x, axis=-1, keepdims=True))
    e = tf.exp(z)
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def centered_stopgrad_max(x):
    """BUG: x - max(x) with the max detached; the output does depend on the max."""
    return x - tf.stop_gradient(tf.reduce_max(x, axis=-1, keepdims=True))


def batch_standardize(x):
    """Standardize over the batch axis 0 (rows mixed), no parameters. Its gradient is right; an example's
    output depends on the rest of its batch: warn (relabeled pass -> warn when the batch check came)."""
    mu = tf.reduce_mean(x, axis=0, keepdims=True)
    xc = x - mu
    return xc * tf.math.rsqrt(tf.reduce_mean(xc * xc, axis=0, keepdims=True) + 1e-3)


@tf.custom_gradient
def cumsum_custom(x):
    y = tf.cumsum(x, axis=-1)

    def grad(dy):
        return tf.cumsum(dy, axis=-1, reverse=True)

    return y, grad


@tf.custom_gradient
def cumsum_custom_wrong_direction(x):
    """BUG: the VJP of cumsum is a reverse cumsum; this uses a forward one."""
    y = tf.cumsum(x, axis=-1)

    def grad(dy):
        return tf.cumsum(dy, axis=-1)

    return y, grad


def softmax_f32_temperature(x):
    return tf.nn.softmax(x / tf.constant(0.5), axis=-1)
