"""Red-team class (h): float32 / half-precision overflow far outside [-8, 8], and stable rewrites."""

import keras
import tensorflow as tf

EXPECTED = {
    "softplus_keras_naive": ("warn", "stability"),
    "swish_exp_ratio": ("warn", "stability"),
    "where_exp_negative_branch": ("warn", "stability"),
    "sigmoid_custom_grad_exp": ("warn", "stability"),
    "gompertz_naive": ("warn", "stability"),
    "gompertz_clamped": ("pass", None),
    "log_sigmoid_naive": ("warn", "stability"),
    "softmax_naive_exp": ("warn", "stability"),
    "softplus_threshold_where": ("warn", "stability"),
    "softplus_threshold_clamped": ("warn", "stability"),
    "softplus_threshold10_clamped": ("pass", None),
    "tanhexp_naive": ("warn", "stability"),
    "softclip_log_ratio_naive": ("warn", "stability"),
    "tanh_via_sigmoid": ("pass", None),
    "sextic_isru_fp16_overflow": ("warn", "stability"),
    "softmax_keras_ops": ("pass", None),
}


def softplus_keras_naive(x):
    return keras.ops.log(1.0 + keras.ops.exp(x))


def swish_exp_ratio(x):
    """x e^x / (1 + e^x): inf / inf = NaN for x > 88.7 in float32."""
    e = tf.exp(x)
    return x * e / (1.0 + e)


def where_exp_negative_branch(x):
    """x e^x for x < 0, x otherwise; the unused x e^x overflows (gradient 0 * inf) for x > 88.7."""
    return tf.where(x < 0.0, x * tf.exp(x), x)


@tf.custom_gradient
def sigmoid_custom_grad_exp(x):
    """Sigmoid with the gradient written e^-x / (1 + e^-x)^2: inf / inf = NaN for x < -88.7."""
    y = tf.sigmoid(x)

    def grad(dy):
        e = tf.exp(-x)
        return dy * e / tf.square(1.0 + e)

    return y, grad


def gompertz_naive(x):
    """1 - exp(-exp(x)): forward fine, gradient exp(-inf) * inf = NaN for x > 88.7."""
    return 1.0 - tf.exp(-tf.exp(x))


def gompertz_clamped(x):
    """Same with exp(min(x, 5)): exp(-e^5) = 2.6e-65, so the clamp costs nothing."""
    return 1.0 - tf.exp(-tf.exp(tf.minimum(x, 5.0)))


def log_sigmoid_naive(x):
    """log(sigmoid(x)): sigmoid underflows to 0 for x < -104 in float32: -inf output."""
    return tf.math.log(tf.sigmoid(x))


def softmax_naive_exp(x):
    """softmax without max subtraction: inf / inf for x > 88.7."""
    e = tf.exp(x)
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def softplus_threshold_where(x):
    """PyTorch-style threshold: where(x > 20, x, log1p(exp(x))); unused branch NaN gradient for x > 88.7."""
    return tf.where(x > 20.0, x, tf.math.log1p(tf.exp(x)))


def softplus_threshold_clamped(x):
    """Same with the exp input clamped: log1p(exp(min(x, 20))). float32-safe, but in float16 exp
    overflows for 11.1 < x <= 20 in the *selected* branch: inf output (half-precision risk)."""
    return tf.where(x > 20.0, x, tf.math.log1p(tf.exp(tf.minimum(x, 20.0))))


def softplus_threshold10_clamped(x):
    """Threshold 10 and clamp: exp(10) = 22026 fits float16; softplus(10) == 10 to float32 precision."""
    return tf.where(x > 10.0, x, tf.math.log1p(tf.exp(tf.minimum(x, 10.0))))


def tanhexp_naive(x):
    """x tanh(e^x): gradient x (1 - tanh^2(inf)) inf = NaN for x > 88.7 (float16: x > 11.1)."""
    return x * tf.tanh(tf.exp(x))


def softclip_log_ratio_naive(x):
    """Soft clip to [0, 1] as log((1 + e^x) / (1 + e^(x - 1))): inf / inf for x > 88.7."""
    return tf.math.log((1.0 + tf.exp(x)) / (1.0 + tf.exp(x - 1.0)))


def tanh_via_sigmoid(x):
    return 2.0 * tf.sigmoid(2.0 * x) - 1.0


def sextic_isru_fp16_overflow(x):
    """x / (1 + x^6)^(1/6): fine in float32 to 1e4, but x^6 overflows float16 for |x| > 6.35."""
    return x / tf.pow(1.0 + tf.pow(x, 6.0), 1.0 / 6.0)


def softmax_keras_ops(x):
    return keras.ops.softmax(x, axis=-1)
