"""Row-major or column-major patch matrix? Times both on every conv shape of the zoo and cs231n's.

    python benchmarks/conv_orders.py [--batch-size 64] [--rounds 5]

For each shape, forward and backward run with the patch matrix in each memory order (the backward
computes the input gradient except for a network's first layer, which needs none in training), interleaved round by round so machine drift hits both; the table shows the best
round of each and the ratio. This is the measurement behind ``COLUMN_MAJOR_BELOW_CHANNELS`` in
``barecnn/functional/conv.py``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from barecnn import models, nn  # noqa: E402
from barecnn.functional import conv  # noqa: E402

ORDERS = {"row-major": 0, "column-major": 10**9}     # values for COLUMN_MAJOR_BELOW_CHANNELS


def zoo_shapes(batch_size: int):
    """``(label, x_shape, w_shape, stride, padding, dtype, need_dx)`` of every distinct conv in the zoo
    (``need_dx`` is False for a network's first layer)."""
    seen = {}
    for name in models.ZOO:
        model = models.create(name, rng=np.random.default_rng(0))
        x = np.zeros((1, 1, 28, 28), model.dtype)
        for index, module in enumerate(model):
            if isinstance(module, nn.Conv2d):
                key = (x.shape[1:], module.weight.shape, module.stride, module.padding, index > 0)
                seen.setdefault(key, f"{name}")
            x = module.eval()(x)
    shapes = [(label, (batch_size, *xs), ws, stride, padding, np.float32, need_dx)
              for (xs, ws, stride, padding, need_dx), label in seen.items()]
    shapes.append(("cs231n float64", (100, 3, 31, 31), (25, 3, 3, 3), (2, 2), (1, 1), np.float64, True))
    return shapes


def step_time(x, w, b, stride, padding, need_dx=True) -> float:
    start = time.perf_counter()
    out, cache = conv.conv2d_forward(x, w, b, stride, padding)
    conv.conv2d_backward(np.ones_like(out), cache, need_dx=need_dx)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=10, help="calls per round (best kept)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'shape':<52} {'row-major ms':>12} {'column-major ms':>15} {'col/row':>8}")
    saved = conv.COLUMN_MAJOR_BELOW_CHANNELS
    try:
        for label, xs, ws, stride, padding, dtype, need_dx in zoo_shapes(args.batch_size):
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal(ws).astype(dtype)
            b = rng.standard_normal(ws[0]).astype(dtype)
            best = {order: float("inf") for order in ORDERS}
            for _ in range(args.rounds):
                for order, threshold in ORDERS.items():
                    conv.COLUMN_MAJOR_BELOW_CHANNELS = threshold
                    for _ in range(args.calls):
                        best[order] = min(best[order], step_time(x, w, b, stride, padding, need_dx))
            row, col = best["row-major"] * 1e3, best["column-major"] * 1e3
            text = f"{label}: x{xs[1:]} w{ws} s{stride[0]} p{padding[0]}" + ("" if need_dx else " (no dx)")
            print(f"{text:<52} {row:>12.3f} {col:>15.3f} {col / row:>8.2f}")
    finally:
        conv.COLUMN_MAJOR_BELOW_CHANNELS = saved
    return 0


if __name__ == "__main__":
    sys.exit(main())
