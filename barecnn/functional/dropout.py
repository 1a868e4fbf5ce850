"""Inverted dropout: scale at training time so inference is the identity."""
from __future__ import annotations

import numpy as np

from ._checks import check_float_array, check_grad_shape


def dropout_forward(x: np.ndarray, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None):
    """Zero each element with probability ``p`` and scale the survivors by ``1 / (1 - p)``.

    Parameters
    ----------
    x : any-shaped float array.  p : drop probability in [0, 1].
    training : when False the op is the identity.  rng : the random generator to draw from.

    Returns
    -------
    out : like ``x``; cache : the scaled keep-mask (``None`` when not training).
    """
    check_float_array(x, "dropout", "x", tuple(range(1, 9)))
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x, None
    if p == 1.0:
        mask = np.zeros_like(x)
    else:
        rng = np.random.default_rng() if rng is None else rng
        keep = rng.random(x.shape, dtype=np.float64 if x.dtype == np.float64 else np.float32) >= p
        mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache) -> np.ndarray:
    """``dx = dout * mask`` (the identity when the forward pass did not drop)."""
    mask = cache
    if mask is None:
        return dout
    check_grad_shape("dropout", dout, mask.shape)
    return dout * mask
