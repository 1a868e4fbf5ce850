"""PyTorch's default initialisation for Conv2d and Linear, drawn from barecnn's seedable generator."""
from __future__ import annotations

import numpy as np

from .. import random as barecnn_random


def default_weight_and_bias(weight_shape: tuple[int, ...], bias: bool, dtype, rng=None):
    """Weight and bias as PyTorch initialises them.

    ``kaiming_uniform_(a=sqrt(5))`` gives ``bound = gain * sqrt(3 / fan_in)`` with
    ``gain = sqrt(2 / (1 + a^2)) = sqrt(1/3)``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias
    uses the same bound. ``fan_in`` is the product of every weight axis but the first.
    """
    rng = barecnn_random.default_rng() if rng is None else rng
    fan_in = int(np.prod(weight_shape[1:]))
    bound = 1.0 / np.sqrt(fan_in)
    weight = rng.uniform(-bound, bound, size=weight_shape).astype(dtype)
    bias_value = rng.uniform(-bound, bound, size=weight_shape[0]).astype(dtype) if bias else None
    return weight, bias_value
