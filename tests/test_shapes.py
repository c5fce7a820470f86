"""What users see of activations whose output has another trailing shape (GLU halves the last
axis, maxout reduces groups of it, CReLU doubles it; issue #12 item 5, method.md s.3c): the
gradient is checked as a vector-Jacobian product, correct ones pass (kinks included), wrong
hand-written gradients fail, and what the contract forbids (the batch dimension lost) stays an
error with one line.

The activations are the labeled ones of tests/corpus/shape_vars_6.py.
"""

from __future__ import annotations


import json
import re
import subprocess
import sys
from pathlib import Path

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
    return gradcheck.check(activation, **options)


def statuses(result) -> dict:
    return {c.name: c.status for c in result.checks}


@pytest.mark.parametrize("name, out", [
    ("glu", 4), ("geglu", 4), ("swiglu", 4), ("glu_custom", 4), ("GLUDense", 4), ("maxout", 4), ("crelu", 16),
])
def test_correct_shape_changing_activations_pass_every_check_as_vjps(corpus, name, out):
    r = run(getattr(corpus, name), order=2)
    assert r.status == "pass", (r.message, r.checks)
    s = statuses(r)
    assert s["vjp_vs_fd"] == "pass" and "gradient_vs_fd" not in s  # not elementwise: directional checks
    for check in ("upstream", "two_calls", "graph", "xla", "batch", "second_order", "stability", "determinism"):
        assert s[check] == "pass", (check, r.check(check).message)
    assert f"output of shape (n, {out}) for input (n, 8)" in r.check("forward").message
    if name == "GLUDense":  # the projection's weights, through the split
        assert s["weights"] == "pass" and "kernel" in r.check("weights").message
    if name == "glu_custom":
        assert s["custom_vs_autodiff"] == "pass"


@pytest.mark.parametrize("name", ["maxout", "crelu"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_kinks_of_several_outputs_are_no_false_alarm(corpus, name, seed):
    """CReLU's relu(x) and relu(-x) both kink at 0 (a sample point), maxout where pieces tie."""
    r = run(getattr(corpus, name), seed=seed, samples=2045, stability=False)
    assert r.status == "pass", r.message


@pytest.mark.parametrize("name", ["glu_custom_gate_wrong", "glu_custom_gate_missing", "maxout_custom_argmin"])
def test_wrong_hand_written_vjps_fail_and_point_at_the_grad_function(corpus, name):
    r = run(getattr(corpus, name), stability=False)
    assert r.status == "fail"
    cva, vjp = r.check("custom_vs_autodiff"), r.check("vjp_vs_fd")
    assert cva.status == "fail" and vjp.status == "fail", (cva.message, vjp.message)
    assert r.message.startswith("custom_vs_autodiff: hand-written gradient (VJP with a random upstream)"), r.message
    assert cva.line == grad_line(name)  # the grad function's def, inside the activation


def grad_line(name: str) -> int:
    """The 1-based line of the ``def grad`` inside activation ``name`` of the corpus file."""
    lines = CORPUS.read_text().splitlines()
    start = next(i for i, t in enumerate(lines) if t.startswith(f"def {name}("))
    return next(i for i in range(start, len(lines)) if lines[i].strip().startswith("def grad(")) + 1


def test_a_gradient_missing_for_the_gate_half_shows_a_zero_where_autodiff_is_not(corpus):
    """The example is a gate entry: the hand-written VJP 0 there, autodiff not; about half the
    entries (the gate half) differ."""
    r = run(corpus.glu_custom_gate_missing, stability=False)
    cva = r.check("custom_vs_autodiff")
    assert cva.status == "fail"
    assert re.search(r"hand-written gradient \(VJP with a random upstream\) 0 but autodiff of the forward gives "
                     r"-?[1-9][0-9.e+-]* at x=", cva.message), cva.message
    differ, n = map(int, re.search(r"differs at (\d+) of (\d+) points", cva.message).groups())
    assert 0.4 * n <= differ <= 0.6 * n, cva.message


def test_losing_the_batch_dimension_is_an_error_in_one_line(corpus):
    r = run(corpus.sum_to_scalar)
    assert r.status == "error"
    assert r.message == "returned shape () for input shape (4, 8): the leading (batch) dimension must be kept"


def test_a_reduction_over_the_features_is_still_an_error():
    r = run(lambda x: tf.reduce_mean(tf.tanh(x), axis=-1))
    assert r.status == "error"
    assert "keeps the number of axes" in r.message and "\n" not in r.message, r.message


def test_a_shape_changing_integer_output_is_still_an_error():
    r = run(lambda x: tf.cast(tf.split(x, 2, axis=-1)[0], tf.int32))
    assert r.status == "error" and "int32" in r.message, r.message


def test_a_nan_output_of_another_shape_names_its_row():
    def glu_log(x):
        a, b = tf.split(x, 2, axis=-1)
        return a * tf.math.log(b)  # NaN for b < 0

    r = run(glu_log)
    fwd = r.check("forward")
    assert r.status == "fail" and fwd.status == "fail"
    assert "output is NaN at row " in fwd.message and "outputs)" in fwd.message, fwd.message


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gradcheck", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_reports_shape_changing_activations_in_every_format(tmp_path):
    target = [f"{CORPUS}::{n}" for n in ("glu", "crelu", "glu_custom_gate_wrong")]
    junit, github, text = tmp_path / "r.xml", tmp_path / "gh.txt", tmp_path / "r.txt"
    p = _cli("--format", "json", "--samples", str(FAST), "-o", f"junit={junit}", "-o", f"github={github}",
             "-o", f"text={text}", "--plot", str(tmp_path / "plots"), *target)
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    got = {r["name"]: r["status"] for r in doc["results"]}
    assert got == {"glu": "pass", "crelu": "pass", "glu_custom_gate_wrong": "fail"}, got
    assert "Traceback" not in p.stderr
    assert "glu_custom_gate_wrong" in junit.read_text() and "<failure" in junit.read_text()
    assert "::error file=" in github.read_text() and "title=gradcheck FAIL%3A glu_custom_gate_wrong" in github.read_text()
    assert "glu_custom_gate_wrong" in text.read_text()
    # a plot has no curve of one variable to draw, and says so instead of failing
    plots = sorted(q.name.rsplit("__", 1)[-1] for q in (tmp_path / "plots").glob("*.png"))
    assert plots == ["crelu.png", "glu.png", "glu_custom_gate_wrong.png"], plots


def test_upstream_linearity_is_judged_on_the_output_shaped_upstream():
    """A hand-written GLU VJP that forgets dy in the gate's half is caught by the upstream check."""
    @tf.custom_gradient
    def glu_forgets_dy(x):
        a, b = tf.split(x, 2, axis=-1)
        s = tf.sigmoid(b)

        def grad(dy):
            return tf.concat([dy * s, a * s * (1.0 - s)], axis=-1)

        return a * s, grad

    r = run(glu_forgets_dy, stability=False)
    assert r.status == "fail" and r.check("upstream").status == "fail", r.message
    assert r.message.startswith("upstream: the hand-written gradient is not proportional"), r.message


def test_a_glu_of_two_tensors_is_listed_as_not_checked_with_the_reason(tmp_path):
    """glu(x, gate) with two required tensors is no activation of one input (issue #13): it
    does not vanish, it is in not_checked with the reason."""
    module = tmp_path / "glu_activations.py"
    module.write_text("import tensorflow as tf\n\n\n"
                      "def glu(x):\n    a, b = tf.split(x, 2, axis=-1)\n    return a * tf.sigmoid(b)\n\n\n"
                      "def glu_two_inputs(x, gate):\n    return x * tf.sigmoid(gate)\n")
    p = _cli("--format", "json", "--samples", str(FAST), str(module))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert [(r["name"], r["status"]) for r in doc["results"]] == [("glu", "pass")]
    assert [(n["name"], n["reason"]) for n in doc["not_checked"]] == \
        [("glu_two_inputs", "takes 2 required arguments (x, gate)")]
