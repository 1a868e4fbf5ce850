"""Weight initialization, filling NumPy arrays in place (names and formulas of ``torch.nn.init``).

Every fill function takes the array to fill (a ``numpy.ndarray``, or a ``Parameter`` whose
``.data`` is filled), fills it in place and returns what it was given. The values are drawn
in float64 and then stored in the array's dtype, so a seed gives the same weights (up to
rounding) in float32 and float64 models.

Randomness: every random function takes ``rng``, a ``numpy.random.Generator``. ``rng=None``
uses the library's default generator, ``barecnn.random.default_rng()`` (the one that layers,
dropout and shuffling use too); ``init.seed(s)`` is ``barecnn.random.seed(s)``, which replaces it
by ``np.random.default_rng(s)``. So ``init.seed(0)`` followed by the same calls gives the same
weights. Pass your own generator to keep streams separate.

Fans of a weight of shape ``(F, C, kh, kw)`` (conv) or ``(out, in)`` (linear)::

    fan_in = C * kh * kw        fan_out = F * kh * kw

Standard deviations::

    kaiming (He et al., 2015):    std = gain / sqrt(fan)                 (fan = fan_in or fan_out)
    xavier (Glorot & Bengio, 2010): std = gain * sqrt(2 / (fan_in + fan_out))
    uniform versions draw from U(-bound, bound) with bound = sqrt(3) * std (same variance).

The tutorials' ``W = np.random.randn(...) * scale`` is ``scaled_normal_(W, scale)``:
cs231n's ``weight_scale``, ``1/sqrt(fan_in)`` in the CS229 notes, ``1/9`` for 3x3 filters and
``1/input_len`` for the dense layer in the "CNNs from scratch" tutorial.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Any, Sequence

import numpy as np

from barecnn import random as barecnn_random
from barecnn.nn.module import Parameter

__all__ = [
    "seed", "default_generator", "calculate_fan_in_and_fan_out", "calculate_gain",
    "uniform_", "normal_", "constant_", "zeros_", "ones_", "scaled_normal_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "default_conv_linear_init",
]


# ------------------------------------------------------------------ randomness
def seed(s: int | None) -> np.random.Generator:
    """Reseed the library's default generator (``barecnn.random.seed``) and return it."""
    barecnn_random.seed(s)
    return barecnn_random.default_rng()


def default_generator() -> np.random.Generator:
    """The generator used when a function gets ``rng=None`` (``barecnn.random.default_rng()``)."""
    return barecnn_random.default_rng()


def _generator(rng: np.random.Generator | None) -> np.random.Generator:
    if rng is None:
        return barecnn_random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__} "
                        "(use np.random.default_rng(seed))")
    return rng


# ----------------------------------------------------------------------- fans
def calculate_fan_in_and_fan_out(shape: Sequence[int] | np.ndarray | Parameter) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight, as ``torch.nn.init._calculate_fan_in_and_fan_out``.

    Parameters
    ----------
    shape : tuple of int, or an array / Parameter (its shape is used)
        ``(out, in)`` for a linear weight, ``(F, C, k1, k2, ...)`` for a conv weight.

    Returns
    -------
    fan_in = in * prod(k...),  fan_out = out * prod(k...)

    Raises ``ValueError`` for fewer than 2 dimensions.
    """
    shape = _shape_of(shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for an array with fewer than "
                         f"2 dimensions (shape {shape})")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _correct_fan(shape: Sequence[int] | np.ndarray | Parameter, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


_LINEAR_NONLINEARITIES = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                          "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    ============================  ==========================
    linear, conv*, sigmoid        1
    tanh                          5/3
    relu                          sqrt(2)
    leaky_relu                    sqrt(2 / (1 + slope^2)), slope = param (default 0.01)
    selu                          3/4
    ============================  ==========================
    """
    if nonlinearity in _LINEAR_NONLINEARITIES:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, Real) and not isinstance(param, bool) and math.isfinite(param):
            slope = param
        else:
            raise ValueError(f"negative_slope {param!r} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity!r}")


# -------------------------------------------------------------------- fillers
def uniform_(array, a: float = 0.0, b: float = 1.0, rng: np.random.Generator | None = None):
    """Fill with draws from U(a, b). Raises ``ValueError`` if ``a > b``."""
    if not a <= b:
        raise ValueError(f"uniform_ expects a <= b, got a={a}, b={b}")
    target = _float_target(array)
    target[...] = _generator(rng).uniform(a, b, size=target.shape)
    return array


def normal_(array, mean: float = 0.0, std: float = 1.0, rng: np.random.Generator | None = None):
    """Fill with draws from N(mean, std^2). Raises ``ValueError`` if ``std < 0``."""
    if not std >= 0:
        raise ValueError(f"normal_ expects std >= 0, got {std}")
    target = _float_target(array)
    target[...] = _generator(rng).normal(mean, std, size=target.shape)
    return array


def scaled_normal_(array, scale: float, rng: np.random.Generator | None = None):
    """Fill with ``randn(*shape) * scale``, the tutorials' initialization (std = |scale|)."""
    target = _float_target(array)
    target[...] = _generator(rng).standard_normal(size=target.shape) * scale
    return array


def constant_(array, value: float):
    """Fill with ``value``."""
    _target(array)[...] = value
    return array


def zeros_(array):
    """Fill with 0."""
    return constant_(array, 0)


def ones_(array):
    """Fill with 1."""
    return constant_(array, 1)


def xavier_uniform_(array, gain: float = 1.0, rng: np.random.Generator | None = None):
    """Glorot uniform: U(-b, b), ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(array)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out))
    return uniform_(array, -bound, bound, rng=rng)


def xavier_normal_(array, gain: float = 1.0, rng: np.random.Generator | None = None):
    """Glorot normal: N(0, std^2), ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(array)
    return normal_(array, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng=rng)


def kaiming_uniform_(array, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     rng: np.random.Generator | None = None):
    """He uniform: U(-b, b), ``b = sqrt(3) * gain / sqrt(fan)``, ``gain = calculate_gain(nonlinearity, a)``.

    ``a`` is the negative slope of a leaky ReLU (ignored for other nonlinearities);
    ``mode="fan_in"`` keeps the forward activations' variance, ``"fan_out"`` the gradients'.
    An empty array is returned untouched.
    """
    if _is_empty(array):
        return array
    std = calculate_gain(nonlinearity, a) / math.sqrt(_correct_fan(array, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(array, -bound, bound, rng=rng)


def kaiming_normal_(array, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    rng: np.random.Generator | None = None):
    """He normal: N(0, std^2), ``std = gain / sqrt(fan)``; arguments as ``kaiming_uniform_``."""
    if _is_empty(array):
        return array
    std = calculate_gain(nonlinearity, a) / math.sqrt(_correct_fan(array, mode))
    return normal_(array, 0.0, std, rng=rng)


def default_conv_linear_init(weight, bias=None, rng: np.random.Generator | None = None):
    """PyTorch's default initialization of ``nn.Linear`` and ``nn.Conv2d``, in place.

    ``weight`` (``(out, in)`` or ``(F, C, kh, kw)``) gets ``kaiming_uniform_(a=sqrt(5))``,
    which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); ``bias`` (``(out,)`` / ``(F,)``, or None) gets
    the same bound. The weight is drawn first, then the bias, so for the same generator the
    values equal those ``barecnn.nn.Linear`` / ``Conv2d`` draw. Returns ``(weight, bias)``.
    """
    fan_in, _ = calculate_fan_in_and_fan_out(weight)
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0    # = kaiming_uniform_'s bound, exactly
    if not _is_empty(weight):
        uniform_(weight, -bound, bound, rng=rng)
    if bias is not None:
        uniform_(bias, -bound, bound, rng=rng)
    return weight, bias


# -------------------------------------------------------------------- helpers
def _target(array: Any) -> np.ndarray:
    """The ndarray to write into: ``array`` itself or a Parameter's ``.data``."""
    target = array.data if isinstance(array, Parameter) else array
    if not isinstance(target, np.ndarray):
        raise TypeError(f"expected a numpy array or a Parameter, got {type(array).__name__}")
    return target


def _float_target(array: Any) -> np.ndarray:
    target = _target(array)
    if not np.issubdtype(target.dtype, np.floating):
        raise TypeError(f"random initialization needs a floating array, got dtype {target.dtype}")
    return target


def _shape_of(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (np.ndarray, Parameter)):
        return tuple(shape.shape)
    return tuple(int(n) for n in shape)


def _is_empty(array: Any) -> bool:
    return _target(array).size == 0
