"""The labeled corpus: every bug caught, every risk warned, no false alarm (issue 3).

One gradcheck run over tests/corpus through the real CLI (workers, JSON), compared with the
labels each corpus module carries in ``EXPECTED``.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
from labels import all_expected  # noqa: E402
from score import describe, run_gradcheck, score  # noqa: E402


@pytest.fixture(scope="module")
def scored():
    expected = all_expected()
    doc = run_gradcheck()
    s = score(doc, expected)
    s["results"] = doc["results"]
    return s, expected


def test_corpus_is_large_enough_and_covers_both_sides(scored):
    s, expected = scored
    assert s["labeled"] >= 40
    assert s["buggy"] >= 15 and s["correct"] >= 15 and s["risky"] >= 2


def test_every_bug_is_caught(scored):
    s, _ = scored
    assert s["missed"] == [], describe(s)


def test_no_false_alarm_on_correct_activations(scored):
    s, _ = scored
    assert s["false_alarms"] == [], describe(s)


def test_every_risk_is_a_warning(scored):
    s, _ = scored
    assert s["risk_mismatch"] == [], describe(s)


def test_every_labeled_activation_was_discovered(scored):
    s, _ = scored
    assert all(v != "missing" for v in s["status_of"].values()), describe(s)
    assert s["unlabeled_results"] == [], describe(s)


def test_order_2_modules_are_checked_at_order_2_and_only_they(scored):
    """@gradcheck.options(order=2) in second_order_5.py adds the second_order row there; every
    other module runs at the default order 1, without it. Its bugs are caught by that row."""
    s, expected = scored
    for r in s["results"]:
        row = next((c for c in r["checks"] if c["name"] == "second_order"), None)
        assert (row is not None) == ("/second_order_5.py::" in r["id"]), r["id"]
        if expected.get(r["id"], (None, None))[1] == "second_order":
            assert row["status"] == "fail", (r["id"], row)


DENSE = "100000"  # samples: the subsets and tolerances that only matter with dense sampling


@pytest.fixture(scope="module")
def scored_dense():
    return score(run_gradcheck("--samples", DENSE), all_expected())


def test_dense_sampling_keeps_every_verdict(scored_dense):
    """At 100k samples (50x the default) points land near every seam and cancellation, and
    the checks that use a subset of rows see only part of the batch: no verdict may change."""
    s = scored_dense
    assert (s["missed"], s["false_alarms"], s["risk_mismatch"]) == ([], [], []), describe(s)


def _known_misses():
    import ast

    out = []
    for path in sorted((Path(__file__).parent / "corpus").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "KNOWN_MISSES" for t in node.targets):
                out += [(path, name, label[0]) for name, label in ast.literal_eval(node.value).items()]
    return out


@pytest.mark.xfail(strict=True, reason="known limitation (README, docs/method.md 'What it does not judge'): "
                   "a 0.25% error in a float32-only tail below the absolute tolerance, a bug only in the "
                   "float16 code path, NaN traps at computed points that no sample hits, a removable "
                   "discontinuity exactly on a sample")
@pytest.mark.parametrize("path,name,label", _known_misses(), ids=lambda v: getattr(v, "name", str(v)))
def test_known_limitations_still_missed(path, name, label):
    import gradcheck
    from gradcheck.loader import load_module

    module = load_module(str(path))
    assert gradcheck.check(getattr(module, name)).status == label
