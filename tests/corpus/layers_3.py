"""Red team 2: Keras layers with per-channel weights of shape (channels,), several weights,
float32 compute inside, a training argument, and hand-written weight gradients."""

import keras
import tensorflow as tf

EXPECTED = {'PerChannelSwishBeta': ('pass', None),
 'PerChannelShiftTanhCustom': ('pass', None),
 'PerChannelShiftTanhWrongSign': ('fail', 'weights'),
 'AffineTanhThreeWeights': ('pass', None),
 'LearnableSlopeCustomMissingX': ('fail', 'weights'),
 'Float32InternalSiLU': ('pass', None),
 # random in training mode (noise), which is now checked too: error (was pass when only the
 # default training=None path was checked)
 'TrainingArgGELU': ('error', 'determinism'),
 'KerasOpsChannelPReLU': ('pass', None),
 'DiagMatmulTanh': ('pass', None),
 'PerChannelELUInputGradBug': ('fail', 'gradient_vs_fd'),
 'FixedTemperatureSoftmaxBias': ('pass', None),
 'LearnedTemperatureSoftmaxCustomWrongT': ('fail', 'weights')}


class PerChannelSwishBeta(keras.layers.Layer):
    """x * sigmoid(beta_c x) with one trainable beta per channel (last axis)."""

    def build(self, input_shape):
        self.beta = self.add_weight(name="beta", shape=(input_shape[-1],),
                                    initializer=keras.initializers.RandomUniform(0.5, 2.0, seed=7))

    def call(self, x):
        return x * tf.sigmoid(self.beta * x)


def _make_shift_tanh(sign):
    @tf.custom_gradient
    def shift_tanh(x, b):
        y = tf.tanh(x - b)

        def grad(dy):
            g = dy * (1.0 - y * y)
            db = sign * tf.reduce_sum(g, axis=tf.range(tf.rank(g) - 1))
            return g, db

        return y, grad

    return shift_tanh


_shift_tanh_ok = _make_shift_tanh(-1.0)
_shift_tanh_bad = _make_shift_tanh(1.0)


class PerChannelShiftTanhCustom(keras.layers.Layer):
    """tanh(x - b_c) with a hand-written gradient for x and for the per-channel shift b."""

    def build(self, input_shape):
        self.b = self.add_weight(name="b", shape=(input_shape[-1],),
                                 initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=3))

    def call(self, x):
        return _shift_tanh_ok(x, tf.convert_to_tensor(self.b))


class PerChannelShiftTanhWrongSign(keras.layers.Layer):
    """Same, but d/db is returned with the sign of d/dx."""

    def build(self, input_shape):
        self.b = self.add_weight(name="b", shape=(input_shape[-1],),
                                 initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=3))

    def call(self, x):
        return _shift_tanh_bad(x, tf.convert_to_tensor(self.b))


class AffineTanhThreeWeights(keras.layers.Layer):
    """a_c * tanh(b_c x + c_c): three per-channel weights, plain autodiff."""

    def build(self, input_shape):
        n = input_shape[-1]
        self.a = self.add_weight(name="a", shape=(n,), initializer=keras.initializers.RandomUniform(0.8, 1.2, seed=1))
        self.b = self.add_weight(name="b", shape=(n,), initializer=keras.initializers.RandomUniform(0.5, 1.5, seed=2))
        self.c = self.add_weight(name="c", shape=(n,), initializer=keras.initializers.RandomUniform(-0.2, 0.2, seed=4))

    def call(self, x):
        return self.a * tf.tanh(self.b * x + self.c)


@tf.custom_gradient
def _slope_softsign(x, k):
    d = 1.0 + tf.abs(k * x)
    y = x / d

    def grad(dy):
        gx = dy / (d * d)
        # d/dk of x / (1 + |k x|) = -x |x| sign(k) / d^2 ... written without the x factor
        gk = -tf.reduce_sum(dy * tf.abs(x) * tf.sign(k) / (d * d))
        return gx, gk

    return y, grad


class LearnableSlopeCustomMissingX(keras.layers.Layer):
    """Softsign x / (1 + |k x|) with a scalar trainable k; the k-gradient drops a factor x."""

    def build(self, input_shape):
        self.k = self.add_weight(name="k", shape=(), initializer=keras.initializers.Constant(0.8))

    def call(self, x):
        return _slope_softsign(x, tf.convert_to_tensor(self.k))


class Float32InternalSiLU(keras.layers.Layer):
    """x * sigmoid(beta x) computed in float32 whatever the input dtype, cast back."""

    def build(self, input_shape):
        self.beta = self.add_weight(name="beta", shape=(), initializer=keras.initializers.Constant(1.25))

    def call(self, x):
        x32 = tf.cast(x, tf.float32)
        b32 = tf.cast(self.beta, tf.float32)
        return tf.cast(x32 * tf.sigmoid(b32 * x32), x.dtype)


class TrainingArgGELU(keras.layers.Layer):
    """GELU whose call takes a training flag (adds noise only when training=True: random on the
    path fit runs, so its gradient there cannot be checked until the noise is seeded)."""

    def call(self, x, training=None):
        y = tf.nn.gelu(x)
        if training:
            y = y + tf.random.normal(tf.shape(y), stddev=0.01, dtype=y.dtype)
        return y


class KerasOpsChannelPReLU(keras.layers.Layer):
    """Per-channel PReLU written with keras.ops only."""

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(input_shape[-1],),
                                     initializer=keras.initializers.RandomUniform(0.05, 0.3, seed=11))

    def call(self, x):
        return keras.ops.where(x > 0, x, self.alpha * x)


class DiagMatmulTanh(keras.layers.Layer):
    """tanh(x @ diag(s)): per-channel scale applied by a matmul with a diagonal matrix."""

    def build(self, input_shape):
        self.s = self.add_weight(name="s", shape=(input_shape[-1],),
                                 initializer=keras.initializers.RandomUniform(0.5, 1.5, seed=5))

    def call(self, x):
        return tf.tanh(tf.matmul(x, tf.linalg.diag(self.s)))


@tf.custom_gradient
def _channel_elu(x, alpha):
    xn = tf.minimum(x, 0.0)
    e = tf.exp(xn)
    y = tf.where(x > 0, x, alpha * (e - 1.0))

    def grad(dy):
        gx = dy * tf.where(x > 0, tf.ones_like(x), e)  # forgets alpha on the negative side
        ga = tf.reduce_sum(dy * tf.where(x > 0, tf.zeros_like(x), e - 1.0), axis=tf.range(tf.rank(x) - 1))
        return gx, ga

    return y, grad


class PerChannelELUInputGradBug(keras.layers.Layer):
    """ELU with per-channel alpha; hand-written input gradient forgets alpha (weight gradient right)."""

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(input_shape[-1],),
                                     initializer=keras.initializers.RandomUniform(0.5, 1.5, seed=9))

    def call(self, x):
        return _channel_elu(x, tf.convert_to_tensor(self.alpha))


class FixedTemperatureSoftmaxBias(keras.layers.Layer):
    """softmax((x + b) / T) over the last axis, trainable per-channel bias, fixed T."""

    def build(self, input_shape):
        self.b = self.add_weight(name="b", shape=(input_shape[-1],),
                                 initializer=keras.initializers.RandomUniform(-0.3, 0.3, seed=12))
        self.t = self.add_weight(name="t", shape=(), initializer=keras.initializers.Constant(1.7), trainable=False)

    def call(self, x):
        return tf.nn.softmax((x + self.b) / self.t, axis=-1)


@tf.custom_gradient
def _temp_softmax(x, t):
    y = tf.nn.softmax(x / t, axis=-1)

    def grad(dy):
        s = dy - tf.reduce_sum(dy * y, axis=-1, keepdims=True)
        gx = y * s / t
        gt = -tf.reduce_sum(y * s * x)  # should be divided by t^2
        return gx, gt

    return y, grad


class LearnedTemperatureSoftmaxCustomWrongT(keras.layers.Layer):
    """softmax(x / T) with a learned T; hand-written dT drops the 1/T^2."""

    def build(self, input_shape):
        self.t = self.add_weight(name="t", shape=(), initializer=keras.initializers.Constant(2.5))

    def call(self, x):
        return _temp_softmax(x, tf.convert_to_tensor(self.t))
