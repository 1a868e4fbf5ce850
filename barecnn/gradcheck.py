"""Numerical gradient checks: central differences against the hand-written backward passes.

For a function ``f`` with upstream gradient ``dout``, the analytic gradient of the scalar
``L(x) = sum(f(x) * dout)`` is what ``backward(dout)`` returns; numerically, each element is
``(L(x + h e_i) - L(x - h e_i)) / (2h)`` (error O(h^2)). Use float64: in float32 the rounding
error of ``L`` divided by ``2h`` swamps the comparison. Use a random ``dout`` (an all-ones
upstream gradient hides errors that cancel in a sum) and keep inputs away from kinks (ReLU at 0,
max-pool ties), where the function is not differentiable.

Example
-------
>>> import numpy as np
>>> from barecnn import nn
>>> rng = np.random.default_rng(0)
>>> errors = check_module(nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=rng).double(),
...                       rng.standard_normal((2, 2, 7, 7)))
>>> max(errors.values()) < 1e-7
True
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def rel_error(x, y) -> float:
    """cs231n's relative error ``max |x - y| / max(1e-8, |x| + |y|)`` (elementwise, then the max)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: shapes differ, {x.shape} vs {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def numerical_gradient(f: Callable[[], np.ndarray], x: np.ndarray, dout, h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of ``sum(f() * dout)`` with respect to ``x``, changed in place.

    ``f`` takes no arguments and reads ``x`` (so it can stand for any input or parameter of a
    layer); ``x`` is restored afterwards. The two outputs are subtracted *before* weighting by
    ``dout``, so rounding in the large sums does not swamp small gradient entries. Returns an
    array shaped like ``x``.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        plus = np.array(f(), dtype=np.float64)
        x[index] = original - h
        minus = np.array(f(), dtype=np.float64)
        x[index] = original
        grad[index] = np.sum((plus - minus) * dout) / (2 * h)
    return grad


def check_module(module, x: np.ndarray, dout: np.ndarray | None = None, rng: np.random.Generator | None = None,
                 h: float = 1e-5) -> dict[str, float]:
    """Relative errors between analytic and numerical gradients for the input and every parameter.

    Parameters
    ----------
    module : a :class:`barecnn.nn.Module` (convert it with ``.double()`` first).
    x : the input; made float64 and copied.
    dout : upstream gradient shaped like the output; random normal when ``None``.

    Returns
    -------
    ``{"input": err, "<param name>": err, ...}``.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    x = np.array(x, dtype=np.float64)
    out = module(x)
    dout = rng.standard_normal(np.shape(out)) if dout is None else np.asarray(dout, dtype=np.float64)
    module.zero_grad()
    dx = module.backward(dout)
    analytic = {"input": dx, **{name: p.grad for name, p in module.named_parameters()}}
    numeric = {"input": numerical_gradient(lambda: module(x), x, dout, h)}
    for name, param in module.named_parameters():
        numeric[name] = numerical_gradient(lambda: module(x), param.data, dout, h)
    return {name: rel_error(analytic[name], numeric[name]) for name in analytic}


def check_function(forward: Callable, backward: Callable, inputs: list[np.ndarray], h: float = 1e-5,
                   rng: np.random.Generator | None = None, **kwargs) -> list[float]:
    """Check a functional pair: ``forward(*inputs, **kwargs) -> (out, cache)`` and
    ``backward(dout, cache) -> grads`` (one per input; a single array when there is one input).

    Returns the relative error of each input's gradient (``nan`` where backward returns ``None``).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    inputs = [np.array(a, dtype=np.float64) for a in inputs]
    out, cache = forward(*inputs, **kwargs)
    dout = rng.standard_normal(np.shape(out))
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    errors = []
    for array, grad in zip(inputs, grads):
        if grad is None:
            errors.append(float("nan"))
            continue
        numeric = numerical_gradient(lambda: forward(*inputs, **kwargs)[0], array, dout, h)
        errors.append(rel_error(grad, numeric))
    return errors


def _layer_cases(rng: np.random.Generator):
    """(name, module, input) for every layer kind, inputs kept away from kinks and ties."""
    from . import nn

    def away_from_zero(shape):
        x = rng.standard_normal(shape)
        return x + np.sign(x) * 0.1

    def distinct(shape):   # a permutation of well-separated values: no max-pool ties
        return rng.permutation(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape) * 0.1

    return [
        ("Conv2d 3x3 stride 2 pad 1", nn.Conv2d(2, 3, 3, stride=2, padding=1, rng=rng),
         rng.standard_normal((2, 2, 7, 7))),
        ("Conv2d 5x3 'same'", nn.Conv2d(2, 2, (5, 3), padding="same", rng=rng), rng.standard_normal((2, 2, 6, 5))),
        ("MaxPool2d 3x3 stride 2", nn.MaxPool2d(3, 2), distinct((2, 2, 7, 7))),
        ("AvgPool2d 2x2 pad 1", nn.AvgPool2d(2, 2, padding=1), rng.standard_normal((2, 2, 5, 5))),
        ("GlobalAvgPool2d", nn.GlobalAvgPool2d(), rng.standard_normal((2, 3, 4, 4))),
        ("AdaptiveAvgPool2d (2, 3)", nn.AdaptiveAvgPool2d((2, 3)), rng.standard_normal((2, 2, 7, 8))),
        ("Linear", nn.Linear(6, 4, rng=rng), rng.standard_normal((3, 6))),
        ("ReLU", nn.ReLU(), away_from_zero((3, 5))),
        ("LeakyReLU", nn.LeakyReLU(0.1), away_from_zero((3, 5))),
        ("Tanh", nn.Tanh(), rng.standard_normal((3, 5))),
        ("Sigmoid", nn.Sigmoid(), rng.standard_normal((3, 5))),
        ("BatchNorm1d", nn.BatchNorm1d(4), rng.standard_normal((5, 4))),
        ("BatchNorm2d", nn.BatchNorm2d(3), rng.standard_normal((2, 3, 4, 4))),
        ("BatchNorm2d (eval)", nn.BatchNorm2d(3).eval(), rng.standard_normal((2, 3, 4, 4))),
        ("GroupNorm", nn.GroupNorm(2, 4), rng.standard_normal((2, 4, 3, 3))),
        ("Dropout (fixed mask)", nn.Dropout(0.5, rng=None), rng.standard_normal((3, 5))),
        ("Flatten", nn.Flatten(), rng.standard_normal((2, 3, 2, 2))),
    ]


def check_all_layers(seed: int = 0) -> list[tuple[str, dict[str, float]]]:
    """Gradient-check one instance of every layer (float64); returns ``[(name, errors), ...]``.

    Dropout is checked with its random mask frozen (a fixed seed before each forward), since a
    fresh mask per call is not a differentiable function.
    """
    from . import nn

    rng = np.random.default_rng(seed)
    results = []
    for name, module, x in _layer_cases(rng):
        module.double()
        if isinstance(module, nn.Dropout):
            module = _FrozenDropout(module, seed)
        results.append((name, check_module(module, x, rng=rng)))
    x = rng.standard_normal((4, 5))
    labels = rng.integers(0, 5, size=4)
    crit = nn.CrossEntropyLoss()
    crit(x, labels)
    numeric = numerical_gradient(lambda: crit(x, labels), x, 1.0)
    crit(x, labels)
    results.append(("CrossEntropyLoss", {"input": rel_error(crit.backward(), numeric)}))
    return results


class _FrozenDropout:
    """Dropout whose mask is redrawn from the same seed on every call (a fixed function of x)."""

    def __init__(self, dropout, seed: int):
        self.dropout, self.seed = dropout, seed

    def __call__(self, x):
        self.dropout.rng = np.random.default_rng(self.seed)
        return self.dropout(x)

    def backward(self, dout):
        return self.dropout.backward(dout)

    def zero_grad(self):
        pass

    def named_parameters(self):
        return iter(())
