"""The loop versions in barecnn.functional.naive against the fast kernels (and, for ties, torch).

Same signatures, same results to 1e-10 in float64: forward outputs and every gradient, for stride
> 1, padding, non-square inputs and kernels, 1x1 kernels, kernel == input, overlapping pools and
max-pool ties (both must send the gradient to the first maximum in row-major order).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import barecnn.functional as fast
from barecnn.functional import conv as conv_kernel
from barecnn.functional import naive
from helpers import conv_configs, pool_configs, random_grad, to_numpy, to_torch

TOL = dict(rtol=1e-10, atol=1e-10)
FAST = settings(max_examples=25, deadline=None)


def assert_same(a, b, name):
    if a is None or b is None:
        assert a is None and b is None, f"{name}: one of naive/fast is None"
        return
    assert a.shape == b.shape, f"{name}: naive {a.shape} vs fast {b.shape}"
    assert a.dtype == b.dtype, f"{name}: naive {a.dtype} vs fast {b.dtype}"
    np.testing.assert_allclose(a, b, err_msg=name, **TOL)


def compare_conv(x, w, b, stride, padding, rng):
    out_n, cache_n = naive.conv2d_forward(x, w, b, stride, padding)
    out_f, cache_f = fast.conv2d_forward(x, w, b, stride, padding)
    assert_same(out_n, out_f, "conv out")
    dout = random_grad(rng, out_f.shape)
    for name, gn, gf in zip(("dx", "dw", "db"), naive.conv2d_backward(dout, cache_n),
                            fast.conv2d_backward(dout, cache_f)):
        assert_same(gn, gf, f"conv {name}")


def compare_pools(x, kernel_size, stride, padding, rng):
    out_n, cache_n = naive.max_pool2d_forward(x, kernel_size, stride, padding)
    out_f, cache_f = fast.max_pool2d_forward(x, kernel_size, stride, padding)
    assert_same(out_n, out_f, "max_pool out")
    dout = random_grad(rng, out_f.shape)
    assert_same(naive.max_pool2d_backward(dout, cache_n), fast.max_pool2d_backward(dout, cache_f), "max_pool dx")
    for count_include_pad in (True, False):
        out_n, cache_n = naive.avg_pool2d_forward(x, kernel_size, stride, padding, count_include_pad)
        out_f, cache_f = fast.avg_pool2d_forward(x, kernel_size, stride, padding, count_include_pad)
        assert_same(out_n, out_f, f"avg_pool out (count_include_pad={count_include_pad})")
        assert_same(naive.avg_pool2d_backward(dout, cache_n), fast.avg_pool2d_backward(dout, cache_f),
                     f"avg_pool dx (count_include_pad={count_include_pad})")


# ------------------------------------------------------------------- convolution
@pytest.mark.slow
@FAST
@given(conv_configs(max_n=2, max_c=6, max_hw=7, max_k=4))
def test_conv_naive_equals_fast_property(cfg):
    """Random shapes; the channel count decides the patch order, as in real use (few -> column-major)."""
    rng = np.random.default_rng(cfg["seed"])
    x, w = rng.standard_normal(cfg["x_shape"]), rng.standard_normal(cfg["w_shape"])
    b = rng.standard_normal(cfg["w_shape"][0]) if cfg["bias"] else None
    compare_conv(x, w, b, cfg["stride"], cfg["padding"], rng)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", [
    ((2, 3, 8, 8), (4, 3, 3, 3), 2, 1),            # stride 2 with padding (the classic im2col bug)
    ((2, 3, 8, 8), (2, 3, 3, 3), 1, 0),            # output 6x6 from a 3x3 kernel (the tutorial bug)
    ((1, 2, 7, 5), (3, 2, 1, 1), 1, 0),            # 1x1 kernel
    ((1, 2, 7, 5), (3, 2, 1, 1), 2, 1),            # 1x1 kernel, stride and padding
    ((2, 2, 5, 6), (3, 2, 5, 6), 1, 0),            # kernel == input
    ((2, 1, 9, 6), (2, 1, 2, 4), (2, 1), (1, 0)),  # non-square input, kernel, stride, padding
    ((1, 1, 11, 9), (2, 1, 3, 3), 2, 1),           # odd sizes, stride 2
    ((1, 2, 6, 7), (2, 2, 4, 2), 1, "same"),       # even kernel 'same' (asymmetric padding)
    ((1, 2, 6, 7), (2, 2, 3, 5), 1, "same"),
    ((1, 2, 6, 7), (2, 2, 3, 5), 1, "valid"),
    ((2, 2, 6, 6), (2, 2, 2, 2), 3, 0),            # stride larger than the kernel
])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("patch_order", ["row-major", "row-major, one image per col2im chunk", "column-major"])
def test_conv_naive_equals_fast_cases(rng, monkeypatch, x_shape, w_shape, stride, padding, bias, patch_order):
    """Both memory orders of the patch matrix (and so both col2im scatters, the row-major one also
    in chunks of the batch) on every case."""
    monkeypatch.setattr(conv_kernel, "COLUMN_MAJOR_BELOW_CHANNELS", 10**9 if patch_order == "column-major" else 0)
    if "chunk" in patch_order:
        monkeypatch.setattr(conv_kernel, "COL2IM_CHUNK_BYTES", 1)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    compare_conv(x, w, b, stride, padding, rng)


def test_naive_conv_backward_loops_over_outputs_not_kernel(rng):
    """Tutorial regression: a 3x3 kernel on 8x8 gives 6x6; naive backward must match torch."""
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal((2, 2, 8, 8)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    for stride in (1, 2):
        out, cache = naive.conv2d_forward(x, w, b, stride, 0)
        dout = random_grad(rng, out.shape)
        dx, dw, db = naive.conv2d_backward(dout, cache)
        tx, tw, tb = to_torch(x, True), to_torch(w, True), to_torch(b, True)
        tout = torch.nn.functional.conv2d(tx, tw, tb, stride=stride)
        tout.backward(to_torch(dout))
        for ours, theirs in ((out, tout), (dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
            np.testing.assert_allclose(ours, to_numpy(theirs), rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------- pooling
@pytest.mark.slow
@FAST
@given(pool_configs(max_hw=8))
def test_pools_naive_equal_fast_property(cfg):
    rng = np.random.default_rng(cfg["seed"])
    compare_pools(rng.standard_normal(cfg["x_shape"]), cfg["kernel_size"], cfg["stride"], cfg["padding"], rng)


@pytest.mark.parametrize("x_shape, kernel, stride, padding", [
    ((2, 3, 8, 8), 2, None, 0),
    ((2, 2, 9, 9), 3, 2, 0),          # overlapping 3x3 stride 2
    ((2, 2, 9, 7), 3, 2, 1),          # overlapping and padded
    ((1, 2, 7, 7), 3, 1, 1),          # heavily overlapping
    ((1, 2, 5, 8), (2, 4), (1, 3), (1, 2)),
    ((1, 2, 4, 6), (4, 6), None, 0),  # window == input
    ((1, 1, 5, 5), 1, 1, 0),          # 1x1 window
    ((1, 1, 11, 9), 3, 2, 1),         # odd sizes
    ((1, 1, 7, 7), 2, 3, 1),          # stride larger than the kernel
])
def test_pools_naive_equal_fast_cases(rng, x_shape, kernel, stride, padding):
    compare_pools(rng.standard_normal(x_shape), kernel, stride, padding, rng)


@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), (3, 2, 0), (3, 2, 1), (3, 1, 1),
                                                     ((2, 3), (1, 2), 1)])
def test_max_pool_ties_naive_equals_fast_equals_torch(kernel, stride, padding):
    """Ties everywhere: all-zero windows after a ReLU and small integers. The gradient goes to the
    first maximum in row-major order, in naive, fast and torch alike."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = np.maximum(rng.integers(-3, 3, size=(2, 2, 9, 8)), 0).astype(np.float64)
    x[1, 1] = 0.0
    compare_pools(x, kernel, stride, padding, rng)
    out, cache = fast.max_pool2d_forward(x, kernel, stride, padding)
    dout = random_grad(rng, out.shape)
    dx = fast.max_pool2d_backward(dout, cache)
    dx_naive = naive.max_pool2d_backward(dout, naive.max_pool2d_forward(x, kernel, stride, padding)[1])
    tx = to_torch(x, True)
    torch.nn.functional.max_pool2d(tx, kernel, stride, padding).backward(to_torch(dout))
    np.testing.assert_allclose(dx, to_numpy(tx.grad), rtol=0, atol=1e-12)
    np.testing.assert_allclose(dx_naive, to_numpy(tx.grad), rtol=0, atol=1e-12)


def test_max_pool_all_equal_window_sends_everything_to_first_element():
    x = np.full((1, 1, 4, 4), 2.0)
    dout = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, ::2, ::2] = dout[0, 0]
    for module in (naive, fast):
        _, cache = module.max_pool2d_forward(x, 2)
        np.testing.assert_array_equal(module.max_pool2d_backward(dout, cache), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_naive_keeps_dtype(rng, dtype):
    x = rng.standard_normal((1, 2, 5, 5)).astype(dtype)
    w = rng.standard_normal((2, 2, 3, 3)).astype(dtype)
    out, cache = naive.conv2d_forward(x, w, np.zeros(2, dtype), 2, 1)
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in naive.conv2d_backward(random_grad(rng, out.shape).astype(dtype), cache))
    for forward, backward in ((naive.max_pool2d_forward, naive.max_pool2d_backward),
                              (naive.avg_pool2d_forward, naive.avg_pool2d_backward)):
        out, cache = forward(x, 3, 2, 1)
        assert out.dtype == dtype
        assert backward(random_grad(rng, out.shape).astype(dtype), cache).dtype == dtype


def test_naive_and_fast_share_shape_errors():
    x, w = np.zeros((1, 2, 3, 3)), np.zeros((1, 3, 2, 2))
    for module in (naive, fast):
        with pytest.raises(ValueError, match="channels"):
            module.conv2d_forward(x, w)
        with pytest.raises(ValueError, match="larger than the padded input"):
            module.max_pool2d_forward(x, 4, 1, 0)
