"""Max, average and global average pooling.

Input ``x (N, C, H, W)``, window ``(KH, KW)``, output ``(N, C, H', W')`` with
``H' = 1 + (H + 2*ph - KH) // sh``. One mechanism covers every window, stride and padding: the
window is visited offset by offset, and at offset ``(i, j)`` the strided slice
``x[:, :, i::sh, j::sw]`` holds that element of *every* window at once. The Python loop runs
``KH*KW`` times (4 for 2x2 pooling), never over pixels, and works equally for overlapping
windows such as 3x3 stride 2. Elementwise NumPy ops keep the input's memory layout, so
channels-last activations from a convolution stay channels-last.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_pair, check_float_array, check_grad_shape, output_size


class PoolGeometry(NamedTuple):
    x_shape: tuple[int, int, int, int]   # (N, C, H, W)
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]             # symmetric (ph, pw)
    out_hw: tuple[int, int]


def pool_arguments(kernel_size, stride, padding, op: str):
    """``(kernel, stride, padding)`` as pairs, resolved as PyTorch does (``stride=None`` means the
    kernel size; padding at most half the kernel)."""
    kernel = as_pair(kernel_size, op, "kernel_size")
    stride = kernel if stride is None else as_pair(stride, op, "stride")
    pad = as_pair(padding, op, "padding", minimum=0)
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {pad} must be at most half the kernel size {kernel}")
    return kernel, stride, pad


def pool_geometry(x_shape, kernel_size, stride, padding, op: str) -> PoolGeometry:
    """Resolve the arguments (:func:`pool_arguments`) and check that the window fits the input."""
    kernel, stride, pad = pool_arguments(kernel_size, stride, padding, op)
    _, _, H, W = x_shape
    if kernel[0] > H + 2 * pad[0] or kernel[1] > W + 2 * pad[1]:
        raise ValueError(f"{op}: kernel {kernel[0]}x{kernel[1]} is larger than the padded input "
                         f"{H + 2 * pad[0]}x{W + 2 * pad[1]} (input {H}x{W}, padding {pad})")
    out_hw = (output_size(H, kernel[0], stride[0], pad[0], pad[0]),
              output_size(W, kernel[1], stride[1], pad[1], pad[1]))
    return PoolGeometry(tuple(x_shape), kernel, stride, pad, out_hw)


def pad_spatial(x: np.ndarray, pad: tuple[int, int], value: float) -> np.ndarray:
    """Pad H and W of an (N, C, H, W) array with ``value``, keeping its memory layout."""
    if pad == (0, 0):
        return x
    ph, pw = pad
    N, C, H, W = x.shape
    padded = np.full_like(x, value, shape=(N, C, H + 2 * ph, W + 2 * pw))
    padded[:, :, ph:ph + H, pw:pw + W] = x
    return padded


def window_slices(geom: PoolGeometry):
    """Yield ``(offset_index, (slice_h, slice_w))`` for each offset of the window, row-major."""
    (KH, KW), (sh, sw), (Ho, Wo) = geom.kernel, geom.stride, geom.out_hw
    for i in range(KH):
        for j in range(KW):
            yield i * KW + j, (slice(i, i + sh * (Ho - 1) + 1, sh), slice(j, j + sw * (Wo - 1) + 1, sw))


def max_pool2d_forward(x: np.ndarray, kernel_size, stride=None, padding=0):
    """Max pooling forward.

    Parameters
    ----------
    x : (N, C, H, W) float array.
    kernel_size, stride, padding : int or pair; ``stride=None`` means ``kernel_size``; padding
        (at most half the kernel) is ``-inf``, so it is never chosen.

    Returns
    -------
    out : (N, C, H', W').
    cache : the geometry and, per output, the index (row-major in the window) of its maximum.
    """
    op = "max_pool2d"
    check_float_array(x, op, "x", 4, "(N, C, H, W)")
    geom = pool_geometry(x.shape, kernel_size, stride, padding, op)
    x_padded = pad_spatial(x, geom.padding, -np.inf)
    out = None
    for _, (rows, cols) in window_slices(geom):
        candidate = x_padded[:, :, rows, cols]
        out = candidate.copy(order="K") if out is None else np.maximum(out, candidate, out=out)
    return out, (x_padded, out, geom)


def max_pool2d_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Max pooling backward: ``dout (N, C, H', W')`` goes to each window's maximum; returns ``dx``.

    On ties only the *first* maximum in row-major window order gets the gradient (PyTorch's
    rule): offsets are visited in that order and a window, once claimed, takes no more.
    """
    x_padded, out, geom = cache
    check_grad_shape("max_pool2d", dout, geom.x_shape[:2] + geom.out_hw)
    dout = _like_layout(dout, out)

    def first_maximum_masks():
        unclaimed = None
        for _, (rows, cols) in window_slices(geom):
            hit = x_padded[:, :, rows, cols] == out
            if unclaimed is None:
                unclaimed = ~hit
            else:
                hit &= unclaimed
                unclaimed &= ~hit
            yield hit

    return _scatter_to_windows(geom, dout, first_maximum_masks())


def _like_layout(a: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``a`` copied into ``reference``'s memory layout if it differs: ufuncs over operands with
    mismatched layouts run several times slower than one copy costs."""
    if a.strides == reference.strides or a.shape != reference.shape:
        return a
    matched = np.empty_like(reference, dtype=a.dtype)
    matched[...] = a
    return matched


def avg_pool2d_forward(x: np.ndarray, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
    """Average pooling forward.

    Parameters
    ----------
    x : (N, C, H, W) float array.
    kernel_size, stride, padding : as :func:`max_pool2d_forward`; padding is zeros.
    count_include_pad : divide by ``KH*KW`` (PyTorch's default) rather than by the number of
        real (unpadded) elements in each window.

    Returns
    -------
    out : (N, C, H', W'), cache.
    """
    op = "avg_pool2d"
    check_float_array(x, op, "x", 4, "(N, C, H, W)")
    geom = pool_geometry(x.shape, kernel_size, stride, padding, op)
    x_padded = pad_spatial(x, geom.padding, 0.0)
    total = None
    for _, (rows, cols) in window_slices(geom):
        window = x_padded[:, :, rows, cols]
        total = window.copy(order="K") if total is None else np.add(total, window, out=total)
    divisor = _window_divisor(geom, count_include_pad, x.dtype)
    return total / divisor, (divisor, geom)


def avg_pool2d_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Average pooling backward: each window's gradient is spread evenly; returns ``dx (N, C, H, W)``."""
    divisor, geom = cache
    check_grad_shape("avg_pool2d", dout, geom.x_shape[:2] + geom.out_hw)
    share = np.reciprocal(divisor, dtype=dout.dtype)
    return _scatter_to_windows(geom, dout, (share for _ in window_slices(geom)))


def _window_divisor(geom: PoolGeometry, count_include_pad: bool, dtype):
    """The number each window sum is divided by: a scalar, or ``(H', W')`` counts of real pixels."""
    KH, KW = geom.kernel
    if count_include_pad or geom.padding == (0, 0):
        return dtype.type(KH * KW)
    _, _, H, W = geom.x_shape
    ones = pad_spatial(np.ones((1, 1, H, W), dtype=dtype), geom.padding, 0.0)
    counts = sum(ones[0, 0, rows, cols] for _, (rows, cols) in window_slices(geom))
    return counts


def _scatter_to_windows(geom: PoolGeometry, dout: np.ndarray, factors_per_offset) -> np.ndarray:
    """Send ``dout * factor_k`` to the input positions that window offset k reads, for each k;
    returns ``dx (N, C, H, W)``. A factor is a mask (max pooling) or the averaging weight."""
    N, C, H, W = geom.x_shape
    ph, pw = geom.padding
    overlapping = geom.stride[0] < geom.kernel[0] or geom.stride[1] < geom.kernel[1]
    (KH, KW), (Ho, Wo) = geom.kernel, geom.out_hw
    tiled = geom.stride == geom.kernel and Ho * KH == H + 2 * ph and Wo * KW == W + 2 * pw
    # Windows that tile the input write every position exactly once: no need to zero it first.
    allocate = np.empty_like if tiled else np.zeros_like
    dx_padded = allocate(dout, shape=(N, C, H + 2 * ph, W + 2 * pw))   # dout's layout
    for (_, (rows, cols)), factor in zip(window_slices(geom), factors_per_offset):
        if overlapping:
            dx_padded[:, :, rows, cols] += dout * factor
        else:   # each input position belongs to one window at most: write the product in place
            np.multiply(dout, factor, out=dx_padded[:, :, rows, cols])
    return dx_padded[:, :, ph:ph + H, pw:pw + W]


def global_avg_pool2d_forward(x: np.ndarray):
    """Mean over the spatial axes: ``x (N, C, H, W) -> out (N, C)``."""
    check_float_array(x, "global_avg_pool2d", "x", 4, "(N, C, H, W)")
    return x.mean(axis=(2, 3)), x.shape


def global_avg_pool2d_backward(dout: np.ndarray, cache) -> np.ndarray:
    """``dout (N, C) -> dx (N, C, H, W)``, each pixel receiving ``dout / (H*W)``."""
    N, C, H, W = cache
    check_grad_shape("global_avg_pool2d", dout, (N, C))
    # built channels-last, the layout convolutions produce and consume without copies
    return np.broadcast_to((dout / (H * W))[:, None, None, :], (N, H, W, C)).transpose(0, 3, 1, 2).copy(order="K")


def adaptive_bins(size: int, bins: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling windows: bin ``i`` covers ``[floor(i*size/bins), ceil((i+1)*size/bins))``."""
    return [((i * size) // bins, -((-(i + 1) * size) // bins)) for i in range(bins)]


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size):
    """Adaptive average pooling to ``output_size`` (int or pair): ``(N, C, H, W) -> (N, C, oh, ow)``.

    Windows may overlap and differ in size when ``H`` is not a multiple of ``oh`` (PyTorch's bins);
    the loop runs over the ``oh * ow`` output cells, each a mean over one slab of all samples.
    """
    op = "adaptive_avg_pool2d"
    check_float_array(x, op, "x", 4, "(N, C, H, W)")
    oh, ow = as_pair(output_size, op, "output_size")
    N, C, H, W = x.shape
    rows, cols = adaptive_bins(H, oh), adaptive_bins(W, ow)
    out = np.empty((N, C, oh, ow), dtype=x.dtype)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            out[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return out, (x.shape, rows, cols)


def adaptive_avg_pool2d_backward(dout: np.ndarray, cache) -> np.ndarray:
    """Each output cell's gradient spread evenly over its window: ``dout (N, C, oh, ow) -> dx``."""
    x_shape, rows, cols = cache
    check_grad_shape("adaptive_avg_pool2d", dout, x_shape[:2] + (len(rows), len(cols)))
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            dx[:, :, r0:r1, c0:c1] += (dout[:, :, i, j] / ((r1 - r0) * (c1 - c0)))[:, :, None, None]
    return dx
