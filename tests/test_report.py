"""The three formatters, rendered from synthetic Reports (no TensorFlow, no runner)."""

from __future__ import annotations

import io
import json
import math
import re
import xml.etree.ElementTree as ET

import pytest

import gradcheck
from gradcheck.report import get_formatter
from gradcheck.report.junit import dotted
from gradcheck.results import ActivationResult, CheckResult, LoadError, NotChecked, NotImported, Report

GOOD = ActivationResult(
    "acts/good.py::relu", "acts/good.py", "relu", "function", "pass", "all checks passed",
    (CheckResult("forward", "pass", "finite, right shape", dtype="float64"),
     CheckResult("gradient_vs_fd", "pass", "matches finite differences", 1e-9, 2e-8, 0.5, "float64", kinks=(0.0,))),
    elementwise=True, duration=0.25,
)
BAD = ActivationResult(
    "acts/bad.py::sine_forgets_upstream", "acts/bad.py", "sine_forgets_upstream", "custom_gradient", "fail",
    "gradient ignores the upstream dy: off by 3.20e-01 at x=1.5 [float64]",
    (CheckResult("upstream", "fail", "ignores dy", 0.32, 0.9, 1.5, "float64", hint="multiply by dy"),
     CheckResult("custom_vs_autodiff", "pass", "agrees", 1e-12, 1e-12, 0.1, "float64")),
    duration=1.5,
)
RISKY = ActivationResult(
    "acts/bad.py::exp_overflow", "acts/bad.py", "exp_overflow", "function", "warn",
    "overflows to inf in float32 for x > 88.7",
    (CheckResult("stability", "warn", "inf in float32", math.inf, math.nan, 89.0, "float32"),),
)
BOOM = ActivationResult("acts/bad.py::Boom", "acts/bad.py", "Boom", "layer", "error", "raised ValueError: nope")
LAZY = ActivationResult("acts/bad.py::lazy", "acts/bad.py", "lazy", "function", "skip", "skipped: too slow")
BROKEN = LoadError("acts/broken.py", "SyntaxError: invalid syntax (line 3)", "Traceback:\n  acts/broken.py, line 3\n")

REPORT = Report(
    results=(GOOD, BAD, RISKY, BOOM, LAZY),
    errors=(BROKEN,),
    settings={"samples": 2048, "range": [-8.0, 8.0], "seed": 0, "rtol": None},
    timings=(("tensorflow import", 2.0), ("load acts/bad.py", 0.5), ("total", 12.34)),
)


def render(name, report=REPORT, **kwargs):
    stream = io.StringIO()
    get_formatter(name, **kwargs).write(report, stream)
    return stream.getvalue()


# --- json ---------------------------------------------------------------------------

def test_json_document_shape():
    doc = json.loads(render("json"))
    # The contract's order; not_checked is empty here but always present.
    assert list(doc)[:7] == ["version", "tool", "settings", "results", "errors", "not_checked", "summary"]
    assert doc["not_checked"] == []
    assert doc["version"] == 1
    assert doc["tool"] == {"name": "gradcheck", "version": gradcheck.__version__}
    assert doc["settings"]["samples"] == 2048 and doc["settings"]["range"] == [-8.0, 8.0]
    assert doc["settings"]["seed"] == 0
    assert doc["summary"] == {"passed": 1, "warned": 1, "failed": 1, "errors": 1, "skipped": 1}
    assert doc["errors"][0]["file"] == "acts/broken.py"
    assert doc["errors"][0]["message"] == "SyntaxError: invalid syntax (line 3)"
    assert [r["status"] for r in doc["results"]] == ["pass", "fail", "warn", "error", "skip"]
    for r in doc["results"]:
        assert {"id", "file", "name", "kind", "status", "message", "checks"} <= set(r)
        for c in r["checks"]:
            assert {"name", "status", "message", "max_abs_error", "max_rel_error", "worst_input", "dtype"} <= set(c)
    bad = doc["results"][1]
    assert bad["id"] == "acts/bad.py::sine_forgets_upstream" and bad["kind"] == "custom_gradient"
    assert bad["checks"][0] == {**bad["checks"][0], "name": "upstream", "status": "fail",
                                "max_abs_error": 0.32, "worst_input": 1.5, "dtype": "float64"}


def test_json_numbers_that_do_not_apply_are_null():
    text = render("json")
    assert "NaN" not in text and "Infinity" not in text
    doc = json.loads(text)
    forward = doc["results"][0]["checks"][0]
    assert forward["max_abs_error"] is None and forward["worst_input"] is None
    stability = doc["results"][2]["checks"][0]
    assert stability["max_abs_error"] is None and stability["max_rel_error"] is None  # inf, nan
    assert stability["worst_input"] == 89.0


def test_json_empty_report():
    doc = json.loads(render("json", Report(settings={"samples": 8, "range": [-1.0, 1.0], "seed": 3})))
    assert doc["results"] == [] and doc["errors"] == []
    assert doc["summary"] == {"passed": 0, "warned": 0, "failed": 0, "errors": 0, "skipped": 0}


# --- junit --------------------------------------------------------------------------

def test_junit_counts_and_elements():
    text = render("junit")
    root = ET.fromstring(text)
    (suite,) = root.iter("testsuite")
    assert suite.get("name") == "gradcheck"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("6", "1", "2", "1")
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    assert len(cases) == 6
    assert list(cases[("acts.good", "relu")]) == []
    failure = cases[("acts.bad", "sine_forgets_upstream")].find("failure")
    assert failure.get("message") == BAD.message and "ignores dy" in failure.text
    assert cases[("acts.bad", "Boom")].find("error").get("message") == "raised ValueError: nope"
    assert cases[("acts.bad", "lazy")].find("skipped").get("message") == "skipped: too slow"
    warn = cases[("acts.bad", "exp_overflow")]
    assert warn.find("failure") is None and "overflows" in warn.find("system-out").text
    load = cases[("acts.broken", "load")].find("error")
    assert load.get("message") == BROKEN.message and "line 3" in load.text


def test_junit_survives_control_characters():
    r = ActivationResult("a.py::f", "a.py", "f", "function", "error", "raised \x1b[31mboom\x00")
    ET.fromstring(render("junit", Report(results=(r,))))


@pytest.mark.parametrize("file, name", [("a/b/c.py", "a.b.c"), ("./x.py", "x"), ("/abs/y.py", "abs.y"),
                                        ("w\\v.py", "w.v")])
def test_dotted(file, name):
    assert dotted(file) == name


# --- text ---------------------------------------------------------------------------

def test_text_table_messages_and_summary():
    out = render("text")
    for r in REPORT.results:  # each file a heading, each activation a row of its own with its verdict
        assert re.search(rf"^{re.escape(r.file)}\s*$", out, re.M), out
        assert re.search(rf"^\s+{re.escape(r.name)}\s.*\b{r.status.upper()}\b", out, re.M), out
    assert f"{BAD.location}: FAIL {BAD.name}: {BAD.message}" in out  # one line, not wrapped, brackets kept
    assert "hint: multiply by dy" in out
    assert "acts/broken.py: SyntaxError: invalid syntax (line 3)" in out
    assert "3.20e-01" in out  # the failing check's error in the table
    assert out.rstrip().endswith("1 passed, 1 warned, 1 failed, 1 error, 1 skipped, 1 file not loaded in 12.3 s")
    assert "Traceback" not in out and "tensorflow import" not in out


def test_text_long_message_stays_on_one_line():
    msg = "gradient is wrong " + "x" * 400
    r = ActivationResult("a.py::f", "a.py", "f", "function", "fail", msg)
    assert f"a.py: FAIL f: {msg}\n" in render("text", Report(results=(r,)))


def test_text_no_color_has_no_ansi(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in render("text")
    assert "\x1b[" not in render("text", color=False, verbosity=2)
    assert "\x1b[" in render("text", color=True)


def test_text_quiet_hides_passing_rows():
    out = render("text", verbosity=-1)
    assert GOOD.id not in out
    assert f"{BAD.location}: FAIL {BAD.name}" in out and f"{RISKY.location}: WARN {RISKY.name}" in out
    assert "acts/broken.py:" in out
    assert "1 passed" in out


def test_text_very_quiet_is_the_summary_only():
    assert render("text", verbosity=-2).strip().splitlines() == [
        "1 passed, 1 warned, 1 failed, 1 error, 1 skipped, 1 file not loaded in 12.3 s"]


def test_text_verbose_shows_checks_kinks_timings_and_tracebacks():
    out = render("text", verbosity=1)
    assert "gradient_vs_fd [float64]: matches finite differences" in out
    assert "kinks: 0" in out
    assert "tensorflow import" in out and "load acts/bad.py" in out
    assert "acts/broken.py, line 3" in out


def test_text_nothing_found():
    assert "no activations found" in render("text", Report())


# --- scope: not_checked, not_imported, nothing found ------------------------------------

GLU = NotChecked("acts/good.py::glu", "acts/good.py", "glu", 31, "takes 2 required arguments (x, gate)")
MAXOUT = NotChecked("acts/good.py::Maxout", "acts/good.py", "Maxout", None, "needs constructor arguments (num_units)")
PASSED_OVER = (NotImported("train.py", "no activation file: path does not match *activation*, no marker"),
               NotImported("setup_helpers.py", "does not import tensorflow/keras"))
SCOPED = Report(results=(GOOD,), not_checked=(GLU, MAXOUT), not_imported=PASSED_OVER)


def test_json_not_checked_as_the_contract_says_and_not_imported():
    doc = json.loads(render("json", SCOPED))
    assert doc["not_checked"] == [
        {"id": "acts/good.py::glu", "file": "acts/good.py", "name": "glu", "line": 31,
         "reason": "takes 2 required arguments (x, gate)"},
        {"id": "acts/good.py::Maxout", "file": "acts/good.py", "name": "Maxout", "line": None,
         "reason": "needs constructor arguments (num_units)"},
    ]
    assert doc["not_imported"] == [{"file": n.file, "reason": n.reason} for n in PASSED_OVER]
    assert doc["summary"]["passed"] == 1  # not_checked is not a result


def test_junit_not_checked_are_skipped_testcases():
    (suite,) = ET.fromstring(render("junit", SCOPED)).iter("testsuite")
    assert (suite.get("tests"), suite.get("skipped")) == ("3", "2")
    glu = next(c for c in suite.iter("testcase") if c.get("name") == "glu")
    assert glu.get("classname") == "acts.good"
    assert glu.find("skipped").get("message") == "not checked: takes 2 required arguments (x, gate)"


def test_text_lists_not_checked_and_not_imported_with_v_only():
    out = render("text", SCOPED)
    assert "not imported" not in out and "glu" not in out
    assert out.rstrip().endswith("1 passed, 0 warned, 0 failed, 0 errors, 0 skipped, 2 not checked")
    verbose = render("text", SCOPED, verbosity=1)
    assert "not imported: train.py (no activation file: path does not match *activation*, no marker)\n" in verbose
    assert "not imported: setup_helpers.py (does not import tensorflow/keras)\n" in verbose
    assert "not checked: acts/good.py::glu (line 31): takes 2 required arguments (x, gate)\n" in verbose
    assert "not checked: acts/good.py::Maxout: needs constructor arguments (num_units)\n" in verbose


def test_text_nothing_found_hints_at_v_and_the_files_setting():
    report = Report(not_imported=PASSED_OVER, settings={"files": ["*activation*"]})
    out = render("text", report)
    assert out.startswith("no activations found\n")
    assert "2 files not imported (-v says why)" in out and "[tool.gradcheck] files (now *activation*)" in out
    assert "no activations found" in render("text", report, verbosity=-1)
    assert "-v says why" not in render("text", report, verbosity=1)
    assert "hint" not in render("text", Report())  # nothing was passed over: nothing to hint at


def test_exit_code_nothing_found_is_5_but_0_in_hook_mode():
    assert Report().exit_code == 5
    assert Report(not_checked=(GLU,), not_imported=PASSED_OVER).exit_code == 5
    assert Report(hook=True).exit_code == 0
    assert Report(errors=(BROKEN,)).exit_code == 1 and Report(errors=(BROKEN,), hook=True).exit_code == 1
    assert Report(results=(LAZY,)).exit_code == 0  # found, skipped on purpose
    assert Report(results=(BAD,), hook=True).exit_code == 1


def test_unknown_format():
    with pytest.raises(ValueError):
        get_formatter("xml")
