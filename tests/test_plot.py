"""``--plot DIR``: write_plot draws valid PNGs from the core's curves, names them after the
activation, survives missing/non-finite data, and says clearly when matplotlib is missing."""

from __future__ import annotations

import io
import json
import re
import struct
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from gradcheck.plot import PlotUnavailable, check_available, plot_filename, write_plot  # noqa: E402
from gradcheck.results import FAIL, PASS, ActivationResult, Report  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

ACTIVATIONS = '''\
import keras
import tensorflow as tf


@tf.custom_gradient
def tanh_wrong_grad(x):
    """BUG: tanh' is 1 - y**2, not 1 - y."""
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y)

    return y, grad


@tf.custom_gradient
def tanh_custom(x):
    y = tf.tanh(x)

    def grad(dy):
        return dy * (1.0 - y * y)

    return y, grad


def relu(x):
    return tf.maximum(x, 0.0)


@tf.custom_gradient
def softplus_off_by_0_1_percent(x):
    """BUG: 1.001 times the right gradient."""
    y = tf.math.softplus(x)

    def grad(dy):
        return 1.001 * dy * tf.sigmoid(x)

    return y, grad


@tf.custom_gradient
def sine_forgets_upstream(x):
    """BUG: returns cos(x), not dy * cos(x)."""
    def grad(dy):
        return tf.cos(x)

    return tf.sin(x), grad


def sigmoid_naive(x):
    """RISK: 1 / (1 + exp(-x)): NaN gradient below x = -88.7 in float32."""
    return 1.0 / (1.0 + tf.exp(-x))


class FrozenSlope(keras.layers.Layer):
    """BUG: the trainable slope sits behind stop_gradient: its gradient is 0."""

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer=keras.initializers.Constant(0.25))

    def call(self, x):
        return tf.where(x > 0, x, tf.stop_gradient(self.alpha) * x)
'''


def png_size(path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk; asserts the PNG signature."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@pytest.fixture
def acts_dir(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()  # keeps pyproject discovery inside tmp_path
    (tmp_path / "acts.py").write_text(ACTIVATIONS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """name -> (ActivationResult, Curves) for acts.py, checked in this process (once: the
    tests only read them)."""
    import os

    from gradcheck.verify import check_activation
    from gradcheck.discover import discover
    from gradcheck.loader import load_module
    from gradcheck.settings import Settings

    folder = tmp_path_factory.mktemp("checked")
    (folder / "acts.py").write_text(ACTIVATIONS)
    cwd = os.getcwd()
    os.chdir(folder)  # ids as a user's relative target gives them: acts.py::name
    try:
        module = load_module("acts.py")
        return {a.name: check_activation(a, Settings(samples=256, stability=a.name == "sigmoid_naive"),
                                         want_curves=True)
                for a in discover(module, "acts.py")}
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("name, status", [("tanh_wrong_grad", FAIL), ("tanh_custom", PASS), ("relu", PASS),
                                          ("softplus_off_by_0_1_percent", FAIL), ("sine_forgets_upstream", FAIL)])
def test_write_plot_from_core_curves(checked, acts_dir, name, status):
    result, curves = checked[name]
    assert result.status == status
    assert curves is not None and curves.grad is not None
    if status == FAIL:
        assert curves.failing is not None and curves.failing.any()
    plot_dir = acts_dir / "plots" / "nested"  # created on demand, parents too
    path = write_plot(curves, result, str(plot_dir))
    assert path == str(plot_dir / f"acts.py__{name}.png")
    assert (plot_dir / f"acts.py__{name}.png").stat().st_size > 0
    assert png_size(path) == (1000, 920)  # function, gradients, error


def test_relu_curves_have_a_kink(checked):
    _, curves = checked["relu"]
    assert any(abs(k) < 1e-6 for k in curves.kinks)


@pytest.mark.parametrize("activation_id, expected", [
    ("sample_activations/bad.py::sine_forgets_upstream", "sample_activations_bad.py__sine_forgets_upstream.png"),
    ("bad.py::sine_forgets_upstream", "bad.py__sine_forgets_upstream.png"),
    ("./a/../b.py::f", "a_b.py__f.png"),
    ("/abs/path/m.py::Layer", "abs_path_m.py__Layer.png"),
    ("C:\\work\\m.py::g", "C_work_m.py__g.png"),
    ("we ird$/m.py::h", "we_ird_m.py__h.png"),
    (".hidden.py::f", "hidden.py__f.png"),
])
def test_plot_filename_is_filesystem_safe(activation_id, expected):
    assert plot_filename(activation_id) == expected


def test_plot_filename_of_a_very_long_id_stays_short_and_unique():
    a = plot_filename("/".join(["deep"] * 200) + "/m.py::f")
    b = plot_filename("/".join(["deeq"] * 200) + "/m.py::f")
    assert len(a.encode()) <= 255 and a.endswith("m.py__f.png")
    assert a != b


def _result(status="fail", message="gradient_vs_fd: wrong", **kw):
    return ActivationResult(id="m.py::f", file="m.py", name="f", kind="function", status=status,
                            message=message, **kw)


def test_write_plot_masks_non_finite_values_and_missing_fields(tmp_path):
    from gradcheck.verify import Curves

    x = np.linspace(-3, 3, 301)
    with np.errstate(all="ignore"):
        y = np.log(np.abs(x))
        g = 1 / x
    y[::50] = np.nan
    g[150] = np.inf
    failing = np.zeros(x.size, bool)
    failing[140:160] = True
    cases = {
        "full": Curves(x=x, y=y, grad=g, autodiff=g * 1.0, fd=1 / np.where(x == 0, 1e-300, x), failing=failing,
                       kinks=(0.0, float("nan"))),
        "no_gradients": Curves(x=x, y=y, grad=None, autodiff=None, fd=None, failing=None),
        "all_nan": Curves(x=x, y=np.full_like(x, np.nan), grad=np.full_like(x, np.nan), autodiff=None, fd=None,
                          failing=np.ones(x.size, bool)),
        "wrong_lengths": Curves(x=x, y=y, grad=g[:10], autodiff=None, fd=None, failing=failing[:3]),
    }
    long_message = "gradient_vs_fd: " + "very long explanation " * 40
    for name, curves in cases.items():
        path = write_plot(curves, _result(message=long_message), tmp_path / name)
        assert png_size(path) == (1000, 700 if name in ("no_gradients", "wrong_lengths") else 920), name


def test_title_is_shortened_to_fit():
    from gradcheck.plot import title_of

    title = title_of(_result(message="x " * 500))
    assert title.startswith("f — FAIL: x x")
    assert title.count("\n") <= 1 and title.endswith("…")


def test_missing_matplotlib_raises_plot_unavailable(monkeypatch, tmp_path):
    from gradcheck.verify import Curves

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    curves = Curves(x=np.arange(3.0), y=np.arange(3.0), grad=None, autodiff=None, fd=None, failing=None)
    with pytest.raises(PlotUnavailable) as exc:
        write_plot(curves, _result(), tmp_path)
    assert str(exc.value) == "--plot needs matplotlib: pip install 'gradcheck[plot]'"
    with pytest.raises(PlotUnavailable):
        check_available()
    assert not (tmp_path / "m.py__f.png").exists()


def test_cli_refuses_plot_without_matplotlib_in_one_line(monkeypatch, acts_dir, capsys):
    from gradcheck.cli import main

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["--plot", "plots", "acts.py"]) == 2
    err = capsys.readouterr().err
    assert err == "Error: --plot needs matplotlib: pip install 'gradcheck[plot]'\n"
    assert not (acts_dir / "plots").exists()


def test_text_report_says_where_the_plots_went():
    from gradcheck.report.text import TextFormatter

    report = Report(results=(_result(plot="out/m.py__f.png"),
                             _result(status=PASS, message="ok", plot="out/m.py__g.png")))
    for verbosity in (0, -1):
        out = io.StringIO()
        TextFormatter(verbosity=verbosity, color=False).write(report, out)
        assert out.getvalue().count("plots written to out\n") == 1
    out = io.StringIO()
    TextFormatter(color=False).write(Report(results=(_result(),)), out)
    assert "plots written" not in out.getvalue()


def test_cli_end_to_end_writes_one_png_per_activation(acts_dir, capsys):
    """Through the worker processes: the PNG paths come back in the results."""
    from gradcheck.cli import main

    code = main(["--plot", "plots", "--samples", "256", "--no-stability", "--format", "json", "acts.py"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    plots = {r["name"]: r["plot"] for r in doc["results"]}
    assert set(plots) == {"tanh_wrong_grad", "tanh_custom", "relu", "softplus_off_by_0_1_percent",
                          "sine_forgets_upstream", "sigmoid_naive", "FrozenSlope"}
    for name, path in plots.items():
        assert path == f"plots/acts.py__{name}.png", doc
        png_size(acts_dir / path)


# -- what the figure shows (draw_plot returns it; nothing is saved) -------------------------
COUNT = re.compile(r"(\d+) of (\d+) points")


def _texts(fig) -> list[str]:
    """Every text a reader sees: title, legends, annotations, panel titles."""
    texts = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    for ax in fig.axes:
        texts.append(ax.get_title())
        texts += [t.get_text() for t in ax.texts]
        if ax.get_legend() is not None:
            texts += [t.get_text() for t in ax.get_legend().get_texts()]
    return texts


def _line(ax, label):
    return next(line for line in ax.get_lines() if line.get_label() == label)


def _main_axes(fig):
    """The function, gradient and error panels (sharing x), top to bottom."""
    return [ax for ax in fig.axes if ax.get_shared_x_axes().joined(ax, fig.axes[0])]


def test_error_panel_shows_a_0_1_percent_error_on_a_log_scale(checked):
    from gradcheck.plot import draw_plot

    result, curves = checked["softplus_off_by_0_1_percent"]
    assert result.status == FAIL and result.check("custom_vs_autodiff").status == FAIL
    fig = draw_plot(curves, result)
    ax_f, ax_g, ax_e = _main_axes(fig)
    assert ax_e.get_yscale() == "log" and ax_f.get_yscale() == "linear"
    error = np.asarray(_line(ax_e, "|gradient − autodiff of the forward|").get_ydata(), dtype=float)
    grad = np.asarray(_line(ax_g, "gradient used in training").get_ydata(), dtype=float)
    # 0.1% of the gradient where it is ~1: visible, 10^6 above float64 noise
    big = np.abs(grad) > 0.5
    assert np.allclose(error[big], 1e-3 * np.abs(grad[big]), rtol=0.05)
    assert error.max() < 2e-3


@pytest.mark.parametrize("name", ["tanh_custom", "relu"])
def test_error_panel_of_a_correct_gradient_is_at_rounding_level(checked, name):
    """relu: at and around the kink, finite differences with the standard step average the
    two slopes; that is no error of the gradient, and the panel does not draw it as one."""
    from gradcheck.plot import draw_plot

    result, curves = checked[name]
    assert result.status == PASS
    ax_e = _main_axes(draw_plot(curves, result))[2]
    error = np.ma.compressed(_line(ax_e, "|gradient − finite differences|").get_ydata())
    assert error.size > 200 and error.max() < 1e-8


def test_marked_points_are_counted_once_as_the_title_counts_them(checked):
    from gradcheck.plot import draw_plot

    result, curves = checked["softplus_off_by_0_1_percent"]
    counts = [m for t in _texts(draw_plot(curves, result)) for m in COUNT.findall(t)]
    assert len(counts) == 2 and counts[0] == counts[1], counts  # the title's and the legend's
    # the count of the check the message leads with (gradient_vs_fd: "wrong at", custom_vs_autodiff: "differs at")
    assert re.search(rf"(wrong|differs) at {counts[0][0]} of {counts[0][1]} points", result.message), result.message


def test_a_title_about_another_check_keeps_the_only_count(checked):
    """The title quotes the upstream check; the crosses (custom_vs_autodiff's points) are
    named by their check in the legend, without a second count."""
    from gradcheck.plot import draw_plot

    result, curves = checked["sine_forgets_upstream"]
    assert result.message.startswith("upstream:")
    fig = draw_plot(curves, result)
    texts = _texts(fig)
    assert len({m for t in texts for m in COUNT.findall(t)}) <= 1
    assert "wrong by custom_vs_autodiff" in texts


def test_stability_bad_input_outside_the_range_is_an_arrow_with_its_x(checked):
    from gradcheck.plot import draw_plot

    result, curves = checked["sigmoid_naive"]
    stability = result.check("stability")
    assert stability.status == "warn" and stability.worst_input < -80
    fig = draw_plot(curves, result)
    ax_g = _main_axes(fig)[1]
    lo, hi = ax_g.get_xlim()
    assert lo >= -8.5 and hi <= 8.5  # the range stays readable
    notes = [t for t in ax_g.texts if "outside the plotted range" in t.get_text()]
    assert len(notes) == 1
    x_text = re.search(r"x=(-?[\d.]+)", notes[0].get_text()).group(1)
    assert abs(float(x_text) - stability.worst_input) < 0.01
    assert notes[0].xy[0] == 0.0  # the arrow points at the left edge: the input is below the range


def test_stability_bad_input_inside_the_range_is_a_line_at_its_x(tmp_path):
    from gradcheck.plot import draw_plot
    from gradcheck.results import CheckResult
    from gradcheck.verify import Curves

    x = np.linspace(-8, 8, 201)
    curves = Curves(x=x, y=np.tanh(x), grad=1 - np.tanh(x) ** 2, autodiff=None, fd=1 - np.tanh(x) ** 2, failing=None)
    check = CheckResult("stability", "warn", "float16: output is inf from x=5.5 on (finite inputs)", worst_input=5.5,
                        dtype="float16")
    fig = draw_plot(curves, _result(status="warn", message="stability: " + check.message, checks=(check,)))
    ax_f = _main_axes(fig)[0]  # the output is bad: the function's panel
    marks = [line for line in ax_f.get_lines() if "x=5.5" in str(line.get_label())]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [5.5, 5.5]


def test_failing_weight_gets_its_own_panel_with_both_slopes(checked):
    from gradcheck.plot import draw_plot

    result, curves = checked["FrozenSlope"]
    assert result.status == FAIL and result.check("weights").status == FAIL
    assert [w.name for w in curves.weights] == ["alpha"]
    fig = draw_plot(curves, result)
    assert len(fig.axes) == 4  # function, gradients, error, the weight
    ax_w = fig.axes[3]
    assert "weight 'alpha'" in ax_w.get_title()
    t = np.asarray(_line(ax_w, "Σ u·f(x)").get_xdata(), dtype=float)
    phi = np.asarray(_line(ax_w, "Σ u·f(x)").get_ydata(), dtype=float)
    slope = np.polyfit(t, phi, 1)[0]  # the layer is linear in alpha: the curve's true slope
    lines = {str(line.get_label()).split(":")[0]: line for line in ax_w.get_lines()}

    def slope_of(line):
        return np.polyfit(np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float), 1)[0]

    assert abs(slope) > 1 and slope_of(lines["finite differences"]) == pytest.approx(slope, rel=1e-6)
    # stop_gradient: the tape gives None for alpha, said in the panel's legend
    assert "gradient: no slope (None)" in [t.get_text() for t in ax_w.get_legend().get_texts()]


def test_passing_layer_has_no_weight_panel(checked):
    _, curves = checked["tanh_custom"]
    assert curves.weights == ()
