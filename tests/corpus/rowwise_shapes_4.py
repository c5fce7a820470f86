import tensorflow as tf

EXPECTED = {'softmax_temp2': ('pass', None),
 'softmax_manual_maxshift': ('pass', None),
 'l2norm_cg_correct': ('pass', None),
 'logsumexp_center': ('pass', None),
 'softmax_cg_diag_only': ('fail', 'custom_vs_autodiff'),
 'center_cg_identity': ('fail', 'custom_vs_autodiff'),
 'layernorm_cg_diag': ('fail', 'custom_vs_autodiff'),
 'tanh_grad_sum_scalar': ('fail', 'gradient'),
 'tanh_grad_first_col': ('fail', 'gradient'),
 'sigmoid_grad_none': ('fail', 'gradient'),
 'swish_grad_cast_f32': ('fail', 'gradient'),
 'tanh_grad_transposed': ('fail', 'gradient'),
 'forward_reduce_mean': ('error', 'forward')}


def softmax_temp2(x):
    return tf.nn.softmax(x / 2.0, axis=-1)


def softmax_manual_maxshift(x):
    z = x - tf.reduce_max(x, axis=-1, keepdims=True)
    e = tf.exp(z)
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


@tf.custom_gradient
def l2norm_cg_correct(x):
    n = tf.sqrt(tf.reduce_sum(x * x, axis=-1, keepdims=True) + 1e-12)
    y = x / n
    def grad(dy):
        return (dy - y * tf.reduce_sum(dy * y, axis=-1, keepdims=True)) / n
    return y, grad


def logsumexp_center(x):
    return x - tf.reduce_logsumexp(x, axis=-1, keepdims=True)


@tf.custom_gradient
def softmax_cg_diag_only(x):
    y = tf.nn.softmax(x, axis=-1)
    def grad(dy):
        return dy * y * (1.0 - y)
    return y, grad


@tf.custom_gradient
def center_cg_identity(x):
    y = x - tf.reduce_mean(x, axis=-1, keepdims=True)
    def grad(dy):
        return dy
    return y, grad


@tf.custom_gradient
def layernorm_cg_diag(x):
    mu = tf.reduce_mean(x, axis=-1, keepdims=True)
    var = tf.reduce_mean(tf.square(x - mu), axis=-1, keepdims=True)
    inv = tf.math.rsqrt(var + 1e-5)
    y = (x - mu) * inv
    def grad(dy):
        return dy * inv
    return y, grad


@tf.custom_gradient
def tanh_grad_sum_scalar(x):
    y = tf.tanh(x)
    def grad(dy):
        return tf.reduce_sum(dy * (1.0 - y * y))
    return y, grad


@tf.custom_gradient
def tanh_grad_first_col(x):
    y = tf.tanh(x)
    def grad(dy):
        return (dy * (1.0 - y * y))[..., :1]
    return y, grad


@tf.custom_gradient
def sigmoid_grad_none(x):
    y = tf.sigmoid(x)
    def grad(dy):
        return None
    return y, grad


@tf.custom_gradient
def swish_grad_cast_f32(x):
    s = tf.sigmoid(x)
    def grad(dy):
        return tf.cast(dy * s * (1.0 + x * (1.0 - s)), tf.float32)
    return x * s, grad


@tf.custom_gradient
def tanh_grad_transposed(x):
    y = tf.tanh(x)
    def grad(dy):
        return tf.transpose(dy * (1.0 - y * y))
    return y, grad


def forward_reduce_mean(x):
    return tf.reduce_mean(tf.tanh(x), axis=-1)
