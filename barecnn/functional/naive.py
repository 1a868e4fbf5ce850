"""The tutorials' loop versions: readable teaching code and the reference the fast kernels are
tested against. Same signatures and return values as :mod:`barecnn.functional`; every output
element is computed by an explicit loop over batch, filter/channel and output position.

These are slow on purpose. For a convolution the output pixel ``(i, j)`` sees the padded input
window starting at ``(i * sh, j * sw)``; backward loops over the *output* positions (not the
kernel size, a bug one tutorial had) and adds each window's share back.
"""
from __future__ import annotations

import numpy as np

from ._checks import check_float_array, check_grad_shape, check_same_dtype
from .conv import conv_geometry
from .pool import pool_geometry


def _pad(x: np.ndarray, top: int, bottom: int, left: int, right: int, value: float = 0.0) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    """Naive convolution. x (N, C, H, W), w (F, C, HH, WW), b (F,) or None -> out (N, F, H', W')."""
    check_float_array(x, "conv2d", "x", 4, "(N, C, H, W)")
    check_float_array(w, "conv2d", "w", 4, "(F, C, HH, WW)")
    check_same_dtype("conv2d", x, w=w, b=b)
    geom = conv_geometry(x.shape, w.shape, stride, padding)
    N, F, (HH, WW), (sh, sw), (Ho, Wo) = x.shape[0], w.shape[0], w.shape[2:], geom.stride, geom.out_hw
    x_padded = _pad(x, *geom.padding)
    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = x_padded[n, :, i * sh:i * sh + HH, j * sw:j * sw + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + (b[f] if b is not None else 0)
    return out, (x_padded, w, b is not None, geom)


def conv2d_backward(dout, cache):
    """Naive convolution backward: dout (N, F, H', W') -> (dx, dw, db)."""
    x_padded, w, has_bias, geom = cache
    N, C, H, W = geom.x_shape
    F, _, HH, WW = w.shape
    (sh, sw), (Ho, Wo) = geom.stride, geom.out_hw
    check_grad_shape("conv2d", dout, (N, F, Ho, Wo))
    dx_padded = np.zeros_like(x_padded)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows, cols = slice(i * sh, i * sh + HH), slice(j * sw, j * sw + WW)
                    dw[f] += dout[n, f, i, j] * x_padded[n, :, rows, cols]
                    dx_padded[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    top, _, left, _ = geom.padding
    dx = dx_padded[:, :, top:top + H, left:left + W]
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return dx, dw, db


def max_pool2d_forward(x, kernel_size, stride=None, padding=0):
    """Naive max pooling. x (N, C, H, W) -> out (N, C, H', W')."""
    check_float_array(x, "max_pool2d", "x", 4, "(N, C, H, W)")
    geom = pool_geometry(x.shape, kernel_size, stride, padding, "max_pool2d")
    (KH, KW), (sh, sw), (ph, pw), (Ho, Wo) = geom.kernel, geom.stride, geom.padding, geom.out_hw
    x_padded = _pad(x, ph, ph, pw, pw, -np.inf)
    N, C = x.shape[:2]
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = np.max(x_padded[n, c, i * sh:i * sh + KH, j * sw:j * sw + KW])
    return out, (x_padded, geom)


def max_pool2d_backward(dout, cache):
    """Naive max pooling backward: the gradient goes to the first maximum of each window."""
    x_padded, geom = cache
    (KH, KW), (sh, sw), (ph, pw), (Ho, Wo) = geom.kernel, geom.stride, geom.padding, geom.out_hw
    N, C, H, W = geom.x_shape
    check_grad_shape("max_pool2d", dout, (N, C, Ho, Wo))
    dx_padded = np.zeros_like(x_padded)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x_padded[n, c, i * sh:i * sh + KH, j * sw:j * sw + KW]
                    di, dj = np.unravel_index(np.argmax(window), window.shape)   # first max, row-major
                    dx_padded[n, c, i * sh + di, j * sw + dj] += dout[n, c, i, j]
    return dx_padded[:, :, ph:ph + H, pw:pw + W]


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Naive average pooling (zero padding counted in the mean unless ``count_include_pad=False``)."""
    check_float_array(x, "avg_pool2d", "x", 4, "(N, C, H, W)")
    geom = pool_geometry(x.shape, kernel_size, stride, padding, "avg_pool2d")
    (KH, KW), (sh, sw), (ph, pw), (Ho, Wo) = geom.kernel, geom.stride, geom.padding, geom.out_hw
    N, C, H, W = x.shape
    x_padded = _pad(x, ph, ph, pw, pw)
    real = _pad(np.ones((1, 1, H, W), dtype=x.dtype), ph, ph, pw, pw)[0, 0]
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    counts = np.zeros((Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            window = (slice(i * sh, i * sh + KH), slice(j * sw, j * sw + KW))
            counts[i, j] = KH * KW if count_include_pad else real[window].sum()
            for n in range(N):
                for c in range(C):
                    out[n, c, i, j] = x_padded[n, c][window].sum() / counts[i, j]
    return out, (counts, geom)


def avg_pool2d_backward(dout, cache):
    """Naive average pooling backward: each window's gradient spread evenly over its elements."""
    counts, geom = cache
    (KH, KW), (sh, sw), (ph, pw), (Ho, Wo) = geom.kernel, geom.stride, geom.padding, geom.out_hw
    N, C, H, W = geom.x_shape
    check_grad_shape("avg_pool2d", dout, (N, C, Ho, Wo))
    dx_padded = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dout.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    dx_padded[n, c, i * sh:i * sh + KH, j * sw:j * sw + KW] += dout[n, c, i, j] / counts[i, j]
    return dx_padded[:, :, ph:ph + H, pw:pw + W]
