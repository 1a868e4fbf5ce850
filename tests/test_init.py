"""barecnn.init: fans and gains equal torch.nn.init's, fills have the documented statistics."""
from __future__ import annotations

import math

import numpy as np
import pytest

from barecnn import init
from barecnn.nn.module import Parameter

torch = pytest.importorskip("torch")

LARGE = (256, 64, 3, 3)          # 147,456 values: sample std within ~0.4% of the true one


def rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ fans, gains
@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 3, 3), (5, 2, 7), (2, 3, 4, 5, 6), (1, 1), (6, 0, 3, 3)])
def test_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.calculate_fan_in_and_fan_out(shape) == expected
    assert init.calculate_fan_in_and_fan_out(np.empty(shape)) == expected
    assert init.calculate_fan_in_and_fan_out(Parameter(np.empty(shape))) == expected


@pytest.mark.parametrize("shape", [(5,), ()])
def test_fans_need_two_dimensions(shape):
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.calculate_fan_in_and_fan_out(shape)


@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("relu", 0.3), ("selu", None),
    ("leaky_relu", None), ("leaky_relu", 0), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)),
])
def test_gains_match_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


@pytest.mark.parametrize("nonlinearity, param", [("leaky_relu", True), ("leaky_relu", "0.1"),
                                                 ("leaky_relu", float("nan")), ("softmax", None)])
def test_bad_gain_arguments(nonlinearity, param):
    with pytest.raises(ValueError):
        init.calculate_gain(nonlinearity, param)


# ------------------------------------------------------------------ statistics
def assert_statistics(values, std, bound=None):
    assert abs(values.mean()) < 0.02 * std
    assert values.std() == pytest.approx(std, rel=0.02)
    if bound is not None:
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.99 * bound


def test_kaiming_uniform_statistics():
    fan_in, fan_out = 64 * 9, 256 * 9
    w = init.kaiming_uniform_(np.empty(LARGE), nonlinearity="relu", rng=rng())
    std = math.sqrt(2 / fan_in)
    assert_statistics(w, std, bound=math.sqrt(3) * std)
    w = init.kaiming_uniform_(np.empty(LARGE), a=0.2, mode="fan_out", rng=rng())
    std = math.sqrt(2 / (1 + 0.04)) / math.sqrt(fan_out)
    assert_statistics(w, std, bound=math.sqrt(3) * std)


def test_kaiming_normal_statistics():
    w = init.kaiming_normal_(np.empty(LARGE), mode="fan_in", nonlinearity="relu", rng=rng())
    assert_statistics(w, math.sqrt(2 / (64 * 9)))
    w = init.kaiming_normal_(np.empty(LARGE), mode="fan_out", nonlinearity="tanh", rng=rng())
    assert_statistics(w, 5 / 3 / math.sqrt(256 * 9))


def test_xavier_statistics():
    fan_sum = 64 * 9 + 256 * 9
    w = init.xavier_uniform_(np.empty(LARGE), gain=2.0, rng=rng())
    std = 2.0 * math.sqrt(2 / fan_sum)
    assert_statistics(w, std, bound=math.sqrt(3) * std)
    w = init.xavier_normal_(np.empty(LARGE), rng=rng())
    assert_statistics(w, math.sqrt(2 / fan_sum))


def test_normal_uniform_scaled_constant():
    w = init.normal_(np.empty(LARGE), mean=0.0, std=0.3, rng=rng())
    assert_statistics(w, 0.3)
    w = init.normal_(np.empty(LARGE), mean=5.0, std=0.3, rng=rng())
    assert w.mean() == pytest.approx(5.0, abs=0.01)
    w = init.uniform_(np.empty(LARGE), -2.0, 2.0, rng=rng())
    assert_statistics(w, 4 / math.sqrt(12), bound=2.0)
    w = init.scaled_normal_(np.empty(LARGE), 1e-3, rng=rng())          # cs231n's weight_scale
    assert_statistics(w, 1e-3)
    w = init.scaled_normal_(np.empty((8, 3, 3)), 1 / 9, rng=rng(3))    # the 3x3 tutorial: randn/9
    np.testing.assert_allclose(w, rng(3).standard_normal((8, 3, 3)) / 9, rtol=1e-15)
    assert np.all(init.zeros_(np.ones((3, 4))) == 0)
    assert np.all(init.ones_(np.zeros((3, 4), dtype=np.int64)) == 1)
    assert np.all(init.constant_(np.zeros(5), 0.25) == 0.25)


def test_bound_matches_torch_kaiming_uniform():
    """Same bound as torch's own fill: the maximum of a large torch fill is just below ours."""
    shape = (64, 32, 5, 5)
    torch.manual_seed(0)
    theirs = torch.nn.init.kaiming_uniform_(torch.empty(shape, dtype=torch.float64), a=0.1,
                                            mode="fan_out").numpy()
    ours = init.kaiming_uniform_(np.empty(shape), a=0.1, mode="fan_out", rng=rng())
    bound = math.sqrt(3) * init.calculate_gain("leaky_relu", 0.1) / math.sqrt(64 * 25)
    for values in (ours, theirs):
        assert 0.999 * bound < np.abs(values).max() <= bound
    assert ours.std() == pytest.approx(theirs.std(), rel=0.02)


# ------------------------------------------------------- PyTorch's layer default
def test_default_conv_linear_init_bounds():
    weight, bias = np.empty((300, 20, 5, 5)), np.empty(300)
    out_w, out_b = init.default_conv_linear_init(weight, bias, rng=rng())
    assert out_w is weight and out_b is bias
    bound = 1 / math.sqrt(20 * 25)
    assert_statistics(weight, bound / math.sqrt(3), bound=bound)
    assert np.abs(bias).max() <= bound and bias.std() > 0.4 * bound
    # torch's Linear default has the same spread
    torch.manual_seed(0)
    layer = torch.nn.Linear(500, 300).double()
    assert layer.weight.detach().numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert np.abs(layer.bias.detach().numpy()).max() <= bound
    assert init.default_conv_linear_init(np.empty((4, 3)), None, rng=rng())[1] is None


def test_default_conv_linear_init_equals_barecnn_layers():
    nn = pytest.importorskip("barecnn.nn")
    if not hasattr(nn, "Conv2d") or not hasattr(nn, "Linear"):
        pytest.skip("barecnn.nn has no Conv2d/Linear yet")
    try:
        conv = nn.Conv2d(3, 8, 3, dtype=np.float64, rng=rng(5))
        linear = nn.Linear(12, 7, dtype=np.float64, rng=rng(6))
    except TypeError:
        pytest.skip("barecnn.nn layers take no dtype/rng arguments")
    for layer, seed in ((conv, 5), (linear, 6)):
        weight, bias = init.default_conv_linear_init(np.empty(layer.weight.shape),
                                                     np.empty(layer.bias.shape), rng=rng(seed))
        np.testing.assert_array_equal(weight, layer.weight.data)
        np.testing.assert_array_equal(bias, layer.bias.data)


# ---------------------------------------------------------------- in place, rng
def test_fills_in_place_keep_dtype_and_accept_parameters():
    array = np.zeros((16, 8), dtype=np.float32)
    assert init.kaiming_normal_(array, rng=rng()) is array
    assert array.dtype == np.float32 and array.std() > 0
    param = Parameter(np.zeros((16, 8), dtype=np.float32))
    data = param.data
    assert init.xavier_uniform_(param, rng=rng()) is param
    assert param.data is data and param.data.dtype == np.float32 and data.std() > 0
    view = np.zeros((4, 10))[:, ::2]
    init.normal_(view, rng=rng())
    assert view.std() > 0


def test_float32_and_float64_get_the_same_values():
    w32 = init.kaiming_uniform_(np.empty((10, 6), np.float32), rng=rng(1))
    w64 = init.kaiming_uniform_(np.empty((10, 6), np.float64), rng=rng(1))
    np.testing.assert_array_equal(w32, w64.astype(np.float32))


@pytest.mark.parametrize("fill", [
    lambda a, r: init.kaiming_uniform_(a, rng=r), lambda a, r: init.kaiming_normal_(a, rng=r),
    lambda a, r: init.xavier_uniform_(a, rng=r), lambda a, r: init.xavier_normal_(a, rng=r),
    lambda a, r: init.normal_(a, rng=r), lambda a, r: init.uniform_(a, -1, 1, rng=r),
    lambda a, r: init.scaled_normal_(a, 0.1, rng=r),
    lambda a, r: init.default_conv_linear_init(a, None, rng=r)[0],
])
def test_seeding_is_reproducible(fill):
    init.seed(123)
    first = fill(np.empty((6, 4, 3, 3)), None).copy()
    second = fill(np.empty((6, 4, 3, 3)), None)
    init.seed(123)
    again = fill(np.empty((6, 4, 3, 3)), None)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(fill(np.empty((6, 4, 3, 3)), rng(7)),
                                  fill(np.empty((6, 4, 3, 3)), rng(7)))
    generator = init.seed(5)
    assert init.default_generator() is generator


def test_empty_arrays_are_left_alone():
    assert init.kaiming_uniform_(np.empty((0, 3))).shape == (0, 3)
    assert init.kaiming_normal_(np.empty((4, 0, 3, 3))).shape == (4, 0, 3, 3)


@pytest.mark.parametrize("call, error", [
    (lambda: init.xavier_uniform_(np.empty(5)), ValueError),
    (lambda: init.xavier_normal_(np.empty(5)), ValueError),
    (lambda: init.kaiming_uniform_(np.empty(5)), ValueError),
    (lambda: init.kaiming_normal_(np.empty((3, 4)), mode="fan_avg"), ValueError),
    (lambda: init.kaiming_uniform_(np.empty((3, 4)), nonlinearity="softmax"), ValueError),
    (lambda: init.normal_(np.empty(5), std=-1.0), ValueError),
    (lambda: init.uniform_(np.empty(5), 1.0, 0.0), ValueError),
    (lambda: init.normal_([0.0, 1.0]), TypeError),
    (lambda: init.normal_(np.zeros(4, dtype=np.int64)), TypeError),
    (lambda: init.normal_(np.zeros(4), rng=42), TypeError),
])
def test_bad_inputs(call, error):
    with pytest.raises(error):
        call()
