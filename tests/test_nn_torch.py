"""Every public layer of barecnn.nn against its torch.nn twin, in float64.

Each test hands a module and inputs to ``helpers.helper_test_module``, which builds the torch
twin from the module's configuration, copies our state_dict into it (so keys must match) and
compares output, input gradient, every parameter gradient and every buffer (running statistics,
``num_batches_tracked``) after every step, with a random upstream gradient.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barecnn import nn
from barecnn import random as barecnn_random
from helpers import (SEEDS, assert_close, conv_configs, helper_test_module, numpy_state_dict, pool_configs,
                     random_grad, same_conv_configs, to_numpy, to_torch, torch_state_dict, torch_twin)

torch = pytest.importorskip("torch")

FAST = settings(max_examples=25, deadline=None)
FEW = settings(max_examples=15, deadline=None)


def _conv_module(cfg):
    (F, C, kh, kw) = cfg["w_shape"]
    return nn.Conv2d(C, F, (kh, kw), stride=cfg["stride"], padding=cfg["padding"], bias=cfg["bias"])


# ------------------------------------------------------------------------ Conv2d
@pytest.mark.slow
@FAST
@given(conv_configs())
def test_conv2d_module_matches_torch(cfg):
    rng = np.random.default_rng(cfg["seed"])
    helper_test_module(_conv_module(cfg), rng.standard_normal(cfg["x_shape"]), rng=rng)


@pytest.mark.slow
@FEW
@given(same_conv_configs())
def test_conv2d_module_same_valid_matches_torch(cfg):
    rng = np.random.default_rng(cfg["seed"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _, _, out = helper_test_module(_conv_module(cfg), rng.standard_normal(cfg["x_shape"]), rng=rng)
    if cfg["padding"] == "same":
        assert out.shape[2:] == cfg["x_shape"][2:]


@pytest.mark.parametrize("args, kwargs, x_shape", [
    ((3, 4, 3), dict(), (2, 3, 8, 8)),
    ((3, 4, 3), dict(bias=False), (2, 3, 8, 8)),
    ((3, 4, 3), dict(stride=2, padding=1), (2, 3, 8, 8)),
    ((3, 4, (3, 2)), dict(stride=(2, 1), padding=(0, 1)), (2, 3, 9, 6)),
    ((2, 3, 1), dict(), (2, 2, 5, 7)),                                # 1x1
    ((2, 3, 1), dict(stride=2, padding=1, bias=False), (2, 2, 5, 7)),
    ((2, 3, (5, 7)), dict(), (2, 2, 5, 7)),                           # kernel == input
    ((1, 2, 4), dict(padding="same"), (1, 1, 6, 5)),                  # even 'same'
    ((1, 2, (3, 5)), dict(padding="same", bias=False), (1, 1, 6, 5)),  # odd 'same'
    ((1, 2, 3), dict(padding="valid"), (1, 1, 6, 5)),
    ((3, 2, 3), dict(stride=2, padding=1), (1, 3, 31, 31)),           # odd size
])
def test_conv2d_module_cases_match_torch(rng, args, kwargs, x_shape):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        helper_test_module(nn.Conv2d(*args, **kwargs), rng.standard_normal(x_shape), rng=rng)


# ----------------------------------------------------------------------- pooling
@pytest.mark.slow
@FAST
@given(pool_configs(), st.booleans())
def test_pool_modules_match_torch(cfg, count_include_pad):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal(cfg["x_shape"])
    helper_test_module(nn.MaxPool2d(cfg["kernel_size"], cfg["stride"], cfg["padding"]), x, rng=rng)
    helper_test_module(nn.AvgPool2d(cfg["kernel_size"], cfg["stride"], cfg["padding"],
                                    count_include_pad=count_include_pad), x, rng=rng)


@pytest.mark.parametrize("module", [
    nn.MaxPool2d(2), nn.MaxPool2d(3, 2), nn.MaxPool2d(3, 2, 1), nn.MaxPool2d((2, 3), (1, 2), (1, 1)),
    nn.AvgPool2d(2), nn.AvgPool2d(3, 2), nn.AvgPool2d(3, 2, 1), nn.AvgPool2d(3, 2, 1, count_include_pad=False),
    nn.AvgPool2d((2, 4), 1, (1, 2), count_include_pad=False),
], ids=repr)
@pytest.mark.parametrize("x_shape", [(2, 3, 9, 9), (1, 2, 8, 11), (1, 1, 31, 31)])
def test_pool_module_cases_match_torch(rng, module, x_shape):
    helper_test_module(module, rng.standard_normal(x_shape), rng=rng)


@pytest.mark.parametrize("x_shape", [(2, 3, 5, 7), (1, 1, 1, 1), (3, 4, 8, 8)])
def test_adaptive_avg_pool_1_and_global_avg_pool_match_torch(rng, x_shape):
    x = rng.standard_normal(x_shape)
    _, _, out = helper_test_module(nn.AdaptiveAvgPool2d(1), x, rng=rng)
    assert out.shape == x_shape[:2] + (1, 1)
    _, _, out_global = helper_test_module(nn.GlobalAvgPool2d(), x, rng=rng)
    assert out_global.shape == x_shape[:2]
    helper_test_module(nn.GlobalAvgPool2d(), x, twin=lambda t: t.mean(dim=(2, 3)), rng=rng)
    np.testing.assert_allclose(out_global, x.mean(axis=(2, 3)), rtol=1e-12)
    np.testing.assert_allclose(out[:, :, 0, 0], out_global, rtol=1e-12)


@pytest.mark.parametrize("output_size, x_shape", [((2, 3), (2, 3, 8, 9)), (2, (1, 2, 4, 6)), ((1, 3), (1, 1, 5, 6))])
def test_adaptive_avg_pool_divisible_matches_torch(rng, output_size, x_shape):
    helper_test_module(nn.AdaptiveAvgPool2d(output_size), rng.standard_normal(x_shape), rng=rng)


def test_adaptive_avg_pool_non_divisible_matches_torch(rng):
    helper_test_module(nn.AdaptiveAvgPool2d((2, 3)), rng.standard_normal((2, 3, 7, 8)), rng=rng)


# ------------------------------------------------------------- Linear and Flatten
@pytest.mark.slow
@FAST
@given(st.integers(1, 5), st.integers(1, 9), st.integers(1, 7), st.booleans(), SEEDS)
def test_linear_module_matches_torch(n, d, m, bias, seed):
    rng = np.random.default_rng(seed)
    helper_test_module(nn.Linear(d, m, bias=bias), rng.standard_normal((n, d)), rng=rng)


@pytest.mark.parametrize("start_dim, end_dim", [(1, -1), (0, -1), (2, 3), (1, 2), (-2, -1), (0, 0)])
def test_flatten_matches_torch(rng, start_dim, end_dim):
    helper_test_module(nn.Flatten(start_dim, end_dim), rng.standard_normal((2, 3, 4, 5)), rng=rng)


def test_flatten_of_channels_last_conv_output_matches_torch(rng):
    """A conv's output is channels-last in memory; Flatten must still use PyTorch's C order."""
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Flatten(), nn.Linear(3 * 4 * 5, 2))
    helper_test_module(model, rng.standard_normal((2, 2, 4, 5)), rng=rng)


def test_flatten_out_of_range_dim_raises(rng):
    with pytest.raises((IndexError, ValueError), match="Flatten"):
        nn.Flatten(start_dim=4)(rng.standard_normal((2, 3, 4, 5)))


# ------------------------------------------------------------------- activations
@pytest.mark.parametrize("module", [nn.ReLU(), nn.LeakyReLU(), nn.LeakyReLU(0.2), nn.LeakyReLU(1.5),
                                    nn.Tanh(), nn.Sigmoid(), nn.Identity()], ids=repr)
@pytest.mark.parametrize("shape", [(4,), (3, 5), (2, 3, 4), (2, 3, 4, 5)])
def test_activation_modules_match_torch(rng, module, shape):
    x = rng.standard_normal(shape) * 4
    x.reshape(-1)[:2] = 0.0                          # the kink: gradients at exactly 0 must match torch
    helper_test_module(module, x, rng=rng)


@pytest.mark.parametrize("module", [nn.Tanh(), nn.Sigmoid(), nn.ReLU(), nn.LeakyReLU(0.3)], ids=repr)
def test_activation_modules_at_large_magnitudes(module):
    x = np.array([[-1e308, -1e5, -745.0, -710.0, -40.0, -1e-8, 0.0, 1e-8, 40.0, 710.0, 745.0, 1e5, 1e308]])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        helper_test_module(module, x, rng=np.random.default_rng(0), atol=1e-300)


# ------------------------------------------------------------------ batch norm
BN_MOMENTA = [0.1, 0.5, None, 0.0, 1.0]


@pytest.mark.slow
@FEW
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
       st.sampled_from(BN_MOMENTA), st.booleans(), SEEDS)
def test_batchnorm2d_train_then_eval_matches_torch(n, c, h, w, momentum, affine, seed):
    from hypothesis import assume
    assume(n * h * w > 1)
    rng = np.random.default_rng(seed)
    ours = nn.BatchNorm2d(c, momentum=momentum, affine=affine)
    if affine:
        ours.weight.data = rng.standard_normal(c).astype(np.float32)
        ours.bias.data = rng.standard_normal(c).astype(np.float32)
    batches = [rng.standard_normal((n, c, h, w)) * 2 + rng.standard_normal((1, c, 1, 1)) for _ in range(3)]
    ours, twin, _ = helper_test_module(ours, batches, rng=rng, train=True)
    assert int(ours.num_batches_tracked) == 3
    helper_test_module(ours, batches[:2], twin=twin, rng=rng, train=False, copy_state=False)
    assert int(ours.num_batches_tracked) == 3


@pytest.mark.parametrize("momentum", BN_MOMENTA)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batchnorm1d_train_then_eval_matches_torch(rng, momentum, affine, shape):
    ours = nn.BatchNorm1d(shape[1], momentum=momentum, affine=affine, eps=1e-3)
    batches = [rng.standard_normal(shape) * 3 - 1 for _ in range(4)]
    ours, twin, _ = helper_test_module(ours, batches, rng=rng, train=True)
    helper_test_module(ours, batches[:2], twin=twin, rng=rng, train=False, copy_state=False)


def test_batchnorm_momentum_none_is_cumulative_average(rng):
    bn = nn.BatchNorm2d(2, momentum=None).double()
    batches = [rng.standard_normal((3, 2, 4, 4)) * (k + 1) + k for k in range(5)]
    for x in batches:
        bn(x)
    axes = (0, 2, 3)
    np.testing.assert_allclose(bn.running_mean, np.mean([x.mean(axis=axes) for x in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, np.mean([x.var(axis=axes, ddof=1) for x in batches], axis=0),
                               rtol=1e-12)
    assert int(bn.num_batches_tracked) == 5


def test_batchnorm_without_running_stats_matches_torch(rng):
    ours = nn.BatchNorm2d(3, track_running_stats=False)
    assert dict(ours.named_buffers()) == {}
    batches = [rng.standard_normal((2, 3, 3, 3)) for _ in range(2)]
    ours, twin, _ = helper_test_module(ours, batches, rng=rng, train=True)
    helper_test_module(ours, batches, twin=twin, rng=rng, train=False, copy_state=False)


def test_batchnorm_eval_backward_matches_torch_after_training(rng):
    ours = nn.BatchNorm2d(4, momentum=0.3)
    ours.weight.data = rng.standard_normal(4).astype(np.float32)
    ours, twin, _ = helper_test_module(ours, [rng.standard_normal((5, 4, 2, 3)) + 2 for _ in range(3)], rng=rng)
    ours.eval()
    helper_test_module(ours, rng.standard_normal((1, 4, 1, 1)), twin=twin, rng=rng, copy_state=False)


# ------------------------------------------------------------------ group norm
@pytest.mark.parametrize("groups, channels", [(1, 4), (4, 4), (2, 4), (3, 6), (1, 1)])
@pytest.mark.parametrize("shape_tail", [(3, 3), (5,), (2, 7)])
@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm_matches_torch(rng, groups, channels, shape_tail, affine):
    ours = nn.GroupNorm(groups, channels, affine=affine, eps=1e-4)
    if affine:
        ours.weight.data = rng.standard_normal(channels).astype(np.float32)
        ours.bias.data = rng.standard_normal(channels).astype(np.float32)
    x = rng.standard_normal((2, channels) + shape_tail) * 2 + 1
    ours, twin, _ = helper_test_module(ours, x, rng=rng, train=True)
    helper_test_module(ours, x, twin=twin, rng=rng, train=False, copy_state=False)   # the same in eval


@pytest.mark.slow
@FEW
@given(st.integers(1, 3), st.sampled_from([(1, 2), (2, 2), (2, 6), (3, 6), (6, 6), (4, 8)]),
       st.integers(1, 4), st.integers(1, 4), SEEDS)
def test_groupnorm_property_matches_torch(n, groups_channels, h, w, seed):
    groups, channels = groups_channels
    from hypothesis import assume
    assume(channels // groups * h * w > 1)
    rng = np.random.default_rng(seed)
    helper_test_module(nn.GroupNorm(groups, channels), rng.standard_normal((n, channels, h, w)), rng=rng)


# ---------------------------------------------------------------------- dropout
def test_dropout_p0_p1_and_eval_match_torch(rng):
    x = rng.standard_normal((3, 4, 5))
    helper_test_module(nn.Dropout(0.0), x, rng=rng, train=True)
    helper_test_module(nn.Dropout(1.0), x, rng=rng, train=True)
    for p in (0.0, 0.3, 1.0):
        _, _, out = helper_test_module(nn.Dropout(p), x, rng=rng, train=False)
        np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_module_inverted_scaling_statistics(p):
    barecnn_random.seed(123)
    drop = nn.Dropout(p)
    x = np.full((300, 400), 2.0)
    out = drop(x)
    dropped = np.mean(out == 0)
    assert abs(dropped - p) < 5 * math.sqrt(p * (1 - p) / x.size)
    np.testing.assert_allclose(out[out != 0], 2.0 / (1 - p), rtol=1e-12)
    assert abs(out.mean() - 2.0) < 5 * 2.0 * math.sqrt(p / (1 - p) / x.size)
    # torch's dropout has the same law: compare the scaling, not the mask
    tout = to_numpy(torch.nn.functional.dropout(to_torch(x), p, training=True))
    np.testing.assert_allclose(np.unique(tout[tout != 0]), np.unique(out[out != 0]), rtol=1e-12)
    dout = random_grad(np.random.default_rng(0), x.shape)
    dx = drop.backward(dout)
    np.testing.assert_array_equal(dx == 0, out == 0)
    np.testing.assert_allclose(dx[out != 0], dout[out != 0] / (1 - p), rtol=1e-12)
    barecnn_random.seed(123)
    np.testing.assert_array_equal(nn.Dropout(p)(x), out)           # seedable


# ---------------------------------------------------------------------- the loss
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.7, 1.0])
@pytest.mark.parametrize("n, k, scale", [(1, 2, 1.0), (5, 4, 1.0), (6, 10, 30.0), (3, 3, 1e4)])
def test_cross_entropy_module_matches_torch(rng, label_smoothing, n, k, scale):
    logits = rng.standard_normal((n, k)) * scale
    labels = rng.integers(0, k, size=n)
    helper_test_module(nn.CrossEntropyLoss(label_smoothing=label_smoothing), logits, labels, rng=rng)


def test_cross_entropy_module_huge_logits_matches_torch():
    logits = np.array([[10000.0, 10010.0, 10.0], [-1e5, 0.0, 1e5]])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        crit, _, loss = helper_test_module(nn.CrossEntropyLoss(), logits, np.array([0, 2]),
                                           rng=np.random.default_rng(0))
    assert isinstance(loss, float) and math.isfinite(loss)
    single = nn.CrossEntropyLoss()(np.array([[10000.0, 10010.0, 10.0]]), np.array([0]))
    assert math.isclose(single, 10.0 + math.log1p(math.exp(-10.0)), rel_tol=1e-12)


# ---------------------------------------------------------- non-contiguous inputs
@pytest.mark.parametrize("make", [
    lambda: nn.Conv2d(3, 2, 3, stride=2, padding=1), lambda: nn.MaxPool2d(3, 2, 1), lambda: nn.AvgPool2d(2, 1, 1),
    lambda: nn.BatchNorm2d(3), lambda: nn.GroupNorm(3, 3), lambda: nn.GlobalAvgPool2d(), lambda: nn.Flatten(),
    lambda: nn.ReLU(), lambda: nn.Sigmoid(), lambda: nn.AdaptiveAvgPool2d(1),
], ids=lambda make: type(make()).__name__)
@pytest.mark.parametrize("view", ["channels_last", "flipped", "strided"])
def test_modules_accept_non_contiguous_inputs(rng, make, view):
    base = rng.standard_normal((2, 6, 10, 3))
    x = {"channels_last": base.transpose(0, 3, 1, 2),             # what a conv hands to the next layer
         "flipped": base.transpose(0, 3, 1, 2)[:, :, ::-1, :],
         "strided": base.transpose(0, 3, 1, 2)[:, :, ::2, :]}[view]
    assert not x.flags.c_contiguous
    helper_test_module(make(), x, rng=rng)


# ---------------------------------------------------------------- whole networks
def _small_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, (3, 2), stride=(1, 2), padding="valid", bias=False), nn.GroupNorm(2, 6), nn.Tanh(),
        nn.AvgPool2d(2, padding=1, count_include_pad=False), nn.Flatten(),
        nn.Linear(6 * 2 * 2, 8), nn.BatchNorm1d(8, momentum=None), nn.LeakyReLU(0.1), nn.Dropout(0.0),
        nn.Linear(8, 5, bias=False), nn.Sigmoid())


def test_sequential_cnn_matches_torch_in_train_and_eval(rng):
    batches = [rng.standard_normal((4, 3, 8, 10)) for _ in range(3)]
    model, twin, _ = helper_test_module(_small_cnn(), batches, rng=rng, train=True)
    helper_test_module(model, batches[:2], twin=twin, rng=rng, train=False, copy_state=False)


def test_sequential_with_loss_matches_torch(rng):
    model = nn.Sequential(nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.ReLU(), nn.GlobalAvgPool2d(), nn.Linear(3, 4))
    model.double()
    twin = torch_twin(model).double()
    twin.load_state_dict(torch_state_dict(model))
    x, labels = rng.standard_normal((5, 1, 9, 9)), rng.integers(0, 4, size=5)
    crit = nn.CrossEntropyLoss(label_smoothing=0.05)
    loss = crit(model(x), labels)
    model.zero_grad()
    dx = model.backward(crit.backward())
    tx = to_torch(x, True)
    tloss = torch.nn.functional.cross_entropy(twin(tx), torch.as_tensor(labels), label_smoothing=0.05)
    tloss.backward()
    assert math.isclose(loss, tloss.item(), rel_tol=1e-12)
    assert_close(dx, to_numpy(tx.grad), "dx")
    for (name, p), (tname, tp) in zip(model.named_parameters(), twin.named_parameters()):
        assert name == tname
        assert_close(p.grad, to_numpy(tp.grad), name)


def test_reusing_a_module_instance_in_sequential_is_refused():
    """No autograd graph: one forward cache per module, so reuse would give wrong gradients."""
    lin = nn.Linear(3, 3)
    with pytest.raises(ValueError, match="appears twice"):
        nn.Sequential(lin, nn.Tanh(), lin)


def test_shared_parameter_is_listed_once():
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight
    model = nn.Sequential(a, nn.Tanh(), b)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.bias"]


# ------------------------------------------------------------------- state_dict
def test_state_dict_keys_shapes_dtypes_equal_torch():
    model = _small_cnn()
    twin = torch_twin(model)
    ours, theirs = model.state_dict(), twin.state_dict()
    assert list(ours) == list(theirs)
    for key in ours:
        assert tuple(ours[key].shape) == tuple(theirs[key].shape), key
        assert str(ours[key].dtype) == str(theirs[key].dtype).replace("torch.", ""), key
    assert [name for name, _ in model.named_parameters()] == [name for name, _ in twin.named_parameters()]
    assert [name for name, _ in model.named_buffers()] == [name for name, _ in twin.named_buffers()]


def _train_batches(rng, count=3):
    return [rng.standard_normal((4, 3, 8, 10)) for _ in range(count)]


def test_load_torch_state_dict_into_ours_gives_identical_outputs(rng):
    torch.manual_seed(0)
    model = _small_cnn().double()
    twin = torch_twin(model).double()
    with torch.no_grad():
        for x in _train_batches(rng):                     # move the running statistics away from init
            twin(to_torch(x))
        for p in twin.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    model.load_state_dict(numpy_state_dict(twin))
    x = rng.standard_normal((3, 3, 8, 10))
    for mode in (False, True):
        model.train(mode), twin.train(mode)
        with torch.no_grad():
            expected = to_numpy(twin(to_torch(x)))
        np.testing.assert_allclose(model(x), expected, rtol=1e-10, atol=1e-12)
    assert int(model[1].num_batches_tracked) == int(twin[1].num_batches_tracked) == 4   # 3 + the train pass


def test_load_our_state_dict_into_torch_gives_identical_outputs(rng):
    barecnn_random.seed(1)
    model = _small_cnn().double()
    for x in _train_batches(rng):
        model(x)
    twin = torch_twin(model).double()
    twin.load_state_dict(torch_state_dict(model), strict=True)
    x = rng.standard_normal((3, 3, 8, 10))
    model.eval(), twin.eval()
    with torch.no_grad():
        np.testing.assert_allclose(model(x), to_numpy(twin(to_torch(x))), rtol=1e-10, atol=1e-12)
    assert int(twin[1].num_batches_tracked) == 3


def test_float32_models_load_torch_float32_state_dicts(rng):
    """Default dtypes on both sides (float32): a torch state_dict loads as is and outputs agree."""
    torch.manual_seed(2)
    model = _small_cnn().eval()
    twin = torch_twin(model).eval()
    model.load_state_dict(numpy_state_dict(twin))
    assert all(p.dtype == np.float32 for p in model.parameters())
    x = rng.standard_normal((2, 3, 8, 10)).astype(np.float32)
    with torch.no_grad():
        expected = to_numpy(twin(torch.from_numpy(x)))
    out = model(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
