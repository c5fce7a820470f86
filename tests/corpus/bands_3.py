"""Red team 2: hand-written gradients wrong only in a band, a tail, one branch, or for
large upstream gradients; plus correct controls."""

import math

import tensorflow as tf

EXPECTED = {'soft_ceiling_custom': ('pass', None),
 'soft_ceiling_chain_rule_bug': ('fail', 'custom_vs_autodiff'),
 'soft_ceiling_narrow_chain_rule_bug': ('fail', 'custom_vs_autodiff'),
 'tanh_grad_asymptotic_tail': ('fail', 'custom_vs_autodiff'),
 'log2_compress_neg_rounded': ('fail', 'custom_vs_autodiff'),
 'softplus_grad_exp_tail': ('fail', 'custom_vs_autodiff'),
 'hard_sigmoid_grad_rounded_cutoff': ('fail', 'custom_vs_autodiff'),
 'log_knee_grad_wrong_condition': ('fail', 'custom_vs_autodiff'),
 'tanh_tail_passthrough': ('fail', 'custom_vs_autodiff'),
 'celu_missing_dy_negative': ('fail', 'upstream'),
 'exp_leaky_missing_dy_f32': ('fail', 'upstream'),
 'gelu_upstream_clipped_at_5': ('fail', 'upstream'),
 'elu_tail_grad_f32': ('fail', 'custom_vs_autodiff'),
 'gelu_nn_custom_exact': ('pass', None),
 'softsign_upstream_clipped_at_4': ('fail', 'upstream')}
# Known limitations, kept out of the scored corpus (see tests/test_corpus.py::test_known_limitations_still_missed):
KNOWN_MISSES = {'softplus_grad_exp_tail_f32': ('fail', 'custom_vs_autodiff')}
__all__ = ['soft_ceiling_custom',
 'soft_ceiling_chain_rule_bug',
 'soft_ceiling_narrow_chain_rule_bug',
 'tanh_grad_asymptotic_tail',
 'log2_compress_neg_rounded',
 'softplus_grad_exp_tail',
 'hard_sigmoid_grad_rounded_cutoff',
 'log_knee_grad_wrong_condition',
 'tanh_tail_passthrough',
 'celu_missing_dy_negative',
 'exp_leaky_missing_dy_f32',
 'gelu_upstream_clipped_at_5',
 'elu_tail_grad_f32',
 'gelu_nn_custom_exact',
 'softsign_upstream_clipped_at_4']


def _soft_ceiling(a, w, buggy):
    """Identity below a, constant a + w/2 above a + w, C1 smoothstep blend in between."""

    @tf.custom_gradient
    def f(x):
        t = tf.clip_by_value((x - a) / w, 0.0, 1.0)
        blend = a + w * (t - t * t * t + 0.5 * t * t * t * t)
        y = tf.where(x <= a, x, blend)

        def grad(dy):
            dblend_dt = w * (1.0 - 3.0 * t * t + 2.0 * t * t * t)
            dblend_dx = dblend_dt if buggy else dblend_dt / w
            return dy * tf.where(x <= a, tf.ones_like(x), dblend_dx)

        return y, grad

    return f


# soft ceiling at 2 (blend width 0.05), correct hand-written gradient
soft_ceiling_custom = _soft_ceiling(2.0, 0.05, buggy=False)
# same, but the blend's gradient is d/dt, missing the 1/w of dt/dx
soft_ceiling_chain_rule_bug = _soft_ceiling(2.0, 0.05, buggy=True)
# soft ceiling at sqrt(5) with a very narrow blend; same chain-rule slip
soft_ceiling_narrow_chain_rule_bug = _soft_ceiling(math.sqrt(5.0), 0.003, buggy=True)


@tf.custom_gradient
def tanh_grad_asymptotic_tail(x):
    """tanh; for |x| > 3 the gradient uses the asymptotic sech^2 ~ 4 e^{-2|x|} (avoids 1 - y^2)."""
    y = tf.tanh(x)

    def grad(dy):
        tail = 4.0 * tf.exp(-2.0 * tf.abs(x))
        return dy * tf.where(tf.abs(x) > 3.0, tail, 1.0 - y * y)

    return y, grad


@tf.custom_gradient
def log2_compress_neg_rounded(x):
    """Identity for x >= 0, -log2(1 - x) below; gradient uses 1/ln 2 rounded to 1.44."""
    y = tf.where(x >= 0, x, -tf.math.log(1.0 - tf.minimum(x, 0.0)) / math.log(2.0))

    def grad(dy):
        return dy * tf.where(x >= 0, tf.ones_like(x), 1.44 / (1.0 - tf.minimum(x, 0.0)))

    return y, grad


@tf.custom_gradient
def softplus_grad_exp_tail(x):
    """Softplus; for x < -6 the gradient sigmoid(x) is replaced by exp(x) ('same thing there')."""
    y = tf.nn.softplus(x)

    def grad(dy):
        return dy * tf.where(x < -6.0, tf.exp(tf.minimum(x, 0.0)), tf.sigmoid(x))

    return y, grad


@tf.custom_gradient
def softplus_grad_exp_tail_f32(x):
    """Same tail shortcut, float32 constants (float32-only)."""
    y = tf.nn.softplus(x)
    cut = tf.constant(-6.0)

    def grad(dy):
        return dy * tf.where(x < cut, tf.exp(tf.minimum(x, tf.constant(0.0))), tf.sigmoid(x))

    return y, grad


_HS_SLOPE = 0.22
_HS_CUT = 2.27  # 0.5 / 0.22, rounded


@tf.custom_gradient
def hard_sigmoid_grad_rounded_cutoff(x):
    """Hard sigmoid clip(0.5 + 0.22 x, 0, 1); gradient mask uses the rounded cutoff |x| <= 2.27."""
    y = tf.clip_by_value(0.5 + _HS_SLOPE * x, 0.0, 1.0)

    def grad(dy):
        inside = tf.abs(x) <= _HS_CUT
        return dy * tf.where(inside, _HS_SLOPE * tf.ones_like(x), tf.zeros_like(x))

    return y, grad


@tf.custom_gradient
def log_knee_grad_wrong_condition(x):
    """x below 1, 1 + log(x) above (C1); the gradient's branch tests x > 0 instead of x >= 1."""
    xs = tf.maximum(x, 1.0)
    y = tf.where(x >= 1.0, 1.0 + tf.math.log(xs), x)

    def grad(dy):
        xp = tf.where(x > 0, x, tf.ones_like(x))
        return dy * tf.where(x > 0, 1.0 / xp, tf.ones_like(x))

    return y, grad


@tf.custom_gradient
def tanh_tail_passthrough(x):
    """tanh whose gradient passes dy straight through for |x| > 6 ('avoid dead units')."""
    y = tf.tanh(x)

    def grad(dy):
        return tf.where(tf.abs(x) > 6.0, dy, dy * (1.0 - y * y))

    return y, grad


_CELU_A = 1.3


@tf.custom_gradient
def celu_missing_dy_negative(x):
    """CELU(alpha=1.3); the negative branch of the gradient forgets dy."""
    xn = tf.minimum(x, 0.0)
    y = tf.where(x > 0, x, _CELU_A * tf.math.expm1(xn / _CELU_A))

    def grad(dy):
        return tf.where(x > 0, dy, tf.exp(xn / _CELU_A))

    return y, grad


@tf.custom_gradient
def exp_leaky_missing_dy_f32(x):
    """expm1 for x > 0, leak 0.03 x below (float32); the leak branch of the gradient forgets dy."""
    leak = tf.constant(0.03)
    y = tf.where(x > 0, tf.math.expm1(x), leak * x)

    def grad(dy):
        return tf.where(x > 0, dy * tf.exp(x), leak * tf.ones_like(x))

    return y, grad


@tf.custom_gradient
def gelu_upstream_clipped_at_5(x):
    """Exact GELU whose gradient clips the incoming dy to [-5, 5] 'against explosions'."""
    y = tf.nn.gelu(x, approximate=False)

    def grad(dy):
        cdf = 0.5 * (1.0 + tf.math.erf(x / math.sqrt(2.0)))
        pdf = tf.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return tf.clip_by_value(dy, -5.0, 5.0) * (cdf + x * pdf)

    return y, grad


@tf.custom_gradient
def elu_tail_grad_f32(x):
    """ELU in float32; below -4 the gradient is computed as (y + 1) * 0.998 (typo'd 'stability' factor)."""
    y = tf.nn.elu(x)
    cut = tf.constant(-4.0)

    def grad(dy):
        g = tf.where(x > 0, tf.ones_like(x), y + tf.constant(1.0))
        return dy * tf.where(x < cut, g * tf.constant(0.998), g)

    return y, grad


@tf.custom_gradient
def gelu_nn_custom_exact(x):
    """Exact GELU from tf.nn.gelu with the textbook derivative Phi(x) + x phi(x)."""
    y = tf.nn.gelu(x, approximate=False)

    def grad(dy):
        cdf = 0.5 * tf.math.erfc(-x / math.sqrt(2.0))
        pdf = tf.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return dy * (cdf + x * pdf)

    return y, grad


@tf.custom_gradient
def softsign_upstream_clipped_at_4(x):
    """Softsign whose gradient clips the incoming dy to [-4, 4] 'against explosions'."""
    d = 1.0 + tf.abs(x)

    def grad(dy):
        return tf.clip_by_value(dy, -4.0, 4.0) / (d * d)

    return x / d, grad
