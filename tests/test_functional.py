"""barecnn.functional kernels against torch.nn.functional (float64): outputs and every gradient.

Every comparison goes through ``helpers.helper_test_op``; shapes, strides and paddings are drawn
by hypothesis within small ranges. Also: integer shape arithmetic, numerically stable softmax and
cross-entropy, dropout's inverted scaling, and dtype preservation (float32 in, float32 out).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import barecnn.functional as F
from barecnn.functional import naive
from barecnn.functional._checks import output_size, resolve_padding
from barecnn.functional.conv import conv_geometry
from barecnn.functional.pool import pool_geometry
from helpers import (SEEDS, assert_close, conv_configs, helper_test_op, pool_configs, random_grad,
                     same_conv_configs, to_numpy, to_torch)

torch = pytest.importorskip("torch")
TF = torch.nn.functional

FAST = settings(max_examples=25, deadline=None)


def _torch_padding(padding):
    return padding if isinstance(padding, (str, int)) else tuple(padding)


def _conv_inputs(cfg):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal(cfg["x_shape"])
    w = rng.standard_normal(cfg["w_shape"])
    b = rng.standard_normal(cfg["w_shape"][0]) if cfg["bias"] else None
    return rng, x, w, b


def _check_conv(cfg):
    rng, x, w, b = _conv_inputs(cfg)
    out, _ = helper_test_op(
        F.conv2d_forward, F.conv2d_backward,
        lambda tx, tw, tb: TF.conv2d(tx, tw, tb, stride=cfg["stride"], padding=_torch_padding(cfg["padding"])),
        [x, w, b], kwargs=dict(stride=cfg["stride"], padding=cfg["padding"]), rng=rng)
    return out


# ------------------------------------------------------------------- convolution
@pytest.mark.slow
@FAST
@given(conv_configs())
def test_conv2d_matches_torch(cfg):
    _check_conv(cfg)


@pytest.mark.slow
@FAST
@given(same_conv_configs())
def test_conv2d_same_and_valid_match_torch(cfg):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # torch warns about even kernels with 'same'
        out = _check_conv(cfg)
    if cfg["padding"] == "same":
        assert out.shape[2:] == cfg["x_shape"][2:]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", [
    ((2, 3, 8, 8), (4, 3, 3, 3), 1, 0),            # plain 3x3
    ((2, 3, 8, 8), (4, 3, 3, 3), 2, 1),            # stride 2, padding 1
    ((1, 2, 7, 5), (3, 2, 1, 1), 1, 0),            # 1x1 kernel
    ((1, 2, 7, 5), (3, 2, 1, 1), 2, 2),            # 1x1 kernel, padding larger than the kernel
    ((2, 2, 5, 6), (3, 2, 5, 6), 1, 0),            # kernel == input -> 1x1 output
    ((2, 2, 5, 6), (3, 2, 5, 6), 3, 1),            # kernel == input, padded
    ((2, 1, 9, 6), (2, 1, 2, 4), (2, 1), (1, 0)),  # non-square everything, pair stride/padding
    ((1, 3, 31, 31), (2, 3, 3, 3), 2, 1),          # odd size, stride 2
    ((1, 1, 6, 7), (1, 1, 4, 2), 1, "same"),       # even kernel 'same'
    ((1, 1, 6, 7), (1, 1, 5, 3), 1, "same"),       # odd kernel 'same'
    ((1, 1, 2, 2), (1, 1, 4, 4), 1, "same"),       # kernel larger than the unpadded input
    ((1, 2, 6, 7), (2, 2, 3, 2), 1, "valid"),
    ((3, 2, 4, 4), (2, 2, 2, 2), 3, 0),            # stride larger than the kernel: gaps
])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_cases_match_torch(x_shape, w_shape, stride, padding, bias):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _check_conv(dict(x_shape=x_shape, w_shape=w_shape, stride=stride, padding=padding, bias=bias, seed=7))


def test_conv2d_without_bias_returns_none_db(rng):
    x, w = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3))
    out, cache = F.conv2d_forward(x, w, None)
    dx, dw, db = F.conv2d_backward(random_grad(rng, out.shape), cache)
    assert db is None and dx.shape == x.shape and dw.shape == w.shape


@pytest.mark.parametrize("make_view", [
    lambda x: x[:, :, ::-1, :],                    # negative strides
    lambda x: x[:, :, :, ::2],                     # gaps
    lambda x: np.asfortranarray(x),
    lambda x: x.transpose(0, 1, 3, 2),             # channels swapped axes
], ids=["flipped", "strided", "fortran", "transposed"])
def test_kernels_accept_non_contiguous_inputs(rng, make_view):
    x = make_view(rng.standard_normal((2, 3, 8, 10)))
    w = rng.standard_normal((4, 3, 3, 2))
    helper_test_op(F.conv2d_forward, F.conv2d_backward, lambda a, b: TF.conv2d(a, b, stride=2, padding=1),
                   [x, w], kwargs=dict(stride=2, padding=1), rng=rng)
    helper_test_op(F.max_pool2d_forward, F.max_pool2d_backward, lambda a: TF.max_pool2d(a, 3, 2, 1),
                   [x], kwargs=dict(kernel_size=3, stride=2, padding=1), rng=rng)
    helper_test_op(F.avg_pool2d_forward, F.avg_pool2d_backward, lambda a: TF.avg_pool2d(a, 2, 1, 1),
                   [x], kwargs=dict(kernel_size=2, stride=1, padding=1), rng=rng)
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    helper_test_op(lambda a, g, b: F.batch_norm_forward(a, g, b, training=True), F.batch_norm_backward,
                   lambda a, g, b: TF.batch_norm(a, None, None, g, b, training=True), [x, gamma, beta], rng=rng)
    helper_test_op(lambda a, g, b: F.group_norm_forward(a, 3, g, b), F.group_norm_backward,
                   lambda a, g, b: TF.group_norm(a, 3, g, b), [x, gamma, beta], rng=rng)
    helper_test_op(F.relu_forward, F.relu_backward, TF.relu, [x], rng=rng)


def test_conv2d_non_contiguous_upstream_gradient(rng):
    x, w = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    out, cache = F.conv2d_forward(x, w, None, 1, 1)
    dout = np.asfortranarray(random_grad(rng, out.shape))
    dx, dw, _ = F.conv2d_backward(dout, cache)
    tx, tw = to_torch(x, True), to_torch(w, True)
    TF.conv2d(tx, tw, padding=1).backward(to_torch(dout))
    assert_close(dx, to_numpy(tx.grad), "dx")
    assert_close(dw, to_numpy(tw.grad), "dw")


def test_conv2d_stacked_outputs_feed_the_next_conv(rng):
    """The forward output is a channels-last view; a second conv and its backward must not care."""
    x = rng.standard_normal((2, 3, 7, 7))
    w1, w2 = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((2, 4, 2, 2))
    h, c1 = F.conv2d_forward(x, w1, None, 1, 1)
    out, c2 = F.conv2d_forward(h, w2, None, 2, 0)
    dout = random_grad(rng, out.shape)
    dh, dw2, _ = F.conv2d_backward(dout, c2)
    dx, dw1, _ = F.conv2d_backward(dh, c1)
    tx, tw1, tw2 = to_torch(x, True), to_torch(w1, True), to_torch(w2, True)
    tout = TF.conv2d(TF.conv2d(tx, tw1, padding=1), tw2, stride=2)
    tout.backward(to_torch(dout))
    assert_close(out, to_numpy(tout), "out")
    for ours, theirs, name in ((dx, tx, "dx"), (dw1, tw1, "dw1"), (dw2, tw2, "dw2")):
        assert_close(ours, to_numpy(theirs.grad), name)


# ----------------------------------------------------------------------- pooling
@pytest.mark.slow
@FAST
@given(pool_configs())
def test_max_pool2d_matches_torch(cfg):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal(cfg["x_shape"])
    kw = dict(kernel_size=cfg["kernel_size"], stride=cfg["stride"], padding=cfg["padding"])
    helper_test_op(F.max_pool2d_forward, F.max_pool2d_backward, lambda t: TF.max_pool2d(t, **kw), [x],
                   kwargs=kw, rng=rng)


@pytest.mark.slow
@FAST
@given(pool_configs(), st.booleans())
def test_avg_pool2d_matches_torch(cfg, count_include_pad):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal(cfg["x_shape"])
    kw = dict(kernel_size=cfg["kernel_size"], stride=cfg["stride"], padding=cfg["padding"],
              count_include_pad=count_include_pad)
    helper_test_op(F.avg_pool2d_forward, F.avg_pool2d_backward, lambda t: TF.avg_pool2d(t, **kw), [x],
                   kwargs=kw, rng=rng)


@pytest.mark.parametrize("x_shape, kernel, stride, padding", [
    ((2, 3, 8, 8), 2, None, 0),
    ((2, 3, 9, 9), 3, 2, 0),          # overlapping 3x3 stride 2
    ((2, 3, 9, 7), 3, 2, 1),          # overlapping and padded
    ((1, 2, 5, 8), (2, 4), (1, 3), (1, 2)),
    ((1, 2, 4, 6), (4, 6), None, 0),  # window == input
    ((1, 1, 31, 31), 3, 2, 1),        # odd size
    ((1, 1, 7, 7), 2, 3, 1),          # stride larger than the kernel
])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_pool_cases_match_torch(rng, x_shape, kernel, stride, padding, count_include_pad):
    x = rng.standard_normal(x_shape)
    kw = dict(kernel_size=kernel, stride=stride, padding=padding)
    helper_test_op(F.max_pool2d_forward, F.max_pool2d_backward, lambda t: TF.max_pool2d(t, **kw), [x],
                   kwargs=kw, rng=rng)
    kw["count_include_pad"] = count_include_pad
    helper_test_op(F.avg_pool2d_forward, F.avg_pool2d_backward, lambda t: TF.avg_pool2d(t, **kw), [x],
                   kwargs=kw, rng=rng)


def test_max_pool2d_padding_is_never_chosen(rng):
    x = -1000.0 - rng.random((1, 2, 4, 4))          # every value is far below 0
    out, _ = F.max_pool2d_forward(x, 2, 2, 1)
    assert np.all(out < -999), "zero padding leaked into max pooling"


def test_max_pool2d_ties_route_to_first_max_like_torch():
    """All-zero windows (as after a ReLU) and repeated maxima: torch sends the gradient to the
    first maximum in row-major order; so must we, in overlapping and padded windows too."""
    rng = np.random.default_rng(3)
    x = np.maximum(rng.integers(-2, 3, size=(2, 3, 9, 8)).astype(np.float64), 0)   # many ties, many zeros
    x[0, 0] = 0.0                                                                  # an all-zero channel
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2), dict(kernel_size=3, stride=1, padding=1),
               dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1))):
        out, cache = F.max_pool2d_forward(x, **kw)
        dout = random_grad(rng, out.shape)
        dx = F.max_pool2d_backward(dout, cache)
        tx = to_torch(x, True)
        tout = TF.max_pool2d(tx, **kw)
        tout.backward(to_torch(dout))
        np.testing.assert_array_equal(out, to_numpy(tout))
        np.testing.assert_allclose(dx, to_numpy(tx.grad), rtol=0, atol=1e-12, err_msg=str(kw))


def test_max_pool2d_tie_gradient_goes_to_top_left():
    x = np.zeros((1, 1, 2, 2))
    out, cache = F.max_pool2d_forward(x, 2)
    dx = F.max_pool2d_backward(np.full((1, 1, 1, 1), 3.0), cache)
    np.testing.assert_array_equal(dx[0, 0], [[3.0, 0.0], [0.0, 0.0]])


def test_max_pool2d_large_window_does_not_overflow(rng):
    """Regression: an int16 argmax buffer overflowed for windows of more than 32767 elements."""
    x = rng.standard_normal((1, 1, 182, 182))
    out, cache = F.max_pool2d_forward(x, 182)
    dx = F.max_pool2d_backward(np.ones((1, 1, 1, 1)), cache)
    assert out[0, 0, 0, 0] == x.max()
    assert dx.reshape(-1).argmax() == x.reshape(-1).argmax() and dx.sum() == 1.0


def test_max_pool2d_propagates_nan_like_torch():
    """Regression: NaN was ignored unless it was the first element of the window."""
    x = np.array([[[[1.0, np.nan, 3.0, 0.0], [0.0, 2.0, 1.0, 2.0]]]])
    with np.errstate(invalid="ignore"):
        out, _ = F.max_pool2d_forward(x, 2)
        out_naive, _ = naive.max_pool2d_forward(x, 2)
    expected = to_numpy(TF.max_pool2d(to_torch(x), 2))
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out_naive, expected)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 1, 1, 1), (3, 2, 7, 1)])
def test_global_avg_pool2d_matches_torch_mean(rng, shape):
    x = rng.standard_normal(shape)
    helper_test_op(F.global_avg_pool2d_forward, F.global_avg_pool2d_backward, lambda t: t.mean(dim=(2, 3)), [x],
                   rng=rng)


# ---------------------------------------------------------------- linear and activations
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 1, 1), (4, 7, 3), (5, 2, 9)])
def test_linear_matches_torch(rng, shape, bias):
    n, d, m = shape
    x, w = rng.standard_normal((n, d)), rng.standard_normal((m, d))
    b = rng.standard_normal(m) if bias else None
    _, grads = helper_test_op(F.linear_forward, F.linear_backward, TF.linear, [x, w, b], rng=rng)
    assert (grads[2] is None) == (not bias)


ACTIVATIONS = {
    "relu": (F.relu_forward, F.relu_backward, TF.relu, {}),
    "leaky_relu": (F.leaky_relu_forward, F.leaky_relu_backward, lambda t: TF.leaky_relu(t, 0.2),
                   {"negative_slope": 0.2}),
    "leaky_relu_steep": (F.leaky_relu_forward, F.leaky_relu_backward, lambda t: TF.leaky_relu(t, 3.0),
                         {"negative_slope": 3.0}),
    "tanh": (F.tanh_forward, F.tanh_backward, torch.tanh, {}),
    "sigmoid": (F.sigmoid_forward, F.sigmoid_backward, torch.sigmoid, {}),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4, 5)])
def test_activations_match_torch(rng, name, shape):
    forward, backward, torch_fn, kwargs = ACTIVATIONS[name]
    x = rng.standard_normal(shape) * 3
    x.reshape(-1)[0] = 0.0                       # the kink itself: torch's gradient at 0 is the left one
    helper_test_op(forward, backward, lambda t: torch_fn(t), [x], kwargs=kwargs, rng=rng)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "relu", "leaky_relu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_at_huge_magnitudes_do_not_overflow(name, dtype):
    forward, backward, torch_fn, kwargs = ACTIVATIONS[name]
    big = 3e38 if dtype == np.float32 else 1e308
    x = np.array([-big, -1e4, -800.0, -88.0, -20.0, 0.0, 20.0, 88.0, 800.0, 1e4, big], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out, cache = forward(x, **kwargs)
        dx = backward(np.ones_like(x), cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    assert out.dtype == dtype and dx.dtype == dtype
    expected = to_numpy(torch_fn(torch.from_numpy(x.copy())))
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-30)


def test_sigmoid_helper_is_stable_and_exact():
    x = np.array([-1000.0, -745.0, -40.0, 0.0, 40.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = F.sigmoid(x)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-np.clip(x, -700, 700))), rtol=1e-12, atol=1e-300)
    assert s[3] == 0.5 and s[-1] == 1.0 and s[0] == 0.0


# ------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 2, 4, 5), (2, 1, 1, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_torch(rng, shape, affine):
    x = rng.standard_normal(shape) * 2 + 1
    C = shape[1]
    gamma = rng.standard_normal(C) if affine else None
    beta = rng.standard_normal(C) if affine else None
    out, grads = helper_test_op(
        lambda x, g, b: F.batch_norm_forward(x, g, b, training=True, eps=1e-5), F.batch_norm_backward,
        lambda tx, tg, tb: TF.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-5),
        [x, gamma, beta], rng=rng)
    _, cache = F.batch_norm_forward(x, gamma, beta, training=True)
    axes = (0,) + tuple(range(2, x.ndim))
    np.testing.assert_allclose(cache.mean, x.mean(axis=axes), rtol=1e-12)
    np.testing.assert_allclose(cache.var, x.var(axis=axes), rtol=1e-12)   # biased
    assert (grads[1] is None) == (not affine)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 2, 4, 5), (1, 2, 1, 1)])
def test_batch_norm_eval_matches_torch(rng, shape):
    x = rng.standard_normal(shape)
    C = shape[1]
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    mean, var = rng.standard_normal(C), rng.random(C) + 0.5
    helper_test_op(
        lambda x, g, b: F.batch_norm_forward(x, g, b, mean, var, training=False, eps=1e-3), F.batch_norm_backward,
        lambda tx, tg, tb: TF.batch_norm(tx, to_torch(mean), to_torch(var), tg, tb, training=False, eps=1e-3),
        [x, gamma, beta], rng=rng)


@pytest.mark.parametrize("shape, groups", [((2, 4, 3, 3), 2), ((2, 4, 3, 3), 1), ((2, 4, 3, 3), 4),
                                           ((3, 6, 5), 3), ((4, 6), 2), ((1, 3, 2, 2), 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(rng, shape, groups, affine):
    x = rng.standard_normal(shape) * 3 - 1
    C = shape[1]
    gamma = rng.standard_normal(C) if affine else None
    beta = rng.standard_normal(C) if affine else None
    helper_test_op(lambda x, g, b: F.group_norm_forward(x, groups, g, b, eps=1e-5), F.group_norm_backward,
                   lambda tx, tg, tb: TF.group_norm(tx, groups, tg, tb, eps=1e-5), [x, gamma, beta], rng=rng)


# -------------------------------------------------------------------------- dropout
def test_dropout_p0_and_eval_are_identity(rng):
    x = rng.standard_normal((4, 5))
    for kwargs in (dict(p=0.0, training=True), dict(p=0.7, training=False), dict(p=1.0, training=False)):
        out, cache = F.dropout_forward(x, rng=np.random.default_rng(0), **kwargs)
        np.testing.assert_array_equal(out, x)
        dout = random_grad(rng, x.shape)
        np.testing.assert_array_equal(F.dropout_backward(dout, cache), dout)


def test_dropout_p1_zeroes_everything_without_warnings(rng):
    x = rng.standard_normal((4, 5))
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out, cache = F.dropout_forward(x, 1.0, True, np.random.default_rng(0))
        dx = F.dropout_backward(random_grad(rng, x.shape), cache)
    assert np.all(out == 0) and np.all(dx == 0)
    expected = to_numpy(TF.dropout(to_torch(x), 1.0, training=True))
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_inverted_scaling_statistics(p, dtype):
    x = np.ones((400, 500), dtype=dtype)
    out, mask = F.dropout_forward(x, p, True, np.random.default_rng(11))
    assert out.dtype == dtype and mask.dtype == dtype
    dropped = np.mean(out == 0)
    sigma = math.sqrt(p * (1 - p) / x.size)
    assert abs(dropped - p) < 5 * sigma
    survivors = out[out != 0]
    np.testing.assert_allclose(survivors, 1.0 / (1.0 - p), rtol=1e-6)   # inverted scaling, exactly
    assert abs(out.mean() - 1.0) < 5 * math.sqrt(p / (1 - p) / x.size)  # expectation preserved
    dout = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    dx = F.dropout_backward(dout, mask)
    np.testing.assert_array_equal(dx == 0, out == 0)
    np.testing.assert_allclose(dx[out != 0], dout[out != 0] / (1 - p), rtol=1e-6)


def test_dropout_same_generator_same_mask(rng):
    x = rng.standard_normal((6, 7))
    a, _ = F.dropout_forward(x, 0.5, True, np.random.default_rng(5))
    b, _ = F.dropout_forward(x, 0.5, True, np.random.default_rng(5))
    c, _ = F.dropout_forward(x, 0.5, True, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# ------------------------------------------------------------- softmax and the loss
def test_cross_entropy_huge_logits_exact_and_silent():
    logits = np.array([[10000.0, 10010.0, 10.0]])
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        loss, cache = F.softmax_cross_entropy_forward(logits, np.array([0]))
        dlogits = F.softmax_cross_entropy_backward(1.0, cache)
    expected = 10.0 + math.log1p(math.exp(-10.0))
    assert isinstance(loss, float)
    assert math.isclose(loss, expected, rel_tol=1e-12, abs_tol=1e-12)
    tl = to_torch(logits, True)
    TF.cross_entropy(tl, torch.tensor([0])).backward()
    assert_close(dlogits, to_numpy(tl.grad), "dlogits", rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("scale", [1.0, 1e3, 1e5])
def test_cross_entropy_matches_torch(rng, label_smoothing, scale):
    logits = rng.standard_normal((6, 5)) * scale
    labels = rng.integers(0, 5, size=6)
    helper_test_op(lambda z: F.softmax_cross_entropy_forward(z, labels, label_smoothing),
                   F.softmax_cross_entropy_backward,
                   lambda tz: TF.cross_entropy(tz, torch.as_tensor(labels), label_smoothing=label_smoothing),
                   [logits], rng=rng)


@pytest.mark.slow
@FAST
@given(st.integers(1, 6), st.integers(1, 8), st.floats(0, 1), st.sampled_from([1.0, 50.0, 1e4]), SEEDS)
def test_cross_entropy_property_matches_torch(n, k, label_smoothing, scale, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, k)) * scale
    labels = rng.integers(0, k, size=n)
    helper_test_op(lambda z: F.softmax_cross_entropy_forward(z, labels, label_smoothing),
                   F.softmax_cross_entropy_backward,
                   lambda tz: TF.cross_entropy(tz, torch.as_tensor(labels), label_smoothing=label_smoothing),
                   [logits], rng=rng)


def test_cross_entropy_scales_with_upstream_gradient(rng):
    logits, labels = rng.standard_normal((3, 4)), np.array([0, 3, 1])
    _, cache = F.softmax_cross_entropy_forward(logits, labels)
    np.testing.assert_allclose(F.softmax_cross_entropy_backward(2.5, cache),
                               2.5 * F.softmax_cross_entropy_backward(1.0, cache), rtol=1e-14)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax_are_stable_and_match_torch(rng, axis):
    z = rng.standard_normal((4, 6)) * 1e3
    z[0, 0] = 1e300
    z[1, :] = -1e300
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        p = F.softmax(z, axis=axis)
        logp = F.log_softmax(z, axis=axis)
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-12)
    tz = to_torch(z)
    np.testing.assert_allclose(p, to_numpy(torch.softmax(tz, dim=axis)), rtol=1e-12, atol=1e-300)
    finite = np.isfinite(to_numpy(torch.log_softmax(tz, dim=axis)))
    np.testing.assert_allclose(logp[finite], to_numpy(torch.log_softmax(tz, dim=axis))[finite], rtol=1e-12)
    assert not np.any(np.isnan(p)) and not np.any(np.isnan(logp))


def test_check_labels_accepts_lists_and_integer_dtypes():
    for labels in ([0, 2, 1], np.array([0, 2, 1], dtype=np.uint8), np.array([0, 2, 1], dtype=np.int32)):
        out = F.check_labels(labels, 3, 3, "op")
        np.testing.assert_array_equal(out, [0, 2, 1])


# -------------------------------------------------------------- integer shape arithmetic
@pytest.mark.parametrize("size, kernel, stride, pad", [(31, 3, 2, 1), (32, 3, 2, 1), (28, 5, 1, 2), (7, 7, 1, 0),
                                                       (5, 2, 3, 0), (1, 1, 1, 0), (9, 4, 2, 3), (224, 7, 2, 3)])
def test_output_size_is_a_python_int_with_floor_division(size, kernel, stride, pad):
    got = output_size(size, kernel, stride, pad, pad)
    assert type(got) is int
    assert got == 1 + (size + 2 * pad - kernel) // stride
    t = TF.conv2d(torch.zeros(1, 1, size, size, dtype=torch.float64), torch.zeros(1, 1, kernel, kernel,
                  dtype=torch.float64), stride=stride, padding=pad)
    assert got == t.shape[-1]


def test_odd_size_stride_two_shapes_are_ints_and_match_torch(rng):
    x = rng.standard_normal((1, 2, 31, 29))
    geom = conv_geometry(x.shape, (3, 2, 3, 3), 2, 1)
    assert geom.out_hw == (16, 15) and all(type(v) is int for v in geom.out_hw)
    pgeom = pool_geometry(x.shape, 3, 2, 1, "max_pool2d")
    assert pgeom.out_hw == (16, 15) and all(type(v) is int for v in pgeom.out_hw)
    out, _ = F.conv2d_forward(x, rng.standard_normal((3, 2, 3, 3)), None, 2, 1)
    assert out.shape == (1, 3, 16, 15) and all(type(v) is int for v in out.shape)
    out, _ = F.max_pool2d_forward(x, 3, 2, 1)
    assert out.shape == tuple(TF.max_pool2d(to_torch(x), 3, 2, 1).shape)
    out, _ = F.avg_pool2d_forward(x, 2, 2, 1)
    assert out.shape == tuple(TF.avg_pool2d(to_torch(x), 2, 2, 1).shape)


@pytest.mark.parametrize("kernel", [(1, 1), (2, 2), (3, 3), (4, 5), (6, 1)])
def test_same_padding_splits_like_torch(kernel):
    top, bottom, left, right = resolve_padding("same", kernel, (1, 1), "conv2d")
    assert (top + bottom, left + right) == (kernel[0] - 1, kernel[1] - 1)
    assert (top, left) == ((kernel[0] - 1) // 2, (kernel[1] - 1) // 2)      # the odd pixel goes bottom/right
    assert all(type(v) is int for v in (top, bottom, left, right))
    assert resolve_padding("valid", kernel, (2, 2), "conv2d") == (0, 0, 0, 0)


# ------------------------------------------------------------------------ dtypes
def _float32_cases(rng):
    x4 = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    x2 = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    c3 = rng.standard_normal(3).astype(np.float32)
    return [
        ("conv2d", lambda: F.conv2d_forward(x4, w, c3[:2].copy(), 2, 1), F.conv2d_backward),
        ("max_pool2d", lambda: F.max_pool2d_forward(x4, 3, 2, 1), F.max_pool2d_backward),
        ("avg_pool2d", lambda: F.avg_pool2d_forward(x4, 2, 2, 1), F.avg_pool2d_backward),
        ("avg_pool2d_exclude_pad", lambda: F.avg_pool2d_forward(x4, 2, 2, 1, False), F.avg_pool2d_backward),
        ("global_avg_pool2d", lambda: F.global_avg_pool2d_forward(x4), F.global_avg_pool2d_backward),
        ("linear", lambda: F.linear_forward(x2, np.ones((2, 3), np.float32), np.ones(2, np.float32)),
         F.linear_backward),
        ("relu", lambda: F.relu_forward(x4), F.relu_backward),
        ("leaky_relu", lambda: F.leaky_relu_forward(x4, 0.1), F.leaky_relu_backward),
        ("tanh", lambda: F.tanh_forward(x4), F.tanh_backward),
        ("sigmoid", lambda: F.sigmoid_forward(x4), F.sigmoid_backward),
        ("batch_norm", lambda: F.batch_norm_forward(x4, c3, c3, training=True), F.batch_norm_backward),
        ("batch_norm_eval", lambda: F.batch_norm_forward(x4, c3, c3, np.zeros(3, np.float32),
                                                         np.ones(3, np.float32), training=False),
         F.batch_norm_backward),
        ("group_norm", lambda: F.group_norm_forward(x4, 3, c3, c3), F.group_norm_backward),
        ("dropout", lambda: F.dropout_forward(x4, 0.5, True, np.random.default_rng(0)), F.dropout_backward),
    ]


@pytest.mark.parametrize("index", range(len(_float32_cases(np.random.default_rng(0)))))
def test_float32_in_float32_out_and_grads(rng, index):
    name, forward, backward = _float32_cases(rng)[index]
    out, cache = forward()
    assert out.dtype == np.float32, name
    grads = backward(rng.standard_normal(out.shape).astype(np.float32), cache)
    for grad in (grads if isinstance(grads, tuple) else (grads,)):
        assert grad is None or grad.dtype == np.float32, f"{name}: gradient dtype {grad.dtype}"


def test_cross_entropy_float32_keeps_dtype(rng):
    logits = rng.standard_normal((3, 4)).astype(np.float32)
    loss, cache = F.softmax_cross_entropy_forward(logits, np.array([1, 2, 3]))
    assert isinstance(loss, float)
    assert F.softmax_cross_entropy_backward(1.0, cache).dtype == np.float32
