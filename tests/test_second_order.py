"""--order 2: the option everywhere it can be given (command line, [tool.gradcheck], overrides,
@gradcheck.options, gradcheck.check), and what people see of the second_order check: its JSON
row, its messages, exit codes, no new row at order 1."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

import gradcheck
import gradcheck.runner
from gradcheck.cli import main
from gradcheck.config import ConfigError, load_config
from gradcheck.discover import Activation, Kind
from gradcheck.results import PASS, ActivationResult, Report
from gradcheck.settings import Settings, resolve_settings
from gradcheck.validation import validate_option


# -- the option ---------------------------------------------------------------------------
@pytest.mark.parametrize("value", [1, 2])
def test_order_is_1_or_2(value):
    assert validate_option("order", value) == value
    assert Settings(order=value).order == value
    assert Settings().order == 1


@pytest.mark.parametrize("value", [0, 3, -1, 2.0, 1.5, "2", True, None])
def test_other_orders_say_what_was_expected(value):
    with pytest.raises(ValueError) as info:
        validate_option("order", value)
    assert str(info.value) == f"'order' must be 1 or 2, got {value!r}"


def test_marker_and_overrides_set_the_order():
    @gradcheck.options(order=2)
    def act(x):
        return x

    assert act.__gradcheck_options__ == {"order": 2}
    activation = Activation("act", Kind.FUNCTION, act, "acts.py", {"order": 2}, "acts.py::act")
    assert resolve_settings(Settings(), None, activation).order == 2
    plain = Activation("relu", Kind.FUNCTION, abs, "acts.py", {}, "acts.py::relu")
    assert resolve_settings(Settings(), {"*::relu": {"order": 2}}, plain).order == 2
    with pytest.raises(ValueError, match="'order' must be 1 or 2, got 3"):
        resolve_settings(Settings(), None, Activation("a", Kind.FUNCTION, abs, "acts.py", {"order": 3}, "acts.py::a"))


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()  # keeps config discovery inside tmp_path
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acts.py").write_text("def relu(x):\n    return x\n")
    return tmp_path


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def fake_run(jobs, settings, **kwargs):
        seen.append(settings)
        return Report(results=(ActivationResult("acts.py::relu", "acts.py", "relu", "function", PASS, "ok"),))

    monkeypatch.setattr(gradcheck.runner, "run", fake_run)
    return seen


def _usage_error(capsys, argv, *needles):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("Error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err


@pytest.mark.parametrize("value", ["3", "0", "two", "1.5", ""])
def test_bad_order_on_the_command_line_is_a_one_line_usage_error(project, calls, capsys, value):
    _usage_error(capsys, ["--order", value, "acts.py"], "'--order'", "is not 1 or 2")
    assert calls == []


def test_order_reaches_the_run_and_the_json_settings(project, calls, capsys):
    orders = []
    for argv in (["acts.py"], ["--order", "2", "acts.py"]):
        assert main(["--format", "json", *argv]) == 0
        orders.append(json.loads(capsys.readouterr().out)["settings"]["order"])
    assert orders == [1, 2] and [s.order for s in calls] == [1, 2]


def test_order_in_pyproject_and_the_flag_wins(project, calls):
    (project / "pyproject.toml").write_text('[tool.gradcheck]\norder = 2\n'
                                            '[tool.gradcheck.overrides."*::relu"]\norder = 1\n')
    assert load_config(project / "pyproject.toml")["order"] == 2
    assert main(["acts.py"]) == 0
    assert main(["--order", "1", "acts.py"]) == 0
    assert [s.order for s in calls] == [2, 1]


@pytest.mark.parametrize("body, needle", [
    ("[tool.gradcheck]\norder = 3\n", "'order' must be 1 or 2, got 3"),
    ('[tool.gradcheck]\norder = "2"\n', "'order' must be 1 or 2, got '2'"),
    ('[tool.gradcheck.overrides."*"]\norder = 0\n', "'order' must be 1 or 2, got 0"),
])
def test_bad_order_in_pyproject_is_a_usage_error(project, calls, capsys, body, needle):
    (project / "pyproject.toml").write_text(body)
    with pytest.raises(ConfigError, match=needle):
        load_config(project / "pyproject.toml")
    _usage_error(capsys, ["acts.py"], needle)


# -- the check, in-process ------------------------------------------------------------------
FAST = {"samples": 256, "stability": False}


def _second(result):
    return next((c for c in result.checks if c.name == "second_order"), None)


def test_order_1_adds_no_row():
    result = gradcheck.check(tf.tanh, name="tanh", **FAST)
    assert result.status == PASS and _second(result) is None


@pytest.mark.parametrize("fn, kinks", [
    (tf.tanh, ()),
    (tf.nn.gelu, ()),
    (lambda x: x * tf.sigmoid(x), ()),
    (tf.nn.relu, (0.0,)),  # the gradient jumps: a kink of the function, any second derivative passes
    (lambda x: tf.nn.leaky_relu(x, 0.2), (0.0,)),
    (lambda x: tf.clip_by_value(0.2 * x + 0.5, 0.0, 1.0), (-2.5, 2.5)),
])
def test_correct_elementwise_activations_pass(fn, kinks):
    result = gradcheck.check(fn, name="act", order=2, **FAST)
    check = _second(result)
    assert result.status == PASS, result.message
    assert check.status == PASS and check.kinks == kinks and check.dtype == "float64"


def test_a_none_second_derivative_of_a_piecewise_linear_function_passes():
    check = _second(gradcheck.check(lambda x: tf.maximum(x, 0.0), name="relu_max", order=2, **FAST))
    assert check.status == PASS
    assert check.message.startswith("second derivative is None (no op of the gradient depends on x): 0, as finite "
                                    "differences of the gradient confirm")


@tf.custom_gradient
def tanh_stop(x):
    y = tf.tanh(x)
    return y, lambda dy: dy * tf.stop_gradient(1.0 - y * y)


@tf.custom_gradient
def cube_detached(x):
    return x * x * x, lambda dy: dy * 3.0 * x * tf.stop_gradient(x)


@tf.custom_gradient
def tanh_custom(x):
    y = tf.tanh(x)
    return y, lambda dy: dy * (1.0 - y * y)


def test_a_cut_hand_written_gradient_fails_naming_the_cut():
    result = gradcheck.check(tanh_stop, order=2, **FAST)
    assert result.status == "fail"
    assert result.message.startswith(
        "second_order: second derivative is None: the hand-written gradient is cut from the graph "
        "(tf.stop_gradient, NumPy/.numpy(), a cast); finite differences of the gradient give -0.6397 at x=1")
    assert all(c.status == PASS for c in result.checks if c.name != "second_order")  # first order is right


def test_a_wrong_second_derivative_fails_with_the_values_at_a_typical_point():
    check = _second(gradcheck.check(cube_detached, order=2, **FAST))
    assert check.status == "fail"
    assert check.message.startswith("second derivative 3 but finite differences of the gradient give 6 at x=1 ")
    assert check.max_rel_error == pytest.approx(0.5)


def test_a_differentiable_hand_written_gradient_passes():
    assert _second(gradcheck.check(tanh_custom, order=2, **FAST)).status == PASS


def test_softmax_second_derivatives_are_checked_as_hessian_vector_products():
    check = _second(gradcheck.check(lambda x: tf.nn.softmax(x, axis=-1), name="softmax", order=2, **FAST))
    assert check.status == PASS and "Hessian-vector products match" in check.message

    def moments_norm(x):  # tf.nn.moments detaches the mean inside the variance
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + 1e-3)

    check = _second(gradcheck.check(moments_norm, order=2, **FAST))
    assert check.status == "fail" and check.message.startswith("d.(H w) from the second derivative is ")


def test_no_second_derivative_in_tensorflow_fails():
    check = _second(gradcheck.check(tf.nn.softsign, name="softsign", order=2, **FAST))
    assert check.status == "fail"
    assert "LookupError: gradient registry has no entry for: SoftsignGrad" in check.message


def test_a_nan_second_derivative_fails_with_a_hint():
    check = _second(gradcheck.check(lambda x: tf.pow(tf.nn.relu(x), 1.5), name="relu15", order=2, **FAST))
    assert check.status == "fail" and check.message.startswith("second derivative is NaN at x=0 where the gradient is")
    assert check.hint


def test_the_marker_sets_the_order_for_a_default_check():
    @gradcheck.options(order=2)
    @tf.custom_gradient
    def marked(x):
        return x * x * x, lambda dy: dy * 3.0 * x * tf.stop_gradient(x)

    assert gradcheck.check(marked, **FAST).status == "fail"
    assert _second(gradcheck.check(marked, order=1, **FAST)) is not None  # the marker wins over the call


# -- the command line, end to end ---------------------------------------------------------------
ACTIVATIONS = '''\
import tensorflow as tf


def tanh(x):
    return tf.tanh(x)


@tf.custom_gradient
def cube_detached(x):
    def grad(dy):
        return dy * 3.0 * x * tf.stop_gradient(x)
    return x * x * x, grad
'''


@pytest.fixture
def module(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acts.py").write_text(ACTIVATIONS)
    return "acts.py"


def test_cli_order_2_json_rows_and_exit_codes(module, capsys):
    assert main(["--format", "json", "--samples", "128", "--no-stability", module]) == 0
    first = json.loads(capsys.readouterr().out)
    assert all("second_order" not in [c["name"] for c in r["checks"]] for r in first["results"])
    assert main(["--format", "json", "--samples", "128", "--no-stability", "--order", "2", module]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["settings"]["order"] == 2
    rows = {r["name"]: next(c for c in r["checks"] if c["name"] == "second_order") for r in doc["results"]}
    assert rows["tanh"]["status"] == "pass" and rows["tanh"]["dtype"] == "float64"
    bad = rows["cube_detached"]
    assert bad["status"] == "fail" and bad["max_rel_error"] == pytest.approx(0.5)
    assert bad["line"] == 10  # the hand-written gradient's grad function
    assert set(bad) >= {"name", "status", "message", "max_abs_error", "max_rel_error", "worst_input", "dtype", "kinks"}
    assert main(["--samples", "128", "--no-stability", "--order", "2", f"{module}::tanh"]) == 0
    out = capsys.readouterr().out
    assert "2nd order" in out and "1 passed" in out


def test_cli_order_2_text_names_the_failure(module, capsys):
    assert main(["-q", "--samples", "128", "--no-stability", "--order", "2", module]) == 1
    out = capsys.readouterr().out
    assert "acts.py:9: FAIL cube_detached: second_order: second derivative 3 but finite differences of the " \
           "gradient give 6 at x=1" in out
    assert "acts.py:10: the hand-written gradient" in out  # its derivative is what is wrong
