"""Dropout module."""
from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from .. import random as barecnn_random
from .module import Module


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability ``p`` and scale the rest
    by ``1/(1-p)``; in eval, the identity. Draws from ``rng`` or barecnn's default generator."""

    def __init__(self, p: float = 0.5, inplace: bool = False, *, rng: np.random.Generator | None = None):
        super().__init__()
        if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.inplace = inplace   # accepted for PyTorch compatibility; the input is never overwritten
        self.rng = rng

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, "(N, *)", tuple(range(1, 9)))
        rng = barecnn_random.default_rng() if self.rng is None else self.rng
        out, cache = F.dropout_forward(x, self.p, self.training, rng)
        self._save_for_backward((cache,), out.shape)
        return out

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        (mask,) = self._saved_for_backward(grad_output)
        return F.dropout_backward(grad_output, mask)

    def extra_repr(self) -> str:
        return f"p={self.p}"
