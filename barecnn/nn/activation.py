"""Activation modules (no parameters). Output has the input's dtype, shape and layout."""
from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from .module import Module


class _Elementwise(Module):
    """``inplace`` is accepted for PyTorch compatibility; barecnn never overwrites its input."""
    _forward = None
    _backward = None

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def _forward_args(self) -> tuple:
        return ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, "(N, *)", tuple(range(1, 9)))
        out, cache = type(self)._forward(x, *self._forward_args())
        self._save_for_backward(cache, out.shape)
        return out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return type(self)._backward(grad_output, self._saved_for_backward(grad_output))


class ReLU(_Elementwise):
    """``max(x, 0)``."""
    _forward = staticmethod(F.relu_forward)
    _backward = staticmethod(F.relu_backward)


class LeakyReLU(_Elementwise):
    """``x`` if ``x > 0`` else ``negative_slope * x``."""
    _forward = staticmethod(F.leaky_relu_forward)
    _backward = staticmethod(F.leaky_relu_backward)

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__(inplace)
        if not isinstance(negative_slope, numbers.Real) or not np.isfinite(negative_slope):
            raise ValueError(f"LeakyReLU: negative_slope must be a finite number, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def _forward_args(self) -> tuple:
        return (self.negative_slope,)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Tanh(_Elementwise):
    def __init__(self):
        super().__init__()

    _forward = staticmethod(F.tanh_forward)
    _backward = staticmethod(F.tanh_backward)


class Sigmoid(_Elementwise):
    def __init__(self):
        super().__init__()

    _forward = staticmethod(F.sigmoid_forward)
    _backward = staticmethod(F.sigmoid_backward)
