"""Loss modules."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .module import Module, require_defaults


class CrossEntropyLoss(Module):
    """Softmax cross-entropy from logits, averaged over the batch (PyTorch's ``CrossEntropyLoss``;
    ``reduction="sum"`` sums; ``weight``/``ignore_index`` only at their defaults).

    ``loss = crit(logits, labels)`` returns a Python float; ``dlogits = crit.backward()`` returns
    the gradient of that mean loss (times ``grad_output``, default 1) with respect to the logits.

    >>> crit = CrossEntropyLoss()
    >>> round(crit(np.array([[10000., 10010., 10.]]), np.array([0])), 6)
    10.000045
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__()
        require_defaults("CrossEntropyLoss", weight=(weight, None), size_average=(size_average, None),
                         ignore_index=(ignore_index, -100), reduce=(reduce, None))
        if reduction not in ("mean", "sum"):
            raise ValueError(f"CrossEntropyLoss: reduction must be 'mean' or 'sum', got {reduction!r}")
        if not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.reduction = reduction
        self.label_smoothing = label_smoothing

    def forward(self, logits: np.ndarray, labels) -> float:
        self._check_input(logits, "(N, num_classes)", 2)
        try:
            loss, cache = F.softmax_cross_entropy_forward(logits, labels, self.label_smoothing, self.reduction)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{self!r}: {error}") from None
        self._save_for_backward(cache, ())
        return loss

    def backward(self, grad_output=1.0) -> np.ndarray:
        cache = self._saved_for_backward(np.asarray(grad_output, dtype=np.float64))
        return F.softmax_cross_entropy_backward(grad_output, cache)

    def extra_repr(self) -> str:
        parts = [f"reduction={self.reduction!r}"] if self.reduction != "mean" else []
        parts += [f"label_smoothing={self.label_smoothing}"] if self.label_smoothing else []
        return ", ".join(parts)
