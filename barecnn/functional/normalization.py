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

from ._checks import check_float_array, check_grad_shape, check_same_dtype


class NormCache(NamedTuple):
    x_hat: np.ndarray
    inv_std: np.ndarray        # broadcastable to x_hat
    gamma: np.ndarray | None   # broadcastable to x, or None (no affine)
    stats_axes: tuple | None   # axes the statistics were taken over; None: fixed statistics
    affine_axes: tuple         # axes to sum for dgamma / dbeta
    mean: np.ndarray           # the statistics used, shape (C,) for batch norm
    var: np.ndarray            # biased variance


def _channel_shape(x: np.ndarray) -> tuple[int, ...]:
    """Broadcast shape of a per-channel vector: ``(1, C)`` or ``(1, C, 1, 1)``."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _normalize_backward(dx_hat: np.ndarray, cache: NormCache) -> np.ndarray:
    """Gradient through ``x_hat = (x - mean(x)) * inv_std(x)`` with statistics over ``stats_axes``."""
    axes = cache.stats_axes
    m = int(np.prod([dx_hat.shape[a] for a in axes]))
    sum_dx_hat = dx_hat.sum(axis=axes, keepdims=True)
    sum_dx_hat_x_hat = (dx_hat * cache.x_hat).sum(axis=axes, keepdims=True)
    return (cache.inv_std / m) * (m * dx_hat - sum_dx_hat - cache.x_hat * sum_dx_hat_x_hat)


def batch_norm_forward(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None,
                       running_mean: np.ndarray | None = None, running_var: np.ndarray | None = None,
                       training: bool = True, eps: float = 1e-5):
    """Batch norm over ``(N, D)`` or spatial batch norm over ``(N, C, H, W)``.

    Parameters
    ----------
    x : (N, C) or (N, C, H, W).
    gamma, beta : (C,) scale and shift, or ``None`` for no affine map.
    running_mean, running_var : (C,) statistics used when ``training`` is False.
    training : True normalises with this batch's mean and biased variance (over N, H, W).

    Returns
    -------
    out : like ``x``.
    cache : a :class:`NormCache`; in training, ``cache.mean`` and ``cache.var`` (biased) are the
        batch statistics a module folds into its running averages.
    """
    op = "batch_norm"
    check_float_array(x, op, "x", (2, 3, 4), "(N, C), (N, C, L) or (N, C, H, W)")
    check_same_dtype(op, x, gamma=gamma, beta=beta)
    channels = x.shape[1]
    for name, vec in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
        if vec is not None and vec.shape != (channels,):
            raise ValueError(f"{op}: {name} must have shape ({channels},), got {vec.shape}")
    axes = (0,) + tuple(range(2, x.ndim))
    shape = _channel_shape(x)
    if training:
        if x.size // channels < 2:
            raise ValueError(f"{op}: training needs more than one value per channel, got input shape {x.shape}")
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        stats_axes = axes
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: evaluation mode needs running_mean and running_var")
        mean, var = running_mean.astype(x.dtype, copy=False), running_var.astype(x.dtype, copy=False)
        stats_axes = None
    inv_std = 1.0 / np.sqrt(var.reshape(shape) + x.dtype.type(eps))
    x_hat = (x - mean.reshape(shape)) * inv_std
    out = x_hat
    if gamma is not None:
        out = out * gamma.reshape(shape)
    if beta is not None:
        out = out + beta.reshape(shape)
    g = None if gamma is None else gamma.reshape(shape)
    return out, NormCache(x_hat, inv_std, g, stats_axes, axes, mean, var)


def batch_norm_backward(dout: np.ndarray, cache: NormCache):
    """Backward of :func:`batch_norm_forward`: ``dout -> (dx, dgamma, dbeta)`` (``None`` without affine)."""
    check_grad_shape("batch_norm", dout, cache.x_hat.shape)
    return _norm_backward(dout, cache)


def _norm_backward(dout: np.ndarray, cache: NormCache):
    """Shared by batch and group norm: affine gradients, then through the normalisation."""
    has_affine = cache.gamma is not None
    dgamma = (dout * cache.x_hat).sum(axis=cache.affine_axes) if has_affine else None
    dbeta = dout.sum(axis=cache.affine_axes) if has_affine else None
    dx_hat = dout * cache.gamma if has_affine else dout
    if cache.stats_axes is None:           # fixed statistics: a plain affine map of x
        return dx_hat * cache.inv_std, dgamma, dbeta
    return _normalize_backward(dx_hat, cache), dgamma, dbeta


def group_norm_forward(x: np.ndarray, num_groups: int, gamma: np.ndarray | None, beta: np.ndarray | None,
                       eps: float = 1e-5):
    """Group norm: statistics per sample over each group of ``C // G`` channels (and H, W).

    Parameters
    ----------
    x : (N, C, ...) with ``C`` divisible by ``num_groups``.
    gamma, beta : (C,) per-channel affine, or ``None``.

    Returns
    -------
    out : like ``x``; cache : a :class:`NormCache` over the grouped view ``(N, G, C//G * ...)``.
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
    cache = NormCache(x_hat, inv_std, g, (2,), affine_axes, mean, var)
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
