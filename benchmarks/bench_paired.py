"""The default check (2048 samples) of a function and a custom-gradient function in this
checkout against another, in fresh processes run in turn (A B A B ...) so that a drift of
the machine's speed hits both alike; the ratio is taken pair by pair and its median reported.

    python benchmarks/bench_paired.py --base /path/to/other/checkout [--pairs 5] [--checks 50]

Each process imports gradcheck (and TensorFlow), warms up with three checks of each
activation, then runs ``--checks`` checks of each; a process that only imports is timed the
same way, and its time is taken off, so the figures are the checks' own CPU time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

__all__: list[str] = []  # nothing here is an activation

HERE = Path(__file__).resolve().parent
LOOP = f"""
import os, sys
sys.path.insert(0, {str(HERE)!r})
import gradcheck
from bench_activations import seed_as_a_worker, swish, tanh_custom
seed_as_a_worker()
n = int(os.environ["GC_CHECKS"])
for _ in range(3 if n else 0):
    gradcheck.check(swish); gradcheck.check(tanh_custom)
for _ in range(n):
    gradcheck.check(swish); gradcheck.check(tanh_custom)
"""


def cpu_seconds(root: str, checks: int) -> float:
    """User + system CPU seconds of one fresh process running the loop with ``root``'s gradcheck."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "PYTHONPATH": root, "GC_CHECKS": str(checks)}
    subprocess.run([sys.executable, "-c", LOOP], env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the other checkout (B)")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--checks", type=int, default=50, help="checks of each activation per process")
    args = ap.parse_args()
    this = str(HERE.parent)
    per_check = {this: [], args.base: []}
    ratios = []
    for _ in range(args.pairs):
        pair = {}
        for root in (this, args.base):
            work = cpu_seconds(root, args.checks) - cpu_seconds(root, 0)
            pair[root] = work / (2 * args.checks)
            per_check[root].append(pair[root])
        ratios.append(pair[this] / pair[args.base])
    med = {r: statistics.median(v) * 1000 for r, v in per_check.items()}
    print(f"this checkout: {med[this]:.1f} ms a check (median of {args.pairs})")
    print(f"base {args.base}: {med[args.base]:.1f} ms a check")
    print(f"this/base, pair by pair: median {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")


if __name__ == "__main__":
    main()
