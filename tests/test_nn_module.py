"""The Module API: parameter order, gradient accumulation, modes, dtypes, state_dict, initialisation."""
from __future__ import annotations

import numpy as np
import pytest

from barecnn import nn
from barecnn import random as barecnn_random
from barecnn.nn.module import Parameter
from helpers import random_grad

# (constructor, input shape) for every layer; inputs are float32 unless stated.
LAYERS = [
    (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 7, 7)),
    (lambda: nn.Conv2d(3, 4, (2, 3), padding="same", bias=False), (2, 3, 5, 6)),
    (lambda: nn.Linear(6, 4), (3, 6)),
    (lambda: nn.Linear(6, 4, bias=False), (3, 6)),
    (lambda: nn.MaxPool2d(3, 2, 1), (2, 3, 7, 7)),
    (lambda: nn.AvgPool2d(2, 2, 1, count_include_pad=False), (2, 3, 5, 5)),
    (lambda: nn.AvgPool2d(3, 1, 1), (2, 3, 5, 5)),
    (lambda: nn.AdaptiveAvgPool2d(1), (2, 3, 5, 5)),
    (lambda: nn.GlobalAvgPool2d(), (2, 3, 5, 5)),
    (lambda: nn.ReLU(), (3, 5)),
    (lambda: nn.LeakyReLU(0.1), (3, 5)),
    (lambda: nn.Tanh(), (3, 5)),
    (lambda: nn.Sigmoid(), (3, 5)),
    (lambda: nn.Flatten(), (2, 3, 2, 2)),
    (lambda: nn.Identity(), (2, 3)),
    (lambda: nn.BatchNorm1d(4), (5, 4)),
    (lambda: nn.BatchNorm1d(4), (5, 4, 3)),
    (lambda: nn.BatchNorm2d(3), (2, 3, 4, 4)),
    (lambda: nn.BatchNorm2d(3, affine=False), (2, 3, 4, 4)),
    (lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3)),
    (lambda: nn.Dropout(0.5), (4, 6)),
    (lambda: nn.Sequential(nn.Conv2d(3, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 3 * 3, 3)),
     (2, 3, 5, 5)),
]
LAYER_IDS = [repr(make()).split("(")[0] + str(shape) for make, shape in LAYERS]
PARAM_LAYERS = [(m, s) for m, s in LAYERS if list(m().parameters())]
PARAM_IDS = [repr(make()).split("(")[0] + str(shape) for make, shape in PARAM_LAYERS]


def _seeded(make):
    barecnn_random.seed(0)
    return make()


# ----------------------------------------------------------------- parameters
def test_named_parameters_order_and_names():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3, bias=False),
                          nn.GroupNorm(1, 3))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "5.weight", "5.bias"]
    assert [p for p in model.parameters()] == [p for _, p in model.named_parameters()]
    assert all(isinstance(p, Parameter) for p in model.parameters())
    assert [name for name, _ in model.named_buffers()] == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                        "1.running_var", "1.num_batches_tracked", "4.weight", "5.weight", "5.bias"]


def test_parameter_shapes_follow_torch():
    conv = nn.Conv2d(3, 5, (2, 4))
    assert conv.weight.shape == (5, 3, 2, 4) and conv.bias.shape == (5,)
    lin = nn.Linear(7, 2)
    assert lin.weight.shape == (2, 7) and lin.bias.shape == (2,)
    assert nn.Conv2d(3, 5, 3, bias=False).bias is None and nn.Linear(7, 2, bias=False).bias is None
    bn = nn.BatchNorm2d(4)
    assert bn.weight.shape == bn.bias.shape == bn.running_mean.shape == bn.running_var.shape == (4,)


def test_sequential_container_behaviour():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and list(model) == layers and model[2] is layers[2] and model[-1] is layers[2]
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]
    text = repr(model)
    assert "(0): Linear(in_features=2, out_features=3, bias=True)" in text and "(1): ReLU()" in text
    nested = nn.Sequential(model, nn.Sigmoid())
    assert [name for name, _ in nested.named_parameters()] == ["0.0.weight", "0.0.bias", "0.2.weight", "0.2.bias"]


# ----------------------------------------------------------------- gradients
@pytest.mark.parametrize("make, shape", PARAM_LAYERS, ids=PARAM_IDS)
def test_zero_grad_sets_none_and_backward_fills(rng, make, shape):
    module = _seeded(make).double()
    assert all(p.grad is None for p in module.parameters())
    out = module(rng.standard_normal(shape))
    module.backward(random_grad(rng, out.shape))
    assert all(p.grad is not None and p.grad.shape == p.shape for p in module.parameters())
    module.zero_grad()
    assert all(p.grad is None for p in module.parameters())


@pytest.mark.parametrize("make, shape", PARAM_LAYERS, ids=PARAM_IDS)
def test_backward_accumulates(rng, make, shape):
    """forward + backward twice with the same input and upstream gradient doubles every gradient."""
    module = _seeded(make).double()
    x = rng.standard_normal(shape)
    out = module(x)
    dout = random_grad(rng, out.shape)
    dx1 = module.backward(dout.copy()).copy()
    first = {name: p.grad.copy() for name, p in module.named_parameters()}
    module(x)
    dx2 = module.backward(dout.copy())
    np.testing.assert_allclose(dx2, dx1, rtol=1e-12)                   # the input gradient is not accumulated
    for name, p in module.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * first[name], rtol=1e-12, atol=1e-15, err_msg=name)


def test_backward_accumulates_different_batches(rng):
    lin = nn.Linear(3, 2).double()
    xa, xb = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    da, db = random_grad(rng, (4, 2)), random_grad(rng, (5, 2))
    lin(xa), lin.backward(da)
    lin(xb), lin.backward(db)
    np.testing.assert_allclose(lin.weight.grad, da.T @ xa + db.T @ xb, rtol=1e-12)
    np.testing.assert_allclose(lin.bias.grad, da.sum(0) + db.sum(0), rtol=1e-12)


@pytest.mark.parametrize("make, shape", PARAM_LAYERS, ids=PARAM_IDS)
def test_gradients_own_their_memory(rng, make, shape):
    """Stored gradients must not alias the caller's upstream gradient or each other."""
    module = _seeded(make).double()
    out = module(rng.standard_normal(shape))
    dout = random_grad(rng, out.shape)
    module.backward(dout)
    saved = {name: p.grad.copy() for name, p in module.named_parameters()}
    dout[...] = 123.0
    for name, p in module.named_parameters():
        np.testing.assert_array_equal(p.grad, saved[name], err_msg=f"{name}.grad changed with the caller's dout")
    grads = [p.grad for p in module.parameters()]
    for i, a in enumerate(grads):
        for b in grads[i + 1:]:
            assert not np.shares_memory(a, b)


# ------------------------------------------------------------------------ modes
def test_train_eval_propagate_to_all_submodules():
    inner = nn.Sequential(nn.BatchNorm1d(3), nn.Dropout(0.5))
    model = nn.Sequential(nn.Linear(2, 3), inner, nn.ReLU())
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert model.train() is model
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not any(m.training for m in model.modules())


def test_eval_mode_uses_running_stats_and_dropout_identity(rng):
    model = nn.Sequential(nn.BatchNorm1d(3), nn.Dropout(0.9)).double()
    for _ in range(3):
        model(rng.standard_normal((8, 3)) * 5 + 2)
    stats = model.state_dict()
    model.eval()
    x = rng.standard_normal((2, 3))
    bn = model[0]
    expected = (x - bn.running_mean) / np.sqrt(bn.running_var + bn.eps)
    np.testing.assert_allclose(model(x), expected, rtol=1e-12)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, stats[key])                # eval changes no buffer


# ------------------------------------------------------------------------ dtypes
def test_default_dtype_is_float32():
    for module in (nn.Conv2d(1, 2, 3), nn.Linear(2, 3), nn.BatchNorm2d(2), nn.GroupNorm(1, 2)):
        assert all(p.dtype == np.float32 for p in module.parameters())
        assert all(np.asarray(v).dtype in (np.float32, np.int64) for _, v in module.named_buffers())


def test_double_and_float_convert_parameters_and_buffers(rng):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 2))
    out = model(rng.standard_normal((2, 1, 3, 3)).astype(np.float32))
    model.backward(random_grad(rng, out.shape).astype(np.float32))
    assert model.double() is model
    assert all(p.dtype == np.float64 and p.grad is None for p in model.parameters())
    buffers = dict(model.named_buffers())
    assert buffers["1.running_mean"].dtype == buffers["1.running_var"].dtype == np.float64
    assert np.asarray(buffers["1.num_batches_tracked"]).dtype == np.int64 and int(buffers["1.num_batches_tracked"]) == 1
    values = {k: v.copy() for k, v in model.state_dict().items()}
    assert model.float() is model
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert dict(model.named_buffers())["1.running_var"].dtype == np.float32
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(value, values[key], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make, shape", LAYERS, ids=LAYER_IDS)
def test_every_layer_keeps_its_input_dtype(rng, make, shape, dtype):
    module = _seeded(make).to_dtype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    out = module(x)
    assert out.dtype == dtype
    dx = module.backward(random_grad(rng, out.shape).astype(dtype))
    assert dx.dtype == dtype and dx.shape == x.shape
    for name, p in module.named_parameters():
        assert p.dtype == dtype and p.grad.dtype == dtype, name
    for name, value in module.named_buffers():
        if "num_batches" not in name:
            assert np.asarray(value).dtype == dtype, name
    module.eval()
    assert module(x).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_keeps_dtype(rng, dtype):
    crit = nn.CrossEntropyLoss(label_smoothing=0.1)
    loss = crit(rng.standard_normal((3, 4)).astype(dtype), np.array([0, 1, 3]))
    assert isinstance(loss, float)
    assert crit.backward().dtype == dtype


# ---------------------------------------------------------------- initialisation
@pytest.mark.parametrize("make, fan_in", [
    (lambda: nn.Conv2d(3, 64, 3), 27), (lambda: nn.Conv2d(2, 40, (1, 5)), 10), (lambda: nn.Conv2d(16, 8, 1), 16),
    (lambda: nn.Linear(100, 50), 100), (lambda: nn.Linear(1, 300), 1),
])
def test_default_init_is_uniform_within_one_over_sqrt_fan_in(make, fan_in):
    barecnn_random.seed(7)
    module = make()
    bound = 1.0 / np.sqrt(fan_in)
    for p in (module.weight.data, module.bias.data):
        assert np.all(np.abs(p) <= bound + 1e-7)
    w = module.weight.data.astype(np.float64).ravel()
    assert np.abs(w).max() > 0.9 * bound                               # the bound is actually reached
    assert abs(w.mean()) < 5 * bound / np.sqrt(3 * w.size)
    assert abs(w.var() - bound ** 2 / 3) < 0.2 * bound ** 2 / 3       # uniform, not normal
    assert len(np.unique(w)) > 0.99 * w.size                          # not a constant or a tiny set


def test_norm_layers_init_like_torch():
    for module in (nn.BatchNorm1d(3), nn.BatchNorm2d(3), nn.GroupNorm(3, 3)):
        np.testing.assert_array_equal(module.weight.data, np.ones(3))
        np.testing.assert_array_equal(module.bias.data, np.zeros(3))
    bn = nn.BatchNorm2d(3)
    np.testing.assert_array_equal(bn.running_mean, np.zeros(3))
    np.testing.assert_array_equal(bn.running_var, np.ones(3))
    assert int(bn.num_batches_tracked) == 0


def test_init_is_seedable():
    def make():
        return nn.Sequential(nn.Conv2d(2, 3, 3), nn.Linear(4, 5))

    barecnn_random.seed(42)
    a = make().state_dict()
    barecnn_random.seed(42)
    b = make().state_dict()
    barecnn_random.seed(43)
    c = make().state_dict()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["0.weight"], c["0.weight"])
    state = barecnn_random.get_state()
    d = make().state_dict()
    barecnn_random.set_state(state)
    e = make().state_dict()
    np.testing.assert_array_equal(d["1.weight"], e["1.weight"])


def test_explicit_rng_overrides_default():
    a = nn.Linear(4, 3, rng=np.random.default_rng(5))
    barecnn_random.seed(99)
    b = nn.Linear(4, 3, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)


def test_dtype_argument_of_constructors():
    assert nn.Conv2d(1, 2, 3, dtype=np.float64).weight.dtype == np.float64
    assert nn.Linear(2, 3, dtype=np.float64).bias.dtype == np.float64
    assert nn.BatchNorm2d(2, dtype=np.float64).running_var.dtype == np.float64


# ------------------------------------------------------------------- state_dict
def _model():
    barecnn_random.seed(3)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))


def test_state_dict_returns_copies():
    model = _model()
    state = model.state_dict()
    state["0.weight"][...] = 0
    state["1.running_mean"][...] = 5
    assert np.any(model[0].weight.data != 0)
    assert np.all(model[1].running_mean == 0)


def test_load_state_dict_roundtrip_copies_and_casts(rng):
    source, target = _model(), _model().double()
    source(rng.standard_normal((4, 1, 4, 4)).astype(np.float32))
    state = source.state_dict()
    target.load_state_dict(state)
    assert all(p.dtype == np.float64 for p in target.parameters())     # the model keeps its dtype
    for key, value in target.state_dict().items():
        np.testing.assert_allclose(value, state[key], rtol=1e-7)
    state["0.weight"][...] = 0                                         # loading copied the arrays
    assert np.any(target[0].weight.data != 0)
    assert int(target[1].num_batches_tracked) == 1


def test_load_state_dict_resets_grads(rng):
    model = _model().double()
    out = model(rng.standard_normal((2, 1, 4, 4)))
    model.backward(random_grad(rng, out.shape))
    model.load_state_dict(model.state_dict())
    assert all(p.grad is None for p in model.parameters())


def _corrupt(kind, state):
    state = dict(state)
    if kind == "missing":
        del state["1.running_var"]
    elif kind == "unexpected":
        state["2.weight"] = np.zeros(3)
    elif kind == "misshaped":
        state["4.weight"] = np.zeros((8, 3))
    elif kind == "misshaped_buffer":
        state["1.running_mean"] = np.zeros(3)
    elif kind == "misshaped_scalar":
        state["1.num_batches_tracked"] = np.zeros(1, dtype=np.int64)
    return state


@pytest.mark.parametrize("kind, error, pattern", [
    ("missing", KeyError, r"missing keys \['1\.running_var'\]"),
    ("unexpected", KeyError, r"unexpected keys \['2\.weight'\]"),
    ("misshaped", ValueError, r"'4\.weight' has shape \(8, 3\), expected \(3, 8\)"),
    ("misshaped_buffer", ValueError, r"'1\.running_mean' has shape \(3,\), expected \(2,\)"),
    ("misshaped_scalar", ValueError, r"'1\.num_batches_tracked'"),
])
def test_strict_loading_raises_and_leaves_model_unchanged(kind, error, pattern):
    model = _model()
    before = model.state_dict()
    new = {key: value + 1 for key, value in before.items()}     # every value differs from the model's
    with pytest.raises(error, match=pattern):
        model.load_state_dict(_corrupt(kind, new))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=f"{key} changed by a failed load")


def test_failed_conversion_leaves_model_unchanged():
    model = _model()
    before = model.state_dict()
    new = {key: value + 1 for key, value in before.items()}
    new["4.bias"] = np.array(["a", "b", "c"])
    with pytest.raises((TypeError, ValueError)):
        model.load_state_dict(new)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=f"{key} changed by a failed load")


# ----------------------------------------------------------------- no_grad
@pytest.mark.parametrize("make, shape", LAYERS, ids=LAYER_IDS)
def test_no_grad_forward_keeps_nothing_and_refuses_backward(rng, make, shape):
    module = _seeded(make).double().eval()
    x = rng.standard_normal(shape)
    expected = module(x)
    with nn.no_grad():
        out = module(x)
    np.testing.assert_array_equal(out, expected)
    assert getattr(module, "_cache", None) is None
    with pytest.raises(RuntimeError, match="no_grad"):
        module.backward(random_grad(rng, out.shape))
    module.train()
    out = module(x)                      # a forward outside no_grad makes backward possible again
    module.backward(random_grad(rng, out.shape))


def test_no_grad_nests_restores_and_decorates():
    import threading

    assert nn.is_grad_enabled()
    with nn.no_grad():
        assert not nn.is_grad_enabled()
        with nn.no_grad():
            assert not nn.is_grad_enabled()
        assert not nn.is_grad_enabled()
    assert nn.is_grad_enabled()
    with pytest.raises(KeyError):
        with nn.no_grad():
            raise KeyError("an error inside still restores the mode")
    assert nn.is_grad_enabled()

    @nn.no_grad()
    def inside():
        return nn.is_grad_enabled()
    assert inside() is False and nn.is_grad_enabled()

    seen = []
    with nn.no_grad():                   # per thread, like PyTorch's grad mode
        worker = threading.Thread(target=lambda: seen.append(nn.is_grad_enabled()))
        worker.start()
        worker.join()
    assert seen == [True]


def test_predict_leaves_no_activations_behind(rng):
    from barecnn import models
    model = models.create("lenet5", rng=np.random.default_rng(0))
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    probs = model.predict_proba(images, batch_size=4)
    assert probs.shape == (7, 10) and model.training
    assert all(getattr(module, "_cache", None) is None for module in model.modules())
