"""RMSprop (Hinton, Coursera lecture 6e), with momentum and the centered variant (Graves, 2013)."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from barecnn.nn.module import Parameter
from barecnn.optim.adam import lerp_
from barecnn.optim.optimizer import Optimizer, check_non_negative

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop, step for step as ``torch.optim.RMSprop``.

    For each parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p                          # if weight_decay != 0
        s = alpha * s + (1 - alpha) * g * g               # square_avg
        if centered:
            a = alpha * a + (1 - alpha) * g               # grad_avg
            denom = sqrt(s - a * a) + eps
        else:
            denom = sqrt(s) + eps
        if momentum > 0:
            b = momentum * b + g / denom                  # momentum_buffer
            p = p - lr * b
        else:
            p = p - lr * g / denom

    cs231n's ``rmsprop`` (``decay_rate=alpha``) is the plain, non-centered form.

    Parameters
    ----------
    params : iterable of Parameter or of dict (parameter groups)
    lr : float >= 0, default 1e-2
    alpha : float >= 0, default 0.99 (smoothing constant)
    eps : float >= 0, default 1e-8
    weight_decay : float >= 0, default 0
    momentum : float >= 0, default 0
    centered : bool, default False (normalize by an estimate of the gradient's variance)
    maximize : bool, default False

    State per parameter: ``"step"`` (int), ``"square_avg"``, and ``"momentum_buffer"`` if
    ``momentum > 0``, ``"grad_avg"`` if ``centered``.
    """

    def __init__(self, params: Iterable[Parameter] | Iterable[dict], lr: float = 1e-2,
                 alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, *, maximize: bool = False):
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                    "momentum": momentum, "centered": centered, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: Mapping[str, Any]) -> None:
        check_non_negative("learning rate", group["lr"])
        check_non_negative("epsilon value", group["eps"])
        check_non_negative("momentum value", group["momentum"])
        check_non_negative("weight_decay value", group["weight_decay"])
        check_non_negative("alpha value", group["alpha"])

    def _update(self, param: Parameter, grad: np.ndarray, state: dict[str, Any],
                group: Mapping[str, Any]) -> None:
        if not state:
            _init_rmsprop_state(state, param.data, group["momentum"] > 0, group["centered"])
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        momentum, weight_decay = float(group["momentum"]), float(group["weight_decay"])
        state["step"] += 1

        if weight_decay != 0:
            grad = grad + weight_decay * param.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = lerp_(state["grad_avg"], grad, 1 - alpha)
            denom = square_avg - grad_avg * grad_avg
            np.sqrt(denom, out=denom)
        else:
            denom = np.sqrt(square_avg)
        denom += eps

        if momentum > 0:
            buffer = state["momentum_buffer"]
            buffer *= momentum
            buffer += grad / denom
            param.data -= lr * buffer
        else:
            np.divide(grad, denom, out=denom)
            denom *= lr
            param.data -= denom


def _init_rmsprop_state(state: dict[str, Any], data: np.ndarray, momentum: bool, centered: bool) -> None:
    state["step"] = 0
    state["square_avg"] = np.zeros_like(data)
    if momentum:
        state["momentum_buffer"] = np.zeros_like(data)
    if centered:
        state["grad_avg"] = np.zeros_like(data)
