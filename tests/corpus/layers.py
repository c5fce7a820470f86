"""Corpus class (f): keras.layers.Layer activations, with and without trainable weights.

All are buildable with no arguments and pass ``**kwargs`` (e.g. ``dtype="float64"``) to
``super().__init__``. Weights are scalars. Three layers use ``tf.custom_gradient`` inside
``call`` and return the weight gradient through ``grad(dy, variables=None) -> (dx, [dw])``
(works in TF 2.21 / Keras 3: the Keras variable read inside the function is reported in
``variables``). The buggy ones have a wrong weight gradient (``weights``), a wrong input
gradient, or a weight that never learns because of ``stop_gradient``.
"""

import keras
import tensorflow as tf

EXPECTED = {
    "TanhLayer": ("pass", None),
    "LearnableSlopePReLU": ("pass", None),
    "ParametricSwish": ("pass", None),
    "ScaledTanh": ("pass", None),
    "PReLUCustomGrad": ("pass", None),
    "PReLUWrongSlopeGrad": ("fail", "weights"),
    "PReLUWrongInputGrad": ("fail", "gradient_vs_fd"),
    "FrozenSlopePReLU": ("fail", "weights"),
}


class TanhLayer(keras.layers.Layer):
    """A weightless layer applying tanh."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def call(self, x):
        return tf.tanh(x)


class LearnableSlopePReLU(keras.layers.Layer):
    """PReLU where(x > 0, x, alpha x) with one trainable slope alpha (init 0.25), plain autodiff."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer=keras.initializers.Constant(0.25))

    def call(self, x):
        return tf.where(x > 0, x, self.alpha * x)


class ParametricSwish(keras.layers.Layer):
    """Swish x * sigmoid(beta x) with a trainable beta (init 1.5), plain autodiff."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.beta = self.add_weight(name="beta", shape=(), initializer=keras.initializers.Constant(1.5))

    def call(self, x):
        return x * tf.sigmoid(self.beta * x)


class ScaledTanh(keras.layers.Layer):
    """a * tanh(b x) with two trainable scalars (init a = 1.2, b = 0.8), plain autodiff."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.a = self.add_weight(name="a", shape=(), initializer=keras.initializers.Constant(1.2))
        self.b = self.add_weight(name="b", shape=(), initializer=keras.initializers.Constant(0.8))

    def call(self, x):
        return self.a * tf.tanh(self.b * x)


class _CustomGradPReLUBase(keras.layers.Layer):
    """PReLU y = x (x > 0), alpha x (x <= 0) with a hand-written gradient for x and alpha."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer=keras.initializers.Constant(0.25))

    def _grads(self, dy, x, alpha):
        positive = x > 0
        dx = dy * tf.where(positive, tf.ones_like(x), alpha * tf.ones_like(x))
        dalpha = tf.reduce_sum(dy * tf.where(positive, tf.zeros_like(x), x))
        return dx, dalpha

    def call(self, x):
        alpha_var = self.alpha

        @tf.custom_gradient
        def prelu(x):
            alpha = tf.convert_to_tensor(alpha_var)
            y = tf.where(x > 0, x, alpha * x)

            def grad(dy, variables=None):
                dx, dalpha = self._grads(dy, x, alpha)
                return dx, [dalpha]

            return y, grad

        return prelu(x)


class PReLUCustomGrad(_CustomGradPReLUBase):
    """PReLU with correct hand-written gradients: dx = dy * (1 or alpha), dalpha = sum(dy * min(x, 0))."""


class PReLUWrongSlopeGrad(_CustomGradPReLUBase):
    """BUG: the alpha gradient sums dy * x over all inputs, forgetting the x <= 0 mask."""

    def _grads(self, dy, x, alpha):
        dx, _ = super()._grads(dy, x, alpha)
        return dx, tf.reduce_sum(dy * x)


class PReLUWrongInputGrad(_CustomGradPReLUBase):
    """BUG: the input gradient uses 1 - alpha instead of alpha on the negative side (alpha gradient right)."""

    def _grads(self, dy, x, alpha):
        _, dalpha = super()._grads(dy, x, alpha)
        dx = dy * tf.where(x > 0, tf.ones_like(x), (1.0 - alpha) * tf.ones_like(x))
        return dx, dalpha


class FrozenSlopePReLU(keras.layers.Layer):
    """BUG: the trainable slope sits behind tf.stop_gradient, so its gradient is 0 though it changes the output."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer=keras.initializers.Constant(0.25))

    def call(self, x):
        return tf.where(x > 0, x, tf.stop_gradient(self.alpha) * x)
