"""Fifth set: what an activation meets inside a network, beyond one call on one input.

Keras layers whose ``call`` takes ``training`` run different code in ``fit``
(training=True) and in ``predict`` (training=False): each path is checked, and a bug in
one path only is a bug. A path that is random by design (RReLU's random slope, dropout,
noise) cannot have its gradient checked: `error`, with the randomness to be fixed by the
user. A layer whose output depends on state it updates in training (a moving mean) is not
random. A hand-written gradient that keeps what it needs in module or object state instead
of its closure is right for one call and wrong when a model calls the activation twice
before back-propagating.
"""

import keras
import tensorflow as tf

EXPECTED = {
    # training argument, correct
    "TrainingFlagGELU": ("pass", None),
    "TrainingFusedSwish": ("pass", None),
    "BatchCenteredTanh": ("pass", None),
    "EMACenteredSoftsign": ("pass", None),
    "FrozenSlopeRReLU": ("pass", None),
    # training argument, buggy or random
    "TrainingTypoSwish": ("fail", "gradient_vs_fd"),
    "InferenceFastTanh": ("fail", "gradient_vs_fd"),
    "RReLU": ("error", "determinism"),
    "DropoutSwish": ("error", "determinism"),
    # state kept between the forward and the backward pass
    "swish_closure": ("pass", None),
    "softplus_counted_calls": ("pass", None),
    "swish_module_cache": ("fail", "two_calls"),
    "swish_variable_state": ("fail", "two_calls"),
    "CachedSigmoidSwish": ("fail", "two_calls"),
}


# -- layers with a training path -------------------------------------------------------------
class TrainingFlagGELU(keras.layers.Layer):
    """Takes ``training`` (as layers passed through a model do) and ignores it."""

    def call(self, x, training=None):
        return tf.nn.gelu(x)


class TrainingFusedSwish(keras.layers.Layer):
    """Swish with a hand-written gradient on the training path (swish_closure below, to save
    memory), autodiff in inference."""

    def call(self, x, training=None):
        if training:
            return swish_closure(x)
        return x * tf.sigmoid(x)


class BatchCenteredTanh(keras.layers.Layer):
    """tanh(x - mean over the batch) in training, updating a moving mean that inference uses
    (a batch-norm-like centring): rows are coupled in training, the moving mean is state."""

    def build(self, input_shape):
        self.moving_mean = self.add_weight(name="moving_mean", shape=(input_shape[-1],), initializer="zeros",
                                           trainable=False)

    def call(self, x, training=None):
        if training:
            mean = tf.reduce_mean(x, axis=0)
            self.moving_mean.assign(0.9 * self.moving_mean + 0.1 * mean)
            return tf.tanh(x - mean)
        return tf.tanh(x - self.moving_mean)


class EMACenteredSoftsign(keras.layers.Layer):
    """softsign(x - c) where training first moves c towards the batch mean and then uses it:
    the output depends on the state the call updates, yet it is not random."""

    def build(self, input_shape):
        self.center = self.add_weight(name="center", shape=(), initializer="zeros", trainable=False)

    def call(self, x, training=None):
        c = tf.convert_to_tensor(self.center)
        if training:
            c = 0.99 * c + 0.01 * tf.reduce_mean(x)
            self.center.assign(c)
        return tf.nn.softsign(x - c)


class FrozenSlopeRReLU(keras.layers.Layer):
    """RReLU with its randomness fixed: one slope per channel, drawn once at build from a
    seeded initializer (not trainable), used in training; their mean in inference."""

    def build(self, input_shape):
        self.slope = self.add_weight(name="slope", shape=(input_shape[-1],), trainable=False,
                                     initializer=keras.initializers.RandomUniform(1.0 / 8.0, 1.0 / 3.0, seed=5))

    def call(self, x, training=None):
        a = self.slope if training else tf.reduce_mean(self.slope)
        return tf.where(x >= 0, x, a * x)


@tf.custom_gradient
def _swish_fused_typo(x):
    s = tf.sigmoid(x)

    def grad(dy):
        return dy * s * (1.0 + x * (1.0 + s))  # BUG: (1 + s) for (1 - s)

    return x * s, grad


class TrainingTypoSwish(keras.layers.Layer):
    """BUG on the training path only: its hand-written gradient has a sign typo; predict's
    autodiff path is right (a check of one path alone passes it)."""

    def call(self, x, training=None):
        if training:
            return _swish_fused_typo(x)
        return x * tf.sigmoid(x)


@tf.custom_gradient
def _tanh_fast_typo(x):
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y)  # BUG: 1 - y for 1 - y^2

    return y, grad


class InferenceFastTanh(keras.layers.Layer):
    """BUG on the inference path only (a 'fast' tanh for serving, with a wrong gradient used by
    saliency maps or fine-tuning with training=False); the training path is right."""

    def call(self, x, training=None):
        if training:
            return tf.tanh(x)
        return _tanh_fast_typo(x)


class RReLU(keras.layers.Layer):
    """Randomized leaky ReLU: a random negative slope in [1/8, 1/3] per entry in training,
    their mean in inference. Random by design in training: its gradient there can only be
    checked with the randomness fixed."""

    def call(self, x, training=None):
        if training:
            a = tf.random.uniform(tf.shape(x), 1.0 / 8.0, 1.0 / 3.0, dtype=x.dtype)
        else:
            a = tf.cast((1.0 / 8.0 + 1.0 / 3.0) / 2.0, x.dtype)
        return tf.where(x >= 0, x, a * x)


class DropoutSwish(keras.layers.Layer):
    """Swish followed by Keras dropout (a seed generator's state advances every call)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dropout = keras.layers.Dropout(0.1, seed=3)

    def call(self, x, training=None):
        return self.dropout(x * tf.sigmoid(x), training=training)


# -- state between the forward and the backward pass ----------------------------------------
@tf.custom_gradient
def swish_closure(x):
    """The hand-written gradient uses its own call's sigmoid (a closure)."""
    s = tf.sigmoid(x)

    def grad(dy):
        return dy * s * (1.0 + x * (1.0 - s))

    return x * s, grad


_CALLS = tf.Variable(0, dtype=tf.int64, trainable=False)


@tf.custom_gradient
def softplus_counted_calls(x):
    """Counts its calls in a tf.Variable (for logging); neither output nor gradient read it."""
    _CALLS.assign_add(1)

    def grad(dy):
        return dy * tf.sigmoid(x)

    return tf.nn.softplus(x), grad


_CACHE = {}


@tf.custom_gradient
def swish_module_cache(x):
    """BUG: the forward caches sigmoid(x) in a module-level dict that the gradient reads; a
    second call overwrites it before the first call's backward pass."""
    _CACHE["s"] = tf.sigmoid(x)

    def grad(dy):
        s = _CACHE["s"]
        return dy * s * (1.0 + x * (1.0 - s))

    return x * _CACHE["s"], grad


_SAVED = tf.Variable(tf.zeros([0], tf.float64), shape=tf.TensorShape(None), trainable=False)


@tf.custom_gradient
def swish_variable_state(x):
    """BUG: sigmoid(x) kept in a tf.Variable assigned by every call and read by the gradient
    (float64 only, as the variable)."""
    s = tf.sigmoid(x)
    _SAVED.assign(s)

    def grad(dy):
        s = tf.convert_to_tensor(_SAVED)
        return dy * s * (1.0 + x * (1.0 - s))

    return x * s, grad


class CachedSigmoidSwish(keras.layers.Layer):
    """BUG: a layer whose hand-written gradient reads sigmoid(x) from an attribute that the
    next call overwrites."""

    def call(self, x):
        @tf.custom_gradient
        def swish(x):
            self._s = tf.sigmoid(x)

            def grad(dy):
                s = self._s
                return dy * s * (1.0 + x * (1.0 - s))

            return x * self._s, grad

        return swish(x)
