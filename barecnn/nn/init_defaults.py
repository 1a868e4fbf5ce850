"""Fresh Conv2d / Linear parameters with PyTorch's default initialisation (see barecnn.init)."""
from __future__ import annotations

import numpy as np


def default_weight_and_bias(weight_shape: tuple[int, ...], bias: bool, dtype, rng=None):
    """Arrays ``(weight, bias or None)`` filled by :func:`barecnn.init.default_conv_linear_init`."""
    from ..init import default_conv_linear_init   # barecnn.init imports nn.module: import late
    weight = np.empty(weight_shape, dtype=dtype)
    bias_value = np.empty(weight_shape[0], dtype=dtype) if bias else None
    return default_conv_linear_init(weight, bias_value, rng)
