"""Stochastic gradient descent, with momentum, dampening, Nesterov and L2 weight decay."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from barecnn.nn.module import Parameter
from barecnn.optim.optimizer import Optimizer, check_non_negative

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, step for step as ``torch.optim.SGD``.

    For each parameter ``p`` with gradient ``g`` (all arrays of ``p``'s shape)::

        g = g + weight_decay * p                     # if weight_decay != 0
        if momentum != 0:
            b = g                                    # first step: the buffer is a copy of g
            b = momentum * b + (1 - dampening) * g   # later steps
            g = g + momentum * b  if nesterov  else  b
        p = p - lr * g

    cs231n's ``sgd`` is ``momentum=0``; its ``sgd_momentum`` (``v = mu*v - lr*dw; w += v``)
    gives the same weights as ``momentum=mu`` here when ``lr`` is constant.

    Parameters
    ----------
    params : iterable of Parameter or of dict (parameter groups)
    lr : float, default 1e-3 (PyTorch's default)
    momentum : float >= 0, default 0
    dampening : float, default 0
    weight_decay : float >= 0, default 0 (L2 penalty ``weight_decay/2 * |p|^2`` added to the loss)
    nesterov : bool, default False; needs ``momentum > 0`` and ``dampening == 0``
    maximize : bool, default False (ascend instead of descend)

    State per parameter: ``"momentum_buffer"`` (only when ``momentum != 0``).
    """

    def __init__(self, params: Iterable[Parameter] | Iterable[dict], lr: float = 1e-3,
                 momentum: float = 0, dampening: float = 0, weight_decay: float = 0,
                 nesterov: bool = False, *, maximize: bool = False):
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: Mapping[str, Any]) -> None:
        check_non_negative("learning rate", group["lr"])
        check_non_negative("momentum value", group["momentum"])
        check_non_negative("weight_decay value", group["weight_decay"])
        if group["dampening"] != group["dampening"]:
            raise ValueError(f"Invalid dampening value: {group['dampening']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, param: Parameter, grad: np.ndarray, state: dict[str, Any],
                group: Mapping[str, Any]) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, weight_decay = float(group["dampening"]), float(group["weight_decay"])

        if weight_decay != 0:
            grad = grad + weight_decay * param.data
        if momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = np.array(grad, dtype=param.data.dtype, copy=True)
            else:
                buffer *= momentum
                buffer += grad if dampening == 0 else (1 - dampening) * grad
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        param.data -= lr * grad
