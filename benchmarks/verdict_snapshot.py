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

CORPUS = "tests/corpus"  # stands for its files, named one by one (see _targets)
RUNS = {
    "corpus": [CORPUS],
    "corpus@100k": [CORPUS, "--samples", "100000"],
    "samples": ["sample_activations"],
}
VOLATILE = ("duration", "timings")


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _targets(root: Path, args: list[str]) -> list[str]:
    """``args`` with the corpus folder replaced by its ``*.py`` files: a folder target imports
    only activation files (named ``*activation*`` or marked), which the corpus modules are not."""
    out = []
    for arg in args:
        out += sorted(f"{CORPUS}/{p.name}" for p in (root / CORPUS).glob("*.py")) if arg == CORPUS else [arg]
    return out


def snapshot(root: Path, runs=tuple(RUNS)) -> dict:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(root)}
    out = {}
    for name in runs:
        cmd = [sys.executable, "-m", "gradcheck", "--format", "json", "-j", "2", *_targets(root, RUNS[name])]
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
