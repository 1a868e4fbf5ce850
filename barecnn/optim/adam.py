"""Adam (Kingma & Ba, 2015, arXiv:1412.6980) and AdamW (Loshchilov & Hutter, 2019, arXiv:1711.05101)."""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np

from barecnn.nn.module import Parameter
from barecnn.optim.optimizer import Optimizer, check_fraction, check_non_negative

__all__ = ["Adam", "AdamW", "lerp_"]


class Adam(Optimizer):
    r"""Adam, step for step as ``torch.optim.Adam``.

    For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...``::

        p = p * (1 - lr * weight_decay)          # decoupled_weight_decay (AdamW) only
        g = g + weight_decay * p                 # plain Adam's L2 penalty (weight_decay != 0)
        m = beta1 * m + (1 - beta1) * g          # first moment (exp_avg)
        v = beta2 * v + (1 - beta2) * g * g      # second moment (exp_avg_sq)
        v_max = max(v_max, v)                    # amsgrad only; then v_max replaces v below
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        denom = sqrt(v) / sqrt(bias_correction2) + eps
        p = p - (lr / bias_correction1) * (m / denom)

    (cs231n's ``adam`` adds eps to ``sqrt(v / bias_correction2)`` instead, a tiny difference.)

    Parameters
    ----------
    params : iterable of Parameter or of dict (parameter groups)
    lr : float >= 0, default 1e-3
    betas : (float, float) in [0, 1), default (0.9, 0.999)
    eps : float >= 0, default 1e-8
    weight_decay : float >= 0, default 0
    amsgrad : bool, default False (Reddi et al., 2018)
    maximize : bool, default False
    decoupled_weight_decay : bool, default False (True gives AdamW)

    State per parameter: ``"step"`` (int), ``"exp_avg"``, ``"exp_avg_sq"`` and, with amsgrad,
    ``"max_exp_avg_sq"`` (arrays of the parameter's shape and dtype).
    """

    def __init__(self, params: Iterable[Parameter] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: Mapping[str, Any]) -> None:
        check_non_negative("learning rate", group["lr"])
        check_non_negative("epsilon value", group["eps"])
        if len(group["betas"]) != 2:
            raise ValueError(f"Invalid betas: {group['betas']} (expected two numbers)")
        check_fraction("beta parameter at index 0", group["betas"][0])
        check_fraction("beta parameter at index 1", group["betas"][1])
        check_non_negative("weight_decay value", group["weight_decay"])

    def _update(self, param: Parameter, grad: np.ndarray, state: dict[str, Any],
                group: Mapping[str, Any]) -> None:
        if not state:
            _init_adam_state(state, param.data, group["amsgrad"])
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        state["step"] += 1
        step = state["step"]

        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param.data *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param.data
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad

        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        step_size = lr / bias_correction1
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            second_moment = state["max_exp_avg_sq"]
        else:
            second_moment = exp_avg_sq
        update = np.sqrt(second_moment)
        update /= bias_correction2_sqrt
        update += eps                          # update = denom
        np.divide(exp_avg, update, out=update)
        update *= step_size
        param.data -= update


class AdamW(Adam):
    r"""Adam with decoupled weight decay, step for step as ``torch.optim.AdamW``.

    Same as ``Adam`` except that weight decay shrinks the parameter directly,
    ``p = p * (1 - lr * weight_decay)``, instead of adding ``weight_decay * p`` to the gradient
    (so it is not rescaled by ``1/sqrt(v)``). The default ``weight_decay`` is 1e-2.
    """

    def __init__(self, params: Iterable[Parameter] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)


def _init_adam_state(state: dict[str, Any], data: np.ndarray, amsgrad: bool) -> None:
    state["step"] = 0
    state["exp_avg"] = np.zeros_like(data)
    state["exp_avg_sq"] = np.zeros_like(data)
    if amsgrad:
        state["max_exp_avg_sq"] = np.zeros_like(data)


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """``start += weight * (end - start)`` in place, rounded as ``torch.lerp`` does.

    For ``|weight| >= 0.5`` PyTorch evaluates ``end - (end - start) * (1 - weight)``, which is
    exact at ``weight = 1``; we follow it. Returns ``start``.
    """
    difference = end - start
    if math.fabs(weight) < 0.5:
        difference *= weight
        start += difference
    else:
        difference *= 1 - weight
        np.subtract(end, difference, out=start)
    return start
