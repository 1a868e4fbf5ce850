"""Affine (fully connected) layer: ``out = x @ w.T + b`` with PyTorch's weight shape ``(M, D)``."""
from __future__ import annotations

import numpy as np

from ._checks import check_float_array, check_grad_shape, check_same_dtype

OP = "linear"


def linear_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None):
    """Forward pass.

    Parameters
    ----------
    x : (N, D) inputs.  w : (M, D) weights.  b : (M,) biases or ``None``.

    Returns
    -------
    out : (N, M), cache : (x, w, has_bias).
    """
    check_float_array(x, OP, "x", 2, "(N, D)")
    check_float_array(w, OP, "w", 2, "(M, D)")
    check_same_dtype(OP, x, w=w, b=b)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"{OP}: x has {x.shape[1]} features per sample but w expects {w.shape[1]} "
                         f"(x shape {x.shape}, w shape {w.shape})")
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"{OP}: b must have shape ({w.shape[0]},), got {b.shape}")
    out = x @ w.T
    if b is not None:
        out += b
    return out, (x, w, b is not None)


def linear_backward(dout: np.ndarray, cache, need_dx: bool = True):
    """Backward pass: ``dout (N, M) -> (dx (N, D), dw (M, D), db (M,) or None)``;
    ``need_dx=False`` skips ``dx`` (returned as ``None``)."""
    x, w, has_bias = cache
    check_grad_shape(OP, dout, (x.shape[0], w.shape[0]))
    dx = dout @ w if need_dx else None
    dw = dout.T @ x
    db = dout.sum(axis=0) if has_bias else None
    return dx, dw, db
