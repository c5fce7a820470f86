"""Sixth set: activations fed 3-D and 4-D inputs, as in a network (issue #12, item 1).

Transformers feed an activation (batch, time, features) and CNNs (N, H, W, C); every other
check lays the sample points out as (rows, 8). The correct ones here act elementwise or
along the last axis whatever the rank: swish, softmax and layer norm over axis -1, a
hand-written softmax and layer-norm gradient over axis -1, a layer with a per-feature weight
(``input_shape[-1]``), one with a weight per position (``input_shape[1:]``, as Keras's
PReLU), and a hand-written gradient that reshapes to (-1, 8) and back to the input's shape.
The buggy ones are right on (rows, 8) inputs, where axis 1 is the last axis, and wrong on
(b, t, 8): a hand-written gradient reducing over ``axis=1`` while the forward uses -1, the
number of features read from ``x.shape[1]``, a gradient reshaped to a fixed 2-D shape and not
back, a transpose with ``perm=[1, 0]``, a layer whose ``build`` sizes its weight from
``input_shape[1]``, a weight gradient summed over axis 0 only. Each label was confirmed by
running the activation on a (b, t, 8) batch with t != 8 against its (rows, 8) rows, forward
and ``tf.GradientTape`` with the same upstream (and autodiff of the forward for the
hand-written gradients).
"""

import keras
import tensorflow as tf

EXPECTED = {
    # correct on every rank
    "swish_any_rank": ("pass", None),
    "softmax_last_axis": ("pass", None),
    "layer_norm_last_axis_dynamic": ("pass", None),
    "softmax_custom_last_axis": ("pass", None),
    "layer_norm_custom_last_axis": ("pass", None),
    "tanh_grad_via_flat_rows": ("pass", None),
    "PerFeatureScaledSilu": ("pass", None),
    "PerPositionPReLU": ("pass", None),
    # right on (rows, 8), wrong on (b, t, 8) and (n, h, w, 8)
    "softmax_custom_grad_axis1": ("fail", "ranks"),
    "center_custom_grad_mean_axis1": ("fail", "ranks"),
    "rms_norm_features_from_shape1": ("fail", "ranks"),
    "tanh_grad_flat_not_restored": ("fail", "ranks"),
    "tanh_grad_transpose_2d": ("fail", "ranks"),
    "PerFeatureSiluShape1": ("fail", "ranks"),
    "ScaleCustomWeightGradAxis0": ("fail", "ranks"),
}

__all__ = list(EXPECTED)


# -- correct on every rank ---------------------------------------------------------------------
def swish_any_rank(x):
    """Elementwise: any layout of the same points gives the same values."""
    return x * tf.sigmoid(x)


def softmax_last_axis(x):
    return tf.nn.softmax(x, axis=-1)


def layer_norm_last_axis_dynamic(x):
    """The number of features from tf.shape(x)[-1]: right on every rank."""
    n = tf.cast(tf.shape(x)[-1], x.dtype)
    mu = tf.reduce_sum(x, axis=-1, keepdims=True) / n
    xc = x - mu
    return xc * tf.math.rsqrt(tf.reduce_sum(xc * xc, axis=-1, keepdims=True) / n + 1e-3)


@tf.custom_gradient
def softmax_custom_last_axis(x):
    y = tf.nn.softmax(x, axis=-1)

    def grad(dy):
        return y * (dy - tf.reduce_sum(dy * y, axis=-1, keepdims=True))

    return y, grad


@tf.custom_gradient
def layer_norm_custom_last_axis(x):
    """Layer norm with its textbook VJP, every reduction over axis -1."""
    n = tf.cast(tf.shape(x)[-1], x.dtype)
    mu = tf.reduce_mean(x, axis=-1, keepdims=True)
    xc = x - mu
    inv = tf.math.rsqrt(tf.reduce_mean(xc * xc, axis=-1, keepdims=True) + 1e-3)
    y = xc * inv

    def grad(dy):
        return inv / n * (n * dy - tf.reduce_sum(dy, axis=-1, keepdims=True)
                          - y * tf.reduce_sum(dy * y, axis=-1, keepdims=True))

    return y, grad


@tf.custom_gradient
def tanh_grad_via_flat_rows(x):
    """The gradient goes through a hard-coded (-1, 8) reshape and back to the input's shape."""
    y = tf.tanh(x)

    def grad(dy):
        rows = tf.reshape(dy, (-1, 8)) * (1.0 - tf.reshape(y, (-1, 8)) ** 2)
        return tf.reshape(rows, tf.shape(x))

    return y, grad


class PerFeatureScaledSilu(keras.layers.Layer):
    """A trainable scale per feature, sized from the last axis."""

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(input_shape[-1],),
                                     initializer=keras.initializers.RandomUniform(0.5, 1.5, seed=3))

    def call(self, x):
        return tf.nn.silu(x) * self.scale


class PerPositionPReLU(keras.layers.Layer):
    """A slope per position (input_shape[1:]), as keras.layers.PReLU without shared_axes: on
    (b, t, 8) inputs it has t x 8 slopes, each trained on its own position."""

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=tuple(input_shape[1:]),
                                     initializer=keras.initializers.Constant(0.2))

    def call(self, x):
        return tf.where(x > 0, x, self.alpha * x)


# -- right on (rows, 8), wrong on 3-D and 4-D inputs -------------------------------------------
@tf.custom_gradient
def softmax_custom_grad_axis1(x):
    """BUG: the forward reduces over -1, the gradient over axis 1 (the same axis in 2-D only)."""
    y = tf.nn.softmax(x, axis=-1)

    def grad(dy):
        return y * (dy - tf.reduce_sum(dy * y, axis=1, keepdims=True))

    return y, grad


@tf.custom_gradient
def center_custom_grad_mean_axis1(x):
    """BUG: x - mean(x) over the features; the gradient's mean is over axis 1."""
    y = x - tf.reduce_mean(x, axis=-1, keepdims=True)

    def grad(dy):
        return dy - tf.reduce_mean(dy, axis=1, keepdims=True)

    return y, grad


def rms_norm_features_from_shape1(x):
    """BUG: the number of features is x.shape[1], the time axis of a (b, t, 8) input."""
    ms = tf.reduce_sum(x * x, axis=-1, keepdims=True) / x.shape[1]
    return x * tf.math.rsqrt(ms + 1e-3)


@tf.custom_gradient
def tanh_grad_flat_not_restored(x):
    """BUG: the gradient stays (rows, 8): shape (b*t, 8) for a (b, t, 8) input (TF does not check)."""
    y = tf.tanh(x)

    def grad(dy):
        return tf.reshape(dy * (1.0 - y * y), (-1, 8))

    return y, grad


@tf.custom_gradient
def tanh_grad_transpose_2d(x):
    """BUG: the gradient works on transposes with perm=[1, 0], which raises on 3-D inputs."""
    y = tf.tanh(x)

    def grad(dy):
        yt = tf.transpose(y, perm=[1, 0])
        return tf.transpose(tf.transpose(dy, perm=[1, 0]) * (1.0 - yt * yt), perm=[1, 0])

    return y, grad


class PerFeatureSiluShape1(keras.layers.Layer):
    """BUG: the per-feature weight is sized from input_shape[1] (t on a (b, t, 8) input): the
    layer cannot be called on 3-D or 4-D inputs."""

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(input_shape[1],),
                                     initializer=keras.initializers.RandomUniform(0.5, 1.5, seed=3))

    def call(self, x):
        return tf.nn.silu(x) * self.scale


class ScaleCustomWeightGradAxis0(keras.layers.Layer):
    """BUG: a per-feature scale whose hand-written weight gradient sums over axis 0 only: right
    for (rows, 8), shape (t, 8) instead of (8,) for (b, t, 8) inputs."""

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(input_shape[-1],),
                                     initializer=keras.initializers.RandomUniform(0.5, 1.5, seed=3))

    def call(self, x):
        scale_var = self.scale

        @tf.custom_gradient
        def scaled_tanh(x):
            s = tf.convert_to_tensor(scale_var)
            t = tf.tanh(x)

            def grad(dy, variables=None):
                return dy * s * (1.0 - t * t), [tf.reduce_sum(dy * t, axis=0)]

            return s * t, grad

        return scaled_tanh(x)
