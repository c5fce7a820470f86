"""Every verdict and message of a gradcheck version, as one JSON file to diff.

    python benchmarks/verdict_snapshot.py after.json                 # this checkout
    python benchmarks/verdict_snapshot.py before.json --root OLD     # another checkout (git worktree)
    diff before.json after.json                                      # nothing: same verdicts

Runs ``gradcheck --format json`` on the labeled corpus (default samples and 100k samples)
and on sample_activations/, and keeps everything but what changes from run to run
(durations, timings). A refactoring that keeps behaviour gives an identical file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

__all__: list[str] = []  # nothing here is an activation

RUNS = {
    "corpus": ["tests/corpus"],
    "corpus@100k": ["tests/corpus", "--samples", "100000"],
    "samples": ["sample_activations"],
}
VOLATILE = ("duration", "timings")


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def snapshot(root: Path, runs=tuple(RUNS)) -> dict:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(root)}
    out = {}
    for name in runs:
        cmd = [sys.executable, "-m", "gradcheck", "--format", "json", "-j", "2", *RUNS[name]]
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env, timeout=3600)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{name}: gradcheck exited {proc.returncode}: {proc.stderr[-2000:]}")
        out[name] = _strip(json.loads(proc.stdout))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="JSON file to write")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1]),
                        help="checkout whose gradcheck runs (default: this one)")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"subset of {','.join(RUNS)}")
    args = parser.parse_args()
    doc = snapshot(Path(args.root).resolve(), tuple(args.runs.split(",")))
    Path(args.out).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
