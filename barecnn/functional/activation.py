"""Elementwise activations. Each keeps its input's dtype, shape and memory layout."""
from __future__ import annotations

import numpy as np

from ._checks import check_float_array, check_grad_shape


def relu_forward(x: np.ndarray):
    """``out = max(x, 0)``; the cache is the output (its sign is the mask)."""
    check_float_array(x, "relu", "x", tuple(range(1, 9)))
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout: np.ndarray, cache) -> np.ndarray:
    """``dx = dout * [x > 0]`` (the gradient at exactly 0 is 0, as in PyTorch).

    A multiply by the boolean mask, not ``np.where``: branch-free, about 10x faster, and it keeps
    the operands' (channels-last) memory layout.
    """
    out = cache
    check_grad_shape("relu", dout, out.shape)
    return dout * (out > 0)


def leaky_relu_forward(x: np.ndarray, negative_slope: float = 0.01):
    """``out = x`` where ``x > 0`` else ``negative_slope * x``, as ``x * slope_map``.

    ``slope_map`` (1 where ``x > 0``, else ``negative_slope``) is also the local gradient.
    """
    check_float_array(x, "leaky_relu", "x", tuple(range(1, 9)))
    slope = x.dtype.type(negative_slope)
    slope_map = (x > 0) * (1 - slope)
    slope_map += slope
    return x * slope_map, slope_map


def leaky_relu_backward(dout: np.ndarray, cache) -> np.ndarray:
    slope_map = cache
    check_grad_shape("leaky_relu", dout, slope_map.shape)
    return dout * slope_map


def tanh_forward(x: np.ndarray):
    check_float_array(x, "tanh", "x", tuple(range(1, 9)))
    out = np.tanh(x)
    return out, out


def tanh_backward(dout: np.ndarray, cache) -> np.ndarray:
    """``d tanh(x) / dx = 1 - tanh(x)^2``."""
    out = cache
    check_grad_shape("tanh", dout, out.shape)
    return dout * (1 - out * out)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function without overflow: ``exp`` only ever sees ``-|x|``."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def sigmoid_forward(x: np.ndarray):
    check_float_array(x, "sigmoid", "x", tuple(range(1, 9)))
    out = sigmoid(x)
    return out, out


def sigmoid_backward(dout: np.ndarray, cache) -> np.ndarray:
    """``d sigmoid(x) / dx = s (1 - s)``."""
    out = cache
    check_grad_shape("sigmoid", dout, out.shape)
    return dout * out * (1 - out)
