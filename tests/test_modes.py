"""What users see of the checks of training/inference modes, randomness and state between
calls (docs/method.md s.3): the mode a problem was found in, the determinism error, the
two-call failure, and that deterministic or stateful-but-correct activations pass.

The activations are the labeled ones of tests/corpus/network_modes_5.py, plus a few here.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import gradcheck
from gradcheck.loader import load_module
from gradcheck.results import ActivationResult
from gradcheck.verify.repeat import RANDOM_MESSAGE

FAST = 512  # samples: enough for every check here


@pytest.fixture(scope="module")
def corpus():
    return load_module(str(Path(__file__).parent / "corpus" / "network_modes_5.py"))


def run(activation, **options):
    options.setdefault("samples", FAST)
    options.setdefault("stability", False)
    return gradcheck.check(activation, **options)


def modes_of(result: ActivationResult) -> set:
    return {c.mode for c in result.checks}


def rows(result: ActivationResult, mode: str) -> list:
    return [c for c in result.checks if c.mode == mode]


# -- training and inference mode --------------------------------------------------------------
def test_a_bug_on_the_training_path_only_fails_and_names_training_mode(corpus):
    r = run(corpus.TrainingTypoSwish)
    assert r.status == "fail"
    assert r.message.startswith("in training mode (training=True): gradient_vs_fd: "), r.message
    assert modes_of(r) == {"training", "inference"}
    assert all(c.status == "pass" for c in rows(r, "inference")), r.checks  # predict's path is right
    failing = [c for c in r.checks if c.status == "fail"]
    assert failing and all(c.mode == "training" for c in failing)
    assert all(c.message.startswith("in training mode (training=True): ") for c in rows(r, "training"))


def test_a_bug_on_the_inference_path_only_fails_and_names_inference_mode(corpus):
    r = run(corpus.InferenceFastTanh)
    assert r.status == "fail"
    assert r.message.startswith("in inference mode (training=False): "), r.message
    assert all(c.status == "pass" for c in rows(r, "training"))


def test_every_check_runs_in_both_modes(corpus):
    r = run(corpus.TrainingFusedSwish)
    assert r.status == "pass", r.message
    names = [c.name for c in rows(r, "training")]
    assert names == [c.name for c in rows(r, "inference")]
    assert {"forward", "gradient", "determinism", "two_calls", "graph"} <= set(names)


def test_a_second_mode_computing_the_same_values_skips_what_would_repeat(corpus):
    r = run(corpus.TrainingFlagGELU, stability=True)
    assert r.status == "pass", r.message
    assert all(c.status == "pass" for c in rows(r, "training"))
    inference = {c.name: c for c in rows(r, "inference")}
    for name in ("upstream", "gradient_vs_fd", "two_calls", "stability"):
        assert inference[name].status == "skip"
        assert "the same as in training mode (training=True) at every sample point" in inference[name].message
    for name in ("forward", "gradient", "determinism", "graph"):
        assert inference[name].status == "pass", inference[name].message


def test_functions_and_layers_without_training_argument_are_checked_once(corpus):
    class NoTrainingArg(keras.layers.Layer):
        def call(self, x):
            return tf.nn.gelu(x)

    for activation in (corpus.swish_closure, NoTrainingArg):
        r = run(activation)
        assert r.status == "pass", r.message
        assert modes_of(r) == {None}
        names = [c.name for c in r.checks]
        assert len(names) == len(set(names))
        assert all("mode" not in c for c in r.to_dict()["checks"])  # JSON rows as before


def test_json_rows_carry_the_mode(corpus):
    d = run(corpus.TrainingFlagGELU).to_dict()
    assert {c["mode"] for c in d["checks"]} == {"training", "inference"}
    assert ActivationResult.from_dict(d) == run(corpus.TrainingFlagGELU)  # round trip (worker protocol)


# -- randomness ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["RReLU", "DropoutSwish"])
def test_a_random_training_path_is_an_error_never_a_pass(corpus, name):
    r = run(getattr(corpus, name))
    assert r.status == "error"
    assert r.message.startswith(f"in training mode (training=True): determinism: {RANDOM_MESSAGE}"), r.message
    assert RANDOM_MESSAGE == ("output differs between two calls with the same input (random?); "
                              "check it with the randomness fixed")
    skipped = [c for c in rows(r, "training") if c.status == "skip"]
    assert skipped and all("differs between two calls" in c.message for c in skipped)
    assert all(c.status == "pass" for c in rows(r, "inference"))  # predict's path is checked normally


def gelu_with_noise(x):
    return tf.nn.gelu(x) + 1e-3 * tf.random.normal(tf.shape(x), dtype=x.dtype)


def test_a_random_function_is_an_error_even_with_dense_samples():
    for samples in (FAST, 20_000):  # above the subset size too
        r = run(gelu_with_noise, samples=samples)
        assert r.status == "error"
        assert r.message.startswith(f"determinism: {RANDOM_MESSAGE}: "), r.message


@tf.custom_gradient
def tanh_noisy_gradient(x):
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y * y) * (1.0 + 1e-3 * tf.random.uniform(tf.shape(x), dtype=x.dtype))

    return y, grad


def test_a_random_gradient_is_an_error():
    r = run(tanh_noisy_gradient)
    assert r.status == "error"
    assert r.message.startswith("determinism: gradient differs between two calls with the same input and upstream "
                                "(random?); check it with the randomness fixed"), r.message


_CALLS = {"n": 0}


def swish_python_counter(x):
    _CALLS["n"] += 1
    return x * tf.sigmoid((1.0 + 1e-3 * _CALLS["n"]) * x)


def test_python_side_state_fails_as_frozen_under_tf_function():
    r = run(swish_python_counter)
    assert r.status == "fail"
    assert r.message.startswith("determinism: output differs between two calls with the same input in eager mode "
                                "but not under tf.function"), r.message


def test_fixed_randomness_and_state_updated_in_training_are_not_flagged(corpus):
    for layer in (corpus.FrozenSlopeRReLU, corpus.EMACenteredSoftsign, corpus.BatchCenteredTanh):
        r = run(layer)
        assert r.status == "pass", (layer.__name__, r.message)
        assert [c.status for c in r.checks if c.name == "determinism"] == ["pass", "pass"]


def test_the_state_a_layer_updates_is_put_back_between_calls(corpus):
    """Without it, EMACenteredSoftsign's second call would see the centre its first call moved."""
    layer = corpus.EMACenteredSoftsign()
    x = tf.constant(np.linspace(1.0, 3.0, 8).reshape(1, 8))
    a, b = layer(x, training=True), layer(x, training=True)
    assert not np.array_equal(a.numpy(), b.numpy())  # the layer itself drifts
    assert run(layer).status == "pass"  # a module-level instance: checked from one state


# -- state between the forward and the backward pass ------------------------------------------
@pytest.mark.parametrize("name", ["swish_module_cache", "swish_variable_state", "CachedSigmoidSwish"])
def test_a_gradient_reading_state_of_the_next_call_fails_two_calls(corpus, name):
    r = run(getattr(corpus, name))
    assert r.status == "fail"
    assert r.message.startswith("two_calls: the gradient of the first call uses state from the second call: "), r.message
    assert "closure" in r.message
    if name != "CachedSigmoidSwish":  # a custom-gradient function: its grad function is blamed
        source = Path(corpus.__file__).read_text().splitlines()
        assert source[r.check("two_calls").line - 1].strip() == "def grad(dy):"
    others = [c for c in r.checks if c.name != "two_calls"]
    assert all(c.status in ("pass", "skip") for c in others), others  # one call alone is right


def test_correct_custom_gradients_pass_two_calls(corpus):
    for fn in (corpus.swish_closure, corpus.softplus_counted_calls):
        r = run(fn)
        assert r.status == "pass", r.message
        assert r.check("two_calls").status == "pass"
