"""Red-team extras: probes aimed at the structure probe, float32 gradients, static shapes, domains."""

import keras
import tensorflow as tf

EXPECTED = {
    "sharp_softmax_t01": ("pass", None),
    "topk_mask_4": ("pass", None),
    "steep_tanh_f32": ("pass", None),
    "silu_grad_via_float32": ("pass", None),
    "row_normalize_static_batch": ("fail", "graph"),
    "bounded_sqrt_domain": ("warn", "stability"),
    "entmax_like_relu_sq_norm": ("pass", None),
    "gelu_grad_f32_cast_wrong_scale": ("fail", "custom_vs_autodiff"),
    "tanh_grad_abs_upstream": ("fail", "custom_vs_autodiff"),
    "softsign_grad_clipped_upstream": ("fail", "upstream"),
}


def sharp_softmax_t01(x):
    """Softmax with temperature 0.1 (attention-style sharpening), float64-capable."""
    return tf.nn.softmax(x / 0.1, axis=-1)


def topk_mask_4(x):
    """Keep the 4 largest entries of each row, zero the rest (k-winners-take-all)."""
    kth = tf.math.top_k(x, k=4).values[..., -1:]
    return tf.where(x >= kth, x, tf.zeros_like(x))


def steep_tanh_f32(x):
    return tf.tanh(tf.constant(50.0) * x)


@tf.custom_gradient
def silu_grad_via_float32(x):
    """SiLU whose hand-written gradient is computed in float32 and cast back (float32-accurate)."""
    s = tf.sigmoid(x)

    def grad(dy):
        x32 = tf.cast(x, tf.float32)
        s32 = tf.sigmoid(x32)
        g32 = s32 * (1.0 + x32 * (1.0 - s32))
        return dy * tf.cast(g32, dy.dtype)

    return x * s, grad


def row_normalize_static_batch(x):
    """BUG: uses the static batch size x.shape[0], which is None when Keras builds a model
    (symbolic batch) or traces with a relaxed shape: tf.reshape([None, -1]) raises."""
    flat = tf.reshape(x, [x.shape[0], -1])
    flat = flat - tf.reduce_mean(flat, axis=-1, keepdims=True)
    return tf.reshape(flat, tf.shape(x))


def bounded_sqrt_domain(x):
    """sqrt(100 - x^2) - 10 + x ... well-defined on [-8, 8] but NaN for |x| > 10."""
    return x + tf.sqrt(100.0 - x * x) - 10.0


def entmax_like_relu_sq_norm(x):
    """relu(x - max + 1)^2 normalised per row (a sparse, entmax-flavoured map)."""
    z = tf.nn.relu(x - tf.reduce_max(x, axis=-1, keepdims=True) + 1.0)
    z2 = z * z
    return z2 / tf.reduce_sum(z2, axis=-1, keepdims=True)


@tf.custom_gradient
def gelu_grad_f32_cast_wrong_scale(x):
    """BUG: float32-computed GELU gradient with the pdf constant 1/sqrt(2 pi) written as 0.3989 (2.4e-5 low)."""
    y = tf.nn.gelu(x, approximate=False)

    def grad(dy):
        x32 = tf.cast(x, tf.float32)
        cdf = 0.5 * (1.0 + tf.math.erf(x32 * 0.70710678))
        pdf = 0.3989 * tf.exp(-0.5 * x32 * x32)
        return dy * tf.cast(cdf + x32 * pdf, dy.dtype)

    return y, grad


@tf.custom_gradient
def tanh_grad_abs_upstream(x):
    """BUG: |dy| instead of dy (a sign slip copied from a loss-gradient snippet)."""
    y = tf.tanh(x)

    def grad(dy):
        return tf.abs(dy) * (1.0 - y * y)

    return y, grad


@tf.custom_gradient
def softsign_grad_clipped_upstream(x):
    """BUG: 'gradient clipping' of the upstream inside the activation: dy clipped to [-1, 1]."""
    d = 1.0 + tf.abs(x)

    def grad(dy):
        return tf.clip_by_value(dy, -1.0, 1.0) / (d * d)

    return x / d, grad
