"""barecnn vs PyTorch, side by side: the tables of ``barecnn bench`` from a script.

    python benchmarks/speed.py                       # everything, about 2-3 minutes
    python benchmarks/speed.py --models lenet5 --seconds 1 --rounds 3 --no-naive --no-memory
    python benchmarks/speed.py --threads 1 --json bench.json

``--threads N`` is applied before NumPy is imported (``OPENBLAS_NUM_THREADS`` and friends), so
NumPy's BLAS really uses N threads even without threadpoolctl; PyTorch gets
``torch.set_num_threads(N)``. See :mod:`barecnn.bench` for what each table measures.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv=None) -> int:
    """Apply ``--threads`` to the environment, then run ``barecnn bench`` with the same options."""
    argv = sys.argv[1:] if argv is None else list(argv)
    threads = _threads_option(argv)
    if threads:
        for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(threads)    # before NumPy's BLAS starts its threads
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from barecnn.cli import main as barecnn_main
    return barecnn_main(["bench", *argv])


def _threads_option(argv) -> int | None:
    """``--threads N`` from the command line, read before anything imports NumPy."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--threads", type=int)
    return pre.parse_known_args(argv)[0].threads


if __name__ == "__main__":
    sys.exit(main())
