#!/usr/bin/env python
"""How fast is gradcheck? Check time, the forward+backward floor, tf.test.compute_gradient,
peak memory and CLI start-up, side by side in one run.

    python benchmarks/bench_speed.py [--sizes 1e3,1e4,1e5,1e6] [--repeat 3] [--markdown]

Every (activation, size) measurement runs in a fresh child process of this script, so that
peak memory (the child's own ``ru_maxrss``) is per size and TF's tracing caches do not leak
from one measurement to the next. The parent never imports TensorFlow.

Child modes (used by the parent, handy by hand too):

    --one ACT N            gradcheck.api.check(fn, samples=N): cold run, then best of --repeat,
                           with the floor (one eager GradientTape forward+backward on the same
                           N float64 points) timed interleaved with the warm checks
    --one ACT N --floor    the floor alone in its own process, and tf.test.compute_gradient
                           when N <= --tfcg-max
    --profile ACT N        profile --repeat warm checks (pyinstrument if installed, else cProfile)

See benchmarks/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MARK = "@@BENCH@@ "
ACTS = ("swish", "tanh_custom", "softmax_last")
SIMPLE_ACT = "swish"  # the "simple elementwise activation" of the speed target
FLOOR_RUNS = 25  # the floor is timed best of max(FLOOR_RUNS, --repeat)
WIDTH = 8  # gradcheck lays inputs out as (rows, 8); the floor and compute_gradient use the same layout

# Targets (issue "Fast: a million sample points per activation in seconds")
TARGET_N = 1_000_000
TARGET_RATIO = 10.0  # check / floor at 1e6, simple elementwise activation
TARGET_RSS_MB = 1024.0  # peak memory of a check, per process
TARGET_STARTUP = 1.5  # `gradcheck --version` / `python -c "import click, rich"`


# ----------------------------------------------------------------------------- helpers
def maxrss_mb(who=resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MB (Linux reports KB, macOS bytes)."""
    r = resource.getrusage(who).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


def gradcheck_version() -> str:
    try:
        from importlib.metadata import version

        return version("gradcheck")
    except Exception:
        return "?"


def parse_size(s: str) -> int:
    return int(float(s))


def jacobian_gb(n: int) -> float:
    return 8.0 * n * n / 1e9


def fmt_s(t: float | None) -> str:
    if t is None:
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    if t < 1.0:
        return f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def fmt_n(n: int) -> str:
    e = int(round(math.log10(n))) if n > 0 else 0
    return f"1e{e}" if 10 ** e == n else f"{n:g}" if n < 1e4 else f"{n:.0e}".replace("+0", "").replace("+", "")


def _quiet_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if HERE not in sys.path:
        sys.path.insert(0, HERE)


def _emit(out: dict) -> None:
    sys.stdout.write(MARK + json.dumps(out) + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------------- child: gradcheck
def make_floor(fn, n: int):
    """One eager forward + backward pass on n float64 points, shape (n/8, 8), both results
    fetched to NumPy: what any gradient check has to pay at least once."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    rows = -(-n // WIDTH)
    x = tf.constant(rng.uniform(-8.0, 8.0, (rows, WIDTH)), tf.float64)
    u = tf.constant(rng.uniform(0.5, 1.5, (rows, WIDTH)), tf.float64)

    def fwd_bwd():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        g = tape.gradient(y, x, output_gradients=u)
        return y.numpy(), g.numpy()

    return fwd_bwd, rows * WIDTH


def _timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def child_check(act: str, n: int, repeat: int) -> None:
    _quiet_tf()
    t0 = time.perf_counter()
    import tensorflow as tf  # noqa: F401  (imported here so "import" time is separate)
    from bench_activations import ACTIVATIONS, seed_as_a_worker
    from gradcheck.api import check

    fn = ACTIVATIONS[act]
    seed_as_a_worker()
    t_import = time.perf_counter() - t0
    rss_import = maxrss_mb()

    result = None

    def run():
        nonlocal result
        result = check(fn, samples=n)

    cold = _timed(run)  # the first TF work in this process: tracing, kernel set-up
    rss_cold = maxrss_mb()
    # The floor is timed here too, interleaved with the warm checks, so that load from other
    # processes (a 2-core machine) hits numerator and denominator of the ratio alike.
    floor, _ = make_floor(fn, n)
    floor()  # warm-up
    per_round = max(5, -(-FLOOR_RUNS // max(repeat, 1)))
    warm, floors = [], []
    for _ in range(repeat):
        warm.append(_timed(run))
        floors += [_timed(floor) for _ in range(per_round)]
    rss_peak = maxrss_mb()  # the floor allocates far less than a check: the peak is the check's
    fd = next((c for c in result.checks if c.name in ("gradient_vs_fd", "vjp_vs_fd")), None)
    _emit({
        "mode": "check", "act": act, "n": n, "import_s": t_import, "cold_s": cold, "warm_s": warm,
        "best_s": min(warm) if warm else cold, "floor_s": min(floors) if floors else None,
        "floor_median_s": statistics.median(floors) if floors else None,
        "rss_import_mb": rss_import, "rss_cold_mb": rss_cold,
        "rss_peak_mb": rss_peak, "status": result.status, "message": result.message,
        "checks": {c.name: c.status for c in result.checks}, "fd_message": fd.message if fd else None,
    })


# ----------------------------------------------------------------------------- child: floor + tf.test
def child_floor(act: str, n: int, repeat: int, tfcg_max: int) -> None:
    _quiet_tf()
    import numpy as np
    import tensorflow as tf
    from bench_activations import ACTIVATIONS

    fn = ACTIVATIONS[act]
    rss_import = maxrss_mb()
    rng = np.random.default_rng(1)
    rows = -(-n // WIDTH)
    floor, n_pad = make_floor(fn, n)
    floor_cold = _timed(floor)
    times = [_timed(floor) for _ in range(max(FLOOR_RUNS, repeat))]
    out = {"mode": "floor", "act": act, "n": n_pad, "floor_cold_s": floor_cold, "floor_alone_s": min(times),
           "floor_alone_median_s": statistics.median(times), "rss_import_mb": rss_import, "rss_floor_mb": maxrss_mb()}

    if n <= tfcg_max:
        # the same n points, in the same (rows, 8) layout
        x0 = tf.constant(rng.uniform(-8.0, 8.0, (rows, WIDTH)), tf.float64)
        t = time.perf_counter()
        theo, num = tf.test.compute_gradient(fn, [x0])
        tcold = time.perf_counter() - t
        ttimes = []
        if tcold < 20.0:  # quadratic: do not repeat the slow ones
            for _ in range(repeat):
                t = time.perf_counter()
                theo, num = tf.test.compute_gradient(fn, [x0])
                ttimes.append(time.perf_counter() - t)
        out.update(tfcg_cold_s=tcold, tfcg_s=min(ttimes) if ttimes else tcold,
                   tfcg_max_err=float(np.max(np.abs(theo[0] - num[0]))), rss_tfcg_mb=maxrss_mb())
    _emit(out)


# ----------------------------------------------------------------------------- child: profile
def check_activation_module() -> str:
    """The package holding the numerical core (``check_activation``), wherever it lives now."""
    import gradcheck.api as api

    with open(api.__file__, encoding="utf-8") as fh:
        src = fh.read()
    m = re.search(r"from \.(\w+) import check_activation", src)
    return f"gradcheck.{m.group(1)}" if m else "gradcheck"


def child_profile(act: str, n: int, profiler: str, repeat: int) -> None:
    _quiet_tf()
    import tensorflow as tf  # noqa: F401
    from bench_activations import ACTIVATIONS, seed_as_a_worker
    from gradcheck.api import check

    fn = ACTIVATIONS[act]
    seed_as_a_worker()
    check(fn, samples=n)  # warm-up: tracing excluded
    if profiler == "pyinstrument":
        try:
            from pyinstrument import Profiler
        except ImportError:
            print("pyinstrument is not installed (pip install pyinstrument): using cProfile", file=sys.stderr)
            profiler = "cprofile"
    print(f"# profile of {repeat} warm check(s) of {act} at n={n}: divide times by {repeat} for one check")
    if profiler == "pyinstrument":
        p = Profiler(interval=0.001)
        p.start()
        for _ in range(repeat):
            check(fn, samples=n)
        p.stop()
        print(p.output_text(unicode=False, color=False, show_all=False))
        return
    import cProfile
    import pstats

    pr = cProfile.Profile()
    pr.enable()
    for _ in range(repeat):
        check(fn, samples=n)
    pr.disable()
    st = pstats.Stats(pr)
    core = os.path.dirname(sys.modules[check_activation_module()].__file__)
    st.sort_stats("cumulative").print_stats(re.escape(core), 40)
    st.sort_stats("tottime").print_stats(25)


# ----------------------------------------------------------------------------- parent
def child_env(malloc: str) -> dict:
    """The environment of a measuring child: that of gradcheck's CLI worker (its glibc malloc
    settings, gradcheck.worker_process.ALLOCATOR_ENV) unless ``malloc == "default"``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if malloc == "worker":
        from gradcheck.worker_process import ALLOCATOR_ENV  # no TensorFlow behind this import

        env = {**ALLOCATOR_ENV, **env}
    return env


def run_child(args: list[str], timeout: float, malloc: str = "worker") -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), *args]
    env = child_env(malloc)
    before = maxrss_mb(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    after = maxrss_mb(resource.RUSAGE_CHILDREN)
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(MARK):
            out = json.loads(line[len(MARK):])
            # Cross-check from the parent's side: RUSAGE_CHILDREN is the largest peak of any
            # waited-for child so far, so it names this child's peak only when it went up.
            out["rss_children_mb"] = after if after > before else None
            return out
    tail = "\n".join((p.stderr or "").strip().splitlines()[-15:])
    raise RuntimeError(f"child {' '.join(args)} failed (exit {p.returncode}):\n{tail}")


def wall_medians(cmds: dict[str, list[str]], runs: int = 5) -> dict[str, list[float]]:
    """Wall times of each command, ``runs`` rounds interleaved (so that a burst of load elsewhere
    hits every command alike), after one untimed run of each (page cache)."""
    for cmd in cmds.values():
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=ROOT)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(runs):
        for key, cmd in cmds.items():
            t = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=ROOT)
            times[key].append(time.perf_counter() - t)
    return times


def importtime(args: list[str]) -> tuple[int, list[tuple[int, int, str]]]:
    """Run ``python -X importtime ARGS``: (lines naming tensorflow in stdout+stderr, as
    ``... 2>&1 | grep -c tensorflow`` counts them; [(cumulative us, depth, module)] for the
    imports at depth 0 and 1, slowest first)."""
    p = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True, cwd=ROOT)
    text = p.stdout + p.stderr
    n_tf = sum("tensorflow" in line for line in text.splitlines())
    top = []
    for line in p.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2]
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if depth <= 1:
            top.append((int(parts[1]), depth, name.strip()))
    top.sort(reverse=True)
    return n_tf, top


def measure_startup() -> dict:
    gc_exe = os.path.join(os.path.dirname(sys.executable), "gradcheck")
    if not os.path.exists(gc_exe):
        gc_cmd = [sys.executable, "-m", "gradcheck", "--version"]
    else:
        gc_cmd = [gc_exe, "--version"]
    base_cmd = [sys.executable, "-c", "import click, rich"]
    py_cmd = [sys.executable, "-c", "pass"]
    t = wall_medians({"gc": gc_cmd, "base": base_cmd, "python": py_cmd})
    gc, gc_all = statistics.median(t["gc"]), t["gc"]
    base, base_all = statistics.median(t["base"]), t["base"]
    py = statistics.median(t["python"])
    n_tf_help, _ = importtime(["-m", "gradcheck", "--help"])
    n_tf_version, top_version = importtime(["-m", "gradcheck", "--version"])
    _, top_base = importtime(["-c", "import click, rich"])
    return {"gc_cmd": " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(gc_cmd)),
            "gc_s": gc, "gc_all": gc_all, "base_s": base, "base_all": base_all, "python_s": py,
            "tf_lines_help": n_tf_help, "tf_lines_version": n_tf_version,
            "top_version": top_version[:8], "top_base": top_base[:5]}


def floor_of(results: dict, act: str, n: int) -> float:
    """The floor used for ratios: the faster of the two best-of-N floors (interleaved with the
    checks, and in a process of its own). Noise only ever adds time, so the smaller is the
    better estimate of the pass, and check/floor the stricter ratio."""
    return min(results[("check", act, n)]["floor_s"], results[("floor", act, n)]["floor_alone_s"])


def build_rows(results: dict, sizes: list[int], tfcg_max: int) -> list[dict]:
    rows = []
    for act in ACTS:
        for n in sizes:
            c = results[("check", act, n)]
            f = results[("floor", act, n)]
            if "tfcg_s" in f:
                tfcg = fmt_s(f["tfcg_s"])
            else:
                tfcg = f"n/a (n x n Jacobian = {jacobian_gb(n):.3g} GB)"
            rows.append({
                "activation": act, "n": fmt_n(n), "verdict": c["status"],
                "check cold": fmt_s(c["cold_s"]), "check best": fmt_s(c["best_s"]),
                "floor": fmt_s(floor_of(results, act, n)),
                "check/floor": f"{c['best_s'] / floor_of(results, act, n):.1f}x",
                "tf.test.compute_gradient": tfcg,
                "tfcg/check": f"{f['tfcg_s'] / c['best_s']:.0f}x" if "tfcg_s" in f else "-",
                "peak RSS": f"{c['rss_peak_mb']:.0f} MB",
                "+RSS over import": f"{c['rss_peak_mb'] - c['rss_import_mb']:.0f} MB",
                "floor peak RSS": f"{f['rss_floor_mb']:.0f} MB",
            })
    return rows


COLS = ("activation", "n", "verdict", "check cold", "check best", "floor", "check/floor",
        "tf.test.compute_gradient", "tfcg/check", "peak RSS", "+RSS over import", "floor peak RSS")
RIGHT = {"n", "check cold", "check best", "floor", "check/floor", "tfcg/check", "peak RSS", "+RSS over import",
         "floor peak RSS"}


def render(rows: list[dict], markdown: bool) -> str:
    if markdown:
        out = ["| " + " | ".join(COLS) + " |",
               "| " + " | ".join("---:" if c in RIGHT else "---" for c in COLS) + " |"]
        out += ["| " + " | ".join(r[c] for c in COLS) + " |" for r in rows]
        return "\n".join(out)
    w = {c: max(len(c), *(len(r[c]) for r in rows)) for c in COLS}
    line = "  ".join(c.rjust(w[c]) if c in RIGHT else c.ljust(w[c]) for c in COLS)
    out = [line, "-" * len(line)]
    prev = None
    for r in rows:
        if prev is not None and r["activation"] != prev:
            out.append("")
        prev = r["activation"]
        out.append("  ".join(r[c].rjust(w[c]) if c in RIGHT else r[c].ljust(w[c]) for c in COLS))
    return "\n".join(out)


def targets(results: dict, sizes: list[int], startup: dict | None) -> list[str]:
    lines = []
    if TARGET_N in sizes:
        c = results[("check", SIMPLE_ACT, TARGET_N)]
        floor = floor_of(results, SIMPLE_ACT, TARGET_N)
        ratio = c["best_s"] / floor
        ok = ratio <= TARGET_RATIO
        lines.append(f"{'PASS' if ok else 'MISS'}  speed: check({SIMPLE_ACT}) at 1e6 points = {fmt_s(c['best_s'])} = "
                     f"{ratio:.1f}x one forward+backward ({fmt_s(floor)}); target <= {TARGET_RATIO:g}x")
        for act in ACTS:
            if act != SIMPLE_ACT:
                c2 = results[("check", act, TARGET_N)]
                lines.append(f"      (info) {act}: {fmt_s(c2['best_s'])} = "
                             f"{c2['best_s'] / floor_of(results, act, TARGET_N):.1f}x its floor")
    else:
        lines.append("n/a   speed: 1e6 not among --sizes")
    peaks = [(results[("check", a, n)]["rss_peak_mb"], a, n) for a in ACTS for n in sizes]
    peak, pa, pn = max(peaks)
    ok = peak < TARGET_RSS_MB
    scope = "at 1e6 points" if TARGET_N in sizes else f"up to {fmt_n(max(sizes))} points"
    lines.append(f"{'PASS' if ok else 'MISS'}  memory: peak RSS of a check process {scope} = {peak:.0f} MB "
                 f"({pa}, n={fmt_n(pn)}; {peak - results[('check', pa, pn)]['rss_import_mb']:.0f} MB over the "
                 f"process after importing TF); target < 1 GB")
    if startup:
        r = startup["gc_s"] / startup["base_s"]
        ok = r <= TARGET_STARTUP
        lines.append(f"{'PASS' if ok else 'MISS'}  start-up: `gradcheck --version` {fmt_s(startup['gc_s'])} = {r:.2f}x "
                     f"`python -c \"import click, rich\"` ({fmt_s(startup['base_s'])}); target <= {TARGET_STARTUP:g}x "
                     f"(bare python: {fmt_s(startup['python_s'])})")
        ok = startup["tf_lines_help"] == 0
        lines.append(f"{'PASS' if ok else 'MISS'}  `python -X importtime -m gradcheck --help 2>&1 | grep -c tensorflow`"
                     f" = {startup['tf_lines_help']} (must be 0)")
    return lines


def main(argv=None) -> int:
    global ACTS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1e3,1e4,1e5,1e6", help="comma-separated sample counts (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs after the warm-up; the best is reported")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--activations", default=",".join(ACTS), help="subset of %(default)s")
    ap.add_argument("--tfcg-max", type=parse_size, default=4000,
                    help="largest n for tf.test.compute_gradient (n x n Jacobian; default %(default)s)")
    ap.add_argument("--no-startup", action="store_true", help="skip the CLI start-up measurements")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per child process")
    ap.add_argument("--json", metavar="FILE", help="also write the raw measurements to FILE")
    ap.add_argument("--one", nargs=2, metavar=("ACT", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile", nargs=2, metavar=("ACT", "N"),
                    help="profile --repeat warm checks of ACT at N points (after a warm-up) and exit")
    ap.add_argument("--profiler", choices=("pyinstrument", "cprofile"), default="pyinstrument")
    ap.add_argument("--malloc", choices=("worker", "default"), default="worker",
                    help="children run with the CLI worker's glibc malloc settings (default) or the C library's defaults")
    a = ap.parse_args(argv)

    if a.one:
        act, n = a.one[0], parse_size(a.one[1])
        if a.floor:
            child_floor(act, n, a.repeat, a.tfcg_max)
        else:
            child_check(act, n, a.repeat)
        return 0
    if a.profile:
        child_profile(a.profile[0], parse_size(a.profile[1]), a.profiler, a.repeat)
        return 0

    ACTS = tuple(s.strip() for s in a.activations.split(",") if s.strip())
    sizes = [parse_size(s) for s in a.sizes.split(",") if s.strip()]
    load0 = os.getloadavg()
    print(f"gradcheck speed benchmark: python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"sizes {', '.join(fmt_n(n) for n in sizes)}, best of {a.repeat} after a warm-up", file=sys.stderr)
    results: dict = {}
    t_all = time.perf_counter()
    for act in ACTS:
        for n in sizes:
            for mode in ("check", "floor"):
                print(f"  {act:<13} n={fmt_n(n):<5} {mode} ...", end="", file=sys.stderr, flush=True)
                t = time.perf_counter()
                args = ["--one", act, str(n), "--repeat", str(a.repeat), "--tfcg-max", str(a.tfcg_max)]
                results[(mode, act, n)] = run_child(args + (["--floor"] if mode == "floor" else []), a.timeout,
                                                    a.malloc)
                print(f" {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    startup = None
    if not a.no_startup:
        print("  start-up ...", file=sys.stderr, flush=True)
        startup = measure_startup()
    print(f"  (benchmark took {time.perf_counter() - t_all:.0f} s)\n", file=sys.stderr)

    load1 = os.getloadavg()
    rows = build_rows(results, sizes, a.tfcg_max)
    print(f"gradcheck {gradcheck_version()} | python {sys.version.split()[0]} | {os.cpu_count()} CPUs | "
          f"best of {a.repeat} warm runs | malloc: {a.malloc} | 1-min load average {load0[0]:.2f} at start, {load1[0]:.2f} at end"
          + (" (other processes were busy: times are inflated)" if max(load0[0], load1[0]) > 0.5 * (os.cpu_count() or 1)
             else ""))
    print()
    print(render(rows, a.markdown))
    print()
    print("verdicts (last warm run of each check child):")
    for act in ACTS:
        for n in sizes:
            c = results[("check", act, n)]
            print(f"  {act:<13} n={fmt_n(n):<5} {c['status']:<5} {c['fd_message'] or c['message']}")
    print("floor: in the check's process (interleaved) vs in a process of its own (best / median); ratios use the smaller best:")
    for act in ACTS:
        for n in sizes:
            c, f = results[("check", act, n)], results[("floor", act, n)]
            print(f"  {act:<13} n={fmt_n(n):<5} {fmt_s(c['floor_s']):>9} / {fmt_s(c['floor_median_s']):>9}"
                  f"   own process {fmt_s(f['floor_alone_s']):>9} / {fmt_s(f['floor_alone_median_s']):>9}")
    tf_rows = [(act, n, results[("floor", act, n)]) for act in ACTS for n in sizes if "tfcg_s" in results[("floor", act, n)]]
    if tf_rows:
        print("tf.test.compute_gradient: max |theoretical - numerical Jacobian|, peak RSS of its child:")
        for act, n, f in tf_rows:
            print(f"  {act:<13} n={fmt_n(n):<5} {f['tfcg_max_err']:.2e}  {f['rss_tfcg_mb']:.0f} MB"
                  f"  (cold {fmt_s(f['tfcg_cold_s'])})")
    if startup:
        print()
        print("start-up (median of 5 wall times, runs interleaved, after one untimed run of each):")
        print(f"  {startup['gc_cmd']:<36} {fmt_s(startup['gc_s'])}   runs: "
              + ", ".join(fmt_s(t) for t in startup["gc_all"]))
        base_label = 'python -c "import click, rich"'
        print(f"  {base_label:<36} {fmt_s(startup['base_s'])}   runs: "
              + ", ".join(fmt_s(t) for t in startup["base_all"]))
        print(f"  {'python -c pass':<36} {fmt_s(startup['python_s'])}")
        print(f"  python -X importtime -m gradcheck --help 2>&1 | grep -c tensorflow     -> {startup['tf_lines_help']}")
        print(f"  python -X importtime -m gradcheck --version 2>&1 | grep -c tensorflow  -> {startup['tf_lines_version']}")
        print("  slowest imports of `python -m gradcheck --version` (cumulative):")
        for us, depth, name in startup["top_version"]:
            print(f"    {'  ' * depth}{name:<30} {us / 1000:7.1f} ms")
        print('  slowest imports of `python -c "import click, rich"` (cumulative):')
        for us, depth, name in startup["top_base"]:
            print(f"    {'  ' * depth}{name:<30} {us / 1000:7.1f} ms")
    print()
    print("targets:")
    for line in targets(results, sizes, startup):
        print("  " + line)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"sizes": sizes, "repeat": a.repeat, "startup": startup,
                       "results": [{"mode": k[0], **v} for k, v in results.items()]}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
