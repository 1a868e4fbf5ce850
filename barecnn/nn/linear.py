"""Fully connected layer, Flatten and Identity."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..functional._checks import as_pair
from .init_defaults import default_weight_and_bias
from .module import DEFAULT_DTYPE, Module, Parameter


class Linear(Module):
    """``y = x W^T + b`` over ``(N, in_features)``; ``weight (out_features, in_features)``, ``bias (out_features,)``.

    Example
    -------
    >>> Linear(784, 10)(np.zeros((5, 784), np.float32)).shape
    (5, 10)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=DEFAULT_DTYPE,
                 rng: np.random.Generator | None = None):
        super().__init__()
        for arg, value in (("in_features", in_features), ("out_features", out_features)):
            as_pair(value, f"Linear({in_features}, {out_features})", arg)
        self.in_features, self.out_features = in_features, out_features
        weight, bias_value = default_weight_and_bias((out_features, in_features), bias, dtype, rng)
        self.weight = Parameter(weight)
        self.bias = Parameter(bias_value) if bias else None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, f"(N, {self.in_features})", 2, self.in_features)
        out, cache = F.linear_forward(x, self.weight.data, None if self.bias is None else self.bias.data)
        self._save_for_backward(cache, out.shape)
        return out

    accepts_need_input_grad = True

    def backward(self, grad_output: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        cache = self._saved_for_backward(grad_output)
        dx, dw, db = F.linear_backward(grad_output, cache, need_dx=need_input_grad)
        self.weight.accumulate_grad(dw)
        if self.bias is not None:
            self.bias.accumulate_grad(db)
        return dx

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flatten axes ``start_dim..end_dim`` (default: all but the batch axis) in C order, as PyTorch."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{self!r}: input must be a NumPy array, got {type(x).__name__}")
        for dim in (self.start_dim, self.end_dim):
            if not -x.ndim <= dim < x.ndim:
                raise IndexError(f"{self!r}: dimension {dim} is out of range for input of shape {x.shape}")
        start = self.start_dim % x.ndim
        end = self.end_dim % x.ndim
        if start > end:
            raise ValueError(f"{self!r}: start_dim {self.start_dim} comes after end_dim {self.end_dim} "
                             f"for input of shape {x.shape}")
        shape = x.shape[:start] + (int(np.prod(x.shape[start:end + 1])),) + x.shape[end + 1:]
        self._save_for_backward(x.shape, shape)
        return x.reshape(shape)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output.reshape(self._saved_for_backward(grad_output))

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input; handy as a placeholder."""

    def forward(self, x):
        self._save_for_backward((), np.shape(x))
        return x

    def backward(self, grad_output):
        self._saved_for_backward(grad_output)
        return grad_output
