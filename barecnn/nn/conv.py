"""Convolution module."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..functional._checks import as_pair, resolve_padding
from .init_defaults import default_weight_and_bias
from .module import DEFAULT_DTYPE, Module, Parameter, require_defaults


class Conv2d(Module):
    """2-D convolution over ``(N, C_in, H, W)`` giving ``(N, C_out, H', W')``.

    PyTorch's signature; ``dilation``, ``groups`` and ``padding_mode`` only at their defaults.

    Parameters: ``weight (C_out, C_in, kH, kW)``, ``bias (C_out,)`` (PyTorch's shapes and keys),
    initialised as PyTorch does: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in*kH*kW.

    Example
    -------
    >>> conv = Conv2d(1, 8, kernel_size=3, padding=1)
    >>> conv(np.zeros((2, 1, 28, 28), np.float32)).shape
    (2, 8, 28, 28)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", *, dtype=DEFAULT_DTYPE,
                 rng: np.random.Generator | None = None):
        super().__init__()
        name = f"Conv2d({in_channels}, {out_channels})"
        require_defaults(name, dilation=(as_pair(dilation, name, "dilation"), (1, 1)), groups=(groups, 1),
                         padding_mode=(padding_mode, "zeros"))
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            as_pair(value, name, arg)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = as_pair(kernel_size, name, "kernel_size")
        self.stride = as_pair(stride, name, "stride")
        resolve_padding(padding, self.kernel_size, self.stride, name)   # validate now, not at first forward
        self.padding = padding if isinstance(padding, str) else as_pair(padding, name, "padding", minimum=0)
        weight, bias_value = default_weight_and_bias((out_channels, in_channels, *self.kernel_size), bias, dtype, rng)
        self.weight = Parameter(weight)
        self.bias = Parameter(bias_value) if bias else None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, f"(N, {self.in_channels}, H, W)", 4, self.in_channels)
        bias = self.bias.data if self.bias is not None else None
        try:
            out, cache = F.conv2d_forward(x, self.weight.data, bias, self.stride, self.padding)
        except ValueError as error:
            raise ValueError(f"{self!r}: {error}") from None
        self._save_for_backward(cache, out.shape)
        return out

    accepts_need_input_grad = True

    def backward(self, grad_output: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        cache = self._saved_for_backward(grad_output)
        dx, dw, db = F.conv2d_backward(grad_output, cache, need_dx=need_input_grad)
        self.weight.accumulate_grad(dw)
        if self.bias is not None:
            self.bias.accumulate_grad(db)
        return dx

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0, 0), "valid"):
            text += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        return text + ("" if self.bias is not None else ", bias=False")
