"""Messages that name the cause (issue 13, items 4 and 5), as a user reads them: one CLI run
over a module of small activations writes the JSON and the text report, and each case
asserts the verdict's message, its hint, and the figures of the row.

- the verdict leads with the check that best explains the fault and adds "also: <check>:
  <short>" for every other failing check;
- at a kink, the given value against the one-sided slopes; no "-0" anywhere;
- a deliberate surrogate gradient (straight-through estimator, gradient reversal) gets a
  hint naming @gradcheck.skip, and real bugs do not;
- a random forward leads with "output differs between two calls with the same input";
- the example point is a typical wrong point, and the count of wrong points is given;
- the table's "max error" and "worst x" are the lead check's, at one point; null in JSON
  where a figure does not exist.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gradcheck.report.text import deciding_check
from gradcheck.results import ActivationResult, number

ROOT = Path(__file__).resolve().parents[1]

MODULE = '''
import numpy as np
import tensorflow as tf
import keras


@tf.custom_gradient
def relu_zero_grad(x):
    def grad(dy):
        return tf.zeros_like(dy)
    return tf.nn.relu(x), grad


def jump_and_nan(x):
    return tf.where(x > 0, x + 1.0, x) + tf.sqrt((x * x - 1.0) ** 2)


def kink_wrong_value(x):
    return tf.where(x > 0, x, tf.where(x < 0, 0.25 * x, tf.zeros_like(x)))


@tf.custom_gradient
def ste_round(x):
    def grad(dy):
        return dy
    return tf.round(x), grad


@tf.custom_gradient
def ste_sign(x):
    def grad(dy):
        return dy
    return tf.sign(x), grad


def ste_stop_gradient(x):
    return x + tf.stop_gradient(tf.round(x) - x)


@tf.custom_gradient
def gradient_reversal(x):
    def grad(dy):
        return -dy
    return tf.identity(x), grad


@tf.custom_gradient
def sigmoid_sign_error(x):
    y = tf.sigmoid(x)
    def grad(dy):
        return -dy * y * (1.0 - y)
    return y, grad


@tf.custom_gradient
def relu_gradient_everywhere(x):
    def grad(dy):
        return dy
    return tf.nn.relu(x), grad


def hard_tanh(x):
    return tf.clip_by_value(x, -1.0, 1.0)


def random_slope(x):
    return x * tf.random.uniform([], 0.5, 1.5)


@tf.custom_gradient
def sigmoid_grad_offset(x):
    y = tf.sigmoid(x)
    def grad(dy):
        return dy * (y * (1.0 - y) + 1e-3)
    return y, grad


@tf.custom_gradient
def tanh_wrong_derivative(x):
    y = tf.tanh(x)
    def grad(dy):
        return dy * (1.0 - y)
    return y, grad


@tf.custom_gradient
def leaky_forgets_dy(x):
    def grad(dy):
        return tf.where(x > 0, dy, 0.1 * tf.ones_like(dy))
    return tf.where(x > 0, x, 0.1 * x), grad


class FrozenScale(keras.layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(), initializer="ones", name="w")

    def call(self, x):
        return x * tf.stop_gradient(self.w)
'''


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(JSON document, text report, {name: result}) of one run over MODULE."""
    folder = tmp_path_factory.mktemp("messages")
    module = folder / "msg_cases.py"
    module.write_text(textwrap.dedent(MODULE))
    text = folder / "report.txt"
    proc = subprocess.run([sys.executable, "-m", "gradcheck", str(module), "--format", "json", "--samples", "1024",
                           "-o", f"text={text}"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    return doc, text.read_text(), {r["name"]: r for r in doc["results"]}


def lead_of(result: dict) -> dict:
    """The check the verdict's message leads with ("<check>: ...")."""
    name = result["message"].split(":", 1)[0]
    return next(c for c in result["checks"] if c["name"] == name)


def xs_in(message: str) -> list[float]:
    return [float(v) for v in re.findall(r"x=(-?[0-9.]+(?:e[-+]?[0-9]+)?)", message)]


# -- the lead and the others ----------------------------------------------------------------
def test_zero_hand_written_gradient_leads_with_finite_differences(run):
    _, _, results = run
    r = results["relu_zero_grad"]
    assert r["status"] == "fail"
    assert re.match(r"gradient_vs_fd: hand-written gradient 0 but finite differences give 1 at x=[0-9.e-]+ "
                    r"\(wrong at \d+ of \d+ points", r["message"]), r["message"]
    # the zero-gradient diagnosis ("not differentiable there") is told after, not first
    assert "; also: gradient: gradient is zero everywhere" in r["message"]
    assert r["message"].index("also: custom_vs_autodiff") < r["message"].index("also: gradient:")


def test_a_jump_and_a_nan_are_both_told(run):
    _, _, results = run
    r = results["jump_and_nan"]
    assert r["message"].startswith("gradient: gradient is NaN at x=-1 where the output is finite"), r["message"]
    assert "also: gradient_vs_fd: the forward is discontinuous: it jumps by 1 at x=0" in r["message"]


def test_kink_message_states_the_one_sided_slopes_and_the_value_given(run):
    _, _, results = run
    r = results["kink_wrong_value"]
    assert r["status"] == "fail"
    assert r["message"].startswith("gradient_vs_fd: autodiff gives 0 at x=0, outside the one-sided slopes [0.25, 1]"), \
        r["message"]
    assert "positive inputs only" not in r["message"]


def test_a_kinks_error_is_how_far_outside_the_one_sided_slopes(run):
    _, _, results = run
    lead = lead_of(results["kink_wrong_value"])
    assert lead["worst_input"] == 0.0
    assert lead["max_abs_error"] == pytest.approx(0.25)  # 0 given, 0.25 the nearest slope (not 0.625, their mean)


def test_no_minus_zero_in_any_text(run):
    doc, text, _ = run
    messages = [r["message"] for r in doc["results"]] + [c["message"] for r in doc["results"] for c in r["checks"]]
    for message in messages + text.splitlines():
        assert not re.search(r"(?<![\w.])-0(?![\w.])", message), message
    assert number(-0.0) == "0" and number(-0.0, ".2e") == "0.00e+00" and number(-1e-300) == "-1e-300"


# -- hints ----------------------------------------------------------------------------------
SURROGATE = {"ste_round": "straight-through estimator", "ste_sign": "straight-through estimator",
             "ste_stop_gradient": "straight-through estimator", "gradient_reversal": "gradient reversal"}


@pytest.mark.parametrize("name", sorted(SURROGATE))
def test_surrogate_gradients_fail_with_a_hint_to_skip_them(run, name):
    _, text, results = run
    r = results[name]
    assert r["status"] == "fail"
    hint = lead_of(r)["hint"]
    assert hint is not None and f'@gradcheck.skip("{SURROGATE[name]}")' in hint, hint
    assert "straight-through estimator, gradient reversal" in hint
    # the text report prints it under the verdict line
    line = next(i for i, t in enumerate(text.splitlines()) if re.search(rf"FAIL {name}: ", t))
    assert f'@gradcheck.skip("{SURROGATE[name]}")' in "\n".join(text.splitlines()[line + 1:line + 4])


@pytest.mark.parametrize("name", ["sigmoid_sign_error", "relu_zero_grad", "tanh_wrong_derivative", "jump_and_nan",
                                  "kink_wrong_value", "relu_gradient_everywhere"])
def test_real_bugs_get_no_surrogate_hint(run, name):
    _, _, results = run
    r = results[name]
    assert r["status"] == "fail"
    assert not any("gradcheck.skip" in (c.get("hint") or "") for c in r["checks"])


def test_the_hint_names_a_marker_that_exists_and_silences_the_check():
    import gradcheck
    import tensorflow as tf

    @gradcheck.skip("straight-through estimator")
    @tf.custom_gradient
    def marked(x):
        return tf.round(x), lambda dy: dy

    assert gradcheck.check(marked, samples=64).status == "skip"


def test_a_correct_clipped_function_passes_without_hint(run):
    _, _, results = run
    r = results["hard_tanh"]
    assert r["status"] == "pass"
    assert not any(c.get("hint") for c in r["checks"])


def test_a_random_forward_leads_with_the_determinism_message(run):
    _, _, results = run
    r = results["random_slope"]
    assert r["status"] == "error"
    assert r["message"].startswith("determinism: output differs between two calls with the same input"), r["message"]
    assert "forgot to multiply" not in r["message"]


# -- the example point and the count --------------------------------------------------------
def test_the_example_is_a_typical_wrong_point_not_one_where_the_gradient_is_zero(run):
    """An error of 1e-3 at every point: the example is where the true gradient has a size, not
    at x=-8 where sigmoid' is 3e-4 (a relative error of 3 there)."""
    _, _, results = run
    r = results["sigmoid_grad_offset"]
    assert r["status"] == "fail"
    found = re.match(r"gradient_vs_fd: hand-written gradient (\S+) but finite differences give (\S+) at x=(\S+) "
                     r"\(wrong at (\d+) of (\d+) points", r["message"])
    assert found, r["message"]
    assert float(found.group(2)) > 0.1  # sigmoid' is at most 0.25 (at 0)
    assert int(found.group(4)) > 0.9 * int(found.group(5))


def test_tanh_wrong_derivative_example_has_a_slope(run):
    _, _, results = run
    r = results["tanh_wrong_derivative"]
    found = re.search(r"finite differences give (\S+) at x=", r["message"])
    assert found and float(found.group(1)) > 0.01, r["message"]


# -- consistent numbers ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["relu_zero_grad", "sigmoid_grad_offset", "tanh_wrong_derivative",
                                  "kink_wrong_value", "gradient_reversal"])
def test_a_failing_row_shows_the_lead_checks_figures_at_its_example(run, name):
    _, _, results = run
    r = results[name]
    result = ActivationResult.from_dict(r)
    shown = deciding_check(result)
    assert shown is result.lead and shown.name == lead_of(r)["name"] and shown.status == "fail"
    assert shown.max_abs_error is not None and shown.max_abs_error > 0
    # "worst x" is the message's example point
    assert number(shown.worst_input) == number(xs_in(r["message"])[0])


def test_a_discontinuity_has_no_error_figure(run):
    _, _, results = run
    lead = lead_of(results["ste_round"])
    assert lead["name"] == "gradient_vs_fd"
    assert lead["max_abs_error"] is None and lead["max_rel_error"] is None and lead["worst_input"] is not None


def test_a_weight_without_gradient_has_null_figures(run):
    _, _, results = run
    r = results["FrozenScale"]
    weights = next(c for c in r["checks"] if c["name"] == "weights")
    assert weights["status"] == "fail" and "gets no gradient (None)" in weights["message"]
    assert weights["max_rel_error"] is None and weights["max_abs_error"] is None


def test_an_upstream_failure_has_its_figures_at_its_example(run):
    _, _, results = run
    up = next(c for c in results["leaky_forgets_dy"]["checks"] if c["name"] == "upstream")
    assert up["status"] == "fail"
    assert up["worst_input"] is not None and up["worst_input"] < 0, up  # the branch without dy
    assert up["max_abs_error"] > 0
    assert number(up["worst_input"]) == number(xs_in(up["message"])[0]), up["message"]
