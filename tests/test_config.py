"""[tool.gradcheck] in pyproject.toml: discovery, validation, precedence under the CLI."""

from __future__ import annotations

import pytest

import gradcheck.runner
from gradcheck.cli import main
from gradcheck.config import ConfigError, find_pyproject, load_config
from gradcheck.results import PASS, ActivationResult, Report

# What the fake runner reports: one activation that passed (a run that found nothing exits 5).
PASSED = Report(results=(ActivationResult("pkg/sub/acts.py::relu", "pkg/sub/acts.py", "relu", "function", PASS, "ok"),))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """tmp/.git, tmp/pyproject.toml (written by the test), tmp/pkg/sub/acts.py."""
    (tmp_path / ".git").mkdir()
    sub = tmp_path / "pkg" / "sub"
    sub.mkdir(parents=True)
    (sub / "acts.py").write_text("def relu(x):\n    return x\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def fake_run(jobs, settings, **kwargs):
        seen.append((settings, kwargs))
        return PASSED

    monkeypatch.setattr(gradcheck.runner, "run", fake_run)
    return seen


def write(path, text):
    path.write_text(text)
    return path


def test_find_walks_up_to_the_first_gradcheck_table(project):
    config = write(project / "pyproject.toml", "[tool.gradcheck]\nsamples = 16\n")
    write(project / "pkg" / "pyproject.toml", "[project]\nname = 'pkg'\n")  # no table: passed over
    assert find_pyproject(["pkg/sub/acts.py"]) == config
    assert find_pyproject(["pkg/sub/acts.py::relu", "pkg/sub"]) == config
    assert find_pyproject([]) == config  # from the cwd


def test_find_prefers_the_nearest(project):
    write(project / "pyproject.toml", "[tool.gradcheck]\nsamples = 16\n")
    near = write(project / "pkg" / "pyproject.toml", "[tool.gradcheck]\nsamples = 8\n")
    assert find_pyproject([str(project / "pkg" / "sub")]) == near


def test_find_stops_at_the_repository_root(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.gradcheck]\nsamples = 16\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "acts.py").write_text("")
    assert find_pyproject([str(repo / "acts.py")]) is None


def test_load_config_converts_to_default_map(project):
    path = write(project / "pyproject.toml", """
[tool.gradcheck]
samples = 16
range = [-2, 3]
timeout = 5
exclude = "legacy_*"
format = "json"
stability = false

[tool.gradcheck.overrides."*::relu*"]
range = [-1, 1]
kinks = [0]
skip = "slow"
""")
    config = load_config(path)
    assert config == {
        "samples": 16, "range": (-2.0, 3.0), "timeout": 5.0, "exclude": ("legacy_*",), "format": "json",
        "stability": False, "overrides": {"*::relu*": {"range": (-1.0, 1.0), "kinks": [0.0], "skip": "slow"}},
    }


@pytest.mark.parametrize("body, needles", [
    ("[tool.gradcheck]\nsampels = 3\n", ["unknown key 'sampels'", "allowed keys:", "samples"]),
    ("[tool.gradcheck]\nsamples = 0\n", ["'samples'"]),
    ("[tool.gradcheck]\nrange = [3, 1]\n", ["'range'", "LO < HI"]),
    ("[tool.gradcheck]\nformat = 'xml'\n", ["'format'"]),
    ("[tool.gradcheck]\nfiles = 3\n", ["'files'", "a glob or a list of globs"]),
    ("[tool.gradcheck.overrides.'*']\nwidth = 3\n", ["unknown key 'width'", "kinks"]),
    ("[tool.gradcheck.overrides.'*']\nkinks = 'zero'\n", ["'kinks'"]),
    ("[tool.gradcheck]\nsamples = \n", ["cannot read"]),
])
def test_bad_config_is_a_usage_error(project, calls, capsys, body, needles):
    write(project / "pyproject.toml", body)
    with pytest.raises(ConfigError):
        load_config(project / "pyproject.toml")
    assert main(["pkg/sub/acts.py"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and err.count("\n") == 1 and "pyproject.toml" in err
    for needle in needles:
        assert needle in err
    assert calls == []


def test_config_feeds_defaults_and_flags_win(project, calls, capsys):
    write(project / "pyproject.toml", """
[tool.gradcheck]
samples = 16
seed = 4
range = [-2, 2]
jobs = 3
stability = false
[tool.gradcheck.overrides."*::relu"]
samples = 8
""")
    assert main(["pkg/sub/acts.py"]) == 0
    assert main(["--samples", "32", "--range", "-1", "5", "--stability", "-j", "1", "pkg/sub/acts.py"]) == 0
    (first, kw1), (second, kw2) = calls
    assert (first.samples, first.seed, first.range, first.stability, kw1["jobs_n"]) == (16, 4, (-2.0, 2.0), False, 3)
    assert (second.samples, second.seed, second.range, second.stability, kw2["jobs_n"]) == (32, 4, (-1.0, 5.0), True, 1)
    assert kw1["overrides"] == {"*::relu": {"samples": 8}}


def test_explicit_config_file(project, calls, tmp_path):
    other = write(tmp_path / "other.toml", "[tool.gradcheck]\nsamples = 5\n")
    write(project / "pyproject.toml", "[tool.gradcheck]\nsamples = 16\n")
    assert main(["--config", str(other), "pkg/sub/acts.py"]) == 0
    assert main(["pkg/sub/acts.py", "--config", str(other)]) == 0
    assert [s.samples for s, _ in calls] == [5, 5]


def test_config_format_json(project, calls, capsys):
    write(project / "pyproject.toml", "[tool.gradcheck]\nformat = 'json'\n")
    assert main(["pkg/sub/acts.py"]) == 0
    assert capsys.readouterr().out.lstrip().startswith("{")


def test_files_setting_is_a_glob_or_a_list_of_globs(project):
    write(project / "pyproject.toml", "[tool.gradcheck]\nfiles = 'nets/*'\n")
    assert load_config(project / "pyproject.toml") == {"files": ("nets/*",)}
    write(project / "pyproject.toml", "[tool.gradcheck]\nfiles = ['nets/*', '*_act.py']\n")
    assert load_config(project / "pyproject.toml") == {"files": ("nets/*", "*_act.py")}


def test_no_config_uses_built_in_defaults(project, calls):
    assert main(["pkg/sub/acts.py"]) == 0
    ((settings, kwargs),) = calls
    assert (settings.samples, settings.range, settings.seed) == (2048, (-8.0, 8.0), 0)
    assert kwargs["overrides"] is None
