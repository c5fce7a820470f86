"""Red team 2: tf.function with input signatures, default arguments, keras.ops custom
gradients, lambdas, dtype-dependent code paths."""

import math

import keras
import tensorflow as tf

EXPECTED = {'silu_sig_f32_2d': ('pass', None),
 'silu_sig_f32_any_shape': ('pass', None),
 'silu_sig_f32_rank1': ('pass', None),
 'leaky_cubic_default_alpha': ('pass', None),
 'softclip_keras_ops': ('pass', None),
 'squareplus_keras_custom': ('pass', None),
 'squareplus_keras_custom_sign_bug': ('fail', 'custom_vs_autodiff'),
 'hard_elu_lambda': ('pass', None),
 'sine_gain_tensor_default': ('pass', None),
 'softsign_tf_function_custom': ('pass', None),
 'gelu_compiled': ('pass', None)}
# Known limitations, kept out of the scored corpus (see tests/test_corpus.py::test_known_limitations_still_missed):
KNOWN_MISSES = {'gelu_half_precision_path_bug': ('fail', 'custom_vs_autodiff')}
__all__ = ['silu_sig_f32_2d',
 'silu_sig_f32_any_shape',
 'silu_sig_f32_rank1',
 'leaky_cubic_default_alpha',
 'softclip_keras_ops',
 'squareplus_keras_custom',
 'squareplus_keras_custom_sign_bug',
 'hard_elu_lambda',
 'sine_gain_tensor_default',
 'softsign_tf_function_custom',
 'gelu_compiled']


@tf.function(input_signature=[tf.TensorSpec(shape=[None, None], dtype=tf.float32)])
def silu_sig_f32_2d(x):
    """SiLU traced once for float32 matrices."""
    return x * tf.sigmoid(x)


@tf.function(input_signature=[tf.TensorSpec(shape=None, dtype=tf.float32)])
def silu_sig_f32_any_shape(x):
    """SiLU traced once for float32 tensors of any shape."""
    return x * tf.sigmoid(x)


@tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.float32)])
def silu_sig_f32_rank1(x):
    """SiLU traced once for flat float32 vectors."""
    return x * tf.sigmoid(x)


def leaky_cubic_default_alpha(x, alpha=0.2):
    """x + x^3/3 for positives, alpha * x for negatives (default argument)."""
    return tf.where(x > 0, x + x * x * x / 3.0, alpha * x)


def softclip_keras_ops(x, limit=5.0):
    """Smooth clip to (-limit, limit) with keras.ops (tanh scaling)."""
    return limit * keras.ops.tanh(x / limit)


@keras.ops.custom_gradient
def squareplus_keras_custom(x):
    """Squareplus (x + sqrt(x^2 + b)) / 2 with b = 4, gradient (1 + x / sqrt(x^2 + b)) / 2."""
    r = keras.ops.sqrt(x * x + 4.0)
    y = 0.5 * (x + r)

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return upstream * 0.5 * (1.0 + x / r)

    return y, grad


@keras.ops.custom_gradient
def squareplus_keras_custom_sign_bug(x):
    """Same, gradient written (1 - x / sqrt(x^2 + b)) / 2."""
    r = keras.ops.sqrt(x * x + 4.0)
    y = 0.5 * (x + r)

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return upstream * 0.5 * (1.0 - x / r)

    return y, grad


@tf.custom_gradient
def gelu_half_precision_path_bug(x):
    """tanh-GELU; for float16/bfloat16 inputs the gradient is computed in float32 by a
    separate code path, which forgets the 3 in the derivative of the cubic term."""
    c = math.sqrt(2.0 / math.pi)
    u = c * (x + 0.044715 * x * x * x)
    t = tf.tanh(u)
    y = 0.5 * x * (1.0 + t)

    def grad(dy):
        if x.dtype in (tf.float16, tf.bfloat16):
            x32 = tf.cast(x, tf.float32)
            t32 = tf.cast(t, tf.float32)
            du = c * (1.0 + 0.044715 * x32 * x32)
            g = 0.5 * (1.0 + t32) + 0.5 * x32 * (1.0 - t32 * t32) * du
            return dy * tf.cast(g, x.dtype)
        du = c * (1.0 + 3.0 * 0.044715 * x * x)
        return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)

    return y, grad


hard_elu_lambda = lambda x: tf.where(x > 0, x, tf.maximum(x, -1.0))  # noqa: E731


def sine_gain_tensor_default(x, gain=tf.constant(2.5)):
    """sin(g x) / g with a float32 tensor default argument."""
    return tf.sin(gain * x) / gain


@tf.function
@tf.custom_gradient
def softsign_tf_function_custom(x):
    """Softsign with a hand-written gradient, compiled with tf.function."""
    d = 1.0 + tf.abs(x)

    def grad(dy):
        return dy / (d * d)

    return x / d, grad


def _gelu_impl(x):
    return 0.5 * x * (1.0 + tf.math.erf(x / math.sqrt(2.0)))


gelu_compiled = tf.function(_gelu_impl, reduce_retracing=True)
