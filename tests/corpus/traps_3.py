"""Red team 2: NaN traps in unselected where branches at literal and computed points,
misplaced / harmless stop_gradient."""

import math

import tensorflow as tf

EXPECTED = {'log_knee_literal': ('fail', 'gradient'),
 'log_knee_ln3_safe': ('pass', None),
 'log_knee_two': ('fail', 'gradient'),
 'shifted_sinc_quarter_pi': ('fail', 'gradient'),
 'shifted_sinc_quarter_pi_safe': ('pass', None),
 'softsign_detached_denominator': ('fail', 'gradient_vs_fd'),
 'shifted_softplus_detached_shift': ('pass', None),
 'gelu_tanh_detached_cubic': ('fail', 'gradient_vs_fd'),
 'log_barrier_golden': ('fail', 'gradient')}
# Known limitations, kept out of the scored corpus (see tests/test_corpus.py::test_known_limitations_still_missed):
KNOWN_MISSES = {'log_knee_ln3': ('fail', 'gradient')}
__all__ = ['log_knee_literal',
 'log_knee_ln3_safe',
 'log_knee_two',
 'shifted_sinc_quarter_pi',
 'shifted_sinc_quarter_pi_safe',
 'softsign_detached_denominator',
 'shifted_softplus_detached_shift',
 'gelu_tanh_detached_cubic',
 'log_barrier_golden']

KNEE = 1.23


def log_knee_literal(x):
    """Identity up to KNEE, KNEE + log1p(x - KNEE) above (C1)."""
    return tf.where(x > KNEE, KNEE + tf.math.log1p(x - KNEE), x)


_KNEE_LN3 = math.log(3.0)


def log_knee_ln3(x):
    """Identity up to ln 3, log-compressed above (C1)."""
    return tf.where(x > _KNEE_LN3, _KNEE_LN3 + tf.math.log1p(x - _KNEE_LN3), x)


def log_knee_ln3_safe(x):
    """Same, with the log1p input clamped (double where)."""
    above = x > _KNEE_LN3
    u = tf.where(above, x - _KNEE_LN3, tf.zeros_like(x))
    return tf.where(above, _KNEE_LN3 + tf.math.log1p(u), x)


def log_knee_two(x):
    """Identity up to 2, 2 + log(x - 1) above (C1 at 2)."""
    return tf.where(x > 2.0, 2.0 + tf.math.log(x - 1.0), x)


_C = math.pi / 4.0


def shifted_sinc_quarter_pi(x):
    """sinc centred at pi/4: sin(x - c) / (x - c), 1 at the centre."""
    u = x - _C
    return tf.where(tf.equal(u, 0.0), tf.ones_like(x), tf.sin(u) / u)


def shifted_sinc_quarter_pi_safe(x):
    """Same with the double where (no 0/0 anywhere)."""
    u = x - _C
    zero = tf.equal(u, 0.0)
    us = tf.where(zero, tf.ones_like(u), u)
    return tf.where(zero, tf.ones_like(x), tf.sin(us) / us)


def softsign_detached_denominator(x):
    """Softsign with the denominator under stop_gradient ('treat the scale as a constant')."""
    return x / tf.stop_gradient(1.0 + tf.abs(x))


def shifted_softplus_detached_shift(x):
    """SchNet's shifted softplus: softplus(x) - log 2, the shift computed under stop_gradient."""
    shift = tf.stop_gradient(tf.nn.softplus(tf.zeros_like(x)))
    return tf.nn.softplus(x) - shift


def gelu_tanh_detached_cubic(x):
    """tanh-GELU where the cubic correction term was detached by mistake."""
    c = math.sqrt(2.0 / math.pi)
    inner = c * (x + 0.044715 * tf.stop_gradient(x * x * x))
    return 0.5 * x * (1.0 + tf.tanh(inner))


_PHI = (1.0 + math.sqrt(5.0)) / 2.0


def log_barrier_golden(x):
    """Soft barrier: x below phi, phi + log(x - phi + 1) above (C1); the log's pole sits at phi - 1."""
    return tf.where(x > _PHI, _PHI + tf.math.log(x - _PHI + 1.0), x)
