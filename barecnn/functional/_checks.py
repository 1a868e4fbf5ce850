"""Argument normalisation and input checks shared by the kernels.

Every public kernel validates what it is given and raises at once with a message naming the op,
the argument, what was expected and what came. Shape arithmetic is integer-only.
"""
from __future__ import annotations

import numbers

import numpy as np

# (top, bottom, left, right) zero padding, the general form 'same' needs for even kernels.
Padding4 = tuple[int, int, int, int]


def as_pair(value, op: str, name: str, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints as ``(height, width)``; each must be an integer >= ``minimum``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return pair


def resolve_padding(padding, kernel: tuple[int, int], stride: tuple[int, int], op: str) -> Padding4:
    """Normalise ``padding`` (int, pair, ``'same'`` or ``'valid'``) to (top, bottom, left, right).

    ``'same'`` (stride 1 only, as in PyTorch) pads ``k - 1`` in total per axis, the odd pixel
    going to the bottom/right.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            (kh, kw) = kernel
            return ((kh - 1) // 2, kh - 1 - (kh - 1) // 2, (kw - 1) // 2, kw - 1 - (kw - 1) // 2)
        raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    ph, pw = as_pair(padding, op, "padding", minimum=0)
    return (ph, ph, pw, pw)


def output_size(size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    """Output length of a sliding window: ``1 + (size + pads - kernel) // stride``."""
    return 1 + (size + pad_before + pad_after - kernel) // stride


def check_float_array(x, op: str, name: str, ndim: int | tuple[int, ...], layout: str = "") -> np.ndarray:
    """``x`` as a floating NumPy array of rank ``ndim`` (or one of several), else a clear error."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: {name} must be a NumPy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{op}: {name} must be a floating-point array (float32 or float64), got dtype {x.dtype}")
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in ranks:
        expected = layout or " or ".join(f"{r}-D" for r in ranks)
        raise ValueError(f"{op}: {name} must have shape {expected}, got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{op}: {name} is empty (shape {x.shape})")
    return x


def check_same_dtype(op: str, reference: np.ndarray, **arrays) -> None:
    """Every array in ``arrays`` (``None`` allowed) has ``reference``'s dtype."""
    for name, array in arrays.items():
        if array is not None and array.dtype != reference.dtype:
            raise TypeError(f"{op}: {name} has dtype {array.dtype} but the input has dtype {reference.dtype}; "
                            f"convert one of them (e.g. model.double() or x.astype(np.float32))")


def check_grad_shape(op: str, grad: np.ndarray, expected: tuple[int, ...]) -> None:
    """The upstream gradient must have the shape of the forward output."""
    if not isinstance(grad, np.ndarray):
        raise TypeError(f"{op}: the upstream gradient must be a NumPy array, got {type(grad).__name__}")
    if grad.shape != tuple(expected):
        raise ValueError(f"{op}: the upstream gradient has shape {grad.shape}, expected the output's shape "
                         f"{tuple(expected)}")
