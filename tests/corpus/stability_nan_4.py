import tensorflow as tf

EXPECTED = {'softplus_log1p_exp': ('warn', 'stability'),
 'sech_act': ('warn', 'stability'),
 'softplus_where_branches': ('warn', 'stability'),
 'selu_where_exp': ('warn', 'stability'),
 'logsig_log_one_plus_exp': ('warn', 'stability'),
 'exp_act': ('warn', 'stability'),
 'softplus_builtin_act': ('pass', None),
 'log_sigmoid_builtin': ('pass', None),
 'mish_builtin_softplus': ('pass', None),
 'squareplus_act': ('pass', None),
 'selu_builtin': ('pass', None),
 'xlogx_where': ('fail', 'gradient'),
 'xlogx_double_where': ('pass', None),
 'expm1_over_x_where': ('fail', 'gradient'),
 'expm1_over_x_safe': ('fail', 'gradient_vs_fd'),
 'sqrt_relu_pow': ('fail', 'gradient'),
 'relu_pow_1p5': ('pass', None),
 'sqrt_sq_plus_eps': ('pass', None),
 'log_square': ('fail', 'forward')}


def softplus_log1p_exp(x):
    return tf.math.log1p(tf.exp(x))


def sech_act(x):
    return 1.0 / tf.cosh(x)


def softplus_where_branches(x):
    return tf.where(x > 0, x + tf.math.log1p(tf.exp(-x)), tf.math.log1p(tf.exp(x)))


def selu_where_exp(x):
    a, s = 1.6732632423543772, 1.0507009873554805
    return s * tf.where(x > 0, x, a * (tf.exp(x) - 1.0))


def logsig_log_one_plus_exp(x):
    return -tf.math.log(1.0 + tf.exp(-x))


def exp_act(x):
    return tf.exp(x)


def softplus_builtin_act(x):
    return tf.nn.softplus(x)


def log_sigmoid_builtin(x):
    return tf.math.log_sigmoid(x)


def mish_builtin_softplus(x):
    return x * tf.tanh(tf.nn.softplus(x))


def squareplus_act(x):
    return 0.5 * (x + tf.sqrt(x * x + 4.0))


def selu_builtin(x):
    return tf.nn.selu(x)


def xlogx_where(x):
    return tf.where(x > 0, x * tf.math.log(x), tf.zeros_like(x))


def xlogx_double_where(x):
    safe = tf.where(x > 0, x, tf.ones_like(x))
    return tf.where(x > 0, safe * tf.math.log(safe), tf.zeros_like(x))


def expm1_over_x_where(x):
    return tf.where(tf.equal(x, 0.0), tf.ones_like(x), tf.math.expm1(x) / x)


def expm1_over_x_safe(x):
    nz = tf.not_equal(x, 0.0)
    safe = tf.where(nz, x, tf.ones_like(x))
    return tf.where(nz, tf.math.expm1(safe) / safe, tf.ones_like(x))


def sqrt_relu_pow(x):
    return tf.pow(tf.nn.relu(x), 0.5)


def relu_pow_1p5(x):
    return tf.pow(tf.nn.relu(x), 1.5)


def sqrt_sq_plus_eps(x):
    return tf.sqrt(x * x + 1e-3)


def log_square(x):
    return tf.math.log(x * x)
