"""Each check, through the in-process Python API: a correct activation passes it, a broken
one gets the verdict a careful person expects, with a message that names the problem.

The activations are defined here at module level (so ``inspect`` finds their source).
Names must not start with ``test`` (pytest would collect them).
"""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import gradcheck

FAST = 512  # samples: enough for every check below, keeps the file fast


def run(activation, **options):
    options.setdefault("samples", FAST)
    return gradcheck.check(activation, **options)


def xs_in(message: str) -> list[float]:
    """Every ``x=<number>`` a message names."""
    return [float(v) for v in re.findall(r"x=(-?[0-9.]+(?:e[-+]?[0-9]+)?)", message)]


# ------------------------------------------------------------------------------------------
# activations
# ------------------------------------------------------------------------------------------
def plain_tanh(x):
    return tf.tanh(x)


def sqrt_of_four_minus_x(x):
    """NaN output for x > 4."""
    return tf.sqrt(4.0 - x)


def returns_none(x):
    return None


def returns_list(x):
    return [1.0, 2.0, 3.0]


def returns_int32(x):
    return tf.cast(x, tf.int32)


def returns_row_sums(x):
    return tf.reduce_sum(x, axis=-1)


def raises_lookup_error(x):
    raise LookupError("no table for this input")


def numpy_tanh(x):
    return tf.constant(np.tanh(x.numpy()))


@tf.custom_gradient
def sine_scalar_grad(x):
    y = tf.sin(x)

    def grad(dy):
        return tf.reduce_sum(dy * tf.cos(x))

    return y, grad


@tf.custom_gradient
def gelu_textbook_grad(x):
    """tf.nn.gelu with the textbook derivative Phi(x) + x phi(x): right, but TF's forward rounds
    1/sqrt(2) through float32, so the two differ by ~1e-8 where the terms cancel (x near -0.75)."""
    y = tf.nn.gelu(x, approximate=False)

    def grad(dy):
        cdf = 0.5 * (1.0 + tf.math.erf(x / np.sqrt(2.0)))
        pdf = tf.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)
        return dy * (cdf + x * pdf)

    return y, grad


@tf.custom_gradient
def sine_float32_grad(x):
    y = tf.sin(x)

    def grad(dy):
        return tf.cast(dy * tf.cos(x), tf.float32)

    return y, grad


def abs_as_sqrt_square(x):
    return tf.sqrt(x * x)


def rounded(x):
    return tf.round(x)


def constant_one(x):
    return 0.0 * x + 1.0


@tf.custom_gradient
def sine_grad_raises(x):
    y = tf.sin(x)

    def grad(dy):
        raise ZeroDivisionError("the gradient function blew up")

    return y, grad


@tf.custom_gradient
def sine_without_dy(x):
    y = tf.sin(x)

    def grad(dy):
        return tf.cos(x)

    return y, grad


@tf.custom_gradient
def sine_custom(x):
    y = tf.sin(x)

    def grad(dy):
        return dy * tf.cos(x)

    return y, grad


@tf.custom_gradient
def tanh_wrong_term(x):
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y)

    return y, grad


@tf.custom_gradient
def softplus_grad_1001(x):
    y = tf.math.softplus(x)

    def grad(dy):
        return 1.001 * dy * tf.sigmoid(x)

    return y, grad


@tf.custom_gradient
def softplus_grad_1001_float32_only(x):
    """tf.constant(1.0) is float32: multiplying a float64 tensor by it raises, so this runs in float32 only."""
    y = tf.math.softplus(x) * tf.constant(1.0)

    def grad(dy):
        return 1.001 * dy * tf.sigmoid(x)

    return y, grad


@tf.custom_gradient
def softplus_custom(x):
    y = tf.math.softplus(x)

    def grad(dy):
        return dy * tf.sigmoid(x)

    return y, grad


@tf.custom_gradient
def relu_custom_one_at_zero(x):
    y = tf.nn.relu(x)

    def grad(dy):
        return dy * tf.where(x >= 0, tf.ones_like(x), tf.zeros_like(x))

    return y, grad


def relu_minus_relu(x):
    """Equals x, but autodiff gives 0 at 0."""
    return tf.nn.relu(x) - tf.nn.relu(-x)


def relu(x):
    return tf.nn.relu(x)


def hard_sigmoid(x):
    return tf.clip_by_value(0.2 * x + 0.5, 0.0, 1.0)


def jump_at_half(x):
    return tf.where(x > 0.5, x + 1.0, x)


@tf.custom_gradient
def softmax_custom(x):
    y = tf.nn.softmax(x, axis=-1)

    def grad(dy):
        return y * (dy - tf.reduce_sum(dy * y, axis=-1, keepdims=True))

    return y, grad


@tf.custom_gradient
def softmax_diagonal_only(x):
    y = tf.nn.softmax(x, axis=-1)

    def grad(dy):
        return dy * y * (1.0 - y)

    return y, grad


class SlopePReLU(keras.layers.Layer):
    """where(x > 0, x, alpha x) with a trainable slope alpha."""

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer=keras.initializers.Constant(0.25))

    def call(self, x):
        return tf.where(x > 0, x, self.alpha * x)


class _UnderscoreScaled(keras.layers.Layer):
    """x * a; an instance's automatic name starts with '__', which fails under tf.function and
    leaves the layer's Keras name scope open."""

    def build(self, input_shape):
        self.a = self.add_weight(name="a", shape=(), initializer=keras.initializers.Constant(0.5))

    def call(self, x):
        return x * self.a


class PReLUSlopeGradUnmasked(keras.layers.Layer):
    """where(x > 0, x, alpha x) with a hand-written gradient whose alpha part sums dy * x over
    every input instead of the negative ones only."""

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer=keras.initializers.Constant(0.25))

    def call(self, x):
        @tf.custom_gradient
        def prelu(x, a):
            def grad(dy):
                return dy * tf.where(x > 0, tf.ones_like(x), a * tf.ones_like(x)), tf.reduce_sum(dy * x)

            return tf.where(x > 0, x, a * x), grad

        return prelu(x, tf.convert_to_tensor(self.alpha))


class ScaledTanhBadWeightGrad(keras.layers.Layer):
    """alpha * tanh(x) with a custom gradient that is right for x but doubles the one for alpha."""

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer=keras.initializers.Constant(0.5))

    def call(self, x):
        @tf.custom_gradient
        def scaled_tanh(x, a):
            t = tf.tanh(x)

            def grad(dy):
                return dy * a * (1.0 - t * t), 2.0 * tf.reduce_sum(dy * t)

            return a * t, grad

        return scaled_tanh(x, tf.convert_to_tensor(self.alpha))


def eager_only_branch(x):
    if tf.executing_eagerly():
        return x * 2.0
    return x * 3.0


def softplus_naive(x):
    return tf.math.log(1.0 + tf.exp(x))


def softplus_builtin(x):
    return tf.nn.softplus(x)


def _hidden_point():
    # Built from integers at call time: gradcheck samples every number literal and numeric
    # constant of the activation's module, and this test is about the kinks option.
    return 11 / 8  # 1.375, between the 0.01 grid points 1.37 and 1.38


def gradient_nan_at_1_375(x):
    """Equals x (slope 1, no kink), but autodiff gives NaN - NaN exactly at x = 11/8."""
    d = tf.sqrt(tf.square(x - _hidden_point()))
    return x + d - tf.sqrt(tf.square(x - _hidden_point()))


def log1p_unmarked(x):
    return tf.math.log(1.0 + x)


@gradcheck.options(range=(0.5, 3))
def log1p_marked(x):
    return tf.math.log(1.0 + x)


@gradcheck.options(range=(0.5, 3))
def log_marked(x):
    return tf.math.log(x)


@gradcheck.skip("straight-through estimator")
@tf.custom_gradient
def ste_round(x):
    return tf.round(x), lambda dy: dy


# ------------------------------------------------------------------------------------------
# the API object itself
# ------------------------------------------------------------------------------------------
def test_gradcheck_check_stays_callable_after_a_check():
    # Regression: a subpackage named ``gradcheck.check`` used to replace this function on
    # first import, so the second call raised "TypeError: 'module' object is not callable".
    first = gradcheck.check(plain_tanh, samples=64, stability=False)
    second = gradcheck.check(plain_tanh, samples=64, stability=False)
    assert first.status == second.status == "pass"


# ------------------------------------------------------------------------------------------
# forward
# ------------------------------------------------------------------------------------------
def test_forward_passes_for_a_plain_function():
    r = run(plain_tanh)
    assert r.check("forward").status == "pass"
    assert r.status == "pass", r.message
    assert r.check("forward").dtype == "float64"


def test_forward_nan_in_range_fails_naming_x():
    r = run(sqrt_of_four_minus_x)
    fwd = r.check("forward")
    assert fwd.status == "fail"
    assert r.status == "fail"
    assert "NaN" in fwd.message
    xs = xs_in(fwd.message)
    assert xs and all(4.0 < x <= 8.0 for x in xs), fwd.message
    assert 4.0 < fwd.worst_input <= 8.0


@pytest.mark.parametrize("activation, needles", [
    (returns_none, ["None"]),
    (returns_list, ["list"]),
    (returns_int32, ["int32"]),
    (returns_row_sums, ["shape"]),
])
def test_forward_returning_something_unusable_is_an_error_naming_it(activation, needles):
    r = run(activation)
    fwd = r.check("forward")
    assert fwd is not None and fwd.status == "error"
    assert r.status == "error"
    assert "\n" not in fwd.message and "\n" not in r.message
    for needle in needles:
        assert needle in fwd.message, fwd.message


def test_forward_wrong_shape_error_names_both_shapes():
    msg = run(returns_row_sums).check("forward").message
    shapes = re.findall(r"\(\d+(?:, \d+)*,?\)", msg)
    assert len(set(shapes)) >= 2, msg  # what it returned and what was expected


def test_forward_raising_is_an_error_naming_the_exception_type():
    r = run(raises_lookup_error)
    assert r.status == "error"
    assert r.check("forward").status == "error"
    assert "LookupError" in r.message
    assert "\n" not in r.message


# ------------------------------------------------------------------------------------------
# gradient
# ------------------------------------------------------------------------------------------
def test_gradient_passes_for_a_plain_function():
    assert run(plain_tanh).check("gradient").status == "pass"


def test_gradient_none_from_numpy_inside_fails():
    r = run(numpy_tanh)
    g = r.check("gradient")
    assert g.status == "fail" and r.status == "fail"
    assert "None" in g.message


def test_gradient_of_wrong_shape_fails_naming_both_shapes():
    r = run(sine_scalar_grad)
    g = r.check("gradient")
    assert g.status == "fail"
    assert "shape ()" in g.message, g.message
    assert re.search(r"expected \(\d+, 8\)", g.message), g.message


def test_gradient_of_wrong_dtype_fails_naming_both_dtypes():
    r = run(sine_float32_grad)
    g = r.check("gradient")
    assert g.status == "fail"
    assert "dtype" in g.message and "float32" in g.message and "float64" in g.message


def test_gradient_nan_at_zero_fails_naming_zero():
    r = run(abs_as_sqrt_square)
    g = r.check("gradient")
    assert g.status == "fail"
    assert "NaN" in g.message
    assert xs_in(g.message) == [0.0], g.message
    assert g.worst_input == 0.0


def test_round_fails_as_piecewise_constant():
    g = run(rounded).check("gradient")
    assert g.status == "fail"
    assert "piecewise constant" in g.message


def test_constant_function_is_a_warning_not_a_failure():
    r = run(constant_one)
    assert r.check("gradient").status == "warn"
    assert "constant" in r.check("gradient").message
    assert r.status == "warn"


def test_gradient_function_raising_is_an_error():
    r = run(sine_grad_raises)
    g = r.check("gradient")
    assert g is not None and g.status == "error"
    assert r.status == "error"
    assert "ZeroDivisionError" in g.message


# ------------------------------------------------------------------------------------------
# upstream
# ------------------------------------------------------------------------------------------
def test_upstream_forgotten_dy_fails():
    r = run(sine_without_dy)
    up = r.check("upstream")
    assert up.status == "fail" and r.status == "fail"
    assert "dy" in up.message
    assert up.hint and "dy" in up.hint


def test_upstream_correct_custom_gradient_passes():
    r = run(sine_custom)
    assert r.check("upstream").status == "pass"
    assert r.status == "pass", r.message


# ------------------------------------------------------------------------------------------
# custom_vs_autodiff
# ------------------------------------------------------------------------------------------
def test_custom_vs_autodiff_catches_a_factor_1_001_in_float64():
    r = run(softplus_grad_1001)
    c = r.check("custom_vs_autodiff")
    assert c.status == "fail"
    assert c.dtype == "float64"
    assert "1.001" in c.message
    # finite differences see it too in float64 and lead; the verdict tells both
    assert "1.001 x" in r.message and "custom_vs_autodiff: " in r.message, r.message


def test_custom_vs_autodiff_catches_a_factor_1_001_in_float32():
    r = run(softplus_grad_1001_float32_only)
    c = r.check("custom_vs_autodiff")
    assert c.status == "fail"
    assert c.dtype == "float32"
    assert r.check("forward").dtype == "float32"
    assert "1.001" in c.message


def test_custom_vs_autodiff_catches_a_wrong_term():
    c = run(tanh_wrong_term).check("custom_vs_autodiff")
    assert c.status == "fail"
    assert "autodiff" in c.message and xs_in(c.message)


def test_custom_vs_autodiff_correct_gradient_passes():
    r = run(softplus_custom)
    assert r.check("custom_vs_autodiff").status == "pass"
    assert r.status == "pass", r.message


def test_custom_vs_autodiff_allows_rounding_where_the_gradient_cancels_to_near_zero():
    # dense sampling around gelu's minimum, where gelu' = Phi(x) + x phi(x) is ~0
    r = run(gelu_textbook_grad, range=(-0.8, -0.7), samples=20000)
    assert r.check("custom_vs_autodiff").status == "pass", r.check("custom_vs_autodiff").message
    assert r.status == "pass", r.message


def test_custom_relu_with_gradient_one_at_zero_passes_as_a_kink():
    r = run(relu_custom_one_at_zero)
    assert r.check("custom_vs_autodiff").status == "pass"
    assert r.status == "pass", r.message
    assert 0.0 in r.check("gradient_vs_fd").kinks


# ------------------------------------------------------------------------------------------
# gradient_vs_fd
# ------------------------------------------------------------------------------------------
def test_gradient_vs_fd_fails_where_autodiff_is_wrong_at_a_seam():
    r = run(relu_minus_relu)
    fd = r.check("gradient_vs_fd")
    assert fd.status == "fail" and r.status == "fail"
    assert fd.worst_input == 0.0
    assert 0.0 in xs_in(fd.message)


@pytest.mark.parametrize("activation, kinks", [(relu, [0.0]), (hard_sigmoid, [-2.5, 2.5])])
def test_gradient_vs_fd_passes_at_kinks_and_lists_them(activation, kinks):
    r = run(activation)
    fd = r.check("gradient_vs_fd")
    assert fd.status == "pass"
    assert r.status == "pass", r.message
    assert sorted(fd.kinks) == pytest.approx(kinks, abs=1e-9)


def test_gradient_vs_fd_fails_on_a_jump_naming_where():
    r = run(jump_at_half)
    fd = r.check("gradient_vs_fd")
    assert fd.status == "fail"
    assert "discontinuous" in fd.message
    assert 0.5 in xs_in(fd.message)


# ------------------------------------------------------------------------------------------
# vjp_vs_fd (non-elementwise)
# ------------------------------------------------------------------------------------------
def test_softmax_with_full_vjp_passes():
    r = run(softmax_custom)
    assert r.elementwise is False
    assert r.check("vjp_vs_fd").status == "pass"
    assert r.check("gradient_vs_fd") is None
    assert r.status == "pass", r.message


def test_softmax_diagonal_only_fails_both_exact_and_fd_comparisons():
    r = run(softmax_diagonal_only)
    assert r.elementwise is False
    assert r.check("custom_vs_autodiff").status == "fail"
    assert r.check("vjp_vs_fd").status == "fail"
    assert r.status == "fail"


# ------------------------------------------------------------------------------------------
# weights
# ------------------------------------------------------------------------------------------
def test_layer_with_trainable_slope_passes_and_checks_its_weight():
    r = run(SlopePReLU)
    w = r.check("weights")
    assert w is not None and w.status == "pass"
    assert "alpha" in w.message
    assert r.kind == "layer"
    assert r.status == "pass", r.message


def test_layer_weights_are_checked_on_rows_spread_over_the_range_at_large_sample_counts():
    # more rows than the weights subset: the subset's own weight gradients are compared, on
    # rows from the whole range (the first rows of the sorted grid are all negative)
    r = run(SlopePReLU, samples=50000)
    assert r.check("weights").status == "pass", r.check("weights").message
    bad = run(PReLUSlopeGradUnmasked, samples=50000).check("weights")
    assert bad.status == "fail" and "alpha" in bad.message, bad.message


def test_layer_class_is_checked_in_float64():
    r = run(SlopePReLU)
    dtypes = {c.name: c.dtype for c in r.checks}
    for name in ("forward", "gradient", "gradient_vs_fd", "weights"):
        assert dtypes[name] == "float64", (name, dtypes)


def test_a_layer_that_breaks_under_tf_function_does_not_rename_the_next_layers_weights():
    broken = run(_UnderscoreScaled())
    assert broken.check("graph").status == "fail", broken.check("graph").message
    # its Keras name scope must not stay open: the user's next layers would be named under it
    later = SlopePReLU()
    later.build((None, 8))
    assert "underscore_scaled" not in later.alpha.path, later.alpha.path
    assert run(SlopePReLU).check("weights").status == "pass"


def test_layer_with_wrong_weight_gradient_fails_in_weights():
    r = run(ScaledTanhBadWeightGrad)
    w = r.check("weights")
    assert w.status == "fail" and r.status == "fail"
    assert "alpha" in w.message
    assert r.check("gradient_vs_fd").status == "pass"  # the input gradient is right


# ------------------------------------------------------------------------------------------
# graph
# ------------------------------------------------------------------------------------------
def test_graph_mode_difference_fails():
    r = run(eager_only_branch)
    g = r.check("graph")
    assert g.status == "fail" and r.status == "fail"
    assert "tf.function" in g.message and "eager" in g.message


def test_graph_plain_function_passes():
    assert run(plain_tanh).check("graph").status == "pass"


# ------------------------------------------------------------------------------------------
# stability
# ------------------------------------------------------------------------------------------
def test_stability_warns_on_naive_softplus_with_a_hint():
    r = run(softplus_naive)
    s = r.check("stability")
    assert s.status == "warn" and r.status == "warn"
    assert s.hint and "softplus" in s.hint
    assert 88.0 < s.worst_input < 89.5
    assert s.dtype == "float32"


def test_stability_passes_for_builtin_softplus():
    r = run(softplus_builtin)
    assert r.check("stability").status == "pass"
    assert r.status == "pass", r.message


def test_stability_false_skips_the_sweep():
    r = run(softplus_naive, stability=False)
    assert r.check("stability") is None
    assert r.status == "pass", r.message


# ------------------------------------------------------------------------------------------
# sampling options
# ------------------------------------------------------------------------------------------
def _comparable(result):
    d = result.to_dict()
    d.pop("duration", None)
    return d


def test_same_seed_same_result_and_the_seed_matters():
    a = run(tanh_wrong_term, seed=7)
    b = run(tanh_wrong_term, seed=7)
    c = run(tanh_wrong_term, seed=8)
    assert _comparable(a) == _comparable(b)
    assert _comparable(a) != _comparable(c)  # the comparison above can fail


def test_range_option_is_respected():
    r = run(tanh_wrong_term, range=(0.1, 5))
    for name in ("custom_vs_autodiff", "gradient_vs_fd"):
        c = r.check(name)
        assert c.status == "fail"
        assert 0.1 <= c.worst_input <= 5.0, (name, c.worst_input)
        assert all(0.1 <= x <= 5.0 for x in xs_in(c.message)), c.message


def test_kinks_option_adds_points():
    without = run(gradient_nan_at_1_375, stability=False)
    assert without.status == "pass", without.message
    declared = run(gradient_nan_at_1_375, stability=False, kinks=[_hidden_point()])
    g = declared.check("gradient")
    assert g.status == "fail"
    assert g.worst_input == pytest.approx(_hidden_point(), abs=1e-12)
    assert "NaN" in g.message and _hidden_point() in xs_in(g.message)


def seam_at_module_constant(x):
    """Equals x, but TF's relu'(0) = 0 makes the gradient 0 exactly at x = BREAK."""
    return tf.nn.relu(x - BREAK) - tf.nn.relu(BREAK - x) + BREAK


BREAK = 0.123  # a three-decimal breakpoint: neither on the random samples nor on the 0.01 grid


def test_number_literals_of_the_module_are_sampled():
    r = run(seam_at_module_constant, stability=False)
    assert r.status == "fail", r.message
    assert r.check("gradient_vs_fd").worst_input == pytest.approx(0.123, abs=1e-12)


# ------------------------------------------------------------------------------------------
# assert_gradient and the markers
# ------------------------------------------------------------------------------------------
def test_assert_gradient_raises_with_name_and_failing_check_message():
    expected = run(sine_without_dy).check("upstream").message
    with pytest.raises(AssertionError) as info:
        gradcheck.assert_gradient(sine_without_dy, samples=FAST)
    text = str(info.value)
    assert "sine_without_dy" in text
    assert expected in text


def test_assert_gradient_passes_silently_for_a_correct_activation():
    result = gradcheck.assert_gradient(sine_custom, samples=FAST)
    assert result.status == "pass"


def test_assert_gradient_allows_warnings_unless_asked():
    gradcheck.assert_gradient(softplus_naive, samples=FAST)
    with pytest.raises(AssertionError, match="softplus_naive"):
        gradcheck.assert_gradient(softplus_naive, samples=FAST, allow_warnings=False)


def test_options_marker_range_makes_a_log_activation_pass():
    assert run(log1p_unmarked).status == "fail"
    r = run(log1p_marked)
    assert r.status == "pass", r.message
    assert r.check("gradient_vs_fd").worst_input >= 0.5


# Regression: the stability sweep once added x=0 outside a one-sided range and warned
# that log(0) "overflows".
def test_options_marker_range_makes_plain_log_pass():
    r = run(log_marked)
    assert r.status == "pass", r.message


def test_skip_marker_gives_skip_with_the_reason():
    r = run(ste_round)
    assert r.status == "skip"
    assert "straight-through estimator" in r.message
    assert r.checks == ()
