"""What people see in a real terminal: `gradcheck sample_activations/` in tmux at 80, 100,
120 and 200 columns. Every activation's name is on the screen (the table never squeezes the
names away), with its verdict on the same line. The captures of the last look are kept in
tests/fixtures/screens/ (durations replaced by N) for people to read."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
DEADLINE = 600  # seconds for one run in the pane (a busy 2-core machine)


@pytest.fixture(scope="module")
def expected():
    proc = subprocess.run([sys.executable, "-m", "gradcheck", "sample_activations/", "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE)
    return {r["name"]: r["status"].upper() for r in json.loads(proc.stdout)["results"]}


def _screen(width: int, tmp_path: Path) -> str:
    """The whole scrollback of one run in a detached tmux pane of ``width`` columns."""
    session = f"gradcheck-test-{os.getpid()}-{width}"
    done = tmp_path / f"done-{width}"
    command = (f"cd {ROOT} && {sys.executable} -m gradcheck sample_activations/; "
               f"touch {done}; sleep {DEADLINE}")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", "50", command], check=True,
                   env={k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")})
    try:
        deadline = time.monotonic() + DEADLINE
        while not done.exists():  # the run ends when its command touches the file
            assert time.monotonic() < deadline, "gradcheck did not finish in the pane"
            time.sleep(0.2)
        return subprocess.run(["tmux", "capture-pane", "-p", "-S", "-", "-E", "-", "-t", session],
                              capture_output=True, text=True, check=True).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_every_activation_is_named_on_screen_with_its_verdict(width, expected, tmp_path):
    screen = _screen(width, tmp_path)
    lines = screen.splitlines()
    assert all(len(line) <= width for line in lines)
    table = lines[:next(i for i, line in enumerate(lines) if re.match(r"\S+\.py:\d+: ", line))]
    for name, verdict in expected.items():
        row = next((line for line in table if re.search(rf"(^|\s|::){name}\s", line)), None)
        assert row is not None, f"{name} is not in the table at {width} columns:\n" + "\n".join(table)
        assert verdict in row
    assert re.search(r"11 passed, 3 warned, 11 failed, 0 errors, 0 skipped in [\d.]+ s", screen)
    # wider terminals add columns: the full table (every check, max error, worst x) at 200
    full = "max error" in table[0] and "worst x" in table[0]
    assert full == (width >= 200), table[0]
