import keras
import tensorflow as tf

EXPECTED = {'tanh_f32const_grad_1001': ('fail', 'custom_vs_autodiff'),
 'sigmoid_f32const_grad_ok': ('pass', None),
 'softmax_cg_sum_forgets_dy': ('fail', 'custom_vs_autodiff'),
 'ChannelScaleGradSummed': ('fail', 'weights'),
 'ScaleGrad0p1pct': ('fail', 'weights'),
 'variable_inside_fn': ('fail', 'graph'),
 'swish_static_dtype_check': ('pass', None),
 'int32_cast_tenths': ('fail', 'gradient'),
 'sqrt_where_pos': ('fail', 'xla'),
 'tanh_cg_truncated_3': ('fail', 'custom_vs_autodiff'),
 'sigmoid_split_where_exp': ('warn', 'stability'),
 'sigmoid_split_abs': ('fail', 'gradient_vs_fd'),
 'softmax_naive_exp': ('warn', 'stability')}
# Known limitations, kept out of the scored corpus (tests/test_corpus.py):
KNOWN_MISSES = {'sinc_divide_no_nan': ('fail', 'gradient_vs_fd')}
__all__ = ['tanh_f32const_grad_1001',
 'sigmoid_f32const_grad_ok',
 'softmax_cg_sum_forgets_dy',
 'ChannelScaleGradSummed',
 'ScaleGrad0p1pct',
 'variable_inside_fn',
 'swish_static_dtype_check',
 'int32_cast_tenths',
 'sqrt_where_pos',
 'tanh_cg_truncated_3',
 'sigmoid_split_where_exp',
 'sigmoid_split_abs',
 'softmax_naive_exp']


@tf.custom_gradient
def tanh_f32const_grad_1001(x):
    y = tf.tanh(x)
    def grad(dy):
        return dy * (tf.constant(1.0) - y * y) * tf.constant(1.001)
    return y, grad


@tf.custom_gradient
def sigmoid_f32const_grad_ok(x):
    y = tf.sigmoid(x)
    def grad(dy):
        return dy * y * (tf.constant(1.0) - y)
    return y, grad


@tf.custom_gradient
def softmax_cg_sum_forgets_dy(x):
    y = tf.nn.softmax(x, axis=-1)
    def grad(dy):
        return y * (dy - tf.reduce_sum(y, axis=-1, keepdims=True))
    return y, grad


class ChannelScaleGradSummed(keras.layers.Layer):
    def build(self, input_shape):
        self.g = self.add_weight(name="g", shape=(input_shape[-1],),
                                 initializer=keras.initializers.Constant(1.1))

    def call(self, x):
        @tf.custom_gradient
        def f(x):
            t = tf.tanh(x)
            def grad(dy, variables=None):
                return dy * self.g * (1.0 - t * t), [tf.reduce_sum(dy * t)]
            return self.g * t, grad
        return f(x)


class ScaleGrad0p1pct(keras.layers.Layer):
    def build(self, input_shape):
        self.a = self.add_weight(name="a", shape=(), initializer=keras.initializers.Constant(0.8))

    def call(self, x):
        @tf.custom_gradient
        def f(x):
            s = tf.nn.softplus(x)
            def grad(dy, variables=None):
                return dy * self.a * tf.sigmoid(x), [1.001 * tf.reduce_sum(dy * s)]
            return self.a * s, grad
        return f(x)


def variable_inside_fn(x):
    scale = tf.Variable(1.5, dtype=x.dtype)
    return tf.tanh(scale * x)


def swish_static_dtype_check(x):
    if x.dtype == tf.float16:
        x = tf.cast(x, tf.float32)
        return tf.cast(x * tf.sigmoid(x), tf.float16)
    return x * tf.sigmoid(x)


def int32_cast_tenths(x):
    return tf.cast(tf.cast(x * 10.0, tf.int32), x.dtype) / 10.0


def sqrt_where_pos(x):
    """NaN gradient under XLA: XLA's SqrtGrad of the unselected negative branch is NaN (eager mode's is 0).
    Relabeled pass -> fail when the xla check came (issue #12)."""
    return tf.where(x > 0, tf.sqrt(x), tf.zeros_like(x))


def sinc_divide_no_nan(x):
    return tf.math.divide_no_nan(tf.sin(x), x)


@tf.custom_gradient
def tanh_cg_truncated_3(x):
    y = tf.tanh(x)
    def grad(dy):
        return dy * tf.where(tf.abs(x) < 3.0, 1.0 - y * y, tf.zeros_like(x))
    return y, grad


def sigmoid_split_where_exp(x):
    return tf.where(x >= 0, 1.0 / (1.0 + tf.exp(-x)), tf.exp(x) / (1.0 + tf.exp(x)))


def sigmoid_split_abs(x):
    z = tf.exp(-tf.abs(x))
    return tf.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def softmax_naive_exp(x):
    e = tf.exp(x)
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)
