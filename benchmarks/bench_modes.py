"""Time of one default check (2048 samples, warm, in-process) of a function, a custom-gradient
function and layers with and without a ``training`` argument, in this checkout and another.

    python benchmarks/bench_modes.py                          # this checkout only
    python benchmarks/bench_modes.py --base /path/to/other    # and another one (a git worktree), interleaved

The activations (this checkout's, whichever gradcheck checks them): ``swish``,
``tanh_custom`` and ``softmax_last`` from bench_activations.py, a layer with a trainable slope with and without a
``training`` argument (its two modes compute the same), and from the corpus
(tests/corpus/network_modes_5.py) ``DropoutSwish`` (random in training) and
``BatchCenteredTanh`` (batch statistics in training, a moving mean in inference: two
computations). Each (checkout, round) is a fresh child process that imports TensorFlow,
warms every activation up with one check, then times ``--repeat`` checks of each; the best over all
rounds is reported (the machine is shared: the minimum is the least disturbed run), as wall
time and as the process's CPU time (all threads; less disturbed by other tenants).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

__all__: list[str] = []  # nothing here is an activation

HERE = Path(__file__).resolve().parent

CHILD = r'''
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
repeat, here, corpus = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path[:0] = [here, corpus]
import keras
import tensorflow as tf
import gradcheck
from bench_activations import seed_as_a_worker, softmax_last, swish, tanh_custom
from network_modes_5 import BatchCenteredTanh, DropoutSwish


class SlopeSwish(keras.layers.Layer):
    def build(self, input_shape):
        self.a = self.add_weight(name="a", shape=(), initializer=keras.initializers.Constant(0.25))

    def call(self, x):
        return tf.where(x > 0, x, self.a * x) * tf.sigmoid(x)


class SlopeSwishTraining(SlopeSwish):
    """The same computation; its call takes training (both modes compute the same)."""

    def call(self, x, training=None):
        return super().call(x)


ACTS = {"swish (function)": swish, "tanh_custom (custom_gradient)": tanh_custom,
        "softmax_last (row-wise function)": softmax_last,
        "SlopeSwish (layer)": SlopeSwish, "SlopeSwishTraining (layer, training arg)": SlopeSwishTraining,
        "DropoutSwish (layer, dropout in training)": DropoutSwish,
        "BatchCenteredTanh (layer, the modes differ)": BatchCenteredTanh}
seed_as_a_worker()
out = {}
for name, act in ACTS.items():
    gradcheck.check(act)
    times, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        r = gradcheck.check(act)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    out[name] = {"best": min(times), "cpu": min(cpu), "status": r.status}
print(json.dumps(out))
'''


def measure(root: Path, repeat: int) -> dict:
    """One child process's best times, with gradcheck imported from ``root``. The child's
    activations live in a file (gradcheck reads their source for special points)."""
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench_modes_child.py"
        script.write_text(CHILD)
        proc = subprocess.run([sys.executable, str(script), str(repeat), str(HERE), str(HERE.parent / "tests" / "corpus")],
                              cwd=root, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode:
        raise SystemExit(f"{root}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="another checkout to time the same way (before/after)")
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per checkout, interleaved")
    parser.add_argument("--repeat", type=int, default=7, help="timed checks per activation in each process")
    args = parser.parse_args()
    roots = {"this": HERE.parent}
    if args.base:
        roots = {"base": Path(args.base).resolve(), **roots}
    best: dict = {label: {} for label in roots}
    for _ in range(args.rounds):
        for label, root in roots.items():
            for name, m in measure(root, args.repeat).items():
                old = best[label].setdefault(name, m)
                old["best"], old["cpu"] = min(old["best"], m["best"]), min(old["cpu"], m["cpu"])
    names = list(next(iter(best.values())))
    head = " | ".join(f"{label}: wall, CPU" for label in roots)
    print(f"| activation | {head} |" + (" this/base wall, CPU |" if args.base else ""))
    print("| --- |" + " ---: |" * len(roots) + (" ---: |" if args.base else ""))
    for name in names:
        cells = " | ".join(f"{best[label][name]['best'] * 1e3:.1f} ms, {best[label][name]['cpu'] * 1e3:.1f} ms "
                           f"({best[label][name]['status']})" for label in roots)
        ratio = ""
        if args.base:
            b, t = best["base"][name], best["this"][name]
            ratio = f" {t['best'] / b['best']:.2f}x, {t['cpu'] / b['cpu']:.2f}x |"
        print(f"| {name} | {cells} |{ratio}")


if __name__ == "__main__":
    main()
