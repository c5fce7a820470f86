"""Sixth set, written blind: activations as networks really use them (issue #12).

Written without reading gradcheck's code, its tests or the other corpus modules, and labeled
from throwaway reference scripts in plain TensorFlow/NumPy: float64 central differences
against the tape gradient with random upstream tensors on (rows, 8), (b, t, 8) and
(n, h, w, 8) inputs, both training modes of layers, two calls in one tape, a batch of one
against the whole batch, tf.function(jit_compile=True) against eager mode and a tiny
keras.Model.fit(..., jit_compile=True) on CPU for the XLA cases. The evidence for each label
is the comment above the activation.

Classes: hand-written gradients that are right on a (batch, features) input and wrong on
sequence or image inputs (a reduction over axis 1, a flatten to (batch, -1), the feature
count read from axis 1); layers whose training path differs from their inference path
(a typo in a fused training gradient, a random slope, deterministic surrogates); tf.Variables
read by a tf.custom_gradient function; hand-written gradients that keep state outside their
closure; shape-changing activations (GLU, SwiGLU, CReLU, concat-ELU); batch mixing; XLA.
Second derivatives are only noted in a comment: the corpus runs at order 1.
"""

import functools
import math

import keras
import numpy as np
import tensorflow as tf

EXPECTED = {
    # 1. ranks
    "attention_softmax": ("fail", "custom_vs_autodiff"),
    "centered_tanh": ("fail", "custom_vs_autodiff"),
    "centered_softsign": ("fail", "custom_vs_autodiff"),
    "ChannelRMSNorm": ("fail", "vjp_vs_fd"),
    "softmax_lastaxis_vjp": ("pass", None),
    "rms_norm": ("pass", None),
    "ChannelSwish": ("pass", None),
    # 2. training mode
    "FusedGELU": ("fail", "gradient_vs_fd"),
    "RandomizedLeakyReLU": ("error", "determinism"),
    "DeployHardSigmoid": ("pass", None),
    "RecomputeSwish": ("pass", None),
    # 3. variables read by a tf.custom_gradient function
    "shared_prelu": ("pass", None),
    "temperature_tanh": ("fail", "weights"),
    "swish_learnable_beta": ("fail", "weights"),
    # 4. state between the forward and the backward pass
    "mish_saved_tensors": ("fail", "two_calls"),
    "gelu_cached_coefficients": ("pass", None),
    "SavedInputSwish": ("fail", "two_calls"),
    # 5. shape-changing
    "glu": ("pass", None),
    "swiglu": ("pass", None),
    "glu_fused": ("fail", "custom_vs_autodiff"),
    "geglu_vjp": ("pass", None),
    "crelu": ("pass", None),
    "concat_elu": ("pass", None),
    # 6. batch mixing
    "batch_standardize": ("warn", "batch"),
    "batch_softmax_assign": ("warn", "batch"),
    "layer_norm_plain": ("pass", None),
    # 7. XLA
    "swish_with_stats": ("fail", "xla"),
    "signed_sqrt_unit": ("fail", "xla"),
    "gelu_tanh_mixed_precision": ("pass", None),
    "hard_swish_jit": ("pass", None),
    # 8. second derivatives (order 1 verdict; see the comment)
    "softplus_detached_grad": ("pass", None),
}

__all__ = list(EXPECTED)


# --------------------------------------------------------------------------- 1. ranks


# evidence: (rows, 8): = autodiff exactly, = FD (3e-11); (3, 5, 8) and (2, 3, 2, 8): ~90% of
# entries wrong, by up to 0.71 (dy*y summed over time / height, not over the features).
@tf.custom_gradient
def attention_softmax(x):
    """Softmax over the features with a memory-light backward (only y is kept)."""
    y = tf.nn.softmax(x, axis=-1)

    def grad(dy):
        return y * (dy - tf.reduce_sum(dy * y, axis=1, keepdims=True))

    return y, grad


# evidence: (rows, 8): = autodiff exactly, = FD (2e-10); (3, 5, 8) and (2, 3, 2, 8): 80-84% of
# entries wrong, by up to 0.55 (dy's mean taken over t*8 / h*w*8 entries, not over the 8
# features).
@tf.custom_gradient
def centered_tanh(x):
    """tanh with the per-example mean removed (zero-mean activations, as in centred nets)."""
    t = tf.tanh(x)
    y = t - tf.reduce_mean(t, axis=-1, keepdims=True)

    def grad(dy):
        flat = tf.reshape(dy, [tf.shape(dy)[0], -1])  # (batch, features)
        flat = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
        return tf.reshape(flat, tf.shape(dy)) * (1.0 - t * t)

    return y, grad


# evidence: (rows, 8): = autodiff (6e-17); (3, 5, 8) and (2, 3, 2, 8): every entry wrong, by up
# to 0.85; only a time / height axis of exactly 8 hides it ((3, 8, 8) and (2, 8, 3, 8) agree).
@tf.custom_gradient
def centered_softsign(x):
    """softsign minus its mean over the features, hand-written backward."""
    s = x / (1.0 + tf.abs(x))
    y = s - tf.reduce_mean(s, axis=-1, keepdims=True)

    def grad(dy):
        num_features = tf.cast(tf.shape(x)[1], x.dtype)
        g = dy - tf.reduce_sum(dy, axis=-1, keepdims=True) / num_features
        return g / tf.square(1.0 + tf.abs(x))

    return y, grad


def _rms_normalize_wrong_axis(x, epsilon):
    @tf.custom_gradient
    def normalize(x):
        r = tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + epsilon)
        y = x * r

        def grad(dy):
            return r * (dy - y * tf.reduce_mean(dy * y, axis=1, keepdims=True))

        return y, grad

    return normalize(x)


# evidence: (rows, 8): input VJP = FD (3e-10), gain gradient = FD (rel 1e-10); (3, 5, 8) and (2,
# 3, 2, 8): input VJP wrong at 99-100% of entries, by up to 0.5 (backward reduces over axis 1);
# XLA = eager.
class ChannelRMSNorm(keras.layers.Layer):
    """RMSNorm over channels with a learned gain; backward hand-written to save memory."""

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gain")

    def call(self, inputs):
        return _rms_normalize_wrong_axis(inputs, self.epsilon) * self.gain


# evidence: = autodiff exactly and = FD (1e-10) on all three ranks; two calls in one tape = each
# alone; XLA = eager (2e-16 float64, 9e-8 float32).
@tf.custom_gradient
def softmax_lastaxis_vjp(x):
    """Softmax over the last axis with the usual y * (dy - <dy, y>) backward."""
    y = tf.nn.softmax(x, axis=-1)

    def grad(dy):
        return y * (dy - tf.reduce_sum(dy * y, axis=-1, keepdims=True))

    return y, grad


# evidence: = autodiff (7e-17) and = FD (5e-10) on all three ranks; float32 finite to |x| = 1e4;
# XLA = eager (2e-16).
@tf.custom_gradient
def rms_norm(x):
    """RMSNorm without gain (T5 / LLaMA style), eps 1e-6, hand-written backward."""
    r = tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + 1e-6)
    y = x * r

    def grad(dy):
        return r * (dy - y * tf.reduce_mean(dy * y, axis=-1, keepdims=True))

    return y, grad


# evidence: input VJP = FD (1.5e-9) and beta gradient = FD (rel 1e-10) on all three ranks (beta
# has input_shape[-1] entries); XLA = eager (9e-16); fit(jit_compile=True) finite.
class ChannelSwish(keras.layers.Layer):
    """Swish x * sigmoid(beta * x) with one trainable beta per channel (Ramachandran et al.)."""

    def build(self, input_shape):
        self.beta = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="beta")

    def call(self, inputs):
        return inputs * tf.sigmoid(self.beta * inputs)


# ------------------------------------------------------------------------ 2. training mode

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@tf.custom_gradient
def _gelu_tanh_fused(x):
    inner = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
    t = tf.tanh(inner)
    y = 0.5 * x * (1.0 + t)

    def grad(dy):
        d_inner = _SQRT_2_OVER_PI * (1.0 + 0.044715 * x * x)  # should be 3 * 0.044715
        return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner)

    return y, grad


# evidence: training=True: gradient vs FD off by up to 0.041 (0.03 at x = +-1.59 with dy = 1,
# above 1e-3 up to |x| = 3.5) on all ranks; training=False (tf.nn.gelu) = FD (1.5e-9); both
# deterministic.
class FusedGELU(keras.layers.Layer):
    """tanh-GELU; a fused kernel with a hand-written backward while training."""

    def call(self, inputs, training=None):
        if training:
            return _gelu_tanh_fused(inputs)
        return tf.nn.gelu(inputs, approximate=True)


# evidence: training=True: two eager calls on the same input differ by up to 0.98 (gradient
# 0.16), under tf.function too; training=False: slope 0.2292, = FD (1e-9), TF's 1 at the kink 0.
class RandomizedLeakyReLU(keras.layers.Layer):
    """RReLU (Xu et al. 2015): a random negative slope per entry while training, the mean
    slope at inference."""

    def __init__(self, lower=1.0 / 8.0, upper=1.0 / 3.0, **kwargs):
        super().__init__(**kwargs)
        self.lower = lower
        self.upper = upper

    def call(self, inputs, training=None):
        if training:
            slope = tf.random.uniform(tf.shape(inputs), self.lower, self.upper, dtype=inputs.dtype)
        else:
            slope = (self.lower + self.upper) / 2.0
        return tf.where(inputs >= 0, inputs, slope * inputs)


# evidence: training (sigmoid) = FD (2e-10); inference = FD (3e-10), TF's 0 at -3 and 3 lies
# between the one-sided slopes 0 and 1/6; both deterministic; XLA = eager (1e-16).
class DeployHardSigmoid(keras.layers.Layer):
    """Smooth sigmoid while training, the cheap hard sigmoid once deployed."""

    def call(self, inputs, training=None):
        if training:
            return tf.sigmoid(inputs)
        return tf.nn.relu6(inputs + 3.0) / 6.0


@tf.custom_gradient
def _swish_recompute(x):
    y = x * tf.sigmoid(x)

    def grad(dy):
        s = tf.sigmoid(x)  # recomputed instead of stored
        return dy * (s * (1.0 + x * (1.0 - s)))

    return y, grad


# evidence: training path (hand-written) = autodiff of x*sigmoid(x) and = FD (1.5e-9) on all
# ranks; its output equals the inference path's bit for bit; two calls = alone.
class RecomputeSwish(keras.layers.Layer):
    """Swish that recomputes sigmoid in the backward pass while training (saves memory)."""

    def call(self, inputs, training=None):
        if training:
            return _swish_recompute(inputs)
        return inputs * tf.sigmoid(inputs)


# ------------------------------------------------- 3. variables read by a custom gradient

PRELU_ALPHA = tf.Variable(0.25, name="shared_prelu_alpha")
TANH_TEMPERATURE = tf.Variable(2.0, name="tanh_temperature")
SWISH_BETA = tf.Variable(1.5, name="swish_beta")


# evidence: dx = FD away from 0 (1.6e-9), 1 at the kink 0 (one-sided 0.25 and 1); dalpha =
# autodiff = FD on the variable (rel 1e-9, step 2^-10) on all ranks; tf.function, XLA and
# fit(jit_compile=True) fine.
@tf.custom_gradient
def shared_prelu(x):
    """PReLU with one slope shared by every layer that uses it (a module-level variable)."""
    alpha = tf.cast(PRELU_ALPHA, x.dtype)
    y = tf.where(x >= 0, x, alpha * x)

    def grad(dy, variables=None):
        dx = dy * tf.where(x >= 0, tf.ones_like(x), alpha * tf.ones_like(x))
        dalpha = tf.reduce_sum(dy * tf.where(x >= 0, tf.zeros_like(x), x))
        return dx, [tf.cast(dalpha, PRELU_ALPHA.dtype)]

    return y, grad


# evidence: dx = FD (3e-10); dT is exactly 2x the FD value (and autodiff's) on every rank, e.g.
# -1.171 vs -0.585: the d/dT of x / T is written -x / T with T = 2.
@tf.custom_gradient
def temperature_tanh(x):
    """tanh(x / T) with a learned temperature T shared across the model."""
    temp = tf.cast(TANH_TEMPERATURE, x.dtype)
    y = tf.tanh(x / temp)

    def grad(dy, variables=None):
        sech2 = 1.0 - y * y
        dx = dy * sech2 / temp
        dtemp = tf.reduce_sum(dy * sech2 * (-x / temp))  # d/dT of x / T is -x / T**2
        return dx, [tf.cast(dtemp, TANH_TEMPERATURE.dtype)]

    return y, grad


# evidence: dx = autodiff (2e-16) and = FD (1.4e-9) on all ranks; dbeta ignores dy: 3.60 vs FD
# and autodiff 1.10 (6.74 vs 1.57, 6.01 vs -1.73 on 3-D / 4-D), the same 3.60 with dy doubled.
@tf.custom_gradient
def swish_learnable_beta(x):
    """Swish-beta x * sigmoid(beta * x) with beta learned once for the whole network."""
    beta = tf.cast(SWISH_BETA, x.dtype)
    s = tf.sigmoid(beta * x)

    def grad(dy, variables=None):
        dx = dy * (s + beta * x * s * (1.0 - s))
        dbeta = tf.reduce_sum(x * x * s * (1.0 - s))
        return dx, [tf.cast(dbeta, SWISH_BETA.dtype)]

    return x * s, grad


# ------------------------------------------------------- 4. state between forward and backward

_SAVED = {}


# evidence: one call = autodiff (2e-16) and FD (1e-9) on all ranks; two calls in one tape: the
# first call's gradient is off by 1.5-2.2 (reads the second call's saved tensors), the second's
# is exact.
@tf.custom_gradient
def mish_saved_tensors(x):
    """Mish with its intermediates saved for the backward pass."""
    _SAVED["tanh_sp"] = tf.tanh(tf.nn.softplus(x))
    _SAVED["sigmoid"] = tf.sigmoid(x)
    y = x * _SAVED["tanh_sp"]

    def grad(dy):
        tsp, sig = _SAVED["tanh_sp"], _SAVED["sigmoid"]
        return dy * (tsp + x * sig * (1.0 - tsp * tsp))

    return y, grad


@functools.lru_cache(maxsize=None)
def _gelu_coefficients(dtype_name):
    return np.asarray(math.sqrt(2.0 / math.pi), dtype_name), np.asarray(0.044715, dtype_name)


# evidence: = autodiff (4e-16) and FD (1e-9) on all ranks; two calls in one tape = each alone
# (the cache holds NumPy constants per dtype, never a tensor); finite in float32 / float16 /
# bfloat16; XLA = eager (3e-14).
@tf.custom_gradient
def gelu_cached_coefficients(x):
    """tanh-GELU whose constants are built once per dtype."""
    c, k = _gelu_coefficients(x.dtype.name)
    inner = c * (x + k * x * x * x)
    t = tf.tanh(inner)
    y = 0.5 * x * (1.0 + t)

    def grad(dy):
        return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * k * x * x))

    return y, grad


# evidence: one call = FD (1.5e-9) on all ranks; two calls in one tape: the first call's
# gradient off by up to 1.57 (sigmoid of the second call's input); no training argument.
class SavedInputSwish(keras.layers.Layer):
    """Swish layer keeping its last input for a cheap backward pass."""

    def call(self, inputs):
        self._last_inputs = inputs

        @tf.custom_gradient
        def swish(x):
            def grad(dy):
                s = tf.sigmoid(self._last_inputs)
                return dy * s * (1.0 + self._last_inputs * (1.0 - s))

            return x * tf.sigmoid(x), grad

        return swish(inputs)


# -------------------------------------------------------------------- 5. shape-changing


# evidence: (6, 8) -> (6, 4), likewise on 3-D / 4-D; VJP = FD (1.6e-9) on all ranks; two calls =
# alone; XLA = eager (7e-16); fit(jit_compile=True) finite.
def glu(x):
    """Gated linear unit (Dauphin et al.): halves the last axis."""
    a, b = tf.split(x, 2, axis=-1)
    return a * tf.sigmoid(b)


# evidence: VJP = FD (7.5e-9) on all ranks; two calls = alone; XLA = eager (6e-15).
def swiglu(x):
    """SwiGLU (Shazeer 2020) as in LLaMA's feed-forward block, without the projections."""
    gate, value = tf.split(x, 2, axis=-1)
    return tf.nn.silu(gate) * value


# evidence: the value half = autodiff exactly, the gate half off by up to 10.7 (the factor 1 -
# sigmoid(b) is missing), on all ranks.
@tf.custom_gradient
def glu_fused(x):
    """GLU with a fused backward (avoids keeping the product)."""
    a, b = tf.split(x, 2, axis=-1)
    s = tf.sigmoid(b)

    def grad(dy):
        da = dy * s
        db = dy * a * s  # missing * (1 - s)
        return tf.concat([da, db], axis=-1)

    return a * s, grad


# evidence: = autodiff of the same forward (2e-15) and = FD (5e-9) on all ranks, (6, 8) -> (6,
# 4); two calls = alone; XLA = eager (1e-13); finite in float32 / float16 / bfloat16.
@tf.custom_gradient
def geglu_vjp(x):
    """GEGLU (tanh-GELU gate) with a hand-written backward that keeps only the inputs."""
    gate, value = tf.split(x, 2, axis=-1)
    c = math.sqrt(2.0 / math.pi)
    t = tf.tanh(c * (gate + 0.044715 * gate * gate * gate))
    gelu = 0.5 * gate * (1.0 + t)

    def grad(dy):
        d_inner = c * (1.0 + 3.0 * 0.044715 * gate * gate)
        dgelu = 0.5 * (1.0 + t) + 0.5 * gate * (1.0 - t * t) * d_inner
        return tf.concat([dy * value * dgelu, dy * gelu], axis=-1)

    return gelu * value, grad


# evidence: = tf.nn.crelu bit for bit; VJP = FD (8e-10) away from 0 on all ranks; at 0 TF gives
# each half relu's subgradient 0 (with upstream (1, -1) on the two halves u.f is x there, slope
# 1).
def crelu(x):
    """Concatenated ReLU (Shang et al. 2016): keeps the negative phase as extra channels."""
    return tf.concat([tf.nn.relu(x), tf.nn.relu(-x)], axis=-1)


# evidence: doubles the last axis; VJP = FD (1e-9) on all ranks, at 0 too (2e-6 there: elu''
# jumps); finite in float32 / float16 / bfloat16.
def concat_elu(x):
    """Concatenated ELU as in PixelCNN++."""
    return tf.nn.elu(tf.concat([x, -x], axis=-1))


# ----------------------------------------------------------------------- 6. batch mixing


# evidence: gradient = FD (2.6e-9) on all ranks; a batch of one gives 0 everywhere (the batch
# gave row 0 values up to 1.6 away); changing the last row moves the others by up to 2.0.
def batch_standardize(x):
    """Standardize each feature over the batch (batch norm without running statistics)."""
    mean = tf.reduce_mean(x, axis=0, keepdims=True)
    var = tf.reduce_mean(tf.square(x - mean), axis=0, keepdims=True)
    return (x - mean) / tf.sqrt(var + 1e-5)


# evidence: VJP = FD (2e-10) on all ranks; a batch of one gives 1.0 everywhere; changing the
# last row moves the others by up to 0.24.
def batch_softmax_assign(x):
    """Soft assignment of the batch's examples to each prototype (softmax over the batch)."""
    return tf.nn.softmax(x, axis=0)


# evidence: VJP = FD (4.6e-10) on all ranks; a batch of one = its row in the batch bit for bit;
# finite in float32 to |x| = 1e4 and in float16 / bfloat16 (eps 1e-3; with 1e-5 float16 rows
# of |x| ~ 1e-3 overflow rsqrt's gradient); XLA = eager (4e-16).
def layer_norm_plain(x):
    """Layer normalization over the features, no affine part (Keras's default epsilon)."""
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    centered = x - mean
    var = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
    return centered * tf.math.rsqrt(var + 1e-3)


# ---------------------------------------------------------------------------------- 7. XLA

_ACTIVATION_STATS = {}


def _record_mean(t):
    _ACTIVATION_STATS["mean"] = float(tf.reduce_mean(t))
    return t


# evidence: eager and tf.function gradient = FD (1.5e-9); jit_compile=True raises
# InvalidArgumentError 'Detected unsupported operations when trying to compile graph' (float32
# and float64); model.fit(jit_compile=True) raises, jit_compile=False trains.
def swish_with_stats(x):
    """Swish that records its mean activation on the host for a dashboard."""
    y = x * tf.sigmoid(x)
    out = tf.py_function(_record_mean, [y], Tout=y.dtype)
    out.set_shape(y.shape)
    return out


# evidence: eager and tf.function gradients finite and = FD (5e-10), slope 1/2 on both sides of
# 0; jit_compile=True: gradient NaN for every |x| >= 1 (the unselected branch's sqrt of a
# negative / of 0); fit(jit_compile=True): NaN loss and weights, jit_compile=False trains.
def signed_sqrt_unit(x):
    """Odd square-root unit: sqrt(1 + |x|) - 1 with the sign of x."""
    return tf.where(x >= 0, tf.sqrt(1.0 + x) - 1.0, 1.0 - tf.sqrt(1.0 - x))


# evidence: values are float32 numbers; tape = the float64 derivative within 4e-6 (float32
# rounding), = FD with a float32-sized step within its noise; XLA = eager within 5e-7 (y) /
# 1.4e-6 (gradient); fit(jit_compile=True) finite.
def gelu_tanh_mixed_precision(x):
    """tanh-GELU computed in float32 whatever the input dtype (mixed-precision habit)."""
    x32 = tf.cast(x, tf.float32)
    y = 0.5 * x32 * (1.0 + tf.tanh(0.7978845608 * (x32 + 0.044715 * x32 * x32 * x32)))
    return tf.cast(y, x.dtype)


# evidence: compiles in float32 and float64; VJP = FD (2e-9) on all ranks away from the kinks;
# at -3 and 3 TF's 0 and 1 lie between the one-sided slopes (0, -0.5) and (1.5, 1); two calls =
# alone (2e-16).
@tf.function(jit_compile=True)
def hard_swish_jit(x):
    """Hard swish (MobileNetV3), compiled with XLA."""
    return x * tf.nn.relu6(x + 3.0) / 6.0


# ------------------------------------------------------------------- 8. second derivatives


# evidence: first derivative = autodiff exactly and = FD (1.4e-9) on all ranks: pass at the
# default order 1. The hand-written gradient is cut with stop_gradient: nested tapes give a None
# second derivative, so at --order 2 this is a `fail` (second_order).
@tf.custom_gradient
def softplus_detached_grad(x):
    """softplus with sigmoid as its hand-written derivative, kept out of the graph."""

    def grad(dy):
        return dy * tf.stop_gradient(tf.sigmoid(x))

    return tf.nn.softplus(x), grad
