"""Score gradcheck's verdicts on the labeled corpus: recall on buggy, false alarms on correct.

    python tests/corpus/score.py            # runs gradcheck on the corpus files and prints the figures

"Buggy" = labeled fail/error, "risky" = labeled warn, "correct" = labeled pass. A bug is
caught when gradcheck says fail or error; a false alarm is fail/error (or warn) on a correct
activation; a risk is caught when gradcheck says warn.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

__all__: list[str] = []  # nothing here is an activation

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from labels import CORPUS_DIR, PREFIX, all_expected  # noqa: E402


def corpus_targets() -> list[str]:
    """Every ``tests/corpus/*.py``, named one by one: a folder target would import only files
    named like ``*activation*`` (or with a marker), and the corpus modules are not."""
    return [f"{PREFIX}/{p.name}" for p in sorted(CORPUS_DIR.glob("*.py"))]


def run_gradcheck(*args: str) -> dict:
    """The JSON document of ``gradcheck --format json tests/corpus/*.py`` (run from the repo root)."""
    cmd = [sys.executable, "-m", "gradcheck", "--format", "json", "-j", "2", *corpus_targets(), *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "NO_COLOR": "1"})
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"gradcheck exited {proc.returncode}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def score(doc: dict, expected: dict) -> dict:
    got = {r["id"]: r for r in doc["results"]}
    buggy = [k for k, (s, _) in expected.items() if s in ("fail", "error")]
    risky = [k for k, (s, _) in expected.items() if s == "warn"]
    correct = [k for k, (s, _) in expected.items() if s == "pass"]

    def status(k):
        return got[k]["status"] if k in got else "missing"

    caught = [k for k in buggy if status(k) in ("fail", "error")]
    warned = [k for k in risky if status(k) == "warn"]
    false_alarms = [k for k in correct if status(k) != "pass"]
    wrong_check = [k for k in caught if expected[k][1] and
                   next((c["name"] for c in got[k]["checks"] if c["status"] == got[k]["status"]), None) != expected[k][1]]
    return {
        "labeled": len(expected),
        "buggy": len(buggy), "caught": len(caught), "missed": sorted(set(buggy) - set(caught)),
        "risky": len(risky), "warned": len(warned), "risk_mismatch": sorted(set(risky) - set(warned)),
        "correct": len(correct), "false_alarms": sorted(false_alarms),
        "flagged_by_other_check": sorted(wrong_check),
        "unlabeled_results": sorted(set(got) - set(expected)),
        "status_of": {k: status(k) for k in expected},
    }


def describe(s: dict) -> str:
    lines = [
        f"labeled activations: {s['labeled']}",
        f"bugs caught (recall): {s['caught']}/{s['buggy']}",
        f"risks warned: {s['warned']}/{s['risky']}",
        f"false alarms on correct activations: {len(s['false_alarms'])}/{s['correct']}",
        f"bugs flagged first by another check than the label's: {len(s['flagged_by_other_check'])}",
    ]
    for key in ("missed", "risk_mismatch", "false_alarms", "flagged_by_other_check", "unlabeled_results"):
        for k in s[key]:
            lines.append(f"  {key}: {k} -> {s['status_of'].get(k, '?')}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(describe(score(run_gradcheck(*sys.argv[1:]), all_expected())))
