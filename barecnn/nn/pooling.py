"""Pooling modules (no parameters)."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..functional._checks import as_pair
from ..functional.pool import pool_arguments
from .module import Module, require_defaults


class _Pool2d(Module):
    _forward = None
    _backward = None

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False):
        super().__init__()
        name = type(self).__name__
        require_defaults(name, ceil_mode=(ceil_mode, False))
        self.kernel_size, self.stride, self.padding = pool_arguments(kernel_size, stride, padding, name)

    def _pool_args(self) -> dict:
        return {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, "(N, C, H, W)", 4)
        try:
            out, cache = type(self)._forward(x, self.kernel_size, self.stride, self.padding, **self._pool_args())
        except ValueError as error:
            raise ValueError(f"{self!r}: {error}") from None
        self._save_for_backward(cache, out.shape)
        return out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return type(self)._backward(grad_output, self._saved_for_backward(grad_output))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling over ``(N, C, H, W)``; on ties the gradient goes to the first maximum (row-major).
    PyTorch's signature; ``dilation``, ``return_indices`` and ``ceil_mode`` only at their defaults.

    >>> MaxPool2d(2)(np.zeros((1, 3, 28, 28), np.float32)).shape
    (1, 3, 14, 14)
    """
    _forward = staticmethod(F.max_pool2d_forward)
    _backward = staticmethod(F.max_pool2d_backward)

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        require_defaults("MaxPool2d", dilation=(as_pair(dilation, "MaxPool2d", "dilation"), (1, 1)),
                         return_indices=(return_indices, False))
        super().__init__(kernel_size, stride, padding, ceil_mode)


class AvgPool2d(_Pool2d):
    """Average pooling; zero padding counts in the mean unless ``count_include_pad=False``.
    PyTorch's signature; ``ceil_mode`` and ``divisor_override`` only at their defaults."""
    _forward = staticmethod(F.avg_pool2d_forward)
    _backward = staticmethod(F.avg_pool2d_backward)

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override=None):
        require_defaults("AvgPool2d", divisor_override=(divisor_override, None))
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad

    def _pool_args(self) -> dict:
        return {"count_include_pad": self.count_include_pad}


class GlobalAvgPool2d(Module):
    """Mean over H and W: ``(N, C, H, W) -> (N, C)`` (PyTorch: ``AdaptiveAvgPool2d(1)`` + ``Flatten``)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, "(N, C, H, W)", 4)
        out, cache = F.global_avg_pool2d_forward(x)
        self._save_for_backward(cache, out.shape)
        return out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return F.global_avg_pool2d_backward(grad_output, self._saved_for_backward(grad_output))


class AdaptiveAvgPool2d(Module):
    """PyTorch's adaptive average pooling to ``output_size`` for any input size
    (``AdaptiveAvgPool2d(1)`` is global average pooling kept 4-D: ``(N, C, 1, 1)``)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = as_pair(output_size, "AdaptiveAvgPool2d", "output_size")

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, "(N, C, H, W)", 4)
        out, cache = F.adaptive_avg_pool2d_forward(x, self.output_size)
        self._save_for_backward(cache, out.shape)
        return out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return F.adaptive_avg_pool2d_backward(grad_output, self._saved_for_backward(grad_output))

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
