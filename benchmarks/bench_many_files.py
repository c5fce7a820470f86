"""A run over many small activation modules: its wall time, and what it leaves behind.

    python benchmarks/bench_many_files.py                      # 200 modules, this checkout
    python benchmarks/bench_many_files.py --root OLD --n 200   # another checkout (git worktree)

Writes N modules (one activation each: plain, hand-written gradient, with a kink), runs
``gradcheck FOLDER --format json`` on them through the real CLI (workers and all), and
reports the wall time of each run (best and median of --repeat), the verdicts, and whether
the run left anything in $TMPDIR or in the modules' folder (AutoGraph files, __pycache__).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__: list[str] = []  # nothing here is an activation

KINDS = (
    """import tensorflow as tf


def swish_{i}(x):
    return x * tf.sigmoid({scale} * x)
""",
    """import tensorflow as tf


@tf.custom_gradient
def tanh_{i}(x):
    y = tf.tanh({scale} * x)

    def grad(dy):
        return dy * {scale} * (1.0 - y * y)

    return y, grad
""",
    """import tensorflow as tf


def leaky_{i}(x):
    return tf.where(x > 0, x, {scale} * 0.1 * x)
""",
)


def write_modules(folder: Path, n: int) -> None:
    for i in range(n):
        source = KINDS[i % len(KINDS)].format(i=i, scale=1.0 + i / n)
        (folder / f"m{i:03d}_activation.py").write_text(source)


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def run_once(root: Path, folder: Path, tmp: Path, args: list[str]) -> tuple[float, dict]:
    env = {**os.environ, "PYTHONPATH": str(root), "TMPDIR": str(tmp), "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user's shell has it: unset
    cmd = [sys.executable, "-m", "gradcheck", "--format", "json", str(folder), *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"gradcheck exited {proc.returncode}: {proc.stderr[-2000:]}")
    return elapsed, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1]),
                        help="checkout whose gradcheck runs (default: this one)")
    parser.add_argument("--n", type=int, default=200, help="number of modules (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (default 3)")
    parser.add_argument("gradcheck_args", nargs="*", help="extra gradcheck options, after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gradcheck-bench-") as work:
        folder, tmp = Path(work, "acts"), Path(work, "tmp")
        folder.mkdir()
        tmp.mkdir()
        write_modules(folder, args.n)
        before = snapshot(folder)
        times, doc = [], None
        for _ in range(args.repeat):
            elapsed, doc = run_once(Path(args.root).resolve(), folder, tmp, args.gradcheck_args)
            times.append(elapsed)
        left_tmp = sorted(p.name for p in tmp.iterdir())
        left_folder = sorted(snapshot(folder) - before)
    print(f"{args.n} modules, {len(doc['results'])} activations, summary {doc['summary']}")
    print(f"wall time: best {min(times):.1f} s, median {statistics.median(times):.1f} s ({args.repeat} runs)")
    print(f"left in TMPDIR: {len(left_tmp)} files {left_tmp[:3]}")
    print(f"left in the modules' folder: {len(left_folder)} {left_folder[:3]}")


if __name__ == "__main__":
    main()
