"""Where does barecnn's training time go? cProfile of N training steps, plus a per-layer table.

    python benchmarks/profile_training.py --model kerascnn --steps 10
    python benchmarks/profile_training.py --model lenet5 --batch-size 64 --top 15 --sort cumulative

A training step is the benchmark's: forward, cross-entropy, backward, ``SGD(lr=0.01,
momentum=0.9)`` on random float32 data (after ``--warmup`` untimed steps), unsplit in this process
unless ``--workers`` says otherwise (the profiler sees only this process's share).

How to read cProfile here: NumPy *ufuncs* and the ``@`` operator are not function calls to the
profiler, so the time of ``np.maximum``, ``+=``, ``*`` and of every BLAS matmul is counted in the
``tottime`` of the Python function that runs them (``conv2d_forward``, ``relu_forward``, ...);
NumPy functions and methods (``np.where``, ``ndarray.reshape`` — where im2col's copy happens —
``ndarray.sum``) appear under their own names. The per-layer table (``--no-layers`` to skip)
times each module's forward and backward directly.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]   # the checkout's barecnn, and bench.py beside this file

import bench  # noqa: E402
import numpy as np  # noqa: E402

from barecnn import models  # noqa: E402


def profile_steps(step, steps: int, top: int, sort: str) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.strip_dirs().sort_stats(sort).print_stats(top)


def layer_times(model, step, steps: int) -> list[tuple[str, float, float]]:
    """Seconds per step spent in each top-level module's forward and backward."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    originals = []
    for index, module in enumerate(model):
        label = f"{index}: {module!r}"
        for slot, method in enumerate(("forward", "backward")):
            original = getattr(module, method)
            originals.append((module, method))

            def timed(*args, _original=original, _label=label, _slot=slot, **kwargs):
                start = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    totals[_label][_slot] += time.perf_counter() - start

            setattr(module, method, timed)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    total = time.perf_counter() - start
    for module, method in originals:
        delattr(module, method)
    rows = [(label, f / steps, b / steps) for label, (f, b) in totals.items()]
    rows.append(("everything else (loss, optimizer, glue)", total / steps - sum(f + b for _, f, b in rows), 0.0))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="cProfile of barecnn training steps")
    parser.add_argument("--model", default="kerascnn", choices=list(models.ZOO))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first (page faults, BLAS threads)")
    parser.add_argument("--top", type=int, default=15, help="how many functions to list")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative, ...)")
    parser.add_argument("--layers", action=argparse.BooleanOptionalAction, default=True,
                        help="also time each layer's forward and backward")
    parser.add_argument("--workers", type=int, default=1,
                        help="DataParallel workers; cProfile and the layer table see only this process's "
                             "share, so profile with 1 (the default)")
    args = parser.parse_args(argv)

    model = models.create(args.model, rng=np.random.default_rng(bench.SEED))
    x, y = bench.batch_data(args.batch_size)
    step = bench.barecnn_steps(model, x, y, args.workers)[0]
    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    per_step = (time.perf_counter() - start) / args.steps
    print(f"{args.model}, batch {args.batch_size}: {per_step * 1e3:.1f} ms per training step "
          f"({args.batch_size / per_step:,.0f} img/s) unprofiled; {args.steps} steps profiled, top {args.top} "
          f"by {args.sort}:")
    profile_steps(step, args.steps, args.top, args.sort)
    if args.layers:
        rows = layer_times(model, step, args.steps)
        total = sum(f + b for _, f, b in rows)
        body = [[label, f"{f * 1e3:.2f}", f"{b * 1e3:.2f}", f"{100 * (f + b) / total:.0f}%"] for label, f, b in rows]
        print(bench.table(["layer", "forward ms", "backward ms", "share"], body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
