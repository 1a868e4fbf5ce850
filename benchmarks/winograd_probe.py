"""Would Winograd F(2x2, 3x3) pay in NumPy? A forward-only probe on kerascnn's second convolution.

    python benchmarks/winograd_probe.py

Winograd's minimal filtering (Lavin & Gray, 2015) computes each 2x2 output tile from a 4x4 input
tile with 16 multiplies per channel pair instead of 36: ``Y = A^T [(G g G^T) * (B^T d B)] A``.
As matrices: transform the input tiles (``B^T d B``), run 16 matmuls of (tiles, C) by (C, F), and
transform back (``A^T M A``). The matmuls do 2.25x fewer flops than im2col's, but in NumPy each
transform step is a separate pass over arrays larger than the im2col matrix, so memory traffic
decides. This probe times both on x (64, 32, 26, 26) * w (64, 32, 3, 3), checks they agree, and
prints the times; it is not part of the library.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import as_strided  # noqa: E402

from barecnn.functional import conv  # noqa: E402

G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float32)


def b_transpose(rows, out):
    """``B^T`` applied along the first axis of ``rows`` (4 slices): d0-d2, d1+d2, d2-d1, d1-d3."""
    d0, d1, d2, d3 = rows
    np.subtract(d0, d2, out=out[0])
    np.add(d1, d2, out=out[1])
    np.subtract(d2, d1, out=out[2])
    np.subtract(d1, d3, out=out[3])
    return out


def winograd_forward(x_nhwc: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Stride-1, unpadded 3x3 convolution of ``x (N, H, W, C)`` with ``w (F, C, 3, 3)`` (H-2 and W-2
    even); returns ``(N, H-2, W-2, F)``."""
    N, H, W, C = x_nhwc.shape
    F = w.shape[0]
    th, tw = (H - 2) // 2, (W - 2) // 2
    U = np.einsum("ai,fcij,bj->abcf", G, w, G).reshape(16, C, F)           # G g G^T per channel pair
    sN, sH, sW, sC = x_nhwc.strides
    tiles = as_strided(x_nhwc, shape=(N, th, tw, 4, 4, C), strides=(sN, 2 * sH, 2 * sW, sH, sW, sC))
    rows = b_transpose([tiles[:, :, :, k] for k in range(4)], np.empty((4, N, th, tw, 4, C), np.float32))
    V = b_transpose([rows[:, :, :, :, k] for k in range(4)], np.empty((4, 4, N, th, tw, C), np.float32))
    V = V.transpose(1, 0, 2, 3, 4, 5)                                       # (a, b) = (row, column)
    M = np.matmul(V.reshape(16, N * th * tw, C), U).reshape(4, 4, N, th, tw, F)
    s0, s1 = M[0] + M[1] + M[2], M[1] - M[2] - M[3]                          # A^T along rows
    out = np.empty((N, th, 2, tw, 2, F), np.float32)
    for r, s in enumerate((s0, s1)):                                        # A^T along columns
        out[:, :, r, :, 0] = s[0] + s[1] + s[2]
        out[:, :, r, :, 1] = s[1] - s[2] - s[3]
    return out.reshape(N, 2 * th, 2 * tw, F)


def best_ms(fn, calls: int = 10) -> float:
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main(argv=None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 26, 26, 32)).astype(np.float32)
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    reference, _ = conv.conv2d_forward(x.transpose(0, 3, 1, 2), w, None)
    result = winograd_forward(x, w).transpose(0, 3, 1, 2)
    error = np.abs(result - reference).max() / np.abs(reference).max()
    im2col = best_ms(lambda: conv.conv2d_forward(x.transpose(0, 3, 1, 2), w, None))
    winograd = best_ms(lambda: winograd_forward(x, w))
    print(f"kerascnn conv2 forward, float32: im2col {im2col:.2f} ms, Winograd F(2x2,3x3) {winograd:.2f} ms "
          f"(max relative difference {error:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
