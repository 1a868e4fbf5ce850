"""Softmax and cross-entropy from logits, numerically stable by the log-sum-exp trick.

``log softmax(z)_k = z_k - m - log(sum_j exp(z_j - m))`` with ``m = max_j z_j``, so ``exp`` never
sees a positive argument and cannot overflow (e.g. logits [10000, 10010, 10], label 0 give the
exact loss 10 + log(1 + e^-10)).
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import check_float_array


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Stable ``log(softmax(logits))`` along ``axis``."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Stable softmax along ``axis``."""
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def check_labels(labels, n: int, num_classes: int, op: str) -> np.ndarray:
    """Integer class labels ``(N,)`` in ``[0, num_classes)``, else a clear error."""
    labels = np.asarray(labels)
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{op}: labels must be integers (class indices), got dtype {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(f"{op}: expected {n} labels of shape ({n},) to match the logits, got shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"{op}: labels must be in [0, {num_classes - 1}], got values from {labels.min()} "
                         f"to {labels.max()}")
    return labels


def softmax_cross_entropy_forward(logits: np.ndarray, labels, label_smoothing: float = 0.0, reduction: str = "mean"):
    """Cross-entropy of ``softmax(logits)`` against integer labels, averaged (or summed) over the batch.

    Parameters
    ----------
    logits : (N, K) unnormalised scores.
    labels : (N,) integer classes in ``[0, K)``.
    label_smoothing : ``eps`` in [0, 1]: the target is ``(1 - eps) * onehot + eps / K`` (PyTorch).
    reduction : ``"mean"`` (PyTorch's default) or ``"sum"`` over the batch.

    Returns
    -------
    loss : a Python float.
    cache : (probabilities (N, K), target distribution (N, K), the divisor: N or 1).
    """
    op = "cross_entropy"
    check_float_array(logits, op, "logits", 2, "(N, K)")
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"{op}: reduction must be 'mean' or 'sum', got {reduction!r}")
    n, k = logits.shape
    labels = check_labels(labels, n, k, op)
    log_probs = log_softmax(logits)
    target = np.full_like(log_probs, label_smoothing / k)
    target[np.arange(n), labels] += 1.0 - label_smoothing
    divisor = n if reduction == "mean" else 1
    loss = -(target * log_probs).sum() / divisor
    return float(loss), (np.exp(log_probs), target, divisor)


def softmax_cross_entropy_backward(dloss, cache) -> np.ndarray:
    """``dlogits = dloss * (softmax(logits) - target) / divisor`` (N for the mean); ``dloss`` a scalar."""
    probs, target, divisor = cache
    return (probs - target) * probs.dtype.type(float(dloss) / divisor)
