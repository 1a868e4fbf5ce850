"""Shared test helpers: PyTorch as the oracle, in one place.

``helper_test_module(ours, x)`` is the one "build the torch twin and compare" routine (in the
spirit of tinygrad's ``helper_test_op``): it builds the equivalent ``torch.nn`` module from our
module's own attributes (:func:`torch_twin`), copies our ``state_dict`` into it (so the keys must
match PyTorch's), runs both in float64 with a random upstream gradient and compares the output,
the input gradient, every parameter gradient and every buffer. ``helper_test_op`` does the same
for a pure functional kernel pair. torch is imported lazily, so this module imports without it.
"""
from __future__ import annotations

import numpy as np

from barecnn import nn

RTOL = 1e-6
ATOL = 1e-9


# ------------------------------------------------------------------ small utils
def to_numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def to_torch(array, requires_grad: bool = False):
    import torch

    tensor = torch.from_numpy(np.array(array, copy=True))
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def random_grad(rng: np.random.Generator, shape) -> np.ndarray:
    """An upstream gradient that is never all ones (or any constant): standard normal plus a ramp."""
    g = rng.standard_normal(shape)
    if g.size > 1:
        g = g + np.linspace(-0.5, 0.5, g.size).reshape(np.shape(g))
    return g


def distinct_values(rng: np.random.Generator, shape, spacing: float = 0.1) -> np.ndarray:
    """A random permutation of well-separated values: no max-pool ties, nothing near 0 by more than spacing/2."""
    n = int(np.prod(shape))
    values = (np.arange(n, dtype=np.float64) - (n - 1) / 2 + 0.5) * spacing
    return rng.permutation(values).reshape(shape)


def away_from_zero(rng: np.random.Generator, shape, margin: float = 0.1) -> np.ndarray:
    """Normal values pushed at least ``margin`` away from 0 (no ReLU kinks within a finite difference)."""
    x = rng.standard_normal(shape)
    return x + np.where(x >= 0, margin, -margin)


def correlation(a, b, max_shift: int = 0) -> float:
    """The best correlation of two images over relative shifts of up to ``max_shift`` pixels each way:
    centring rounds the centre-of-mass offset, and a speck merged with a stroke's end moves a thin
    digit, so a digit prepared two ways can land a pixel apart."""
    shifts = range(-max_shift, max_shift + 1)
    return max(np.corrcoef(np.roll(a, (down, across), axis=(0, 1)).ravel().astype(float),
                           np.asarray(b, dtype=float).ravel())[0, 1]
               for down in shifts for across in shifts)


def assert_close(ours, reference, name: str = "", rtol: float = RTOL, atol: float = ATOL) -> None:
    """Same shape and values to ``rtol``/``atol`` (our default: 1e-6 relative, 1e-9 absolute)."""
    ours, reference = np.asarray(ours), np.asarray(reference)
    assert ours.shape == reference.shape, f"{name}: shape {ours.shape}, torch gives {reference.shape}"
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=atol, err_msg=name)


def torch_state_dict(module: nn.Module) -> dict:
    """Our state_dict as torch tensors (what ``torch_module.load_state_dict`` takes)."""
    return {key: to_torch(value) for key, value in module.state_dict().items()}


def numpy_state_dict(torch_module) -> dict:
    """A torch state_dict as NumPy arrays (what our ``load_state_dict`` takes)."""
    return {key: to_numpy(value) for key, value in torch_module.state_dict().items()}


# ---------------------------------------------------------------- torch twins
def torch_twin(module: nn.Module):
    """The ``torch.nn`` module equivalent to ``module``, built from its configuration only.

    Parameters and buffers are *not* copied here (see :func:`helper_test_module`). Raises
    ``NotImplementedError`` for a module type it does not know.
    """
    import torch

    tnn = torch.nn
    if isinstance(module, nn.Sequential):
        return tnn.Sequential(*[torch_twin(child) for child in module])
    if isinstance(module, nn.Conv2d):
        return tnn.Conv2d(module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                          padding=module.padding, bias=module.bias is not None)
    if isinstance(module, nn.Linear):
        return tnn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
    if isinstance(module, nn.MaxPool2d):
        return tnn.MaxPool2d(module.kernel_size, module.stride, module.padding)
    if isinstance(module, nn.AvgPool2d):
        return tnn.AvgPool2d(module.kernel_size, module.stride, module.padding,
                             count_include_pad=module.count_include_pad)
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return tnn.AdaptiveAvgPool2d(module.output_size)
    if isinstance(module, nn.GlobalAvgPool2d):
        return tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten())
    if isinstance(module, nn.Flatten):
        return tnn.Flatten(module.start_dim, module.end_dim)
    if isinstance(module, nn.Identity):
        return tnn.Identity()
    if isinstance(module, nn.LeakyReLU):
        return tnn.LeakyReLU(module.negative_slope)
    for ours, theirs in ((nn.ReLU, tnn.ReLU), (nn.Tanh, tnn.Tanh), (nn.Sigmoid, tnn.Sigmoid)):
        if isinstance(module, ours):
            return theirs()
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        cls = tnn.BatchNorm1d if isinstance(module, nn.BatchNorm1d) else tnn.BatchNorm2d
        return cls(module.num_features, eps=module.eps, momentum=module.momentum, affine=module.affine,
                   track_running_stats=module.track_running_stats)
    if isinstance(module, nn.GroupNorm):
        return tnn.GroupNorm(module.num_groups, module.num_channels, eps=module.eps, affine=module.affine)
    if isinstance(module, nn.Dropout):
        return tnn.Dropout(module.p)
    if isinstance(module, nn.CrossEntropyLoss):
        return tnn.CrossEntropyLoss(label_smoothing=module.label_smoothing)
    raise NotImplementedError(f"no torch twin for {type(module).__name__}")


# ------------------------------------------------------------- the one helper
def helper_test_module(ours: nn.Module, inputs, *extra, twin=None, rng: np.random.Generator | None = None,
                       steps: int = 1, rtol: float = RTOL, atol: float = ATOL, train: bool | None = None,
                       copy_state: bool = True):
    """Compare ``ours`` with its torch twin in float64: output, input gradient, parameter
    gradients (by name) and buffers, over ``steps`` forward/backward passes.

    Parameters
    ----------
    ours : our module; converted with ``.double()``.
    inputs : the input array, or a list of ``steps`` input arrays (one per pass).
    extra : further non-differentiable arguments (e.g. integer labels), given to both.
    twin : a torch module or a plain callable on tensors; built by :func:`torch_twin` when ``None``.
    train : set ``.train(train)`` on both; ``None`` leaves the modes as they are (ours' is copied).
    copy_state : load our state_dict into the twin (strictly: the keys must match PyTorch's).

    Returns ``(ours, twin, last_output)``.
    """
    import torch

    rng = np.random.default_rng(1234) if rng is None else rng
    ours.double()
    if train is not None:
        ours.train(train)
    if twin is None:
        twin = torch_twin(ours)
    if isinstance(twin, torch.nn.Module):
        twin.double()
        twin.train(ours.training)
        if copy_state:
            twin.load_state_dict(torch_state_dict(ours), strict=True)
    batches = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs] * steps
    out = None
    for step, x in enumerate(batches):
        x = np.asarray(x, dtype=np.float64)
        where = f"{ours!r} step {step} input {x.shape}"
        ours.zero_grad()
        if isinstance(twin, torch.nn.Module):
            twin.zero_grad(set_to_none=True)
        tx = to_torch(x, requires_grad=True)
        textra = [torch.as_tensor(np.asarray(e)) for e in extra]
        snapshot = x.copy()
        out = ours(x, *extra)                       # x as given: views and odd layouts included
        tout = twin(tx, *textra)
        np.testing.assert_array_equal(x, snapshot, err_msg=f"{where}: forward modified its input")
        assert_close(out, to_numpy(tout), f"{where}: output", rtol, atol)
        if isinstance(out, np.ndarray):
            assert out.dtype == np.float64, f"{where}: output dtype {out.dtype}"
        dout = random_grad(rng, np.shape(out))
        dx = ours.backward(np.asarray(dout))
        tout.backward(to_torch(np.asarray(dout)))
        assert_close(dx, to_numpy(tx.grad), f"{where}: input gradient", rtol, atol)
        if isinstance(twin, torch.nn.Module):
            theirs = dict(twin.named_parameters())
            mine = dict(ours.named_parameters())
            assert list(mine) == list(theirs), f"{where}: parameter names {list(mine)} vs torch {list(theirs)}"
            for name, param in mine.items():
                assert param.grad is not None, f"{where}: {name}.grad is None after backward"
                assert_close(param.grad, to_numpy(theirs[name].grad), f"{where}: gradient of {name}", rtol, atol)
            their_buffers = dict(twin.named_buffers())
            my_buffers = dict(ours.named_buffers())
            assert list(my_buffers) == list(their_buffers), \
                f"{where}: buffer names {list(my_buffers)} vs torch {list(their_buffers)}"
            for name, value in my_buffers.items():
                assert_close(value, to_numpy(their_buffers[name]), f"{where}: buffer {name}", rtol, atol)
    return ours, twin, out


def helper_test_op(forward, backward, torch_fn, inputs, *, kwargs=None, torch_kwargs=None, grads=None,
                   rng: np.random.Generator | None = None, rtol: float = RTOL, atol: float = ATOL):
    """Compare a functional pair ``forward(*inputs, **kwargs) -> (out, cache)``,
    ``backward(dout, cache) -> grads`` with ``torch_fn(*tensors, **torch_kwargs)`` in float64.

    ``kwargs`` go to ours only, ``torch_kwargs`` to ``torch_fn`` only (usually a closure instead).
    ``inputs`` may contain ``None`` (an absent bias), passed as ``None`` to both. ``grads`` is a
    list of booleans: which inputs get a gradient compared (default: every non-``None`` input).
    Returns ``(out, grads)`` of ours.
    """
    rng = np.random.default_rng(4321) if rng is None else rng
    kwargs = kwargs or {}
    torch_kwargs = torch_kwargs or {}
    arrays = [None if a is None else np.asarray(a, dtype=np.float64) for a in inputs]
    tensors = [None if a is None else to_torch(a, requires_grad=True) for a in arrays]
    snapshots = [None if a is None else a.copy() for a in arrays]
    out, cache = forward(*arrays, **kwargs)            # the arrays as given: views and odd layouts included
    tout = torch_fn(*tensors, **torch_kwargs)
    name = getattr(forward, "__qualname__", str(forward))
    for array, snapshot in zip(arrays, snapshots):
        if array is not None:
            np.testing.assert_array_equal(array, snapshot, err_msg=f"{name} modified its input")
    assert_close(out, to_numpy(tout), f"{name} output", rtol, atol)
    dout = random_grad(rng, np.shape(out))
    ours_grads = backward(np.asarray(dout), cache)
    ours_grads = ours_grads if isinstance(ours_grads, tuple) else (ours_grads,)
    tout.backward(to_torch(np.asarray(dout)))
    grads = [a is not None for a in arrays] if grads is None else grads
    for index, (tensor, grad, wanted) in enumerate(zip(tensors, ours_grads, grads)):
        if not wanted:
            continue
        if tensor is None:
            assert grad is None, f"{name}: gradient {index} should be None for an absent input"
            continue
        assert_close(grad, to_numpy(tensor.grad), f"{name} gradient {index}", rtol, atol)
    return out, ours_grads


# ------------------------------------------------------ hypothesis strategies
# Small ranges keep each example cheap; the geometry is always valid (kernel fits the padded input).
from hypothesis import assume  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SEEDS = st.integers(0, 2**32 - 1)


def _int_or_pair(draw, pair):
    """``pair`` as an int when both entries agree and hypothesis says so, else as a tuple."""
    if pair[0] == pair[1] and draw(st.booleans()):
        return pair[0]
    return tuple(pair)


@st.composite
def conv_configs(draw, max_n=3, max_c=6, max_f=3, max_hw=9, max_k=5, max_s=3, max_p=2):
    """``dict(x_shape, w_shape, stride, padding, bias, seed)`` for a valid convolution (up to 6
    channels, so both memory orders of the patch matrix are drawn)."""
    N, C, F = draw(st.integers(1, max_n)), draw(st.integers(1, max_c)), draw(st.integers(1, max_f))
    H, W = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    ph, pw = draw(st.integers(0, max_p)), draw(st.integers(0, max_p))
    kh = draw(st.integers(1, min(max_k, H + 2 * ph)))
    kw = draw(st.integers(1, min(max_k, W + 2 * pw)))
    sh, sw = draw(st.integers(1, max_s)), draw(st.integers(1, max_s))
    assume(kh <= H + 2 * ph and kw <= W + 2 * pw)
    return dict(x_shape=(N, C, H, W), w_shape=(F, C, kh, kw), stride=_int_or_pair(draw, (sh, sw)),
                padding=_int_or_pair(draw, (ph, pw)), bias=draw(st.booleans()), seed=draw(SEEDS))


@st.composite
def same_conv_configs(draw, max_hw=8, max_k=5):
    """A stride-1 convolution with ``padding='same'`` or ``'valid'``; kernels odd and even."""
    N, C, F = draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    padding = draw(st.sampled_from(["same", "valid"]))
    kh, kw = draw(st.integers(1, max_k)), draw(st.integers(1, max_k))
    if padding == "valid":
        assume(kh <= H and kw <= W)
    return dict(x_shape=(N, C, H, W), w_shape=(F, C, kh, kw), stride=1, padding=padding,
                bias=draw(st.booleans()), seed=draw(SEEDS))


@st.composite
def pool_configs(draw, max_n=2, max_c=3, max_hw=9, max_k=4, max_s=3):
    """``dict(x_shape, kernel_size, stride, padding, seed)`` for a valid pooling window
    (padding at most half the kernel, as PyTorch requires; ``stride=None`` sometimes)."""
    N, C = draw(st.integers(1, max_n)), draw(st.integers(1, max_c))
    kh, kw = draw(st.integers(1, max_k)), draw(st.integers(1, max_k))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    H = draw(st.integers(max(1, kh - 2 * ph), max_hw))
    W = draw(st.integers(max(1, kw - 2 * pw), max_hw))
    assume(kh <= H + 2 * ph and kw <= W + 2 * pw)
    stride = None if draw(st.booleans()) else _int_or_pair(draw, (draw(st.integers(1, max_s)),
                                                                    draw(st.integers(1, max_s))))
    return dict(x_shape=(N, C, H, W), kernel_size=_int_or_pair(draw, (kh, kw)), stride=stride,
                padding=_int_or_pair(draw, (ph, pw)), seed=draw(SEEDS))
