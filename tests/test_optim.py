"""barecnn.optim against torch.optim: same parameters, same gradients, same weights after each step."""
from __future__ import annotations

import copy
import itertools
import json
import math

import numpy as np
import pytest

from barecnn.nn.module import Parameter
from barecnn import optim
from barecnn.optim import (SGD, Adam, AdamW, RMSprop, CosineAnnealingLR, InverseTimeDecay, StepLR,
                           WarmupCosine, flatten_state, unflatten_state)

torch = pytest.importorskip("torch")

SHAPES = [(4, 3), (4,), (2, 3, 3, 3)]
STEPS = 15


# --------------------------------------------------------------------- helpers
def make_params(seed, dtype=np.float64, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [Parameter(rng.standard_normal(shape).astype(dtype)) for shape in shapes]


def make_grads(seed, steps=STEPS, shapes=SHAPES, none_every=None):
    """Gradients for each step; with ``none_every=k`` the 2nd parameter has none every k-th step."""
    rng = np.random.default_rng(seed)
    grads = []
    for t in range(steps):
        step = [rng.standard_normal(shape) * rng.uniform(0.1, 3.0) for shape in shapes]
        if none_every and t % none_every == 0:
            step[1] = None
        grads.append(step)
    return grads


def torch_copies(params):
    return [torch.tensor(p.data.copy(), requires_grad=True) for p in params]


def run_ours(optimizer, params, grads):
    for step in grads:
        optimizer.zero_grad()
        for p, g in zip(params, step):
            if g is not None:
                p.grad = g.astype(p.data.dtype)
        optimizer.step()


def run_torch(optimizer, tensors, grads):
    for step in grads:
        optimizer.zero_grad()
        for p, g in zip(tensors, step):
            if g is not None:
                p.grad = torch.tensor(g, dtype=p.dtype)
        optimizer.step()


def assert_params_match(params, tensors, rtol=1e-12, atol=1e-14):
    for p, t in zip(params, tensors):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=rtol, atol=atol)


def check_against_torch(ours_cls, torch_cls, kwargs, none_every=None, seed=0):
    params = make_params(seed)
    tensors = torch_copies(params)
    grads = make_grads(seed + 1, none_every=none_every)
    run_ours(ours_cls(params, **kwargs), params, grads)
    run_torch(torch_cls(tensors, **kwargs), tensors, grads)
    assert_params_match(params, tensors)


# ----------------------------------------------------------- parity with torch
def sgd_grid():
    for momentum, dampening, nesterov, weight_decay in itertools.product(
            [0.0, 0.9], [0.0, 0.3], [False, True], [0.0, 0.05]):
        if nesterov and (momentum == 0 or dampening != 0):
            continue
        yield dict(lr=0.05, momentum=momentum, dampening=dampening, nesterov=nesterov,
                   weight_decay=weight_decay)
    yield dict(lr=0.05, momentum=0.5, maximize=True)


@pytest.mark.parametrize("kwargs", list(sgd_grid()), ids=str)
def test_sgd_matches_torch(kwargs):
    check_against_torch(SGD, torch.optim.SGD, kwargs)


def adam_grid():
    for betas, weight_decay, amsgrad in itertools.product(
            [(0.9, 0.999), (0.3, 0.6)], [0.0, 0.1], [False, True]):
        yield dict(lr=0.05, betas=betas, eps=1e-8, weight_decay=weight_decay, amsgrad=amsgrad)
    yield dict(lr=0.05, eps=0.1, maximize=True)


@pytest.mark.parametrize("kwargs", list(adam_grid()), ids=str)
def test_adam_matches_torch(kwargs):
    check_against_torch(Adam, torch.optim.Adam, kwargs)


@pytest.mark.parametrize("kwargs", [dict(lr=0.05), dict(lr=0.05, weight_decay=0.3, amsgrad=True),
                                    dict(lr=0.02, betas=(0.5, 0.9), weight_decay=0.0)], ids=str)
def test_adamw_matches_torch(kwargs):
    check_against_torch(AdamW, torch.optim.AdamW, kwargs)


def rmsprop_grid():
    for alpha, momentum, centered, weight_decay in itertools.product(
            [0.99, 0.3], [0.0, 0.8], [False, True], [0.0, 0.05]):
        yield dict(lr=0.01, alpha=alpha, momentum=momentum, centered=centered,
                   weight_decay=weight_decay)
    yield dict(lr=0.01, eps=1e-3, maximize=True)


@pytest.mark.parametrize("kwargs", list(rmsprop_grid()), ids=str)
def test_rmsprop_matches_torch(kwargs):
    check_against_torch(RMSprop, torch.optim.RMSprop, kwargs)


@pytest.mark.parametrize("ours_cls, torch_cls, kwargs", [
    (SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (Adam, torch.optim.Adam, dict(lr=0.05, amsgrad=True)),
    (RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
])
def test_params_without_grad_are_skipped_as_in_torch(ours_cls, torch_cls, kwargs):
    check_against_torch(ours_cls, torch_cls, kwargs, none_every=3)


def test_param_without_any_grad_is_untouched_and_has_no_state():
    params = make_params(0)
    before = params[1].data.copy()
    optimizer = Adam(params, lr=0.1)
    grads = make_grads(1)
    for step in grads:
        step[1] = None
    run_ours(optimizer, params, grads)
    np.testing.assert_array_equal(params[1].data, before)
    assert params[1] not in optimizer.state
    assert 1 not in optimizer.state_dict()["state"]


@pytest.mark.parametrize("ours_cls, torch_cls", [(SGD, torch.optim.SGD), (Adam, torch.optim.Adam),
                                                 (RMSprop, torch.optim.RMSprop)])
def test_param_groups_match_torch(ours_cls, torch_cls):
    params = make_params(2)
    tensors = torch_copies(params)
    grads = make_grads(3)

    def groups(ps, extra):
        return [{"params": ps[:2], "lr": 0.03, **extra}, {"params": ps[2:]}]

    extra = {"momentum": 0.5} if ours_cls is not Adam else {"betas": (0.5, 0.9)}
    ours = ours_cls(groups(params, extra), lr=0.01, weight_decay=0.01)
    theirs = torch_cls(groups(tensors, extra), lr=0.01, weight_decay=0.01)
    assert ours.param_groups[0]["lr"] == 0.03 and ours.param_groups[1]["lr"] == 0.01
    run_ours(ours, params, grads)
    run_torch(theirs, tensors, grads)
    assert_params_match(params, tensors)


def test_scheduled_sgd_matches_torch():
    params = make_params(4)
    tensors = torch_copies(params)
    ours = SGD(params, lr=0.2, momentum=0.9)
    theirs = torch.optim.SGD(tensors, lr=0.2, momentum=0.9)
    ours_schedule = CosineAnnealingLR(ours, T_max=7, eta_min=0.01)
    their_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=7, eta_min=0.01)
    for step in make_grads(5):
        run_ours(ours, params, [step])
        run_torch(theirs, tensors, [step])
        ours_schedule.step()
        their_schedule.step()
    assert_params_match(params, tensors)


# ------------------------------------------------------------------ state dict
STATEFUL_CONFIGS = [
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (SGD, dict(lr=0.05, momentum=0.9, dampening=0.2)),
    (Adam, dict(lr=0.05, weight_decay=0.01, amsgrad=True)),
    (AdamW, dict(lr=0.05)),
    (RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
]


def uninterrupted(cls, kwargs, grads):
    params = make_params(6)
    run_ours(cls(params, **kwargs), params, grads)
    return params


def save_load_continue(cls, kwargs, grads, transport):
    """Run 5 steps, pass the state through ``transport``, load it into fresh objects, run 10 more."""
    params = make_params(6)
    optimizer = cls(params, **kwargs)
    run_ours(optimizer, params, grads[:5])
    saved_state = transport(optimizer.state_dict())
    saved_values = [p.data.copy() for p in params]
    del optimizer

    resumed = [Parameter(v) for v in saved_values]
    fresh = cls(resumed, lr=123.0)          # hyperparameters come from the state dict
    fresh.load_state_dict(saved_state)
    run_ours(fresh, resumed, grads[5:])
    return resumed, fresh


def through_npz(tmp_path):
    def transport(state_dict):
        arrays, meta = flatten_state(state_dict, prefix="optimizer.")
        np.savez(tmp_path / "state.npz", **arrays)
        text = json.dumps(meta)
        with np.load(tmp_path / "state.npz", allow_pickle=False) as npz:
            return unflatten_state(npz, json.loads(text))
    return transport


@pytest.mark.parametrize("cls, kwargs", STATEFUL_CONFIGS, ids=str)
@pytest.mark.parametrize("route", ["in_memory", "npz"])
def test_state_dict_resume_is_identical(cls, kwargs, route, tmp_path):
    grads = make_grads(7, none_every=4)
    expected = uninterrupted(cls, kwargs, grads)
    transport = copy.deepcopy if route == "in_memory" else through_npz(tmp_path)
    resumed, optimizer = save_load_continue(cls, kwargs, grads, transport)
    for p, q in zip(resumed, expected):
        np.testing.assert_array_equal(p.data, q.data)
    assert optimizer.param_groups[0]["lr"] == kwargs["lr"]


def test_state_dict_is_a_copy_and_round_trips():
    params = make_params(8)
    optimizer = Adam(params, lr=0.1, betas=(0.8, 0.9))
    run_ours(optimizer, params, make_grads(9)[:3])
    state = optimizer.state_dict()
    assert state["param_groups"][0]["params"] == [0, 1, 2]
    assert state["param_groups"][0]["betas"] == (0.8, 0.9)
    assert sorted(state["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    assert state["state"][0]["step"] == 3
    state["state"][0]["exp_avg"][...] = 99.0
    assert not np.any(optimizer.state[params[0]]["exp_avg"] == 99.0)

    arrays, meta = flatten_state(optimizer.state_dict())
    assert set(arrays) == {f"state.{i}.{n}" for i in range(3) for n in ("exp_avg", "exp_avg_sq")}
    back = unflatten_state(arrays, json.loads(json.dumps(meta)))
    original = optimizer.state_dict()
    assert back["param_groups"] == original["param_groups"]
    for index, values in original["state"].items():
        assert back["state"][index].keys() == values.keys()
        for name, value in values.items():
            np.testing.assert_array_equal(back["state"][index][name], value)


@pytest.mark.parametrize("ours_cls, torch_cls, kwargs", [
    (SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    (Adam, torch.optim.Adam, dict(lr=0.05, amsgrad=True)),
    (RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
])
def test_state_names_match_torch_and_torch_state_loads(ours_cls, torch_cls, kwargs):
    params = make_params(10)
    tensors = torch_copies(params)
    grads = make_grads(11)
    ours, theirs = ours_cls(params, **kwargs), torch_cls(tensors, **kwargs)
    run_ours(ours, params, grads[:5])
    run_torch(theirs, tensors, grads[:5])
    ours_state, their_state = ours.state_dict()["state"], theirs.state_dict()["state"]
    assert ours_state.keys() == their_state.keys()
    for index in ours_state:
        assert ours_state[index].keys() == their_state[index].keys()
        for name, value in ours_state[index].items():
            np.testing.assert_allclose(value, their_state[index][name].numpy(), rtol=1e-12, atol=1e-14)

    # torch's state (tensors -> arrays) loads into a fresh optimizer of ours and continues alike
    converted = {"state": {i: {n: v.numpy().copy() for n, v in s.items()} for i, s in their_state.items()},
                 "param_groups": theirs.state_dict()["param_groups"]}
    resumed = [Parameter(t.detach().numpy().copy()) for t in tensors]
    fresh = ours_cls(resumed, lr=1.0)
    fresh.load_state_dict(converted)
    run_ours(fresh, resumed, grads[5:])
    run_torch(theirs, tensors, grads[5:])
    assert_params_match(resumed, tensors)


def test_load_state_dict_rejects_mismatched_groups():
    params = make_params(12)
    optimizer = SGD(params, lr=0.1, momentum=0.9)
    run_ours(optimizer, params, make_grads(13)[:2])
    state = optimizer.state_dict()
    with pytest.raises(ValueError, match="doesn't match the size"):
        SGD(params[:2], lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="parameter groups"):
        SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="shape"):
        SGD(make_params(0, shapes=[(3, 4), (4,), (2, 3, 3, 3)]), lr=0.1).load_state_dict(state)


# --------------------------------------------------------- dtype and in place
@pytest.mark.parametrize("ours_cls, torch_cls, kwargs", [
    (SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (Adam, torch.optim.Adam, dict(lr=0.01, weight_decay=0.01, amsgrad=True)),
    (AdamW, torch.optim.AdamW, dict(lr=0.01)),
    (RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
])
def test_float32_stays_float32_and_updates_in_place(ours_cls, torch_cls, kwargs):
    params = make_params(14, dtype=np.float32)
    tensors = torch_copies(params)
    arrays = [p.data for p in params]
    optimizer = ours_cls(params, **kwargs)
    grads = make_grads(15)
    run_ours(optimizer, params, grads)
    run_torch(torch_cls(tensors, **kwargs), tensors, grads)
    for p, array in zip(params, arrays):
        assert p.data is array and p.data.dtype == np.float32
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32
    assert_params_match(params, tensors, rtol=1e-5, atol=1e-6)


def test_zero_grad():
    params = make_params(16)
    for p in params:
        p.grad = np.ones_like(p.data)
    optimizer = SGD(params, lr=0.1)
    optimizer.zero_grad(set_to_none=False)
    assert all(np.all(p.grad == 0) for p in params)
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_returns_closure_loss():
    params = make_params(17)
    assert SGD(params, lr=0.1).step(lambda: 2.5) == 2.5


# ------------------------------------------------------------- invalid input
@pytest.mark.parametrize("cls, kwargs, message", [
    (SGD, dict(lr=-0.1), "Invalid learning rate"),
    (SGD, dict(lr=float("nan")), "Invalid learning rate"),
    (SGD, dict(lr=0.1, momentum=-0.5), "Invalid momentum value"),
    (SGD, dict(lr=0.1, weight_decay=-1e-4), "Invalid weight_decay value"),
    (SGD, dict(lr=0.1, weight_decay=float("nan")), "Invalid weight_decay value"),
    (SGD, dict(lr=0.1, nesterov=True), "Nesterov momentum requires"),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    (Adam, dict(lr=-1e-3), "Invalid learning rate"),
    (Adam, dict(eps=-1e-8), "Invalid epsilon value"),
    (Adam, dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
    (Adam, dict(betas=(-0.1, 0.999)), "Invalid beta parameter at index 0"),
    (Adam, dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1"),
    (Adam, dict(betas=(0.9, float("nan"))), "Invalid beta parameter at index 1"),
    (Adam, dict(weight_decay=-0.1), "Invalid weight_decay value"),
    (AdamW, dict(weight_decay=-0.1), "Invalid weight_decay value"),
    (RMSprop, dict(lr=-0.1), "Invalid learning rate"),
    (RMSprop, dict(alpha=-0.1), "Invalid alpha value"),
    (RMSprop, dict(eps=float("nan")), "Invalid epsilon value"),
    (RMSprop, dict(momentum=-0.1), "Invalid momentum value"),
    (RMSprop, dict(weight_decay=-0.1), "Invalid weight_decay value"),
], ids=str)
def test_invalid_hyperparameters(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(make_params(0), **kwargs)


def test_invalid_hyperparameter_in_a_group():
    params = make_params(0)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        SGD([{"params": params[:1], "lr": -1.0}, {"params": params[1:]}], lr=0.1)


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW, RMSprop])
def test_invalid_params(cls):
    params = make_params(0)
    with pytest.raises(ValueError, match="empty parameter list"):
        cls([])
    with pytest.raises(TypeError, match="Parameter"):
        cls([params[0], np.zeros(3)])
    with pytest.raises(TypeError):
        cls(params[0])
    with pytest.raises(TypeError, match="ordered collections"):
        cls(set(params))
    with pytest.raises(ValueError, match="more than one parameter group"):
        cls([{"params": params[:2]}, {"params": params[1:]}])
    with pytest.raises(ValueError, match="more than once"):
        cls([params[0], params[0]])


def test_params_can_be_a_generator_or_single_parameter_groups():
    params = make_params(0)
    assert len(SGD(iter(params), lr=0.1).param_groups[0]["params"]) == 3
    optimizer = SGD([{"params": params[0]}, {"params": params[1:], "lr": 0.5}], lr=0.1)
    assert [len(g["params"]) for g in optimizer.param_groups] == [1, 2]
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.5]


# ------------------------------------------------------------------ schedules
def two_group_optimizers():
    params = make_params(0)
    tensors = torch_copies(params)
    ours = SGD([{"params": params[:1], "lr": 0.5}, {"params": params[1:]}], lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD([{"params": tensors[:1], "lr": 0.5}, {"params": tensors[1:]}],
                             lr=0.1, momentum=0.9)
    return ours, theirs


def assert_schedules_match(ours, theirs, steps=30):
    for _ in range(steps):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose([g["lr"] for g in ours.optimizer.param_groups],
                                   [g["lr"] for g in theirs.optimizer.param_groups],
                                   rtol=1e-12, atol=1e-15)
        ours.optimizer.step()
        theirs.optimizer.step()
        ours.step()
        theirs.step()


@pytest.mark.parametrize("step_size, gamma", [(1, 0.9), (3, 0.5), (7, 0.1)])
def test_step_lr_matches_torch(step_size, gamma):
    ours, theirs = two_group_optimizers()
    assert_schedules_match(StepLR(ours, step_size, gamma),
                           torch.optim.lr_scheduler.StepLR(theirs, step_size, gamma))


@pytest.mark.parametrize("T_max, eta_min", [(10, 0.0), (7, 0.01), (1, 0.0)])
def test_cosine_annealing_matches_torch(T_max, eta_min):
    ours, theirs = two_group_optimizers()
    assert_schedules_match(CosineAnnealingLR(ours, T_max, eta_min),
                           torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max, eta_min))


def test_inverse_time_decay_matches_torch_lambda_lr():
    ours, theirs = two_group_optimizers()
    decay = 0.3
    assert_schedules_match(InverseTimeDecay(ours, decay),
                           torch.optim.lr_scheduler.LambdaLR(theirs, lambda t: 1 / (1 + decay * t)))


def test_warmup_cosine_values():
    optimizer = SGD(make_params(0), lr=1.0)
    schedule = WarmupCosine(optimizer, warmup_steps=4, total_steps=12, min_lr=0.1)
    rates = []
    for _ in range(15):
        rates.append(schedule.get_last_lr()[0])
        schedule.step()
    np.testing.assert_allclose(rates[:5], [0.25, 0.5, 0.75, 1.0, 1.0])
    assert rates[8] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * 4 / 8)) / 2)
    assert all(a > b for a, b in zip(rates[4:12], rates[5:12]))
    assert rates[12:] == [0.1] * 3
    assert optimizer.param_groups[0]["lr"] == 0.1

    plain = WarmupCosine(SGD(make_params(0), lr=2.0), warmup_steps=0, total_steps=10)
    assert plain.get_last_lr() == [2.0]


@pytest.mark.parametrize("make_schedule", [
    lambda o: StepLR(o, 2, 0.5),
    lambda o: CosineAnnealingLR(o, 6, 0.001),
    lambda o: InverseTimeDecay(o, 0.1),
    lambda o: WarmupCosine(o, 3, 12, 0.01),
])
def test_scheduler_state_dict_resume(make_schedule):
    def build():
        params = make_params(0)
        optimizer = SGD(params, lr=0.2, momentum=0.9)
        return params, optimizer, make_schedule(optimizer)

    grads = make_grads(1)
    params, optimizer, schedule = build()
    expected_rates = []
    for t, step in enumerate(grads):
        if t == 5:
            saved_optimizer = copy.deepcopy(optimizer.state_dict())
            saved_schedule = json.loads(json.dumps(schedule.state_dict()))
            saved_params = [p.data.copy() for p in params]
        run_ours(optimizer, params, [step])
        expected_rates.append(schedule.get_last_lr())
        schedule.step()

    resumed_params, resumed_optimizer, resumed_schedule = build()
    for p, v in zip(resumed_params, saved_params):
        p.data[...] = v
    resumed_schedule.load_state_dict(saved_schedule)      # order does not matter
    resumed_optimizer.load_state_dict(saved_optimizer)
    rates = []
    for step in grads[5:]:
        run_ours(resumed_optimizer, resumed_params, [step])
        rates.append(resumed_schedule.get_last_lr())
        resumed_schedule.step()
    assert rates == expected_rates[5:]
    for p, q in zip(resumed_params, params):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("make_schedule", [
    lambda o: StepLR(o, 0),
    lambda o: StepLR(o, 1.5),
    lambda o: StepLR(o, 1, gamma=-0.1),
    lambda o: CosineAnnealingLR(o, 0),
    lambda o: InverseTimeDecay(o, -0.1),
    lambda o: WarmupCosine(o, 10, 5),
    lambda o: WarmupCosine(o, -1, 5),
])
def test_invalid_schedules(make_schedule):
    with pytest.raises(ValueError):
        make_schedule(SGD(make_params(0), lr=0.1))


def test_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError):
        StepLR(object(), 1)


# ------------------------------------------------ a whole training step, nn too
def _nn_layers():
    nn = pytest.importorskip("barecnn.nn")
    needed = ["Linear", "ReLU", "Sequential", "CrossEntropyLoss"]
    if not all(hasattr(nn, name) for name in needed):
        pytest.skip("barecnn.nn does not have Linear, ReLU, Sequential and CrossEntropyLoss yet")
    return nn


@pytest.mark.parametrize("make_pair", [
    lambda ps, ts: (SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
                    torch.optim.SGD(ts, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    lambda ps, ts: (Adam(ps, lr=1e-2, amsgrad=True), torch.optim.Adam(ts, lr=1e-2, amsgrad=True)),
    lambda ps, ts: (AdamW(ps, lr=1e-2), torch.optim.AdamW(ts, lr=1e-2)),
    lambda ps, ts: (RMSprop(ps, lr=1e-3, momentum=0.5, centered=True),
                    torch.optim.RMSprop(ts, lr=1e-3, momentum=0.5, centered=True)),
])
def test_full_training_steps_match_torch(make_pair):
    nn = _nn_layers()
    rng = np.random.default_rng(20)
    ours = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(),
                                 torch.nn.Linear(16, 4)).double()
    with torch.no_grad():
        for p, t in zip(ours.parameters(), theirs.parameters()):
            t.copy_(torch.tensor(p.data))
    optimizer, torch_optimizer = make_pair(list(ours.parameters()), list(theirs.parameters()))
    schedule = StepLR(optimizer, step_size=5, gamma=0.5)
    torch_schedule = torch.optim.lr_scheduler.StepLR(torch_optimizer, step_size=5, gamma=0.5)
    criterion, torch_criterion = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()

    for _ in range(STEPS):
        x = rng.standard_normal((8, 6))
        y = rng.integers(0, 4, size=8)
        optimizer.zero_grad()
        loss = criterion(ours.forward(x), y)
        ours.backward(criterion.backward())
        optimizer.step()
        schedule.step()

        torch_optimizer.zero_grad()
        torch_loss = torch_criterion(theirs(torch.tensor(x)), torch.tensor(y))
        torch_loss.backward()
        torch_optimizer.step()
        torch_schedule.step()
        assert float(loss) == pytest.approx(torch_loss.item(), rel=1e-10)

    for p, t in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_public_api():
    assert optim.lr_scheduler.StepLR is StepLR
    for name in optim.__all__:
        assert hasattr(optim, name)


def test_library_does_not_import_torch():
    import subprocess
    import sys
    code = "import sys, barecnn.optim, barecnn.init; sys.exit('torch' in sys.modules)"
    root = __file__.rsplit("tests", 1)[0] or "."
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0
