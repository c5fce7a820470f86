"""``--plot DIR``: write_plot draws valid PNGs from the core's curves, names them after the
activation, survives missing/non-finite data, and says clearly when matplotlib is missing."""

from __future__ import annotations

import io
import json
import struct
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from gradcheck.plot import PlotUnavailable, check_available, plot_filename, write_plot  # noqa: E402
from gradcheck.results import FAIL, PASS, ActivationResult, Report  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

ACTIVATIONS = '''\
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


@pytest.fixture
def checked(acts_dir):
    """name -> (ActivationResult, Curves) for acts.py, checked in this process."""
    from gradcheck.verify import check_activation
    from gradcheck.discover import discover
    from gradcheck.loader import load_module
    from gradcheck.settings import Settings

    settings = Settings(samples=256, stability=False)
    module = load_module("acts.py")
    return {a.name: check_activation(a, settings, want_curves=True) for a in discover(module, "acts.py")}


@pytest.mark.parametrize("name, status", [("tanh_wrong_grad", FAIL), ("tanh_custom", PASS), ("relu", PASS)])
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
    assert png_size(path) == (1000, 700)


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
        assert png_size(path) == (1000, 700), name


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
    assert set(plots) == {"tanh_wrong_grad", "tanh_custom", "relu"}
    for name, path in plots.items():
        assert path == f"plots/acts.py__{name}.png", doc
        png_size(acts_dir / path)
