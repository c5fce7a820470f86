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


def test_an_in_process_check_leaves_no_autograph_files_in_the_callers_temp_dir(tmp_path):
    """AutoGraph writes an __autograph_generated_file*.py for each function it converts (the
    graph and xla checks trace the activation with Python control flow) and never removes
    it: a suite of such checks must not fill the user's temp dir."""
    import tempfile

    import gradcheck

    src = tmp_path / "branchy.py"
    src.write_text("import tensorflow as tf\n\n\ndef branchy(x):\n"
                   "    if tf.reduce_sum(x) > 0:  # Python control flow: AutoGraph converts it\n"
                   "        return tf.tanh(x)\n"
                   "    return tf.tanh(x)\n")
    from gradcheck.loader import load_module

    fn = load_module(str(src)).branchy
    caller_tmp = tmp_path / "tmp"
    caller_tmp.mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(caller_tmp)
    try:
        result = gradcheck.check(fn, samples=64, stability=False)
        assert tempfile.gettempdir() == str(caller_tmp)  # the caller's setting is back
    finally:
        tempfile.tempdir = saved
    assert result.status == "pass", result.message
    assert list(caller_tmp.iterdir()) == []
