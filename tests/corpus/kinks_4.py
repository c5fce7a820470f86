import tensorflow as tf

EXPECTED = {'leaky_relu_01': ('pass', None),
 'relu6_builtin': ('pass', None),
 'hard_swish_manual': ('pass', None),
 'clip_pm2': ('pass', None),
 'piecewise_slope2_above1': ('pass', None),
 'huber_act': ('pass', None),
 'relu_squared': ('pass', None),
 'hard_tanh_cg_le': ('pass', None),
 'identity_max_plus_min': ('fail', 'gradient_vs_fd'),
 'identity_abs_times_sign': ('fail', 'gradient_vs_fd'),
 'softplus_relu_abs_split': ('fail', 'gradient_vs_fd'),
 'leaky_cg_slope_mismatch': ('fail', 'custom_vs_autodiff'),
 'quantize_quarter': ('fail', 'gradient'),
 'threshold_at_one': ('fail', 'gradient'),
 'floor_plus_half': ('fail', 'gradient'),
 'x_plus_round': ('fail', 'gradient_vs_fd'),
 'const_half': ('warn', None),
 'zeros_act': ('warn', None)}


def leaky_relu_01(x):
    return tf.nn.leaky_relu(x, alpha=0.1)


def relu6_builtin(x):
    return tf.nn.relu6(x)


def hard_swish_manual(x):
    return x * tf.nn.relu6(x + 3.0) / 6.0


def clip_pm2(x):
    return tf.clip_by_value(x, -2.0, 2.0)


def piecewise_slope2_above1(x):
    return tf.where(x < 1.0, x, 2.0 * x - 1.0)


def huber_act(x):
    a = tf.abs(x)
    return tf.where(a < 1.0, 0.5 * x * x, a - 0.5)


def relu_squared(x):
    return tf.square(tf.nn.relu(x))


@tf.custom_gradient
def hard_tanh_cg_le(x):
    y = tf.clip_by_value(x, -1.0, 1.0)
    def grad(dy):
        return dy * tf.cast(tf.abs(x) <= 1.0, x.dtype)
    return y, grad


def identity_max_plus_min(x):
    return tf.maximum(x, 0.0) + tf.minimum(x, 0.0)


def identity_abs_times_sign(x):
    return tf.abs(x) * tf.sign(x)


def softplus_relu_abs_split(x):
    return tf.nn.relu(x) + tf.math.log1p(tf.exp(-tf.abs(x)))


@tf.custom_gradient
def leaky_cg_slope_mismatch(x):
    y = tf.where(x > 0, x, 0.02 * x)
    def grad(dy):
        return dy * tf.where(x > 0, tf.ones_like(x), 0.01 * tf.ones_like(x))
    return y, grad


def quantize_quarter(x):
    return tf.round(x * 4.0) / 4.0


def threshold_at_one(x):
    return tf.cast(x >= 1.0, x.dtype)


def floor_plus_half(x):
    return tf.floor(x) + 0.5


def x_plus_round(x):
    return x + tf.round(x)


def const_half(x):
    return tf.ones_like(x) * 0.5


def zeros_act(x):
    return tf.zeros_like(x)
