"""Fifth set: activations as training compiles them with XLA, and activations that mix the
examples of a batch (issue #12, items 6 and 7).

Keras 3 compiles the train step with XLA by default on a GPU or TPU. The correct ones here
compile and give eager mode's values (float32 and float64, a kink on a tf.where and one on a
clip where a fused multiply-add rounds the kink point to its other side, a hand-written
gradient, a layer). The buggy ones train in eager mode and with tf.function, and break
model.fit under XLA: no XLA kernel (tf.py_function, tf.numpy_function, tf.print and the
tf.strings.format it uses, tf.math.special.dawsn), a Python while loop on tensor values (its gradient needs a bound on
the iterations), and a tf.where-guarded sqrt whose gradient XLA makes NaN. Each `fail` was
confirmed with keras.Model.fit(jit_compile=True) (an error, or NaN weights), each `pass`
with the compiled function against eager mode. (In TensorFlow 2.21, tf.unique, tf.math.bincount
and tf.strings.to_number of a constant do compile with XLA.)

Batch: an activation acts on each example alone. Softmax over axis 0, centring on the batch
mean, scaling by the batch's largest value and a layer normalizing with batch statistics in
inference too make an example's output depend on the rest of its batch (`warn`); softmax and
layer norm over the last axis do not (`pass`).
"""

import keras
import numpy as np
import tensorflow as tf

EXPECTED = {
    # XLA: correct
    "tanh_exp_erf_mix_f32": ("pass", None),
    "gelu_erf_f64": ("pass", None),
    "mish_softplus": ("pass", None),
    "sqrt_smooth_abs_f32": ("pass", None),
    "where_kink_sqrt": ("pass", None),
    "hard_sigmoid_sqrt_scaled": ("pass", None),
    "isru_custom": ("pass", None),
    "ScaledIsruLayer": ("pass", None),
    "swish_jit_false": ("pass", None),
    # XLA: fails under model.compile's default jit_compile on a GPU
    "tanh_py_function": ("fail", "xla"),
    "tanh_numpy_function_custom": ("fail", "xla"),
    "swish_tf_print": ("fail", "xla"),
    "dawson_activation": ("fail", "xla"),
    "cube_root_newton_while": ("fail", "xla"),
    "sqrt_where_guarded": ("fail", "xla"),
    # batch mixing
    "softmax_over_batch": ("warn", "batch"),
    "batch_center": ("warn", "batch"),
    "scale_by_batch_max": ("warn", "batch"),
    "BatchStatsAlwaysNorm": ("warn", "batch"),
    "softmax_features": ("pass", None),
    "layer_norm_last_axis": ("pass", None),
}

__all__ = list(EXPECTED)


# -- XLA: correct ----------------------------------------------------------------------------
def tanh_exp_erf_mix_f32(x):
    """float32 only (a float32 constant): tanh * exp + erf, the mix whose XLA results differ from eager by ~1 ulp."""
    c = tf.constant(0.5)
    return c * tf.tanh(x) * tf.exp(-c * 0.2 * x * x) + tf.math.erf(c * x)


def gelu_erf_f64(x):
    """Exact GELU written with erf, float64."""
    return 0.5 * x * (1.0 + tf.math.erf(x / np.sqrt(2.0)))


def mish_softplus(x):
    return x * tf.tanh(tf.math.softplus(x))


def sqrt_smooth_abs_f32(x):
    """Smooth |x|, float32 only; sqrt's argument is at least 1e-2, so its gradient is finite everywhere (XLA runs it)."""
    eps = tf.constant(1e-2)
    return tf.sqrt(x * x + eps) - tf.sqrt(eps)


def where_kink_sqrt(x):
    """Kink at 0 through tf.where; both branches finite everywhere (sqrt of 1 + x^2)."""
    return tf.where(x > 0.0, tf.sqrt(1.0 + x * x) - 1.0 + x, 0.1 * x)


def hard_sigmoid_sqrt_scaled(x):
    """Kinks at -2.5 and 2.5, where a fused multiply-add moves 0.2 * -2.5 + 0.5 below 0 under XLA."""
    return tf.clip_by_value(0.2 * x + 0.5, 0.0, 1.0) * tf.sqrt(1.0 + 0.01 * x * x)


@tf.custom_gradient
def isru_custom(x):
    """Inverse square root unit x / sqrt(1 + x^2) with its hand-written gradient (1 + x^2)^-1.5."""
    r = tf.math.rsqrt(1.0 + x * x)

    def grad(dy):
        return dy * r * r * r

    return x * r, grad


class ScaledIsruLayer(keras.layers.Layer):
    """a * x / sqrt(1 + (b x)^2) with learnable a and b."""

    def build(self, input_shape):
        self.a = self.add_weight(name="a", shape=(), initializer=keras.initializers.Constant(1.2))
        self.b = self.add_weight(name="b", shape=(), initializer=keras.initializers.Constant(0.8))

    def call(self, x):
        return self.a * x * tf.math.rsqrt(1.0 + tf.square(self.b * x))


@tf.function(jit_compile=False)
def swish_jit_false(x):
    """jit_compile=False does not keep it out of an XLA-compiled train step; it compiles fine."""
    return x * tf.sigmoid(x)


# -- XLA: broken under XLA -------------------------------------------------------------------
def tanh_py_function(x):
    """BUG under XLA: tf.py_function has no XLA kernel (differentiable in eager mode and tf.function)."""
    y = tf.py_function(lambda t: tf.tanh(t), [x], x.dtype)
    y.set_shape(x.shape)
    return y


@tf.custom_gradient
def tanh_numpy_function_custom(x):
    """BUG under XLA: the forward is tf.numpy_function (no XLA kernel); the hand-written gradient is right."""
    y = tf.numpy_function(np.tanh, [x], x.dtype)
    y.set_shape(x.shape)

    def grad(dy):
        return dy * (1.0 - y * y)

    return y, grad


def swish_tf_print(x):
    """BUG under XLA: a debugging tf.print left in (PrintV2 has no XLA kernel)."""
    tf.print("swish input max:", tf.reduce_max(x))
    return x * tf.sigmoid(x)


def dawson_activation(x):
    """BUG under XLA: tf.math.special.dawsn has no XLA kernel (smooth, odd, bounded; fine in eager mode)."""
    return 2.0 * tf.math.special.dawsn(x)


def cube_root_newton_while(x):
    """BUG under XLA: y^3 + y = x solved by Newton steps in a Python while loop on a tensor condition.
    AutoGraph makes it a tf.while_loop with no maximum number of iterations; its gradient keeps
    every iteration's values in a list XLA cannot bound."""
    y = x / 2.0
    i = 0
    err = tf.reduce_max(tf.abs(y * y * y + y - x))
    while err > 1e-6 * (1.0 + tf.reduce_max(tf.abs(x))) and i < 60:
        y = y - (y * y * y + y - x) / (3.0 * y * y + 1.0)
        err = tf.reduce_max(tf.abs(y * y * y + y - x))
        i += 1
    return y


def sqrt_where_guarded(x):
    """BUG under XLA: tf.sqrt of a negative in the unselected tf.where branch. Eager mode's
    sqrt gradient is 0 for a zero upstream; XLA's is NaN, and model.fit's weights turn NaN."""
    return tf.where(x > 0.0, tf.sqrt(x + 1.0) - 1.0, 0.5 * x)


# -- batch mixing ----------------------------------------------------------------------------
def softmax_over_batch(x):
    """Softmax over axis 0: each output depends on the whole batch."""
    return tf.nn.softmax(x, axis=0)


def batch_center(x):
    """x minus the batch mean (axis 0): batch normalisation without its layer."""
    return x - tf.reduce_mean(x, axis=0, keepdims=True)


def scale_by_batch_max(x):
    """tanh scaled by the largest |x| of the whole batch."""
    return tf.tanh(x) * tf.reduce_max(tf.abs(x)) / 8.0


class BatchStatsAlwaysNorm(keras.layers.Layer):
    """Normalizes with the batch's statistics in inference too (no moving statistics): a
    prediction depends on the rest of its batch. (A layer that uses batch statistics in
    training only, as network_modes_5.BatchCenteredTanh, passes.)"""

    def call(self, x, training=None):
        mean = tf.reduce_mean(x, axis=0, keepdims=True)
        var = tf.reduce_mean(tf.square(x - mean), axis=0, keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + 1e-3)


def softmax_features(x):
    return tf.nn.softmax(x, axis=-1)


def layer_norm_last_axis(x):
    """Layer norm over the features (last axis), no parameters."""
    mu = tf.reduce_mean(x, axis=-1, keepdims=True)
    xc = x - mu
    return xc * tf.math.rsqrt(tf.reduce_mean(xc * xc, axis=-1, keepdims=True) + 1e-3)
