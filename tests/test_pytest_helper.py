"""The README's pytest example (examples/test_activations_example.py) as a user runs it:
one test per activation, named after it, the buggy ones failing with gradcheck's message
and without gradcheck's own frames in the traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_one_test_per_activation_with_gradchecks_message_and_the_users_frames(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=short",
                           "-o", "addopts=", "examples/test_activations_example.py"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]
    assert re.search(r"11 failed, 11 passed", out), out[-3000:]
    assert "FAILED examples/test_activations_example.py::test_bad_activations[tanh_wrong_derivative]" in out
    assert "tanh_wrong_derivative: FAIL: gradient_vs_fd: hand-written gradient" in out
    assert "gradcheck/api.py" not in out and "gradcheck/__init__.py" not in out  # __tracebackhide__
