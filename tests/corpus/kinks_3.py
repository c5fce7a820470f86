"""Red team 2: many kinks, table interpolation, computed breakpoints, polynomial erf."""

import math

import numpy as np
import tensorflow as tf

EXPECTED = {'pwl_relu_sum_10': ('pass', None),
 'pwl_table_interp': ('pass', None),
 'pwl_table_cbrt_knots': ('pass', None),
 'maxout_four_lines': ('pass', None),
 'smooth_relu_third': ('pass', None),
 'bucket_slope_no_intercept': ('fail', 'gradient_vs_fd'),
 'hard_sigmoid_mismatched_bounds': ('fail', 'gradient_vs_fd'),
 'erf_abramowitz_sign': ('fail', 'gradient_vs_fd'),
 'erf_abramowitz_mirror': ('pass', None),
 'lut_nearest_tanh': ('fail', 'gradient')}
# Known limitations, kept out of the scored corpus (see tests/test_corpus.py::test_known_limitations_still_missed):
KNOWN_MISSES = {'erf_abramowitz_where': ('fail', 'gradient')}
__all__ = ['pwl_relu_sum_10',
 'pwl_table_interp',
 'pwl_table_cbrt_knots',
 'maxout_four_lines',
 'smooth_relu_third',
 'bucket_slope_no_intercept',
 'hard_sigmoid_mismatched_bounds',
 'erf_abramowitz_sign',
 'erf_abramowitz_mirror',
 'lut_nearest_tanh']

# ten breakpoints at irregular decimals and the eleven slopes between them
_BREAKS = (-6.1, -4.444, -2.71, -0.58, 0.137, 1.414, 2.222, 3.3, 5.05, 6.66)
_SLOPES = (0.05, 0.2, -0.3, 0.6, 1.2, 0.9, 1.4, 0.7, 1.1, 0.4, 0.15)


def pwl_relu_sum_10(x):
    """Continuous piecewise-linear function: a sum of shifted ReLUs (10 kinks)."""
    y = _SLOPES[0] * x
    for b, s_prev, s in zip(_BREAKS, _SLOPES[:-1], _SLOPES[1:]):
        y = y + (s - s_prev) * tf.nn.relu(x - b)
    return y


_KX = np.array([-8.0, -5.3, -3.07, -1.9, -0.777, 0.0, 0.61, 1.77, 2.9, 4.2, 5.55, 8.0])
_KY = np.tanh(_KX) + 0.1 * _KX


def _interp(x, kx_np, ky_np):
    kx = tf.constant(kx_np, x.dtype)
    ky = tf.constant(ky_np, x.dtype)
    xc = tf.clip_by_value(x, kx_np[0], kx_np[-1])
    flat = tf.reshape(xc, [-1])
    i = tf.searchsorted(kx, flat, side="right") - 1
    i = tf.clip_by_value(i, 0, len(kx_np) - 2)
    x0, x1 = tf.gather(kx, i), tf.gather(kx, i + 1)
    y0, y1 = tf.gather(ky, i), tf.gather(ky, i + 1)
    t = (flat - x0) / (x1 - x0)
    return tf.reshape(y0 + t * (y1 - y0), tf.shape(x))


def pwl_table_interp(x):
    """Linear interpolation in a hand-made knot table (searchsorted + gather)."""
    return _interp(x, _KX, _KY)


_KX_CBRT = np.cbrt(np.linspace(-512.0, 512.0, 15))
_KY_CBRT = np.tanh(_KX_CBRT)


def pwl_table_cbrt_knots(x):
    """Interpolated tanh on knots denser near 0 (cube-root spacing, irrational knots)."""
    return _interp(x, _KX_CBRT, _KY_CBRT)


def maxout_four_lines(x):
    """Maxout of four fixed affine pieces (kinks where lines cross)."""
    lines = tf.stack([0.1 * x - 0.3, 0.7 * x + 0.05, 1.3 * x - 1.9, -0.45 * x - 1.1], axis=0)
    return tf.reduce_max(lines, axis=0)


_D = 1.0 / 3.0


def smooth_relu_third(x):
    """Smooth ReLU: 0, then x^2/(2d) on [0, d], then x - d/2 (C1 joins, d = 1/3)."""
    quad = x * x / (2.0 * _D)
    return tf.where(x < 0.0, tf.zeros_like(x), tf.where(x < _D, quad, x - _D / 2.0))


_BUCKET_SLOPES = np.linspace(0.05, 1.2, 17)


def bucket_slope_no_intercept(x):
    """Slope picked per unit bucket by an integer index, times x (intercepts forgotten)."""
    idx = tf.cast(tf.floor(tf.clip_by_value(x, -8.0, 7.999)) + 8.0, tf.int32)
    slope = tf.gather(tf.constant(_BUCKET_SLOPES, x.dtype), idx)
    return slope * x


_C = math.sqrt(3.0)


def hard_sigmoid_mismatched_bounds(x):
    """Hard sigmoid clipped at +-sqrt(3), but the middle ramp has slope 1/4 (reaches 0/1 at +-2)."""
    mid = 0.5 + 0.25 * x
    return tf.where(x < -_C, tf.zeros_like(x), tf.where(x > _C, tf.ones_like(x), mid))


# Abramowitz & Stegun 7.1.26 coefficients
_P = 0.3275911
_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _erf_pos(z):
    t = 1.0 / (1.0 + _P * z)
    poly = t * (_A[0] + t * (_A[1] + t * (_A[2] + t * (_A[3] + t * _A[4]))))
    return 1.0 - poly * tf.exp(-z * z)


def erf_abramowitz_sign(x):
    """Polynomial erf approximation, odd extension with sign(x)."""
    return tf.sign(x) * _erf_pos(tf.abs(x))


def erf_abramowitz_where(x):
    """Polynomial erf approximation, odd extension with a where on the sign."""
    return tf.where(x >= 0, _erf_pos(x), -_erf_pos(-x))


def erf_abramowitz_mirror(x):
    """Polynomial erf approximation, mirrored input z = |x| taken through a where."""
    pos = x >= 0
    z = tf.where(pos, x, -x)
    e = _erf_pos(z)
    return tf.where(pos, e, -e)


_LUT_LO, _LUT_STEP = -8.0, 1.0 / 64.0
_LUT = np.tanh(np.arange(_LUT_LO, 8.0 + _LUT_STEP, _LUT_STEP))


def lut_nearest_tanh(x):
    """tanh from a nearest-entry lookup table (integer index, no interpolation)."""
    idx = tf.cast(tf.round((tf.clip_by_value(x, -8.0, 8.0) - _LUT_LO) / _LUT_STEP), tf.int32)
    return tf.gather(tf.constant(_LUT, x.dtype), idx)
