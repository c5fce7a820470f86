import keras
import numpy as np
import tensorflow as tf

EXPECTED = {'PerChannelLeakyPReLU': ('pass', None),
 'LearnableScaleTanh': ('pass', None),
 'ScaleTanhWrongWeightGrad': ('fail', 'weights'),
 'ShiftFrozen': ('fail', 'weights'),
 'FixedSlopeLeaky': ('pass', None),
 'SwishBetaCustom': ('pass', None),
 'SwishBetaGradSign': ('fail', 'weights'),
 'swish_tf_function_sig': ('pass', None),
 'normalize_by_python_float_max': ('pass', None),
 'reshape_static_batch': ('fail', 'graph'),
 'reshape_dynamic_batch': ('pass', None),
 'clip_numpy_bound': ('fail', 'gradient')}


class PerChannelLeakyPReLU(keras.layers.Layer):
    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(input_shape[-1],),
                                     initializer=keras.initializers.Constant(0.2))

    def call(self, x):
        return tf.where(x > 0, x, self.alpha * x)


class LearnableScaleTanh(keras.layers.Layer):
    def build(self, input_shape):
        self.a = self.add_weight(name="a", shape=(), initializer=keras.initializers.Constant(1.3))
        self.b = self.add_weight(name="b", shape=(), initializer=keras.initializers.Constant(0.7))

    def call(self, x):
        return self.a * tf.tanh(self.b * x)


class ScaleTanhWrongWeightGrad(keras.layers.Layer):
    def build(self, input_shape):
        self.a = self.add_weight(name="a", shape=(), initializer=keras.initializers.Constant(1.3))

    def call(self, x):
        @tf.custom_gradient
        def f(x):
            t = tf.tanh(x)
            def grad(dy, variables=None):
                # weight gradient forgets dy
                return dy * self.a * (1.0 - t * t), [tf.reduce_sum(t)]
            return self.a * t, grad
        return f(x)


class ShiftFrozen(keras.layers.Layer):
    def build(self, input_shape):
        self.b = self.add_weight(name="b", shape=(), initializer=keras.initializers.Constant(0.5))

    def call(self, x):
        return tf.nn.softplus(x + tf.stop_gradient(self.b))


class FixedSlopeLeaky(keras.layers.Layer):
    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), trainable=False,
                                     initializer=keras.initializers.Constant(0.1))

    def call(self, x):
        return tf.where(x > 0, x, self.alpha * x)


class SwishBetaCustom(keras.layers.Layer):
    def build(self, input_shape):
        self.beta = self.add_weight(name="beta", shape=(), initializer=keras.initializers.Constant(1.2))

    def call(self, x):
        @tf.custom_gradient
        def f(x):
            s = tf.sigmoid(self.beta * x)
            def grad(dy, variables=None):
                ds = s * (1.0 - s)
                dx = dy * (s + self.beta * x * ds)
                db = tf.reduce_sum(dy * x * x * ds)
                return dx, [db]
            return x * s, grad
        return f(x)


class SwishBetaGradSign(keras.layers.Layer):
    def build(self, input_shape):
        self.beta = self.add_weight(name="beta", shape=(), initializer=keras.initializers.Constant(1.2))

    def call(self, x):
        @tf.custom_gradient
        def f(x):
            s = tf.sigmoid(self.beta * x)
            def grad(dy, variables=None):
                ds = s * (1.0 - s)
                dx = dy * (s + self.beta * x * ds)
                db = -tf.reduce_sum(dy * x * x * ds)
                return dx, [db]
            return x * s, grad
        return f(x)


@tf.function(input_signature=[tf.TensorSpec(None, tf.float32)])
def swish_tf_function_sig(x):
    return x * tf.sigmoid(x)


def normalize_by_python_float_max(x):
    m = float(tf.reduce_max(tf.abs(x)))
    return tf.tanh(x) * (1.0 + 0.0 * m)


def reshape_static_batch(x):
    y = tf.reshape(x, [x.shape[0], -1])
    return tf.reshape(tf.nn.silu(y), tf.shape(x))


def reshape_dynamic_batch(x):
    y = tf.reshape(x, [tf.shape(x)[0], -1])
    return tf.reshape(tf.nn.silu(y), tf.shape(x))


def clip_numpy_bound(x):
    return tf.convert_to_tensor(np.tanh(x.numpy()))
