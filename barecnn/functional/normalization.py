"""Batch normalisation (Ioffe & Szegedy, 2015) and group normalisation (Wu & He, 2018).

Both normalise ``x_hat = (x - mean) / sqrt(var + eps)`` over some axes and then apply a
per-channel affine map ``out = gamma * x_hat + beta``. With ``M`` elements per statistic, the
input gradient through the batch statistics is (Ioffe & Szegedy, sec. 3, simplified)::

    dx = inv_std / M * (M * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))

where ``dx_hat = dout * gamma`` and the sums run over the normalised axes.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._reduce import column_sums
from ._checks import check_float_array, check_grad_shape, check_same_dtype


class GroupNormCache(NamedTuple):
    x_hat: np.ndarray          # normalised input, shaped like x
    inv_std: np.ndarray        # (N, G, 1), broadcastable to the grouped view
    gamma: np.ndarray | None   # broadcastable to x, or None (no affine)
    stats_axes: tuple          # axes of the grouped view the statistics were taken over
    affine_axes: tuple         # axes to sum for dgamma / dbeta
    mean: np.ndarray           # (N, G, 1) group means
    var: np.ndarray            # (N, G, 1) biased group variances


def _channel_shape(x: np.ndarray) -> tuple[int, ...]:
    """Broadcast shape of a per-channel vector: ``(1, C)`` or ``(1, C, 1, 1)``."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _normalize_backward(dx_hat: np.ndarray, cache: GroupNormCache) -> np.ndarray:
    """Gradient through ``x_hat = (x - mean(x)) * inv_std(x)`` with statistics over ``stats_axes``."""
    axes = cache.stats_axes
    m = int(np.prod([dx_hat.shape[a] for a in axes]))
    sum_dx_hat = dx_hat.sum(axis=axes, keepdims=True)
    sum_dx_hat_x_hat = (dx_hat * cache.x_hat).sum(axis=axes, keepdims=True)
    return (cache.inv_std / m) * (m * dx_hat - sum_dx_hat - cache.x_hat * sum_dx_hat_x_hat)


class BatchNormCache(NamedTuple):
    x_hat: np.ndarray          # (M, C) rows: one per sample (and pixel), channels last
    inv_std: np.ndarray        # (C,)
    gamma: np.ndarray | None   # (C,)
    training: bool             # statistics from the batch (else fixed)
    shape: tuple               # the input's shape
    mean: np.ndarray           # (C,) the statistics used
    var: np.ndarray            # (C,) biased variance


def rows_by_channel(x: np.ndarray) -> np.ndarray:
    """``(N, C, *S)`` as ``(N * prod(S), C)``: free for channels-last memory (what conv produces)."""
    if x.ndim == 2:
        return x
    return x.transpose((0, *range(2, x.ndim), 1)).reshape(-1, x.shape[1])


def rows_to_shape(rows: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of :func:`rows_by_channel`: an ``(N, C, *S)`` view of channels-last rows."""
    if len(shape) == 2:
        return rows
    N, C, *spatial = shape
    return rows.reshape(N, *spatial, C).transpose((0, len(shape) - 1, *range(1, len(shape) - 1)))


def batch_norm_forward(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None,
                       running_mean: np.ndarray | None = None, running_var: np.ndarray | None = None,
                       training: bool = True, eps: float = 1e-5):
    """Batch norm over ``(N, C)`` / ``(N, C, L)``, or spatial batch norm over ``(N, C, H, W)``.

    Statistics are per channel over every other axis. The work is done on the ``(M, C)`` rows
    view (:func:`rows_by_channel`), which is free for channels-last activations.

    Parameters
    ----------
    x : (N, C), (N, C, L) or (N, C, H, W).
    gamma, beta : (C,) scale and shift, or ``None`` for no affine map.
    running_mean, running_var : (C,) statistics used when ``training`` is False.
    training : True normalises with this batch's mean and biased variance.

    Returns
    -------
    out : like ``x``.
    cache : a :class:`BatchNormCache`; in training, ``cache.mean`` and ``cache.var`` (biased) are
        the batch statistics a module folds into its running averages.
    """
    op = "batch_norm"
    check_float_array(x, op, "x", (2, 3, 4), "(N, C), (N, C, L) or (N, C, H, W)")
    check_same_dtype(op, x, gamma=gamma, beta=beta)
    channels = x.shape[1]
    for name, vec in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
        if vec is not None and vec.shape != (channels,):
            raise ValueError(f"{op}: {name} must have shape ({channels},), got {vec.shape}")
    rows = rows_by_channel(x)
    if training:
        if rows.shape[0] < 2:
            raise ValueError(f"{op}: training needs more than one value per channel, got input shape {x.shape}")
        mean = column_sums(rows) / x.dtype.type(rows.shape[0])
        x_hat = rows - mean
        var = np.einsum("mc,mc->c", x_hat, x_hat) / x.dtype.type(rows.shape[0])
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: evaluation mode needs running_mean and running_var")
        mean, var = running_mean.astype(x.dtype, copy=False), running_var.astype(x.dtype, copy=False)
        x_hat = rows - mean
    inv_std = 1.0 / np.sqrt(var + x.dtype.type(eps))
    x_hat *= inv_std
    out = x_hat * gamma if gamma is not None else x_hat.copy()
    if beta is not None:
        out += beta
    return rows_to_shape(out, x.shape), BatchNormCache(x_hat, inv_std, gamma, training, x.shape, mean, var)


def batch_norm_backward(dout: np.ndarray, cache: BatchNormCache):
    """Backward of :func:`batch_norm_forward`: ``dout -> (dx, dgamma, dbeta)`` (``None`` without affine).

    With batch statistics, writing ``dbeta = sum(dout)`` and ``dgamma = sum(dout * x_hat)``
    (sums over the M rows), the equation in the module docstring becomes
    ``dx = gamma * inv_std * (dout - (dbeta + x_hat * dgamma) / M)``.
    """
    check_grad_shape("batch_norm", dout, cache.shape)
    rows = rows_by_channel(dout)
    dbeta = column_sums(rows)
    dgamma = np.einsum("mc,mc->c", rows, cache.x_hat)
    scale = cache.inv_std if cache.gamma is None else cache.gamma * cache.inv_std
    if cache.training:
        m = cache.x_hat.shape[0]
        correction = cache.x_hat * (dgamma / m)
        correction += dbeta / m
        dx = rows - correction
        dx *= scale
    else:
        dx = rows * scale
    has_affine = cache.gamma is not None
    return rows_to_shape(dx, cache.shape), (dgamma if has_affine else None), (dbeta if has_affine else None)


def group_norm_forward(x: np.ndarray, num_groups: int, gamma: np.ndarray | None, beta: np.ndarray | None,
                       eps: float = 1e-5):
    """Group norm: statistics per sample over each group of ``C // G`` channels (and H, W).

    Parameters
    ----------
    x : (N, C, ...) with ``C`` divisible by ``num_groups``.
    gamma, beta : (C,) per-channel affine, or ``None``.

    Returns
    -------
    out : like ``x``; cache : a :class:`GroupNormCache` over the grouped view ``(N, G, C//G * ...)``.
    """
    op = "group_norm"
    check_float_array(x, op, "x", (2, 3, 4), "(N, C), (N, C, L) or (N, C, H, W)")
    check_same_dtype(op, x, gamma=gamma, beta=beta)
    N, C = x.shape[:2]
    if num_groups < 1 or C % num_groups:
        raise ValueError(f"{op}: {C} channels cannot be split into {num_groups} groups")
    for name, vec in (("gamma", gamma), ("beta", beta)):
        if vec is not None and vec.shape != (C,):
            raise ValueError(f"{op}: {name} must have shape ({C},), got {vec.shape}")
    grouped = x.reshape(N, num_groups, -1)
    mean = grouped.mean(axis=2, keepdims=True)
    var = grouped.var(axis=2, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + x.dtype.type(eps))
    x_hat = ((grouped - mean) * inv_std).reshape(x.shape)
    shape = _channel_shape(x)
    out = x_hat
    if gamma is not None:
        out = out * gamma.reshape(shape)
    if beta is not None:
        out = out + beta.reshape(shape)
    g = None if gamma is None else gamma.reshape(shape)
    affine_axes = (0,) + tuple(range(2, x.ndim))
    cache = GroupNormCache(x_hat, inv_std, g, (2,), affine_axes, mean, var)
    return out, (cache, num_groups)


def group_norm_backward(dout: np.ndarray, cache):
    """Backward of :func:`group_norm_forward`: ``dout -> (dx, dgamma, dbeta)``."""
    norm_cache, num_groups = cache
    check_grad_shape("group_norm", dout, norm_cache.x_hat.shape)
    shape = dout.shape
    N = shape[0]
    has_affine = norm_cache.gamma is not None
    dgamma = (dout * norm_cache.x_hat).sum(axis=norm_cache.affine_axes) if has_affine else None
    dbeta = dout.sum(axis=norm_cache.affine_axes) if has_affine else None
    dx_hat = (dout * norm_cache.gamma if has_affine else dout).reshape(N, num_groups, -1)
    grouped_cache = norm_cache._replace(x_hat=norm_cache.x_hat.reshape(N, num_groups, -1))
    dx = _normalize_backward(dx_hat, grouped_cache).reshape(shape)
    return dx, dgamma, dbeta
