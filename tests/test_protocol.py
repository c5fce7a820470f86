"""The worker protocol: every message survives encode -> decode, and lines that are not
messages are refused (no TensorFlow, no worker process)."""

from __future__ import annotations

import json

import pytest

from gradcheck.discover import Kind
from gradcheck.protocol import (ActivationInfo, Check, Exit, Load, Loaded, LoadFailed, ProtocolError, Ready, Result,
                                decode, encode)
from gradcheck.results import ActivationResult, CheckResult, LoadError, NotChecked
from gradcheck.settings import Settings

RESULT = ActivationResult(
    "a.py::f", "a.py", "f", "custom_gradient", "fail", "upstream: ignores dy",
    (CheckResult("upstream", "fail", "ignores dy", 0.5, float("inf"), 1.5, "float64", kinks=(0.0,), hint="use dy"),),
    elementwise=True, duration=0.25,
)

MESSAGES = [
    Load("a.py", ("f", "g"), Settings(samples=16, range=(-2.0, 3.0), kinks=(0.0,)), {"*::f": {"samples": 8}},
         "plots", True),
    Load("a.py", None, Settings()),
    Check("f"),
    Exit(),
    Ready(2.5),
    Ready(1.0, "cannot import gradcheck.verify.pipeline: ImportError: nope", "Traceback ..."),
    Loaded("a.py", ("f", "missing"), 0.1,
           (ActivationInfo("f", Kind.CUSTOM_GRADIENT, 5.0), ActivationInfo("missing", Kind.FUNCTION))),
    LoadFailed(LoadError("a.py", "SyntaxError: invalid syntax (line 3)", "detail")),
    Result(RESULT),
    # the discovery scope's additions: a file admitted for its markers, what cannot be checked
    Load("layers.py", (), Settings(), marked=("act", "gone")),
    Loaded("a.py", ("f",), 0.1, (ActivationInfo("f", Kind.FUNCTION),),
           (NotChecked("a.py::glu", "a.py", "glu", 31, "takes 2 required arguments (x, gate)"),
            NotChecked("a.py::obj", "a.py", "obj", None, "not a keras Layer"))),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(msg):
    line = encode(msg)
    assert "\n" not in line
    assert decode(line) == msg
    assert decode(line + "\n") == msg


def test_wire_format_keeps_plain_strings():
    loaded = json.loads(encode(MESSAGES[6]))
    assert loaded["ev"] == "loaded" and loaded["activations"][0]["kind"] == "custom_gradient"
    assert json.loads(encode(Check("f"))) == {"op": "check", "name": "f"}
    assert json.loads(encode(Result(RESULT)))["result"]["kind"] == "custom_gradient"


def test_decoded_kinds_are_kinds():
    (info, _) = decode(encode(MESSAGES[6])).activations
    assert info.kind is Kind.CUSTOM_GRADIENT


def test_optional_fields_of_a_minimal_worker():
    assert decode('{"ev": "ready", "tf_import_s": 0.0}') == Ready(0.0)
    assert decode('{"ev": "loaded", "file": "x.py", "names": []}').not_checked == ()
    assert decode('{"op": "load", "file": "x.py", "names": null, "settings": {}}').marked is None
    assert decode('{"ev": "loaded", "file": "x.py", "names": ["a", "b"]}') == Loaded("x.py", ("a", "b"))


@pytest.mark.parametrize("line", [
    "noisy import",
    '"a string"',
    '{"ev": "progress", "done": 3}',
    '{"ev": "result", "result": "fake from print"}',
    '{"ev": "loaded", "names": ["fake"]}',
    '{"op": ["load"]}',
])
def test_lines_that_are_not_messages_are_refused(line):
    with pytest.raises(ProtocolError):
        decode(line)
