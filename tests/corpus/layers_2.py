"""Red-team class (f): Keras layers with trainable weights, autodiff and hand-written weight gradients."""

import keras
import tensorflow as tf

EXPECTED = {
    "ParametricSoftplus": ("pass", None),
    "LearnableELUCustom": ("pass", None),
    "LearnableELUWrongAlphaSign": ("fail", "weights"),
    "LearnableELUAlphaNotSummed": ("fail", "weights"),
    "LearnableELUAlphaGradMissing": ("fail", "weights"),
    "TemperatureSoftmax": ("pass", None),
    "TemperatureSoftmaxCustomWrongT": ("fail", "weights"),
    "BetaSwishCustom": ("pass", None),
    "BetaSwishCustomBetaOff": ("fail", "weights"),
    "ChannelPReLU": ("pass", None),
    "AlphaViaNumpy": ("fail", "weights"),
    "TwoWeightSoftclip": ("pass", None),
    "gelu_activation_layer": ("pass", None),
    "leaky_relu_layer": ("pass", None),
    "beta_swish_instance": ("pass", None),
    "underscore_named_instance": ("fail", "graph"),
}


class ParametricSoftplus(keras.layers.Layer):
    """softplus(beta x) / beta with a trainable beta (init 2.0)."""

    def build(self, input_shape):
        self.beta = self.add_weight(name="beta", shape=(), initializer=keras.initializers.Constant(2.0))

    def call(self, x):
        return tf.math.softplus(self.beta * x) / self.beta


class _LearnableELUBase(keras.layers.Layer):
    """ELU with a trainable alpha: y = x (x > 0), alpha (exp(x) - 1) (x <= 0), hand-written gradients."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer=keras.initializers.Constant(0.7))

    def _dalpha(self, dy, x, em1):
        return tf.reduce_sum(dy * tf.where(x > 0, tf.zeros_like(x), em1))

    def call(self, x):
        alpha_var = self.alpha

        @tf.custom_gradient
        def elu(x):
            alpha = tf.convert_to_tensor(alpha_var)
            em1 = tf.exp(tf.minimum(x, 0.0)) - 1.0
            y = tf.where(x > 0, x, alpha * em1)

            def grad(dy, variables=None):
                dx = dy * tf.where(x > 0, tf.ones_like(x), alpha * (em1 + 1.0))
                return dx, [self._dalpha(dy, x, em1)]

            return y, grad

        return elu(x)


class LearnableELUCustom(_LearnableELUBase):
    pass


class LearnableELUWrongAlphaSign(_LearnableELUBase):
    """BUG: the alpha gradient has the wrong sign."""

    def _dalpha(self, dy, x, em1):
        return -super()._dalpha(dy, x, em1)


class LearnableELUAlphaNotSummed(_LearnableELUBase):
    """BUG: the alpha gradient is not reduced: a tensor of the input's shape for a scalar weight."""

    def _dalpha(self, dy, x, em1):
        return dy * tf.where(x > 0, tf.zeros_like(x), em1)


class LearnableELUAlphaGradMissing(_LearnableELUBase):
    """BUG: the weight gradient is left as None."""

    def _dalpha(self, dy, x, em1):
        return None


class TemperatureSoftmax(keras.layers.Layer):
    """softmax(x / T) along the last axis with a trainable T (init 1.5), autodiff."""

    def build(self, input_shape):
        self.t = self.add_weight(name="temperature", shape=(), initializer=keras.initializers.Constant(1.5))

    def call(self, x):
        return tf.nn.softmax(x / self.t, axis=-1)


class TemperatureSoftmaxCustomWrongT(keras.layers.Layer):
    """BUG: hand-written d/dT drops the minus sign of d(x/T)/dT = -x/T^2."""

    def build(self, input_shape):
        self.t = self.add_weight(name="temperature", shape=(), initializer=keras.initializers.Constant(1.5))

    def call(self, x):
        t_var = self.t

        @tf.custom_gradient
        def tsoftmax(x):
            t = tf.convert_to_tensor(t_var)
            y = tf.nn.softmax(x / t, axis=-1)

            def grad(dy, variables=None):
                dz = y * (dy - tf.reduce_sum(dy * y, axis=-1, keepdims=True))
                dx = dz / t
                dt = tf.reduce_sum(dz * x) / (t * t)  # should be -sum(dz * x) / t^2
                return dx, [dt]

            return y, grad

        return tsoftmax(x)


class _BetaSwishBase(keras.layers.Layer):
    beta_factor = 1.0

    def build(self, input_shape):
        self.beta = self.add_weight(name="beta", shape=(), initializer=keras.initializers.Constant(1.2))

    def call(self, x):
        beta_var = self.beta
        factor = self.beta_factor

        @tf.custom_gradient
        def swish(x):
            beta = tf.convert_to_tensor(beta_var)
            s = tf.sigmoid(beta * x)
            y = x * s

            def grad(dy, variables=None):
                ds = s * (1.0 - s)
                dx = dy * (s + beta * x * ds)
                dbeta = tf.reduce_sum(dy * x * x * ds)
                return dx, [factor * dbeta]

            return y, grad

        return swish(x)


class BetaSwishCustom(_BetaSwishBase):
    """x sigmoid(beta x) with correct hand-written gradients for x and beta."""


class BetaSwishCustomBetaOff(_BetaSwishBase):
    """BUG: the beta gradient is 0.5 % too large (a leftover scale factor)."""

    beta_factor = 1.005


class ChannelPReLU(keras.layers.Layer):
    """PReLU with one slope per channel (last axis), init 0.2 + 0.01 i, autodiff."""

    def build(self, input_shape):
        n = input_shape[-1]
        self.alpha = self.add_weight(
            name="alpha", shape=(n,), initializer=keras.initializers.RandomUniform(0.1, 0.3, seed=1)
        )

    def call(self, x):
        return tf.where(x > 0, x, self.alpha * x)


class AlphaViaNumpy(keras.layers.Layer):
    """BUG: the trainable slope is read with .numpy(): a Python float, so it never gets a gradient."""

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer=keras.initializers.Constant(0.2))

    def call(self, x):
        a = float(self.alpha.numpy())
        return tf.where(x > 0, x, a * x)


class TwoWeightSoftclip(keras.layers.Layer):
    """lo + softplus(x - lo) - softplus(x - hi) with trainable lo, hi."""

    def build(self, input_shape):
        self.lo = self.add_weight(name="lo", shape=(), initializer=keras.initializers.Constant(-1.0))
        self.hi = self.add_weight(name="hi", shape=(), initializer=keras.initializers.Constant(3.0))

    def call(self, x):
        return self.lo + tf.math.softplus(x - self.lo) - tf.math.softplus(x - self.hi)


class _BetaSwishAutodiff(keras.layers.Layer):
    def build(self, input_shape):
        self.beta = self.add_weight(name="beta", shape=(), initializer=keras.initializers.Constant(0.9))

    def call(self, x):
        return x * keras.ops.sigmoid(self.beta * x)


gelu_activation_layer = keras.layers.Activation("gelu")
leaky_relu_layer = keras.layers.LeakyReLU(negative_slope=0.2)
beta_swish_instance = _BetaSwishAutodiff(name="beta_swish")
underscore_named_instance = _BetaSwishAutodiff()  # auto name "__beta_swish_autodiff"
