"""Batch normalisation and group normalisation modules."""
from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from ..functional._checks import as_pair
from .module import DEFAULT_DTYPE, Module, Parameter


def _check_positive_float(value, owner: str, name: str) -> float:
    if not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive number, got {value!r}")
    return float(value)


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d.

    In training mode the batch mean and biased variance normalise the input, and the running
    statistics move towards the batch's: ``running = (1 - momentum) * running + momentum * batch``
    with the *unbiased* batch variance, as PyTorch does (``momentum=None``: a cumulative average).
    In eval mode the running statistics are used. Buffers: ``running_mean``, ``running_var``,
    ``num_batches_tracked`` (PyTorch's ``state_dict`` keys).
    """
    _layout = ""
    _ranks: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=DEFAULT_DTYPE):
        super().__init__()
        name = type(self).__name__
        as_pair(num_features, name, "num_features")
        self.num_features = num_features
        self.eps = _check_positive_float(eps, name, "eps")
        if momentum is not None and (not isinstance(momentum, numbers.Real) or not 0.0 <= momentum <= 1.0):
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, self._layout, self._ranks, self.num_features)
        use_batch_stats = self.training or not self.track_running_stats
        gamma = None if self.weight is None else self.weight.data
        beta = None if self.bias is None else self.bias.data
        running = (self.running_mean, self.running_var) if self.track_running_stats else (None, None)
        try:
            out, cache = F.batch_norm_forward(x, gamma, beta, *running, training=use_batch_stats, eps=self.eps)
        except ValueError as error:
            raise ValueError(f"{self!r}: {error}") from None
        if self.training and self.track_running_stats:
            self._update_running_stats(cache.mean, cache.var, x.size // x.shape[1])
        self._save_for_backward(cache, out.shape)
        return out

    def _update_running_stats(self, batch_mean: np.ndarray, batch_var: np.ndarray, count: int) -> None:
        self.num_batches_tracked = self.num_batches_tracked + 1
        momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased_var = batch_var * (count / (count - 1))
        dtype = self.running_mean.dtype
        self.running_mean = ((1 - momentum) * self.running_mean + momentum * batch_mean).astype(dtype)
        self.running_var = ((1 - momentum) * self.running_var + momentum * unbiased_var).astype(dtype)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        dx, dgamma, dbeta = F.batch_norm_backward(grad_output, self._saved_for_backward(grad_output))
        if self.affine:
            self.weight.accumulate_grad(dgamma)
            self.bias.accumulate_grad(dbeta)
        return dx

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over ``(N, C)`` or ``(N, C, L)``, statistics per feature ``C``."""
    _layout = "(N, C) or (N, C, L)"
    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Spatial batch norm over ``(N, C, H, W)``, statistics per channel over N, H and W."""
    _layout = "(N, C, H, W)"
    _ranks = (4,)


class GroupNorm(Module):
    """Group norm: per sample, statistics over groups of ``num_channels // num_groups`` channels.

    Same in training and eval (no running statistics). ``weight``/``bias`` are per channel.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype=DEFAULT_DTYPE):
        super().__init__()
        as_pair(num_groups, "GroupNorm", "num_groups")
        as_pair(num_channels, "GroupNorm", "num_channels")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps = _check_positive_float(eps, "GroupNorm", "eps")
        self.affine = affine
        self.weight = Parameter(np.ones(num_channels, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_channels, dtype=dtype)) if affine else None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, f"(N, {self.num_channels}, *)", (2, 3, 4), self.num_channels)
        gamma = None if self.weight is None else self.weight.data
        beta = None if self.bias is None else self.bias.data
        out, cache = F.group_norm_forward(x, self.num_groups, gamma, beta, self.eps)
        self._save_for_backward(cache, out.shape)
        return out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        dx, dgamma, dbeta = F.group_norm_backward(grad_output, self._saved_for_backward(grad_output))
        if self.affine:
            self.weight.accumulate_grad(dgamma)
            self.bias.accumulate_grad(dbeta)
        return dx

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
