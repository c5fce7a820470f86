"""Red team 2: steep, large-output, periodic and tiny-tail activations (all correct)."""

import tensorflow as tf

EXPECTED = {'tanh_gain20': ('pass', None),
 'sigmoid_gain50': ('pass', None),
 'tanh_gain1000': ('pass', None),
 'cubic_minus_3x': ('pass', None),
 'quartic_double_well': ('warn', 'stability'),
 'exp_activation': ('warn', 'stability'),
 'exp_clamped_above': ('pass', None),
 'cosh_minus_one': ('warn', 'stability'),
 'sin_freq10': ('pass', None),
 'gaussian_narrow': ('pass', None),
 'erf_gain3': ('pass', None),
 'softplus_sharp20': ('pass', None),
 'sigmoid_gain50_f32': ('pass', None),
 'x_tanh_gain20': ('pass', None)}


def tanh_gain20(x):
    """A near-step: tanh with gain 20."""
    return tf.tanh(20.0 * x)


def sigmoid_gain50(x):
    """Sharp sigmoid gate."""
    return tf.sigmoid(50.0 * x)


def tanh_gain1000(x):
    """Almost a sign function, but smooth: slope 1000 at 0."""
    return tf.tanh(1000.0 * x)


def cubic_minus_3x(x):
    """Odd cubic, outputs up to ~500 on [-8, 8]."""
    return x * x * x - 3.0 * x


def quartic_double_well(x):
    """x^4/4 - x^2: large outputs, gradient up to ~500."""
    return x ** 4 / 4.0 - x ** 2


def exp_activation(x):
    """Plain exponential activation (keras 'exponential')."""
    return tf.exp(x)


def exp_clamped_above(x):
    """exp with its input clamped well above the working range (fits float16)."""
    return tf.exp(tf.minimum(x, 9.0))


def cosh_minus_one(x):
    """cosh(x) - 1: even, grows like e^|x| / 2."""
    return tf.cosh(x) - 1.0


def sin_freq10(x):
    """High-frequency periodic activation."""
    return tf.sin(10.0 * x)


def gaussian_narrow(x):
    """Narrow radial basis bump, width ~0.1."""
    return tf.exp(-50.0 * x * x)


def erf_gain3(x):
    """erf(3x): gradient underflows to ~1e-250 in the tails."""
    return tf.math.erf(3.0 * x)


def softplus_sharp20(x):
    """Softplus with sharpness beta = 20 (torch's Softplus(beta=20))."""
    return tf.nn.softplus(20.0 * x) / 20.0


def sigmoid_gain50_f32(x):
    """Sharp sigmoid gate with a float32 gain constant (float32-only)."""
    return tf.sigmoid(tf.constant(50.0) * x)


def x_tanh_gain20(x):
    """Smooth |x|: x * tanh(20 x)."""
    return x * tf.tanh(20.0 * x)
