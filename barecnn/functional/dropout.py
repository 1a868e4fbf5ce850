"""Inverted dropout: scale at training time so inference is the identity."""
from __future__ import annotations

import numpy as np

from ._checks import check_float_array, check_grad_shape


def random_like(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform [0, 1) numbers shaped like ``x`` *and laid out like it in memory* (e.g. channels-last),
    so later elementwise ops see matching layouts. Drawn in memory order: deterministic per layout."""
    order = np.argsort([-abs(stride) for stride in x.strides], kind="stable")
    dtype = np.float64 if x.dtype == np.float64 else np.float32
    draws = rng.random(tuple(x.shape[axis] for axis in order), dtype=dtype)
    return draws.transpose(np.argsort(order))


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
        keep = random_like(x, rng) >= p
        mask = keep * x.dtype.type(1.0 / (1.0 - p))
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache) -> np.ndarray:
    """``dx = dout * mask`` (the identity when the forward pass did not drop)."""
    mask = cache
    if mask is None:
        return dout
    check_grad_shape("dropout", dout, mask.shape)
    return dout * mask
