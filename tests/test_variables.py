"""What users see of the tf.Variables an activation reads outside a layer (a module-level
`alpha` in a @tf.custom_gradient function, a closure's variable; issue #12 item 3, method.md
s.3d): their gradients are checked against finite differences on the variable, as a layer's
weights are; a wrong or missing one fails naming the variable and pointing at the grad
function; the variable keeps its value; non-trainable and integer variables are left alone.

Most activations are the labeled ones of tests/corpus/shape_vars_6.py; the ones TensorFlow
itself rejects at some point are defined here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import gradcheck
from gradcheck.loader import load_module

FAST = 512  # samples: enough for every check here
CORPUS = Path(__file__).parent / "corpus" / "shape_vars_6.py"


@pytest.fixture(scope="module")
def corpus():
    return load_module(str(CORPUS))


def run(activation, **options):
    options.setdefault("samples", FAST)
    options.setdefault("stability", False)
    return gradcheck.check(activation, **options)


def grad_line(name: str) -> int:
    lines = CORPUS.read_text().splitlines()
    start = next(i for i, t in enumerate(lines) if t.startswith(f"def {name}("))
    return next(i for i in range(start, len(lines)) if lines[i].strip().startswith("def grad(")) + 1


@pytest.mark.parametrize("name, variable", [("prelu_var", "alpha"), ("swish_beta_var", "beta")])
def test_a_right_variable_gradient_passes_naming_the_variable(corpus, name, variable):
    r = run(getattr(corpus, name))
    assert r.status == "pass", r.message
    w = r.check("weights")
    assert w is not None and w.status == "pass"
    assert w.message == f"gradients of variable '{variable}' match finite differences on the variables"


@pytest.mark.parametrize("name, variable, needle", [
    ("prelu_var_grad_sign", "leak", "(rel err 2)"),  # the opposite sign: off by twice its size
    ("prelu_var_grad_unsummed_mean", "leak3", "where finite differences give"),
])
def test_a_wrong_variable_gradient_fails_naming_it_and_the_grad_function(corpus, name, variable, needle):
    r = run(getattr(corpus, name))
    assert r.status == "fail"
    w = r.check("weights")
    assert w.status == "fail"
    assert r.message.startswith(f"weights: gradient w.r.t. variable '{variable}' (module-level tf.Variable) "), r.message
    assert needle in w.message and "\n" not in w.message
    assert w.line == grad_line(name)
    # the input gradient itself is right: only the variable's is blamed
    assert r.check("gradient_vs_fd").status == "pass"


def test_a_none_variable_gradient_fails_saying_what_to_return(corpus):
    r = run(corpus.prelu_var_grad_none)
    w = r.check("weights")
    assert r.status == "fail" and w.status == "fail"
    assert w.message.startswith("variable 'leak2' (module-level tf.Variable) gets no gradient (None) although the "
                                "output depends on it"), w.message
    assert "return (dx, [d_var]) from grad(dy, variables=None)" in w.message
    assert w.line == grad_line("prelu_var_grad_none")


def test_a_non_trainable_variable_is_not_differentiated(corpus):
    r = run(corpus.scaled_tanh_frozen_var)
    assert r.status == "pass" and r.check("weights") is None, r.checks


@pytest.mark.parametrize("name", ["prelu_var", "prelu_var_grad_sign"])
def test_the_variable_keeps_its_value_bit_for_bit(corpus, name):
    variable = {"prelu_var": corpus.alpha, "prelu_var_grad_sign": corpus.leak}[name]
    before = variable.numpy().tobytes()
    run(getattr(corpus, name))
    assert variable.numpy().tobytes() == before


# -- what TensorFlow rejects ----------------------------------------------------------------------
gamma = tf.Variable(0.5, name="gamma")
counter = tf.Variable(3, name="counter")


@tf.custom_gradient
def no_variables_argument(x):
    g = tf.cast(gamma, x.dtype)

    def grad(dy):
        return dy * g

    return g * x, grad


@tf.custom_gradient
def returns_dx_only(x):
    g = tf.cast(gamma, x.dtype)

    def grad(dy, variables=None):
        return dy * g

    return g * x, grad


@tf.custom_gradient
def returns_no_variable_gradients(x):
    g = tf.cast(gamma, x.dtype)

    def grad(dy, variables=None):
        return dy * g, []

    return g * x, grad


def reads_an_integer_variable(x):
    return x * tf.cast(counter, x.dtype) * tf.cast(gamma, x.dtype)


def test_a_grad_function_without_variables_argument_fails_in_one_line():
    """TensorFlow raises TypeError at every call of the function (eager mode)."""
    r = run(no_variables_argument)
    assert r.status == "fail"
    assert r.message == ("gradient: the function reads variable 'gamma' (module-level tf.Variable) but its grad "
                         "function takes no `variables` argument: TensorFlow raises TypeError at every call; define "
                         "grad(dy, variables=None) and return (dx, [one gradient per variable])")


@pytest.mark.parametrize("activation", [returns_dx_only, returns_no_variable_gradients])
def test_a_grad_function_that_returns_no_variable_gradients_fails_in_one_line(activation):
    r = run(activation)
    g = r.check("gradient")
    assert r.status == "fail" and g.status == "fail"
    assert g.message.startswith("the function reads variable 'gamma' (module-level tf.Variable) but its grad function "
                                "does not return one gradient per variable (TensorFlow: ValueError: "), g.message
    assert "\n" not in g.message


def test_an_integer_variable_is_not_differentiated():
    r = run(reads_an_integer_variable)
    assert r.status == "pass", r.message
    assert r.check("weights").message == "gradients of variable 'gamma' match finite differences on the variables"
    assert counter.numpy() == 3 and gamma.numpy() == np.float32(0.5)


def test_a_variable_in_a_closure_is_named_as_such():
    def make():
        slope = tf.Variable(0.7, name="tf_slope")

        @tf.custom_gradient
        def leaky(x):
            a = tf.cast(slope, x.dtype)

            def grad(dy, variables=None):
                da = tf.reduce_sum(dy * tf.where(x > 0, tf.zeros_like(x), x))
                return dy * tf.where(x > 0, tf.ones_like(x), a * tf.ones_like(x)), [2.0 * tf.cast(da, slope.dtype)]

            return tf.where(x > 0, x, a * x), grad
        return leaky

    r = run(make())
    assert r.status == "fail"
    assert r.message.startswith("weights: gradient w.r.t. variable 'slope' (tf.Variable in a closure) is "), r.message


calls = tf.Variable(0.0, name="calls")


def tanh_counting_calls(x):
    calls.assign_add(1.0)
    return tf.tanh(x)


def test_a_variable_read_as_state_only_is_no_parameter_and_no_warning():
    """A call counter kept in a trainable (the default) float variable: read, no gradient, no
    effect on the output: not a weight left untrained."""
    r = run(tanh_counting_calls)
    assert r.status == "pass", r.message
    assert r.check("weights").message == ("variable 'calls' read but not affecting the output (state, not a "
                                          "parameter)")


@pytest.mark.parametrize("samples", [FAST, 100000])
def test_a_float32_variable_in_float64_arithmetic_is_judged_at_float64_noise(corpus, samples):
    """Its steps are float32's, the rounding noise of the sum stays float64's: a per-channel
    slope passes, its gradient 1% off fails, and a None gradient is not taken for 'no effect'
    at any sample count (a float32 noise estimate hid it at 100000 samples)."""
    assert run(corpus.channel_prelu_var, samples=samples).status == "pass"
    r = run(corpus.channel_prelu_var_1pct, samples=samples)
    assert r.status == "fail" and r.message.startswith("weights: gradient w.r.t. variable 'slopes_b'"), r.message
    assert 0.005 < r.check("weights").max_rel_error < 0.02
    r = run(corpus.prelu_var_grad_none, samples=samples)
    assert r.status == "fail" and "gets no gradient (None) although the output depends on it" in r.message
