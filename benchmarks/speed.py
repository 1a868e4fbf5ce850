"""barecnn vs PyTorch, side by side (the benchmark lives outside the package: the library never
imports torch; this script does, when it is installed).

    python benchmarks/speed.py                       # everything, about 2-3 minutes
    python benchmarks/speed.py --models lenet5 --seconds 1 --rounds 3 --no-naive --no-memory
    python benchmarks/speed.py --threads 1 --json bench.json

``--threads N`` is applied before NumPy is imported (``OPENBLAS_NUM_THREADS`` and friends), so
NumPy's BLAS really uses N threads even without threadpoolctl; PyTorch gets
``torch.set_num_threads(N)``. See ``benchmarks/bench.py`` for what each table measures.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="lenet5,kerascnn,barenet", help="comma-separated zoo models")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=None, help="BLAS, PyTorch and DataParallel threads (default: all cores)")
    parser.add_argument("--naive", action=argparse.BooleanOptionalAction, default=True,
                        help="include the naive-vs-fast table")
    parser.add_argument("--conv", action=argparse.BooleanOptionalAction, default=True,
                        help="include the conv GFLOP/s table")
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True,
                        help="include the peak-memory table")
    parser.add_argument("--memory-model", default="kerascnn")
    parser.add_argument("--json", metavar="PATH", help="also write every number to PATH")
    return parser


def main(argv=None) -> int:
    """Apply ``--threads`` to the environment before NumPy is imported, then run the benchmark."""
    args = build_parser().parse_args(argv)
    if args.threads:
        for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(args.threads)    # before NumPy's BLAS starts its threads
    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here.parent), str(here)]        # the checkout's barecnn, and bench.py beside us
    from bench import main as bench_main
    return bench_main(args)


if __name__ == "__main__":
    sys.exit(main())
