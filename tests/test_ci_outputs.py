"""file:line everywhere, GitHub annotations, and several reports from one run: one run of
the CLI on the bad samples writes GitHub workflow commands on stdout and JUnit and JSON
files, and every one of them points at the same lines of the source."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BAD = "sample_activations/bad.py"


def _def_lines(path: Path) -> dict[str, int]:
    return {m.group(1): i for i, line in enumerate(path.read_text().splitlines(), 1)
            if (m := re.match(r"(?:def|class) (\w+)", line))}


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    proc = subprocess.run([sys.executable, "-m", "gradcheck", BAD, "--samples", "256", "--no-stability",
                           "--format", "github", "-o", f"junit={out / 'r.xml'}", "-o", f"json={out / 'r.json'}",
                           "-o", f"text={out / 'r.txt'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"})
    return proc, json.loads((out / "r.json").read_text()), ET.parse(out / "r.xml"), (out / "r.txt").read_text()


def test_json_has_the_line_of_each_definition(one_run):
    _, doc, _, _ = one_run
    lines = _def_lines(ROOT / BAD)
    assert doc["results"] and all(r["line"] == lines[r["name"]] for r in doc["results"])
    assert list(doc["results"][0])[:5] == ["id", "file", "name", "kind", "line"]  # the contract's order


def test_a_blamed_hand_written_gradient_points_at_its_grad_function(one_run):
    _, doc, _, _ = one_run
    source = (ROOT / BAD).read_text().splitlines()
    blamed = [(r["name"], c) for r in doc["results"] for c in r["checks"] if c.get("line")]
    assert {name for name, _ in blamed} >= {"tanh_wrong_derivative", "sine_forgets_upstream", "sigmoid_sign_error"}
    for name, check in blamed:
        assert check["name"] in ("gradient_vs_fd", "custom_vs_autodiff", "upstream") and check["status"] == "fail"
        assert source[check["line"] - 1].lstrip().startswith("def grad"), (name, check["line"])


def test_github_annotations_one_per_failing_activation_at_the_right_line(one_run):
    proc, doc, _, _ = one_run
    assert proc.returncode == 1, proc.stderr
    commands = [line for line in proc.stdout.splitlines() if line.startswith("::error ")]
    failing = [r for r in doc["results"] if r["status"] in ("fail", "error")]
    assert len(commands) == len(failing) == 11
    for r, command in zip(failing, commands):
        lead = r["message"].split(":", 1)[0]  # the check the verdict leads with
        blamed = next((c["line"] for c in r["checks"] if c["name"] == lead and c["status"] == r["status"]), None)
        assert command.startswith(f"::error file={BAD},line={blamed or r['line']},title=gradcheck FAIL%3A {r['name']}::")
        assert "\n" not in command
    assert proc.stdout.splitlines()[-1].startswith("::notice title=gradcheck::0 passed, 0 warned, 11 failed")


def test_junit_carries_file_and_line(one_run):
    _, doc, tree, _ = one_run
    cases = {c.get("name"): c for c in tree.iter("testcase")}
    for r in doc["results"]:
        assert cases[r["name"]].get("file") == BAD and cases[r["name"]].get("line") == str(r["line"])


def test_text_report_file_has_linter_locations(one_run):
    *_, text = one_run
    assert re.search(r"^sample_activations/bad\.py:11: FAIL tanh_wrong_derivative: gradient_vs_fd: ", text, re.M)
    assert "    sample_activations/bad.py:15: the hand-written gradient" in text
    assert "\x1b[" not in text


def test_a_bad_output_spec_is_a_usage_error():
    proc = subprocess.run([sys.executable, "-m", "gradcheck", BAD, "-o", "yaml=r.yaml"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "'yaml' is not a format" in proc.stderr
