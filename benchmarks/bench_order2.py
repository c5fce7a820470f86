#!/usr/bin/env python
"""What does --order 2 cost? The same check at order 1 and at order 2, side by side.

    python benchmarks/bench_order2.py [--sizes 2048,1e5,1e6] [--repeat 5] [--markdown]

Every (activation, size) runs in a fresh child process of this script with the environment of
gradcheck's CLI worker (its malloc settings, as bench_speed.py does). The child warms up with
one check at each order, then times ``gradcheck.check(fn, samples=n, order=k)`` for k = 1 and
k = 2 alternately, ``--repeat`` times each (so both orders see the same machine load), and
reports the best of each, in wall time and in CPU time (the process's, all its threads: less
sensitive to other tenants of a loaded machine); the ratios are order 2 / order 1. The
stability sweep runs at both orders (it is part of the check people run); ``--no-stability``
leaves it out of both.
The activations are bench_activations.py's: swish (elementwise, autodiff), tanh_custom
(hand-written gradient), softmax_last (not elementwise: Hessian-vector products per row).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MARK = "@@ORDER2@@ "
ACTS = ("swish", "tanh_custom", "softmax_last")


def child(act: str, n: int, repeat: int, stability: bool) -> None:
    sys.path.insert(0, HERE)
    import gradcheck
    from bench_activations import ACTIVATIONS

    fn = ACTIVATIONS[act]
    best = {1: float("inf"), 2: float("inf")}
    cpu = {1: float("inf"), 2: float("inf")}
    status = {}
    for order in (1, 2):  # warm-up: TF's first-call set-up and traces, not timed
        gradcheck.check(fn, name=act, samples=n, order=order, stability=stability)
    for _ in range(repeat):
        for order in (1, 2):
            t0, c0 = time.perf_counter(), time.process_time()
            result = gradcheck.check(fn, name=act, samples=n, order=order, stability=stability)
            best[order] = min(best[order], time.perf_counter() - t0)
            cpu[order] = min(cpu[order], time.process_time() - c0)
            status[order] = result.status
    print(MARK + json.dumps({"act": act, "n": n, "order1": best[1], "order2": best[2], "cpu1": cpu[1], "cpu2": cpu[2],
                             "status": status}), flush=True)


def run_child(act: str, n: int, repeat: int, stability: bool) -> dict:
    from gradcheck.worker_process import ALLOCATOR_ENV  # no TensorFlow behind this import

    env = {**ALLOCATOR_ENV, **os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    args = [sys.executable, os.path.abspath(__file__), "--one", act, str(n), "--repeat", str(repeat)]
    if not stability:
        args.append("--no-stability")
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=3600)
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    raise SystemExit(f"child {act} {n} failed:\n{proc.stderr[-3000:]}")


def fmt_s(t: float) -> str:
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="2048,1e5,1e6", help="comma-separated sample counts")
    ap.add_argument("--activations", default=",".join(ACTS))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-stability", action="store_true", help="leave the stability sweep out of both orders")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--one", nargs=2, metavar=("ACT", "N"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        child(a.one[0], int(float(a.one[1])), a.repeat, not a.no_stability)
        return
    load0 = os.getloadavg()[0]
    rows = []
    for act in a.activations.split(","):
        for size in a.sizes.split(","):
            rows.append(run_child(act, int(float(size)), a.repeat, not a.no_stability))
    load1 = os.getloadavg()[0]
    print(f"best of {a.repeat} warm checks per order | stability sweep: {'no' if a.no_stability else 'yes'} | "
          f"1-min load average {load0:.2f} at start, {load1:.2f} at end")
    head = ("activation", "n", "order 1", "order 2", "order 2 / order 1", "CPU order 1", "CPU order 2",
            "CPU ratio", "verdicts (1, 2)")
    lines = [[r["act"], f"{r['n']:g}", fmt_s(r["order1"]), fmt_s(r["order2"]), f"{r['order2'] / r['order1']:.2f}x",
              fmt_s(r["cpu1"]), fmt_s(r["cpu2"]), f"{r['cpu2'] / r['cpu1']:.2f}x",
              f"{r['status']['1']}, {r['status']['2']}"] for r in rows]
    if a.markdown:
        print("| " + " | ".join(head) + " |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
        for line in [head, *lines]:
            print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)))


if __name__ == "__main__":
    main()
