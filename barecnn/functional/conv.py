"""2-D convolution (cross-correlation, as in PyTorch) by im2col and one matrix multiply.

Shapes use one set of letters throughout: input ``x (N, C, H, W)``, filters ``w (F, C, HH, WW)``,
output ``(N, F, H', W')`` with ``H' = 1 + (H + pad_top + pad_bottom - HH) // stride_h``.

The public layout is NCHW, but the kernel works channels-last (NHWC) inside: patches are read
from an NHWC view with ``as_strided`` into the ``(N*H'*W', HH*WW*C)`` patch matrix, one BLAS
matmul with the ``(HH*WW*C, F)`` filter matrix gives the output as ``(N*H'*W', F)`` = NHWC, and
the returned NCHW array is a transposed *view* of that memory. A following convolution
transposes it back to NHWC for free, so stacked layers never copy between layouts.

The patch matrix is stored in one of two memory orders (:func:`patch_matrix`), whichever makes
its copy run along long contiguous stretches: row-major (a patch per row; the copy moves ``C``
values at a time) for many input channels, column-major (a kernel tap per column; the copy moves
``W'`` values at a time) for few. BLAS reads either order, so forward and the weight gradient are
the same code; the input gradient is scattered back per kernel offset, never per pixel
(:func:`col2im_rows`, :func:`col2im_columns`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._reduce import column_sums
from ._checks import (as_pair, check_float_array, check_grad_shape, check_same_dtype, output_size,
                      resolve_padding)

OP = "conv2d"


class ConvGeometry(NamedTuple):
    """Everything about one convolution's shapes, resolved once in forward."""
    x_shape: tuple[int, int, int, int]   # (N, C, H, W)
    w_shape: tuple[int, int, int, int]   # (F, C, HH, WW)
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]   # (top, bottom, left, right)
    out_hw: tuple[int, int]              # (H', W')


def conv_geometry(x_shape, w_shape, stride, padding, op: str = OP) -> ConvGeometry:
    """Resolve stride/padding and the output size, checking that the shapes fit together."""
    N, C, H, W = x_shape
    F, Cw, HH, WW = w_shape
    if Cw != C:
        raise ValueError(f"{op}: the input has {C} channels but the weight expects {Cw} "
                         f"(x shape {tuple(x_shape)}, w shape {tuple(w_shape)})")
    stride = as_pair(stride, op, "stride")
    pads = resolve_padding(padding, (HH, WW), stride, op)
    padded = (H + pads[0] + pads[1], W + pads[2] + pads[3])
    if HH > padded[0] or WW > padded[1]:
        raise ValueError(f"{op}: kernel {HH}x{WW} is larger than the padded input {padded[0]}x{padded[1]} "
                         f"(input {H}x{W}, padding {pads})")
    out_hw = (output_size(H, HH, stride[0], pads[0], pads[1]), output_size(W, WW, stride[1], pads[2], pads[3]))
    return ConvGeometry(tuple(x_shape), tuple(w_shape), stride, pads, out_hw)


def pad_nhwc(x_nhwc: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """Zero-pad the spatial axes of an NHWC array; returns ``x_nhwc`` itself when no padding."""
    top, bottom, left, right = pads
    if not any(pads):
        return x_nhwc
    N, H, W, C = x_nhwc.shape
    padded = np.zeros((N, H + top + bottom, W + left + right, C), dtype=x_nhwc.dtype)
    padded[:, top:top + H, left:left + W, :] = x_nhwc
    return padded


# Below this many input channels the patch matrix is stored column-major: its copy then moves
# W'-long runs instead of C-long ones (measured: benchmarks/conv_orders.py).
COLUMN_MAJOR_BELOW_CHANNELS = 4


def patch_matrix(x_padded: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                 out_hw: tuple[int, int], column_major: bool = False) -> np.ndarray:
    """Patches of a padded NHWC array as a matrix ``(N*H'*W', HH*WW*C)``, one row per output pixel.

    Column ``(i, j, c)`` holds tap ``(i, j)`` of channel ``c`` for every output pixel. The 6-D
    ``as_strided`` view ``(N, H', W', HH, WW, C)`` costs nothing; the reshape makes the one copy
    the matmul needs, in row-major order (a C-contiguous matrix) or, with ``column_major``, in
    column-major order (the transpose of a C-contiguous ``(HH*WW*C, N*H'*W')`` array).
    """
    N, _, _, C = x_padded.shape
    (HH, WW), (sh, sw), (Ho, Wo) = kernel, stride, out_hw
    sN, sH, sW, sC = x_padded.strides
    patches = as_strided(x_padded, shape=(N, Ho, Wo, HH, WW, C),
                         strides=(sN, sH * sh, sW * sw, sH, sW, sC), writeable=False)
    if column_major:
        return patches.transpose(3, 4, 5, 0, 1, 2).reshape(HH * WW * C, N * Ho * Wo).T
    return patches.reshape(N * Ho * Wo, HH * WW * C)


# The row-major input gradient is summed a few images at a time, so that each chunk's slabs and
# sums stay in cache: kerascnn's second conv alone 11.6 -> 9.4 ms, its training step 45.9 -> 44.9 ms
# (interleaved A/B); the zoo's smaller layers fit in one chunk.
COL2IM_CHUNK_BYTES = 1 << 20


def col2im_rows(dout_matrix: np.ndarray, w_matrix: np.ndarray, padded_shape: tuple[int, int, int, int],
                kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """``col2im(dout_matrix @ w_matrix.T)`` fused, for a row-major patch matrix: the input gradient
    on the padded input, ``(N, Hp, Wp, C)``.

    The patch-matrix gradient splits by kernel offset: offset ``(i, j)`` of every patch row is
    ``dout_matrix @ w[:, :, i, j]``, an ``(N*H'*W', C)`` product that belongs on the strided slab
    ``dx[:, i::sh, j::sw, :]``. So loop over the HH*WW offsets (never over pixels), multiply, and
    add each slab in place (overlapping windows accumulate, as the chain rule requires). This
    never builds the ``(N*H'*W', HH*WW*C)`` gradient matrix. Images are independent, so this runs
    over chunks of about ``COL2IM_CHUNK_BYTES`` of gradient, each zeroed and summed while in cache.

    With stride > 1 a slab's rows and columns are ``sh``/``sw`` apart, which would leave NumPy
    inner loops only ``C`` long. So the sum is kept "phase-major": padded pixel
    ``(a + sh*q, b + sw*r)`` lives at ``phases[:, a, b, q, r]``, where every slab is a dense
    block; one copy restores NHWC at the end (for stride 1 the phases *are* NHWC, a free view).
    """
    N, Hp, Wp, C = padded_shape
    (HH, WW), (sh, sw), (Ho, Wo) = kernel, stride, out_hw
    Hq, Wq = -(-Hp // sh), -(-Wp // sw)
    w_by_offset = w_matrix.reshape(HH, WW, C, -1)          # rows of w_matrix are (i, j, c)
    phases = np.empty((N, sh, sw, Hq, Wq, C), dtype=dout_matrix.dtype)
    images_per_chunk = max(1, COL2IM_CHUNK_BYTES // (Hp * Wp * C * dout_matrix.itemsize))
    rows_per_image = Ho * Wo
    slab = np.empty((min(images_per_chunk, N) * rows_per_image, C), dtype=dout_matrix.dtype)   # reused
    for start in range(0, N, images_per_chunk):
        stop = min(start + images_per_chunk, N)
        chunk, chunk_slab = phases[start:stop], slab[:(stop - start) * rows_per_image]
        chunk.fill(0)
        for i, j in np.ndindex(HH, WW):
            np.matmul(dout_matrix[start * rows_per_image:stop * rows_per_image], w_by_offset[i, j].T, out=chunk_slab)
            chunk[:, i % sh, j % sw, i // sh:i // sh + Ho, j // sw:j // sw + Wo, :] += \
                chunk_slab.reshape(stop - start, Ho, Wo, C)
    return phases.transpose(0, 3, 1, 4, 2, 5).reshape(N, Hq * sh, Wq * sw, C)[:, :Hp, :Wp, :]


def col2im_columns(dout_matrix: np.ndarray, w_matrix: np.ndarray, padded_shape: tuple[int, int, int, int],
                   kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """``col2im(dout_matrix @ w_matrix.T)`` for a column-major patch matrix (few channels): the
    input gradient on the padded input, ``(N, Hp, Wp, C)`` (a view of channels-first memory).

    One matmul gives the patch-matrix gradient transposed, ``(HH*WW*C, N*H'*W')``: for each kernel
    offset ``(i, j)`` a ``(C, N, H', W')`` block whose runs along ``W'`` are contiguous. Each block
    is added onto its strided slab ``dx[c, n, i::sh, j::sw]`` of a channels-first sum: the inner
    loops run along ``W'`` whatever the stride, so no phase-major detour is needed here.
    """
    N, Hp, Wp, C = padded_shape
    (HH, WW), (sh, sw), (Ho, Wo) = kernel, stride, out_hw
    dcols = (w_matrix @ dout_matrix.T).reshape(HH, WW, C, N, Ho, Wo)
    dx = np.zeros((C, N, Hp, Wp), dtype=dout_matrix.dtype)
    for i in range(HH):
        for j in range(WW):
            dx[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw] += dcols[i, j]
    return dx.transpose(1, 2, 3, 0)


def filters_as_matrix(w: np.ndarray) -> np.ndarray:
    """``w (F, C, HH, WW)`` as the ``(HH*WW*C, F)`` matrix matching :func:`patch_matrix` columns."""
    F = w.shape[0]
    return w.transpose(2, 3, 1, 0).reshape(-1, F)


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride=1, padding=0):
    """Forward pass of a 2-D convolution.

    Parameters
    ----------
    x : (N, C, H, W) float array.
    w : (F, C, HH, WW) filters, same dtype as ``x``.
    b : (F,) biases or ``None``.
    stride : int or (sh, sw).
    padding : int, (ph, pw), ``'same'`` (stride 1) or ``'valid'``; zeros are added on both sides.

    Returns
    -------
    out : (N, F, H', W'), ``H' = 1 + (H + 2*ph - HH) // sh`` (channels-last in memory).
    cache : what :func:`conv2d_backward` needs.
    """
    check_float_array(x, OP, "x", 4, "(N, C, H, W)")
    check_float_array(w, OP, "w", 4, "(F, C, HH, WW)")
    check_same_dtype(OP, x, w=w, b=b)
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"{OP}: b must have shape ({w.shape[0]},), got {b.shape}")
    geom = conv_geometry(x.shape, w.shape, stride, padding)
    N, C, F = x.shape[0], x.shape[1], w.shape[0]
    Ho, Wo = geom.out_hw
    column_major = C < COLUMN_MAJOR_BELOW_CHANNELS
    x_padded = pad_nhwc(x.transpose(0, 2, 3, 1), geom.padding)
    cols = patch_matrix(x_padded, w.shape[2:], geom.stride, geom.out_hw, column_major)
    w_matrix = filters_as_matrix(w)
    out = cols @ w_matrix
    if b is not None:
        # One bias row per image (H'*W'*F long) keeps NumPy's inner loop long even when F is small.
        out.reshape(N, Ho * Wo * F)[...] += np.tile(b, Ho * Wo)
    out = out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)
    return out, (cols, w_matrix, b is not None, column_major, geom)


def conv2d_backward(dout: np.ndarray, cache, need_dx: bool = True):
    """Backward pass of :func:`conv2d_forward`.

    Parameters
    ----------
    dout : (N, F, H', W') upstream gradient.
    cache : from the forward pass.
    need_dx : False skips the input gradient (a network's first layer needs none) and returns
        ``None`` for it.

    Returns
    -------
    dx : (N, C, H, W), dw : (F, C, HH, WW), db : (F,) or ``None`` when the forward had no bias.
    """
    cols, w_matrix, has_bias, column_major, geom = cache
    N, C, H, W = geom.x_shape
    F, _, HH, WW = geom.w_shape
    Ho, Wo = geom.out_hw
    check_grad_shape(OP, dout, (N, F, Ho, Wo))
    dout_matrix = dout.transpose(0, 2, 3, 1).reshape(N * Ho * Wo, F)
    dw = (cols.T @ dout_matrix).reshape(HH, WW, C, F).transpose(3, 2, 0, 1).copy()
    db = column_sums(dout_matrix) if has_bias else None
    if not need_dx:
        return None, dw, db
    top, bottom, left, right = geom.padding
    padded_shape = (N, H + top + bottom, W + left + right, C)
    col2im = col2im_columns if column_major else col2im_rows
    dx_padded = col2im(dout_matrix, w_matrix, padded_shape, (HH, WW), geom.stride, geom.out_hw)
    dx = dx_padded[:, top:top + H, left:left + W, :].transpose(0, 3, 1, 2)
    return dx, dw, db
