import math
import tensorflow as tf

EXPECTED = {'gelu_tanh_manual': ('pass', None),
 'softsign_manual': ('pass', None),
 'x_plus_half_sin': ('pass', None),
 'swish_1702_f32const': ('pass', None),
 'bent_identity_act': ('pass', None),
 'isru_act': ('pass', None),
 'arctan_act': ('pass', None),
 'sigmoid_cg_correct': ('pass', None),
 'mish_cg_correct': ('pass', None),
 'tanh_cg_factor_1001': ('fail', 'custom_vs_autodiff'),
 'gelu_cg_wrong_above_4': ('fail', 'custom_vs_autodiff'),
 'elu_cg_alpha_mismatch': ('fail', 'custom_vs_autodiff'),
 'softplus_cg_sigmoid_1001x': ('fail', 'custom_vs_autodiff'),
 'swish_cg_forgets_dy_neg': ('fail', 'upstream')}


def gelu_tanh_manual(x):
    c = math.sqrt(2.0 / math.pi)
    return 0.5 * x * (1.0 + tf.tanh(c * (x + 0.044715 * x * x * x)))


def softsign_manual(x):
    return x / (1.0 + tf.abs(x))


def x_plus_half_sin(x):
    return x + 0.5 * tf.sin(x)


def swish_1702_f32const(x):
    beta = tf.constant(1.702)
    return x * tf.sigmoid(beta * x)


def bent_identity_act(x):
    return (tf.sqrt(x * x + 1.0) - 1.0) / 2.0 + x


def isru_act(x):
    return x * tf.math.rsqrt(1.0 + x * x)


def arctan_act(x):
    return tf.atan(x)


@tf.custom_gradient
def sigmoid_cg_correct(x):
    y = tf.sigmoid(x)
    def grad(dy):
        return dy * y * (1.0 - y)
    return y, grad


@tf.custom_gradient
def mish_cg_correct(x):
    sp = tf.nn.softplus(x)
    t = tf.tanh(sp)
    def grad(dy):
        return dy * (t + x * tf.sigmoid(x) * (1.0 - t * t))
    return x * t, grad


@tf.custom_gradient
def tanh_cg_factor_1001(x):
    y = tf.tanh(x)
    def grad(dy):
        return dy * (1.0 - y * y) * 1.001
    return y, grad


@tf.custom_gradient
def gelu_cg_wrong_above_4(x):
    cdf = 0.5 * (1.0 + tf.math.erf(x / math.sqrt(2.0)))
    pdf = tf.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    def grad(dy):
        g = cdf + x * pdf
        return dy * tf.where(x > 4.0, tf.ones_like(x) * 0.999, g)
    return x * cdf, grad


@tf.custom_gradient
def elu_cg_alpha_mismatch(x):
    alpha = 1.05
    y = tf.where(x > 0, x, alpha * tf.math.expm1(tf.minimum(x, 0.0)))
    def grad(dy):
        return dy * tf.where(x > 0, tf.ones_like(x), tf.exp(tf.minimum(x, 0.0)))
    return y, grad


@tf.custom_gradient
def softplus_cg_sigmoid_1001x(x):
    y = tf.nn.softplus(x)
    def grad(dy):
        return dy * tf.sigmoid(1.001 * x)
    return y, grad


@tf.custom_gradient
def swish_cg_forgets_dy_neg(x):
    s = tf.sigmoid(x)
    y = x * s
    def grad(dy):
        g = s * (1.0 + x * (1.0 - s))
        return tf.where(x > 0, dy * g, g)
    return y, grad
