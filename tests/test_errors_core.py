"""Bad inputs to the core layers raise at once, with a message naming the layer and the shapes."""
from __future__ import annotations

import re

import numpy as np
import pytest

import barecnn.functional as F
from barecnn import nn
from barecnn.functional import naive


def esc(text: str) -> str:
    return re.escape(text)


def f32(*shape):
    return np.zeros(shape, dtype=np.float32)


# ------------------------------------------------------------- wrong input shapes
@pytest.mark.parametrize("module, x, pattern", [
    (nn.Conv2d(3, 4, 3), f32(2, 2, 8, 8), r"Conv2d\(3, 4.*expected 3 channels.*\(2, 2, 8, 8\)"),
    (nn.Linear(3, 4), f32(2, 5), r"Linear\(in_features=3.*\(2, 5\)"),
    (nn.BatchNorm2d(3), f32(2, 4, 3, 3), r"BatchNorm2d\(3.*expected 3 channels.*\(2, 4, 3, 3\)"),
    (nn.BatchNorm1d(3), f32(4, 2), r"BatchNorm1d\(3.*\(4, 2\)"),
    (nn.GroupNorm(2, 4), f32(2, 6, 3, 3), r"GroupNorm\(2, 4.*expected 4 channels.*\(2, 6, 3, 3\)"),
], ids=["conv", "linear", "bn2d", "bn1d", "groupnorm"])
def test_wrong_channel_count(module, x, pattern):
    with pytest.raises(ValueError, match=pattern):
        module(x)


@pytest.mark.parametrize("module, x, pattern", [
    (nn.Conv2d(3, 4, 3), f32(3, 8, 8), r"Conv2d.*\(N, 3, H, W\).*\(3, 8, 8\)"),
    (nn.Conv2d(3, 4, 3), f32(1, 1, 3, 8, 8), r"Conv2d.*\(1, 1, 3, 8, 8\)"),
    (nn.Linear(3, 4), f32(2, 3, 1), r"Linear.*\(N, 3\).*\(2, 3, 1\)"),
    (nn.Linear(3, 4), f32(3), r"Linear.*\(3,\)"),
    (nn.MaxPool2d(2), f32(4, 4), r"MaxPool2d.*\(N, C, H, W\).*\(4, 4\)"),
    (nn.AvgPool2d(2), f32(1, 4, 4), r"AvgPool2d.*\(1, 4, 4\)"),
    (nn.GlobalAvgPool2d(), f32(2, 3), r"GlobalAvgPool2d.*\(2, 3\)"),
    (nn.AdaptiveAvgPool2d(1), f32(2, 3, 4), r"AdaptiveAvgPool2d.*\(2, 3, 4\)"),
    (nn.BatchNorm2d(3), f32(2, 3), r"BatchNorm2d.*\(N, C, H, W\).*\(2, 3\)"),
    (nn.BatchNorm1d(3), f32(2, 3, 3, 3), r"BatchNorm1d.*\(2, 3, 3, 3\)"),
    (nn.GroupNorm(1, 3), f32(3), r"GroupNorm.*\(3,\)"),
    (nn.CrossEntropyLoss(), f32(3), r"CrossEntropyLoss.*\(N, num_classes\).*\(3,\)"),
], ids=lambda v: repr(v).split("(")[0] if isinstance(v, nn.Module) else None)
def test_wrong_rank(module, x, pattern):
    args = (x, np.zeros(3, dtype=int)) if isinstance(module, nn.CrossEntropyLoss) else (x,)
    with pytest.raises(ValueError, match=pattern):
        module(*args)


@pytest.mark.parametrize("module, x_shape, pattern", [
    (nn.Conv2d(1, 1, 5), (1, 1, 4, 4), r"Conv2d.*kernel 5x5 is larger than the padded input 4x4"),
    (nn.Conv2d(1, 1, (3, 6), padding=1), (1, 1, 4, 3), r"Conv2d.*kernel 3x6 is larger than the padded input 6x5"),
    (nn.MaxPool2d(3), (1, 1, 2, 2), r"MaxPool2d.*kernel 3x3 is larger than the padded input 2x2"),
    (nn.AvgPool2d((2, 5), padding=(0, 1)), (1, 1, 4, 2), r"AvgPool2d.*kernel 2x5 is larger than the padded input 4x4"),
])
def test_kernel_larger_than_padded_input(module, x_shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        module(f32(*x_shape))


# ------------------------------------------------------------- bad configuration
@pytest.mark.parametrize("make, error, pattern", [
    (lambda: nn.Conv2d(0, 4, 3), ValueError, r"Conv2d\(0, 4\): in_channels must be >= 1, got 0"),
    (lambda: nn.Conv2d(3, -1, 3), ValueError, r"Conv2d\(3, -1\): out_channels must be >= 1"),
    (lambda: nn.Conv2d(3, 4, 0), ValueError, r"Conv2d\(3, 4\): kernel_size must be >= 1, got 0"),
    (lambda: nn.Conv2d(3, 4, (3, -2)), ValueError, r"Conv2d\(3, 4\): kernel_size must be >= 1"),
    (lambda: nn.Conv2d(3, 4, 3, stride=0), ValueError, r"Conv2d\(3, 4\): stride must be >= 1, got 0"),
    (lambda: nn.Conv2d(3, 4, 3, stride=(1, 0)), ValueError, r"Conv2d\(3, 4\): stride must be >= 1"),
    (lambda: nn.Conv2d(3, 4, 3, padding=-1), ValueError, r"Conv2d\(3, 4\): padding must be >= 0, got -1"),
    (lambda: nn.Conv2d(3, 4, 3, padding=(0, -2)), ValueError, r"Conv2d\(3, 4\): padding must be >= 0"),
    (lambda: nn.Conv2d(3, 4, 3, padding="same", stride=2), ValueError,
     r"Conv2d\(3, 4\): padding='same' needs stride 1, got stride \(2, 2\)"),
    (lambda: nn.Conv2d(3, 4, 3, padding="same", stride=(1, 2)), ValueError, r"Conv2d\(3, 4\): padding='same'"),
    (lambda: nn.Conv2d(3, 4, 3, padding="full"), ValueError, r"Conv2d\(3, 4\): padding must be"),
    (lambda: nn.Conv2d(3, 4, 2.5), TypeError, r"Conv2d\(3, 4\): kernel_size must be an int or a pair"),
    (lambda: nn.Conv2d(3, 4, (1, 2, 3)), TypeError, r"Conv2d\(3, 4\): kernel_size"),
    (lambda: nn.Linear(0, 4), ValueError, r"Linear\(0, 4\): in_features must be >= 1"),
    (lambda: nn.Linear(4, 0), ValueError, r"Linear\(4, 0\): out_features must be >= 1"),
    (lambda: nn.MaxPool2d(0), ValueError, r"MaxPool2d: kernel_size must be >= 1, got 0"),
    (lambda: nn.MaxPool2d(2, stride=0), ValueError, r"MaxPool2d: stride must be >= 1"),
    (lambda: nn.MaxPool2d(2, padding=-1), ValueError, r"MaxPool2d: padding must be >= 0"),
    (lambda: nn.MaxPool2d(3, padding=2), ValueError, r"MaxPool2d: padding \(2, 2\) must be at most half"),
    (lambda: nn.AvgPool2d(-1), ValueError, r"AvgPool2d: kernel_size must be >= 1"),
    (lambda: nn.AvgPool2d(2, stride=(0, 1)), ValueError, r"AvgPool2d: stride must be >= 1"),
    (lambda: nn.AvgPool2d(2, padding=-1), ValueError, r"AvgPool2d: padding must be >= 0"),
    (lambda: nn.AdaptiveAvgPool2d(0), ValueError, r"AdaptiveAvgPool2d: output_size must be >= 1"),
    (lambda: nn.BatchNorm2d(0), ValueError, r"BatchNorm2d: num_features must be >= 1"),
    (lambda: nn.BatchNorm1d(3, eps=0), ValueError, r"BatchNorm1d: eps must be a positive number"),
    (lambda: nn.BatchNorm2d(3, momentum=1.5), ValueError, r"BatchNorm2d: momentum must be in \[0, 1\]"),
    (lambda: nn.GroupNorm(0, 4), ValueError, r"GroupNorm: num_groups must be >= 1"),
    (lambda: nn.GroupNorm(3, 4), ValueError, r"GroupNorm: num_channels \(4\) must be divisible by num_groups \(3\)"),
    (lambda: nn.GroupNorm(8, 4), ValueError, r"GroupNorm: num_channels \(4\) must be divisible by num_groups \(8\)"),
    (lambda: nn.Dropout(1.5), ValueError, r"Dropout: p must be a probability in \[0, 1\], got 1.5"),
    (lambda: nn.Dropout(-0.1), ValueError, r"Dropout: p must be a probability in \[0, 1\], got -0.1"),
    (lambda: nn.Dropout("0.5"), ValueError, r"Dropout: p must be"),
    (lambda: nn.LeakyReLU(float("nan")), ValueError, r"LeakyReLU: negative_slope must be a finite number"),
    (lambda: nn.Sequential(nn.ReLU(), "relu"), TypeError, r"Sequential: argument 1 is a str, not a Module"),
])
def test_bad_configuration_raises_at_construction(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


def test_groupnorm_kernel_rejects_indivisible_channels():
    with pytest.raises(ValueError, match=r"group_norm: 6 channels cannot be split into 4 groups"):
        F.group_norm_forward(np.zeros((2, 6, 2, 2)), 4, None, None)


def test_dropout_kernel_rejects_bad_p():
    for p in (-0.01, 1.01):
        with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\]"):
            F.dropout_forward(np.zeros((2, 2)), p)


# ------------------------------------------------------ backward before forward
@pytest.mark.parametrize("module", [
    nn.Conv2d(1, 1, 3), nn.Linear(2, 2), nn.MaxPool2d(2), nn.AvgPool2d(2), nn.GlobalAvgPool2d(),
    nn.AdaptiveAvgPool2d(1), nn.ReLU(), nn.LeakyReLU(), nn.Tanh(), nn.Sigmoid(), nn.Flatten(), nn.Identity(),
    nn.BatchNorm1d(2), nn.BatchNorm2d(2), nn.GroupNorm(1, 2), nn.Dropout(), nn.CrossEntropyLoss(),
    nn.Sequential(nn.Linear(2, 2), nn.ReLU()),
], ids=lambda m: type(m).__name__)
def test_backward_before_forward_raises_runtime_error(module):
    name = type(module).__name__ if not isinstance(module, nn.Sequential) else "ReLU"   # backward runs last-first
    with pytest.raises(RuntimeError, match=rf"{name}.*backward\(\) called before forward\(\)"):
        module.backward(np.ones((2, 2), dtype=np.float32)) if not isinstance(module, nn.CrossEntropyLoss) \
            else module.backward()


# ------------------------------------------------------ mis-shaped grad_output
@pytest.mark.parametrize("module, x_shape, bad_shape", [
    (nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 5), (2, 3, 4, 5)),
    (nn.Linear(3, 4), (2, 3), (2, 3)),
    (nn.MaxPool2d(2), (1, 2, 4, 4), (1, 2, 4, 4)),
    (nn.AvgPool2d(2), (1, 2, 4, 4), (1, 2, 2)),
    (nn.GlobalAvgPool2d(), (2, 3, 4, 4), (2, 3, 1, 1)),
    (nn.AdaptiveAvgPool2d(1), (2, 3, 4, 4), (2, 3)),
    (nn.ReLU(), (2, 3), (3, 2)),
    (nn.Tanh(), (2, 3), (2, 3, 1)),
    (nn.Sigmoid(), (2, 3), (6,)),
    (nn.LeakyReLU(), (2, 3), (2, 4)),
    (nn.Flatten(), (2, 3, 2, 2), (2, 3, 2, 2)),
    (nn.BatchNorm2d(2), (2, 2, 3, 3), (2, 2, 3)),
    (nn.BatchNorm1d(2), (4, 2), (2, 4)),
    (nn.GroupNorm(1, 2), (2, 2, 3), (2, 2, 4)),
    (nn.Dropout(0.5), (2, 3), (2, 2)),
], ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else None)
def test_misshaped_grad_output(rng, module, x_shape, bad_shape):
    out = module(rng.standard_normal(x_shape).astype(np.float32))
    pattern = rf"{type(module).__name__}.*grad_output has shape {esc(str(bad_shape))}, expected.*{esc(str(out.shape))}"
    with pytest.raises(ValueError, match=pattern):
        module.backward(np.zeros(bad_shape, dtype=np.float32))


def test_grad_output_must_be_an_array(rng):
    lin = nn.Linear(2, 2)
    lin(f32(1, 2))
    with pytest.raises(TypeError, match=r"Linear.*grad_output must be a NumPy array, got list"):
        lin.backward([[1.0, 2.0]])


@pytest.mark.parametrize("forward, backward, args, bad_shape, op", [
    (F.conv2d_forward, F.conv2d_backward, (np.zeros((1, 1, 4, 4)), np.zeros((2, 1, 3, 3))), (1, 2, 3, 2), "conv2d"),
    (naive.conv2d_forward, naive.conv2d_backward, (np.zeros((1, 1, 4, 4)), np.zeros((2, 1, 3, 3))), (1, 2, 3, 2),
     "conv2d"),
    (F.max_pool2d_forward, F.max_pool2d_backward, (np.zeros((1, 1, 4, 4)), 2), (1, 1, 4, 4), "max_pool2d"),
    (naive.max_pool2d_forward, naive.max_pool2d_backward, (np.zeros((1, 1, 4, 4)), 2), (1, 1, 3, 2), "max_pool2d"),
    (F.avg_pool2d_forward, F.avg_pool2d_backward, (np.zeros((1, 1, 4, 4)), 2), (1, 2, 2), "avg_pool2d"),
    (naive.avg_pool2d_forward, naive.avg_pool2d_backward, (np.zeros((1, 1, 4, 4)), 2), (2, 1, 2, 2), "avg_pool2d"),
    (F.global_avg_pool2d_forward, F.global_avg_pool2d_backward, (np.zeros((1, 2, 4, 4)),), (2, 1), "global_avg_pool2d"),
    (F.linear_forward, F.linear_backward, (np.zeros((2, 3)), np.zeros((4, 3))), (2, 3), "linear"),
    (F.relu_forward, F.relu_backward, (np.zeros((2, 3)),), (3, 2), "relu"),
    (F.batch_norm_forward, F.batch_norm_backward, (np.ones((3, 2)), None, None), (2, 3), "batch_norm"),
    (F.group_norm_forward, F.group_norm_backward, (np.ones((3, 2)), 1, None, None), (3, 3), "group_norm"),
    (F.dropout_forward, F.dropout_backward, (np.ones((3, 2)), 0.5), (2, 3), "dropout"),
])
def test_kernels_reject_misshaped_upstream_gradient(forward, backward, args, bad_shape, op):
    _, cache = forward(*args)
    with pytest.raises(ValueError, match=rf"{op}: the upstream gradient has shape {esc(str(bad_shape))}"):
        backward(np.zeros(bad_shape), cache)


# ------------------------------------------------------------------- labels
@pytest.mark.parametrize("labels, error, pattern", [
    (np.array([0, 3]), ValueError, r"labels must be in \[0, 2\], got values from 0 to 3"),
    (np.array([-1, 0]), ValueError, r"labels must be in \[0, 2\], got values from -1 to 0"),
    (np.array([0.0, 1.0]), TypeError, r"labels must be integers \(class indices\), got dtype float64"),
    (np.array([True, False]), TypeError, r"labels must be integers.*bool"),
    (np.array(["a", "b"]), TypeError, r"labels must be integers"),
    (np.array([0, 1, 2]), ValueError, r"expected 2 labels of shape \(2,\) to match the logits, got shape \(3,\)"),
    (np.array([[0], [1]]), ValueError, r"expected 2 labels.*got shape \(2, 1\)"),
    (np.array(1), ValueError, r"expected 2 labels.*got shape \(\)"),
])
def test_cross_entropy_bad_labels(labels, error, pattern):
    with pytest.raises(error, match=r"CrossEntropyLoss.*" + pattern):
        nn.CrossEntropyLoss()(np.zeros((2, 3)), labels)
    with pytest.raises(error, match=r"cross_entropy: " + pattern):
        F.softmax_cross_entropy_forward(np.zeros((2, 3)), labels)


def test_cross_entropy_bad_label_smoothing():
    for value in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"CrossEntropyLoss.*label_smoothing must be in \[0, 1\]"):
            nn.CrossEntropyLoss(label_smoothing=value)(np.zeros((2, 3)), np.array([0, 1]))


# ----------------------------------------------------- non-float and empty inputs
BAD_ARRAYS = [
    (np.array([["a", "b"], ["c", "d"]]), r"float32 or float64, got dtype <U1"),
    (np.array([[1.0, None]], dtype=object), r"float32 or float64, got dtype object"),
    (np.array([[1, 2], [3, 4]]), r"float32 or float64, got dtype int64"),
    (np.array([[True, False]]), r"float32 or float64, got dtype bool"),
    ([[1.0, 2.0]], r"must be a NumPy array, got list"),
]


@pytest.mark.parametrize("module", [nn.Linear(2, 2), nn.ReLU(), nn.Sigmoid(), nn.BatchNorm1d(2), nn.Dropout(),
                                    nn.CrossEntropyLoss()], ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("x, pattern", BAD_ARRAYS, ids=["str", "object", "int", "bool", "list"])
def test_non_float_inputs_raise_type_error(module, x, pattern):
    args = (x, np.array([0] * len(x))) if isinstance(module, nn.CrossEntropyLoss) else (x,)
    with pytest.raises(TypeError, match=rf"{type(module).__name__}.*{pattern}"):
        module(*args)


@pytest.mark.parametrize("forward, args", [
    (F.conv2d_forward, (np.zeros((1, 1, 3, 3), dtype=object), np.zeros((1, 1, 2, 2)))),
    (F.max_pool2d_forward, (np.zeros((1, 1, 3, 3), dtype="U1"), 2)),
    (F.avg_pool2d_forward, (np.zeros((1, 1, 3, 3), dtype=int), 2)),
    (F.linear_forward, (np.zeros((1, 2)), np.zeros((2, 2), dtype=object))),
    (F.relu_forward, (np.array(["x"]),)),
    (F.batch_norm_forward, (np.zeros((2, 2), dtype=int), None, None)),
    (F.softmax_cross_entropy_forward, (np.array([["a", "b"]]), np.array([0]))),
])
def test_kernels_reject_non_float_arrays(forward, args):
    with pytest.raises(TypeError, match=r"must be a floating-point array|must be a NumPy array"):
        forward(*args)


@pytest.mark.parametrize("module, shape", [
    (nn.Conv2d(1, 1, 1), (0, 1, 3, 3)), (nn.Linear(3, 2), (0, 3)), (nn.MaxPool2d(2), (0, 1, 2, 2)),
    (nn.AvgPool2d(2), (0, 1, 2, 2)), (nn.GlobalAvgPool2d(), (0, 2, 2, 2)), (nn.ReLU(), (0, 3)),
    (nn.BatchNorm1d(3), (0, 3)), (nn.BatchNorm2d(1), (0, 1, 2, 2)), (nn.GroupNorm(1, 2), (0, 2, 2)),
    (nn.Dropout(), (0, 4)), (nn.CrossEntropyLoss(), (0, 3)), (nn.Conv2d(1, 1, 1), (2, 1, 0, 3)),
], ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else str(v))
def test_empty_batch_raises(module, shape):
    args = (f32(*shape), np.zeros(0, dtype=int)) if isinstance(module, nn.CrossEntropyLoss) else (f32(*shape),)
    with pytest.raises(ValueError, match=rf"{type(module).__name__}.*input is empty \(shape {esc(str(shape))}\)"):
        module(*args)


def test_batchnorm_training_needs_more_than_one_value_per_channel():
    with pytest.raises(ValueError, match=r"BatchNorm2d.*more than one value per channel.*\(1, 3, 1, 1\)"):
        nn.BatchNorm2d(3)(f32(1, 3, 1, 1))
    nn.BatchNorm2d(3).eval()(f32(1, 3, 1, 1))          # eval mode uses the running statistics: fine


# ------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("module, shape", [
    (nn.Conv2d(1, 2, 3), (1, 1, 4, 4)), (nn.Linear(3, 2), (2, 3)), (nn.BatchNorm2d(2), (2, 2, 2, 2)),
    (nn.BatchNorm1d(2), (3, 2)), (nn.GroupNorm(1, 2), (2, 2, 3)),
    (nn.Sequential(nn.ReLU(), nn.Linear(3, 2)), (2, 3)),
], ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else str(v))
def test_float64_input_into_float32_model_raises_type_error(module, shape):
    with pytest.raises(TypeError, match=r"input dtype float64 does not match 'weight' dtype float32"):
        module(np.zeros(shape))
    module.double()
    with pytest.raises(TypeError, match=r"input dtype float32 does not match 'weight' dtype float64"):
        module(f32(*shape))


def test_kernel_dtype_mismatch_names_the_argument():
    with pytest.raises(TypeError, match=r"conv2d: w has dtype float32 but the input has dtype float64"):
        F.conv2d_forward(np.zeros((1, 1, 3, 3)), f32(1, 1, 2, 2))
    with pytest.raises(TypeError, match=r"linear: b has dtype float32 but the input has dtype float64"):
        F.linear_forward(np.zeros((1, 2)), np.zeros((3, 2)), f32(3))
    with pytest.raises(TypeError, match=r"batch_norm: gamma has dtype float64 but the input has dtype float32"):
        F.batch_norm_forward(f32(2, 2), np.ones(2), None)


def test_batchnorm_without_affine_rejects_dtype_mismatch():
    with pytest.raises(TypeError, match=r"BatchNorm2d.*float64"):
        nn.BatchNorm2d(2, affine=False)(np.zeros((2, 2, 2, 2)))


# ------------------------------------------------------------ functional shapes
def test_kernel_shape_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"conv2d: the input has 2 channels but the weight expects 3 "
                                         r"\(x shape \(1, 2, 5, 5\), w shape \(4, 3, 3, 3\)\)"):
        F.conv2d_forward(np.zeros((1, 2, 5, 5)), np.zeros((4, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"conv2d: b must have shape \(4,\), got \(3,\)"):
        F.conv2d_forward(np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"conv2d: x must have shape \(N, C, H, W\), got shape \(3, 5, 5\)"):
        F.conv2d_forward(np.zeros((3, 5, 5)), np.zeros((4, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"linear: x has 3 features per sample but w expects 4"):
        F.linear_forward(np.zeros((2, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"batch_norm: gamma must have shape \(2,\), got \(3,\)"):
        F.batch_norm_forward(np.zeros((4, 2)), np.ones(3), None)
    with pytest.raises(ValueError, match=r"batch_norm: evaluation mode needs running_mean and running_var"):
        F.batch_norm_forward(np.zeros((4, 2)), None, None, training=False)
    with pytest.raises(ValueError, match=r"max_pool2d: padding \(2, 2\) must be at most half the kernel size"):
        F.max_pool2d_forward(np.zeros((1, 1, 5, 5)), 3, 1, 2)
    with pytest.raises(ValueError, match=r"conv2d: padding='same' needs stride 1"):
        F.conv2d_forward(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), None, 2, "same")
