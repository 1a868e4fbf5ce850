"""Numerical gradient checks (barecnn.gradcheck) for every layer and every functional kernel.

Float64, a random upstream gradient (never all ones), inputs kept away from ReLU kinks and
max-pool ties; every relative error must be below 1e-6. Includes the regression test for the
tutorial bug (a conv whose output size differs from its kernel size, with stride 2 too).
"""
from __future__ import annotations

import doctest

import numpy as np
import pytest

import barecnn.functional as F
from barecnn import gradcheck, nn
from barecnn import random as barecnn_random
from barecnn.functional import naive
from barecnn.gradcheck import check_all_layers, check_function, check_module, numerical_gradient, rel_error
from helpers import away_from_zero, distinct_values

THRESHOLD = 1e-6
# Central differences with h=1e-5: exact for the piecewise-linear layers, O(h^2) ~ 1e-10 for smooth
# ones, and 10x less rounding noise than the default 1e-6 (rounding noise / h dominates the
# element-wise relative error of small gradient entries). Seeds are fixed, so results are repeatable.
H = 1e-5


def assert_all_small(errors, what=""):
    values = errors.values() if isinstance(errors, dict) else errors
    assert all(np.isfinite(list(values))), f"{what}: {errors}"
    assert max(values) < THRESHOLD, f"{what}: {errors}"


# ------------------------------------------------------------------- the tools
def test_rel_error_definition():
    assert rel_error(np.ones(3), np.ones(3)) == 0.0
    assert rel_error([1.0, 2.0], [1.0, 2.2]) == pytest.approx(0.2 / 4.2)
    assert rel_error([0.0], [1e-12]) == pytest.approx(1e-12 / 1e-8)          # floor of 1e-8
    assert rel_error(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0
    assert isinstance(rel_error(np.ones(2), np.ones(2) * 2), float)
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.ones(2), np.ones(3))


def test_numerical_gradient_of_known_function_and_restores_input(rng):
    x = rng.standard_normal((3, 4))
    original = x.copy()
    dout = rng.standard_normal((3, 4))
    grad = numerical_gradient(lambda: x ** 3, x, dout)
    np.testing.assert_allclose(grad, 3 * original ** 2 * dout, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(x, original)


def test_gradcheck_catches_a_wrong_backward_that_all_ones_would_hide(rng):
    """An identity op whose backward returns mean(dout) everywhere is exact for an all-ones
    upstream gradient; the random upstream gradient the checker uses exposes it."""
    def forward(x):
        return x.copy(), None

    def wrong_backward(dout, cache):
        return np.full_like(dout, dout.mean())

    x = rng.standard_normal((4, 5))
    dout_ones = np.ones((4, 5))
    assert rel_error(wrong_backward(dout_ones, None), numerical_gradient(lambda: forward(x)[0], x, dout_ones)) < 1e-8
    assert check_function(forward, wrong_backward, [x])[0] > 1e-2


def test_check_function_reports_nan_for_absent_gradients(rng):
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    errors = check_function(F.linear_forward, F.linear_backward, [x, w], h=H)   # no bias: db is None
    assert len(errors) == 2
    assert_all_small(errors, "linear")
    errors = check_function(lambda a, b: (a * b, None), lambda dout, cache: (None, dout), [x, x.copy()], h=H)
    assert np.isnan(errors[0]) and errors[1] > 1e-2


def test_check_all_layers_every_layer_below_threshold():
    barecnn_random.seed(0)          # see test_check_all_layers_is_determined_by_its_seed
    results = check_all_layers(seed=0)
    names = [name for name, _ in results]
    for expected in ("Conv2d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d", "Linear", "ReLU", "LeakyReLU", "Tanh",
                     "Sigmoid", "BatchNorm1d", "BatchNorm2d", "GroupNorm", "Dropout", "Flatten", "CrossEntropyLoss"):
        assert any(name.startswith(expected) for name in names), f"check_all_layers misses {expected}"
    for name, errors in results:
        assert_all_small(errors, name)


def test_check_all_layers_is_determined_by_its_seed():
    barecnn_random.seed(1)
    first = check_all_layers(seed=0)
    barecnn_random.seed(2)
    second = check_all_layers(seed=0)
    assert first == second


def test_seeded_conv_check_below_threshold():
    barecnn_random.seed(0)
    errors = check_module(nn.Conv2d(2, 3, 3, stride=2, padding=1).double(),
                          np.random.default_rng(0).standard_normal((2, 2, 7, 7)))
    assert_all_small(errors, "conv")


def test_gradcheck_docstring_example_is_reliable():
    barecnn_random.seed(0)
    result = doctest.testmod(gradcheck, report=False)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------- every module
class FrozenDropout(nn.Module):
    """Dropout with its mask redrawn from the same seed on each call: a fixed, differentiable map."""

    def __init__(self, p):
        super().__init__()
        self.inner = nn.Dropout(p)

    def forward(self, x):
        self.inner.rng = np.random.default_rng(17)
        return self.inner(x)

    def backward(self, grad_output):
        return self.inner.backward(grad_output)


def _gn_with_random_affine(groups, channels, rng):
    module = nn.GroupNorm(groups, channels)
    module.weight.data = rng.standard_normal(channels).astype(np.float32)
    module.bias.data = rng.standard_normal(channels).astype(np.float32)
    return module


MODULE_CASES = {
    "conv 3x3 s2 p1": (lambda r: nn.Conv2d(2, 3, 3, stride=2, padding=1), lambda r: r.standard_normal((2, 2, 7, 7))),
    "conv no bias": (lambda r: nn.Conv2d(2, 2, 3, bias=False), lambda r: r.standard_normal((2, 2, 5, 5))),
    "conv same even": (lambda r: nn.Conv2d(2, 2, (2, 3), padding="same"), lambda r: r.standard_normal((1, 2, 5, 6))),
    "conv same odd": (lambda r: nn.Conv2d(1, 2, (5, 3), padding="same"), lambda r: r.standard_normal((2, 1, 4, 5))),
    "conv valid": (lambda r: nn.Conv2d(2, 2, 2, padding="valid"), lambda r: r.standard_normal((1, 2, 4, 3))),
    "conv 1x1": (lambda r: nn.Conv2d(3, 2, 1, stride=2, padding=1), lambda r: r.standard_normal((2, 3, 4, 5))),
    "conv kernel==input": (lambda r: nn.Conv2d(2, 3, (4, 5)), lambda r: r.standard_normal((2, 2, 4, 5))),
    "conv non-square": (lambda r: nn.Conv2d(2, 2, (3, 2), stride=(2, 1), padding=(1, 0)),
                        lambda r: r.standard_normal((2, 2, 7, 5))),
    "maxpool 2": (lambda r: nn.MaxPool2d(2), lambda r: distinct_values(r, (2, 2, 6, 6))),
    "maxpool 3/2 overlap": (lambda r: nn.MaxPool2d(3, 2), lambda r: distinct_values(r, (2, 2, 7, 7))),
    "maxpool 3/2 pad 1": (lambda r: nn.MaxPool2d(3, 2, 1), lambda r: distinct_values(r, (1, 2, 6, 7))),
    "avgpool 2": (lambda r: nn.AvgPool2d(2), lambda r: r.standard_normal((2, 2, 6, 6))),
    "avgpool 3/2 pad 1": (lambda r: nn.AvgPool2d(3, 2, 1), lambda r: r.standard_normal((2, 2, 7, 6))),
    "avgpool exclude pad": (lambda r: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
                            lambda r: r.standard_normal((2, 2, 7, 6))),
    "adaptive 1": (lambda r: nn.AdaptiveAvgPool2d(1), lambda r: r.standard_normal((2, 3, 4, 5))),
    "adaptive 2x3": (lambda r: nn.AdaptiveAvgPool2d((2, 3)), lambda r: r.standard_normal((2, 2, 4, 6))),
    "global avg": (lambda r: nn.GlobalAvgPool2d(), lambda r: r.standard_normal((2, 3, 4, 5))),
    "linear": (lambda r: nn.Linear(6, 4), lambda r: r.standard_normal((3, 6))),
    "linear no bias": (lambda r: nn.Linear(5, 3, bias=False), lambda r: r.standard_normal((4, 5))),
    "relu": (lambda r: nn.ReLU(), lambda r: away_from_zero(r, (3, 4, 5))),
    "leaky relu": (lambda r: nn.LeakyReLU(0.2), lambda r: away_from_zero(r, (3, 4, 5))),
    "tanh": (lambda r: nn.Tanh(), lambda r: r.standard_normal((3, 4, 5))),
    "sigmoid": (lambda r: nn.Sigmoid(), lambda r: r.standard_normal((3, 4, 5)) * 2),
    "flatten": (lambda r: nn.Flatten(), lambda r: r.standard_normal((2, 3, 2, 2))),
    "identity": (lambda r: nn.Identity(), lambda r: r.standard_normal((2, 3))),
    "dropout frozen": (lambda r: FrozenDropout(0.4), lambda r: r.standard_normal((4, 5))),
    "bn1d": (lambda r: nn.BatchNorm1d(4), lambda r: r.standard_normal((5, 4))),
    "bn1d NCL": (lambda r: nn.BatchNorm1d(3), lambda r: r.standard_normal((4, 3, 5))),
    "bn2d": (lambda r: nn.BatchNorm2d(3), lambda r: r.standard_normal((2, 3, 3, 4))),
    "bn2d no affine": (lambda r: nn.BatchNorm2d(3, affine=False), lambda r: r.standard_normal((2, 3, 3, 4))),
    "bn2d eval": (lambda r: nn.BatchNorm2d(3).eval(), lambda r: r.standard_normal((2, 3, 3, 4))),
    "groupnorm 2": (lambda r: _gn_with_random_affine(2, 4, r), lambda r: r.standard_normal((2, 4, 3, 3))),
    "groupnorm 1": (lambda r: _gn_with_random_affine(1, 3, r), lambda r: r.standard_normal((2, 3, 2, 3))),
    "groupnorm C": (lambda r: _gn_with_random_affine(4, 4, r), lambda r: r.standard_normal((2, 4, 2, 3))),
    "groupnorm no affine": (lambda r: nn.GroupNorm(2, 4, affine=False), lambda r: r.standard_normal((2, 4, 5))),
    "sequential cnn": (lambda r: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.BatchNorm2d(2), nn.Tanh(),
                                               nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8, 3)),
                       lambda r: r.standard_normal((3, 1, 4, 4))),
}


@pytest.mark.parametrize("name", MODULE_CASES)
def test_check_module_every_layer(name):
    barecnn_random.seed(2024)
    rng = np.random.default_rng(2024)
    make, make_input = MODULE_CASES[name]
    module = make(rng).double()
    x = make_input(rng)
    errors = check_module(module, x, rng=np.random.default_rng(7), h=H)
    assert set(errors) == {"input"} | {n for n, _ in module.named_parameters()}
    assert_all_small(errors, name)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_module_gradient(rng, label_smoothing):
    logits, labels = rng.standard_normal((4, 5)) * 2, rng.integers(0, 5, size=4)
    crit = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    crit(logits, labels)
    analytic = crit.backward(0.7)
    numeric = numerical_gradient(lambda: crit(logits, labels), logits, 0.7, h=H)
    assert rel_error(analytic, numeric) < THRESHOLD


# ------------------------------------------------------------ the tutorial bug
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("impl", [F, naive], ids=["fast", "naive"])
def test_conv_output_size_differs_from_kernel_size(impl, stride):
    """3x3 kernel on 8x8: output 6x6 (stride 1) or 3x3 (stride 2), never the kernel size; a
    backward that loops over the kernel size instead of the output positions fails here."""
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((2, 2, 8, 8)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    out, _ = impl.conv2d_forward(x, w, b, stride, 0)
    assert out.shape[2:] == ((6, 6) if stride == 1 else (3, 3))
    errors = check_function(impl.conv2d_forward, impl.conv2d_backward, [x, w, b], h=H, rng=rng, stride=stride,
                            padding=0)
    assert_all_small(errors, f"{impl.__name__} stride {stride}")


def test_conv_module_tutorial_regression():
    rng = np.random.default_rng(12)
    for stride in (1, 2):
        barecnn_random.seed(stride)
        errors = check_module(nn.Conv2d(2, 3, 3, stride=stride).double(), rng.standard_normal((2, 2, 8, 8)), rng=rng,
                              h=H)
        assert_all_small(errors, f"stride {stride}")


# --------------------------------------------------------- every functional kernel
def _frozen_dropout_forward(x, p):
    return F.dropout_forward(x, p, True, np.random.default_rng(3))


KERNEL_CASES = {
    "conv2d": (F.conv2d_forward, F.conv2d_backward, lambda r: [r.standard_normal((2, 2, 6, 5)),
                                                               r.standard_normal((3, 2, 3, 2)), r.standard_normal(3)],
               dict(stride=(2, 1), padding=1)),
    "conv2d same": (F.conv2d_forward, F.conv2d_backward, lambda r: [r.standard_normal((1, 2, 5, 4)),
                                                                    r.standard_normal((2, 2, 4, 3))],
                    dict(padding="same")),
    "naive conv2d": (naive.conv2d_forward, naive.conv2d_backward,
                     lambda r: [r.standard_normal((2, 2, 5, 5)), r.standard_normal((2, 2, 3, 3)), r.standard_normal(2)],
                     dict(stride=2, padding=1)),
    "max_pool2d": (F.max_pool2d_forward, F.max_pool2d_backward, lambda r: [distinct_values(r, (2, 2, 7, 7))],
                   dict(kernel_size=3, stride=2, padding=1)),
    "naive max_pool2d": (naive.max_pool2d_forward, naive.max_pool2d_backward,
                         lambda r: [distinct_values(r, (2, 2, 7, 7))], dict(kernel_size=3, stride=2, padding=1)),
    "avg_pool2d": (F.avg_pool2d_forward, F.avg_pool2d_backward, lambda r: [r.standard_normal((2, 2, 7, 6))],
                   dict(kernel_size=(3, 2), stride=2, padding=1)),
    "avg_pool2d exclude pad": (F.avg_pool2d_forward, F.avg_pool2d_backward, lambda r: [r.standard_normal((2, 2, 7, 6))],
                               dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    "naive avg_pool2d": (naive.avg_pool2d_forward, naive.avg_pool2d_backward,
                         lambda r: [r.standard_normal((2, 2, 7, 6))],
                         dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    "global_avg_pool2d": (F.global_avg_pool2d_forward, F.global_avg_pool2d_backward,
                          lambda r: [r.standard_normal((2, 3, 4, 5))], {}),
    "linear": (F.linear_forward, F.linear_backward, lambda r: [r.standard_normal((3, 5)), r.standard_normal((4, 5)),
                                                               r.standard_normal(4)], {}),
    "relu": (F.relu_forward, F.relu_backward, lambda r: [away_from_zero(r, (4, 5))], {}),
    "leaky_relu": (F.leaky_relu_forward, F.leaky_relu_backward, lambda r: [away_from_zero(r, (4, 5))],
                   dict(negative_slope=0.3)),
    "tanh": (F.tanh_forward, F.tanh_backward, lambda r: [r.standard_normal((4, 5))], {}),
    "sigmoid": (F.sigmoid_forward, F.sigmoid_backward, lambda r: [r.standard_normal((4, 5)) * 3], {}),
    "batch_norm train": (F.batch_norm_forward, F.batch_norm_backward,
                         lambda r: [r.standard_normal((4, 3, 2, 2)), r.standard_normal(3), r.standard_normal(3)],
                         dict(training=True)),
    "batch_norm 2d input": (F.batch_norm_forward, F.batch_norm_backward,
                            lambda r: [r.standard_normal((5, 3)), r.standard_normal(3), r.standard_normal(3)],
                            dict(training=True)),
    "batch_norm eval": (F.batch_norm_forward, F.batch_norm_backward,
                        lambda r: [r.standard_normal((4, 3, 2)), r.standard_normal(3), r.standard_normal(3)],
                        dict(running_mean=np.array([0.1, -0.2, 0.3]), running_var=np.array([0.5, 1.5, 2.0]),
                             training=False)),
    "group_norm": (F.group_norm_forward, F.group_norm_backward,
                   lambda r: [r.standard_normal((2, 6, 2, 2))], dict(num_groups=3, gamma=None, beta=None)),
    "dropout": (_frozen_dropout_forward, F.dropout_backward, lambda r: [r.standard_normal((4, 5))], dict(p=0.5)),
}


@pytest.mark.parametrize("name", KERNEL_CASES)
def test_check_function_every_kernel(name):
    rng = np.random.default_rng(99)
    forward, backward, make_inputs, kwargs = KERNEL_CASES[name]
    inputs = make_inputs(rng)
    errors = check_function(forward, backward, inputs, h=H, rng=np.random.default_rng(5), **kwargs)
    assert len(errors) == len(inputs)
    assert_all_small(errors, name)


def test_group_norm_affine_gradients(rng):
    """check_function passes inputs positionally; wrap group norm so gamma and beta are checked too."""
    def forward(x, gamma, beta):
        return F.group_norm_forward(x, 2, gamma, beta)

    inputs = [rng.standard_normal((2, 4, 3)), rng.standard_normal(4), rng.standard_normal(4)]
    assert_all_small(check_function(forward, F.group_norm_backward, inputs, h=H, rng=rng), "group_norm affine")


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_kernel_gradient(rng, label_smoothing):
    logits, labels = rng.standard_normal((5, 4)), rng.integers(0, 4, size=5)
    errors = check_function(F.softmax_cross_entropy_forward, F.softmax_cross_entropy_backward, [logits], h=H, rng=rng,
                            labels=labels, label_smoothing=label_smoothing)
    assert_all_small(errors, "cross entropy")


def test_gradcheck_module_is_exported():
    assert {"rel_error", "numerical_gradient", "check_module", "check_function", "check_all_layers"} <= set(
        dir(gradcheck))
