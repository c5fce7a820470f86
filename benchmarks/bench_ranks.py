"""What the ranks check adds to one check: the same check with and without its step,
alternately, in one warm process (the step list is swapped; nothing else changes), best of
``REPEAT`` runs as wall and CPU time (the CPU time is steadier on a shared machine).

    python benchmarks/bench_ranks.py [SAMPLES [REPEAT [NAME,NAME...]]]     # default 2048 9, all

Activations: ``swish``, ``tanh_custom`` and ``softmax_last`` (bench_activations.py), and from
tests/corpus/network_ranks_6.py a hand-written softmax gradient and a layer with a
per-feature weight (built afresh for each rank).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

__all__: list[str] = []  # nothing here is an activation

HERE = Path(__file__).resolve().parent


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "corpus")]
    import gradcheck
    from bench_activations import softmax_last, swish, tanh_custom
    from gradcheck.verify import pipeline
    from network_ranks_6 import PerFeatureScaledSilu, softmax_custom_last_axis

    samples = int(float(sys.argv[1])) if len(sys.argv) > 1 else 2048
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    acts = {"swish": swish, "tanh_custom": tanh_custom, "softmax_last": softmax_last,
            "softmax_custom_last_axis": softmax_custom_last_axis, "PerFeatureScaledSilu": PerFeatureScaledSilu}
    if len(sys.argv) > 3:
        acts = {k: v for k, v in acts.items() if k in sys.argv[3].split(",")}
    full = pipeline.STEPS
    without = tuple(s for s in full if s.name != "ranks")
    print(f"| activation ({samples} samples) | without ranks: wall, CPU | with ranks: wall, CPU | CPU with/without |")
    print("| --- | ---: | ---: | ---: |")
    for name, act in acts.items():
        best = {}
        for steps in (full, without):  # warm up both
            pipeline.STEPS = steps
            gradcheck.check(act, samples=samples)
        for _ in range(repeat):
            for label, steps in (("with", full), ("without", without)):
                pipeline.STEPS = steps
                t, c = time.perf_counter(), time.process_time()
                gradcheck.check(act, samples=samples)
                wall, cpu = time.perf_counter() - t, time.process_time() - c
                b = best.setdefault(label, [wall, cpu])
                b[0], b[1] = min(b[0], wall), min(b[1], cpu)
        pipeline.STEPS = full
        wo, wi = best["without"], best["with"]
        print(f"| {name} | {wo[0] * 1e3:.1f} ms, {wo[1] * 1e3:.1f} ms | {wi[0] * 1e3:.1f} ms, {wi[1] * 1e3:.1f} ms | "
              f"{wi[1] / wo[1]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
