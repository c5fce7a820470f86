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
    return score(run_gradcheck(), expected), expected


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
