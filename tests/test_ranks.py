"""The ranks check (issue #12, item 1), through what users see: verdicts, messages, the line
a failure points at, what is skipped and why, and the command line's report.

Most activations are the labeled corpus's (tests/corpus/network_ranks_6.py); the others are
defined here at module level (so ``inspect`` finds their source). Names must not start with
``test`` (pytest would collect them).
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest
import tensorflow as tf

import gradcheck
from gradcheck.loader import load_module

FAST = 512

CORPUS = Path(__file__).parent / "corpus"
net = load_module(str(CORPUS / "network_ranks_6.py"))


def run(activation, **options):
    options.setdefault("samples", FAST)
    options.setdefault("stability", False)
    return gradcheck.check(activation, **options)


def ranks_of(result):
    return next(c for c in result.checks if c.name == "ranks")


def _line_of(fn, text):
    """The line of ``fn``'s file holding ``text`` (inside ``fn``)."""
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


# -- activations defined here -------------------------------------------------------------------
def softmax_over_batch(x):
    return tf.nn.softmax(x, axis=0)


@tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float64)])
def swish_2d_signature(x):
    return x * tf.sigmoid(x)


def softmax_axis1(x):
    """Right on (rows, 8) only: on (b, t, 8) it normalizes over time."""
    return tf.nn.softmax(x, axis=1)


class LayerNormGamma(keras.layers.Layer):
    """A layer norm over the last axis with a per-feature gain: right on every rank."""

    def build(self, input_shape):
        self.gamma = self.add_weight(name="gamma", shape=(input_shape[-1],),
                                     initializer=keras.initializers.RandomUniform(0.5, 1.5, seed=1))

    def call(self, x):
        mu = tf.reduce_mean(x, axis=-1, keepdims=True)
        xc = x - mu
        return self.gamma * xc * tf.math.rsqrt(tf.reduce_mean(xc * xc, axis=-1, keepdims=True) + 1e-3)


class SwishSeededNoise(keras.layers.Layer):
    """Stateless noise drawn for the input's shape: the same values in flat order whatever the
    layout of the same number of points, so the (rows, 8) reference must be evaluated on
    exactly the rows laid out as 3-D and 4-D, not read off a larger batch. (XLA draws other
    numbers: kept out of XLA as Keras would.)"""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_jit = False

    def call(self, x):
        return x * tf.sigmoid(x) + 0.01 * tf.random.stateless_normal(tf.shape(x), seed=(1, 2), dtype=x.dtype)


class MeanGainFromShape1(keras.layers.Layer):
    """BUG: a gain vector sized from input_shape[1], used through its mean: runs on every rank,
    but on (b, t, 8) inputs it has t entries, not 8."""

    def build(self, input_shape):
        self.g = self.add_weight(name="g", shape=(input_shape[1],),
                                 initializer=keras.initializers.RandomUniform(0.5, 1.5, seed=2))

    def call(self, x):
        return tf.nn.silu(x) * tf.reduce_mean(self.g)


class ExtraBiasOnSequences(keras.layers.Layer):
    """Builds one more weight for inputs of rank 3 and more: nothing to compare it with."""

    def build(self, input_shape):
        self.g = self.add_weight(name="g", shape=(input_shape[-1],), initializer="ones")
        self.b = self.add_weight(name="b", shape=(), initializer="zeros") if len(input_shape) > 2 else None

    def call(self, x):
        y = tf.nn.silu(x) * self.g
        return y if self.b is None else y + self.b


# -- correct activations pass on every rank -------------------------------------------------------
@pytest.mark.parametrize("name", ["swish_any_rank", "softmax_last_axis", "layer_norm_last_axis_dynamic",
                                  "softmax_custom_last_axis", "layer_norm_custom_last_axis",
                                  "tanh_grad_via_flat_rows", "PerFeatureScaledSilu", "PerPositionPReLU"])
def test_correct_activations_pass_on_3d_and_4d_inputs(name):
    r = run(getattr(net, name))
    assert r.status == "pass", r.message
    c = ranks_of(r)
    assert c.status == "pass"
    assert c.message.startswith("(b, t, 8) and (n, h, w, 8) inputs give the (rows, 8) output and gradient"), c.message


def test_noise_drawn_for_the_input_shape_is_compared_on_the_same_batch():
    r = run(SwishSeededNoise, samples=2048)  # the main pass has more rows than the ranks check takes
    assert r.status == "pass", r.message
    assert ranks_of(r).status == "pass", ranks_of(r).message


def test_a_layer_with_a_per_feature_weight_passes():
    r = run(LayerNormGamma)
    assert r.status == "pass", r.message
    assert ranks_of(r).status == "pass"


# -- bugs that only show on 3-D and 4-D inputs ------------------------------------------------------
def test_a_softmax_gradient_reducing_over_axis_1_fails_and_points_at_the_gradient():
    fn = net.softmax_custom_grad_axis1
    r = run(fn)
    assert r.status == "fail"
    assert r.message.startswith("ranks: on (b, t, 8) inputs (rank 3, here (64, 4, 8)) the hand-written gradient "
                                "differs from the (rows, 8) result at "), r.message
    assert "reduces over axis 1 instead of -1?" in r.message
    assert r.message.endswith("also on (n, h, w, 8) inputs")
    # every check on (rows, 8) passes: only the ranks check sees it
    assert all(c.status in ("pass", "skip") for c in r.checks if c.name != "ranks"), r.checks
    c = ranks_of(r)
    assert c.line == _line_of(fn, "def grad(dy)")
    assert "axis=-1" in c.hint


def test_a_mean_gradient_over_axis_1_fails():
    r = run(net.center_custom_grad_mean_axis1)
    assert r.status == "fail"
    assert "the hand-written gradient differs from the (rows, 8) result" in r.message


def test_features_counted_from_shape_1_fail_on_the_forward():
    r = run(net.rms_norm_features_from_shape1)
    assert r.status == "fail"
    assert r.message.startswith("ranks: on (b, t, 8) inputs (rank 3, here (64, 4, 8)) the output differs from the "
                                "(rows, 8) result at "), r.message
    assert "takes x.shape[1] as the number of features?" in r.message
    assert ranks_of(r).line is None  # a function without a hand-written gradient: its own line


def test_a_forward_along_axis_1_fails_naming_both_layouts():
    r = run(softmax_axis1)
    assert r.status == "fail"
    assert r.message.startswith("ranks: on (b, t, 8) inputs"), r.message
    assert "also on (n, h, w, 8) inputs" in r.message


def test_a_gradient_left_in_a_2d_shape_fails_with_its_shape():
    r = run(net.tanh_grad_flat_not_restored)
    assert r.status == "fail"
    assert "the hand-written gradient has shape (256, 8), expected the input's shape (64, 4, 8)" in r.message


def test_a_transpose_with_a_2d_perm_fails_with_the_reason():
    fn = net.tanh_grad_transpose_2d
    r = run(fn)
    assert r.status == "fail"
    assert r.message.startswith("ranks: on (b, t, 8) inputs (rank 3, here (64, 4, 8)) gradient computation raised "
                                "InvalidArgumentError: transpose expects a vector of size 3"), r.message
    assert "while (rows, 8) inputs work" in r.message
    assert ranks_of(r).line == _line_of(fn, "def grad(dy)")


def test_a_layer_built_from_input_shape_1_fails_on_rank_3():
    r = run(net.PerFeatureSiluShape1)
    assert r.status == "fail"
    assert r.message.startswith("ranks: on (b, t, 8) inputs (rank 3, here (64, 4, 8)) the forward raised "), r.message
    assert "Incompatible shapes" in r.message  # the reason, not Keras's "Exception encountered when calling"
    assert "\x1b" not in r.message and "{{function_node" not in r.message  # no terminal codes, no kernel name


def test_a_weight_sized_from_input_shape_1_fails_even_when_it_runs():
    r = run(MeanGainFromShape1)
    assert r.status == "fail"
    assert "it builds weight 'g' of shape (4,) where (rows, 8) inputs build (8,): sized from input_shape[1] instead " \
           "of input_shape[-1]?" in r.message, r.message


def test_a_layer_building_other_weights_on_rank_3_is_not_compared():
    r = run(ExtraBiasOnSequences)
    assert r.status == "pass", r.message
    c = ranks_of(r)
    assert c.status == "skip"
    assert c.message == "not run: on (b, t, 8) inputs it builds 2 weights where (rows, 8) inputs build 1", c.message


def test_a_weight_gradient_summed_over_axis_0_only_fails():
    r = run(net.ScaleCustomWeightGradAxis0)
    assert r.status == "fail"
    assert "the gradient of weight 'scale' has shape (4, 8), expected the weight's (8,)" in r.message, r.message


# -- subsets: large and small sample counts -------------------------------------------------------
@pytest.mark.parametrize("samples", [64, 20000])
def test_verdicts_hold_with_few_and_many_samples(samples):
    assert run(net.softmax_custom_grad_axis1, samples=samples).status == "fail"
    good = run(net.layer_norm_custom_last_axis, samples=samples)
    assert good.status == "pass", good.message
    assert ranks_of(good).status == "pass"


# -- skipped, with the reason -------------------------------------------------------------------
def test_batch_mixing_is_not_judged_on_other_layouts():
    r = run(softmax_over_batch)
    assert r.status == "warn"
    assert r.message.startswith("batch: "), r.message  # the warning users see is the batch check's
    c = ranks_of(r)
    assert c.status == "skip" and c.message.startswith("not run: the examples of a batch mix"), c.message


def test_a_declared_2d_input_signature_is_respected():
    r = run(swish_2d_signature)
    assert r.status == "pass", r.message
    c = ranks_of(r)
    assert c.status == "skip" and "input_signature declares rank-2 inputs" in c.message, c.message


def test_a_failing_2d_gradient_is_not_judged_again():
    @tf.custom_gradient
    def no_upstream(x):
        def grad(dy):
            return tf.reduce_sum(dy, axis=1)  # wrong shape on (rows, 8) already

        return tf.tanh(x), grad

    r = run(no_upstream)
    assert r.status == "fail" and r.message.startswith("gradient: "), r.message
    c = ranks_of(r)
    assert c.status == "skip" and c.message == "not run: the gradient check failed first"


def test_a_hand_written_gradient_already_wrong_on_2d_is_reported_once():
    @tf.custom_gradient
    def tanh_wrong_term(x):
        y = tf.tanh(x)

        def grad(dy):
            return dy * (1.0 - y)  # wrong on every layout: custom_vs_autodiff says so

        return y, grad

    r = run(tanh_wrong_term)
    assert r.status == "fail" and r.message.startswith("gradient_vs_fd: "), r.message  # the lead (finite differences)
    c = ranks_of(r)
    assert c.status == "skip" and c.message == "not run: the custom_vs_autodiff check failed first", c.message


# -- the command line -------------------------------------------------------------------------------
def test_cli_reports_the_ranks_failure_in_the_batch_column(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "acts.py").write_text(textwrap.dedent("""\
        import tensorflow as tf

        @tf.custom_gradient
        def softmax_axis1_grad(x):
            y = tf.nn.softmax(x, axis=-1)

            def grad(dy):
                return y * (dy - tf.reduce_sum(dy * y, axis=1, keepdims=True))

            return y, grad

        def swish(x):
            return x * tf.sigmoid(x)
        """))
    cmd = [sys.executable, "-m", "gradcheck", "--samples", "256", "--no-stability", "acts.py"]
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "acts.py:4: FAIL softmax_axis1_grad: ranks: on (b, t, 8) inputs (rank 3, here (64, 4, 8)) the " \
           "hand-written gradient differs from the (rows, 8) result" in out, out
    assert "    acts.py:7: the hand-written gradient\n" in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("activation"))
    assert " batch " in header and "ranks" not in header  # shown in the batch column: the table keeps its width
    row = next(line for line in out.splitlines() if re.match(r"\s+softmax_axis1_grad\s", line))  # under its file
    assert row.split()[-1] == "FAIL" and " fail " in row
    doc = json.loads(subprocess.run(cmd + ["--format", "json"], cwd=tmp_path, capture_output=True, text=True,
                                    timeout=600, env=env).stdout)
    checks = {r["name"]: {c["name"]: c for c in r["checks"]} for r in doc["results"]}
    assert checks["softmax_axis1_grad"]["ranks"]["status"] == "fail"
    assert checks["softmax_axis1_grad"]["ranks"]["line"] == 7
    assert checks["swish"]["ranks"]["status"] == "pass"


# -- activations whose output has another trailing size ---------------------------------------
shapes = load_module(str(CORPUS / "shape_vars_6.py"))


@pytest.mark.parametrize("name", ["glu", "GLUDense", "crelu", "maxout"])
def test_shape_changing_activations_are_compared_on_every_rank(name):
    """GLU halves the last axis, CReLU doubles it: the upstream of each layout has the output's
    trailing size, and a correct one passes on (b, t, 8) and (n, h, w, 8) too."""
    r = run(getattr(shapes, name))
    c = ranks_of(r)
    assert c.status == "pass", c.message
    assert r.status == "pass", r.message


def test_a_variable_gradient_summed_over_axis_0_alone_fails_on_rank_3(tmp_path):
    """A per-channel tf.Variable whose hand-written gradient sums over axis 0 only is right on
    (rows, 8) and has shape (t, 8) instead of (8,) on (b, t, 8): the ranks check says so."""
    src = textwrap.dedent('''
        import numpy as np
        import tensorflow as tf

        slopes = tf.Variable(np.linspace(0.1, 0.4, 8), dtype=tf.float64, name="slopes")

        @tf.custom_gradient
        def channel_prelu(x):
            y = tf.where(x > 0, x, slopes * x)

            def grad(dy, variables=None):
                dx = dy * tf.where(x > 0, tf.ones_like(x), slopes * tf.ones_like(x))
                return dx, [tf.reduce_sum(dy * tf.where(x > 0, tf.zeros_like(x), x), axis=0)]

            return y, grad
    ''')
    path = tmp_path / "rank_var.py"
    path.write_text(src)
    c = ranks_of(run(load_module(str(path)).channel_prelu))
    assert c.status == "fail"
    assert "on (b, t, 8) inputs" in c.message and "expected the weight's (8,)" in c.message, c.message
