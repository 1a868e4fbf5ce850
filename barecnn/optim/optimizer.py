"""The ``Optimizer`` base class and the plain-array form of its ``state_dict``.

An optimizer holds *parameter groups*: dicts with a ``"params"`` list of ``Parameter`` objects
and one value per hyperparameter (``"lr"``, ``"momentum"``, ...). Learning-rate schedules change
``group["lr"]`` between steps. Per-parameter state (momentum buffers, moment estimates, step
counts) lives in ``optimizer.state[param]``, a dict of arrays and numbers.

Everything follows ``torch.optim`` so that weights, habits and checkpoints move both ways:

* ``step()`` skips a parameter whose ``.grad`` is ``None`` (no gradient this step);
* ``zero_grad()`` sets every ``.grad`` to ``None``;
* ``state_dict()`` is ``{"state": {index: {name: value}}, "param_groups": [{..., "params": [index]}]}``
  where ``index`` numbers the parameters across all groups in order.

Updates happen in place (``p.data`` keeps its identity and its dtype: float32 stays float32).

To save optimizer state without pickle, ``flatten_state`` splits a ``state_dict`` into a flat
``{key: ndarray}`` dict (for ``np.savez``) and a JSON-able ``meta`` dict; ``unflatten_state``
puts them back together::

    arrays, meta = flatten_state(optimizer.state_dict(), prefix="optimizer.")
    np.savez(path, **arrays)                       # beside json.dumps(meta)
    ...
    with np.load(path, allow_pickle=False) as npz:
        optimizer.load_state_dict(unflatten_state(npz, json.loads(text)))
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from barecnn.nn.module import Parameter

__all__ = ["Optimizer", "flatten_state", "unflatten_state"]


class _RequiredParameter:
    """Marks a hyperparameter that every parameter group must set (no default)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class of every optimizer.

    Parameters
    ----------
    params : iterable of Parameter, or iterable of dict
        Either the parameters to optimize (e.g. ``model.parameters()``) or parameter groups,
        each a dict ``{"params": [...], "lr": ..., ...}``; a group's missing hyperparameters
        are taken from ``defaults``.
    defaults : dict
        Default hyperparameters for every group.

    Subclasses implement ``_check_hyperparameters(group)`` (raise ``ValueError`` on bad values)
    and ``_update(param, grad, state, group)`` (one parameter's update, in place).
    """

    def __init__(self, params: Iterable[Parameter] | Iterable[dict], defaults: dict[str, Any]):
        self._check_hyperparameters(defaults)
        self.defaults = dict(defaults)
        self.state: dict[Parameter, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []

        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError("params given to the optimizer should be an iterable of Parameters or dicts, "
                            f"but got a {type(params).__name__}")
        if isinstance(params, (set, frozenset)):
            _as_parameter_list(params)          # raises: a set has no stable order
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (missing ones from defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        group["params"] = _as_parameter_list(group.get("params", []))
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        self._check_hyperparameters(group)

        params = group["params"]
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter more than once")
        already_present = {id(p) for other in self.param_groups for p in other["params"]}
        if any(id(p) in already_present for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def _check_hyperparameters(self, group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` if a hyperparameter in ``group`` is invalid (subclasses)."""

    # -------------------------------------------------------------------- step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every gradient: ``grad = None`` (default, as PyTorch) or fill it with zeros."""
        for param in self._all_params():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad.fill(0)

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Update every parameter that has a gradient, in place.

        ``closure``, if given, recomputes the loss (and gradients) and its value is returned.
        """
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = -param.grad if group.get("maximize", False) else param.grad
                state = self.state.setdefault(param, {})
                self._update(param, grad, state, group)
        return loss

    def _update(self, param: Parameter, grad: np.ndarray, state: dict[str, Any],
                group: Mapping[str, Any]) -> None:
        """Apply one step of the rule to ``param.data`` in place (subclasses).

        ``grad`` must not be modified (it may be ``param.grad`` itself).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    # ------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as PyTorch lays it out, with copies of every array.

        Returns ``{"state": {index: {name: ndarray or number}},
        "param_groups": [{hyperparameter: value, ..., "params": [index, ...]}]}``; ``index``
        numbers the parameters across groups in order, and only parameters that have state
        appear in ``"state"``.
        """
        index_of = {id(p): i for i, p in enumerate(self._all_params())}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for param in self._all_params():
            if self.state.get(param):
                state[index_of[id(param)]] = {name: _copy_value(value)
                                              for name, value in self.state[param].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore state saved by ``state_dict()`` (of an optimizer over same-shaped groups).

        Hyperparameters come from ``state_dict``; the parameters stay this optimizer's own.
        Floating arrays are cast to their parameter's dtype, as PyTorch does. Nothing changes
        unless every check passes.
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        for saved, own in zip(saved_groups, self.param_groups):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match "
                                 "the size of optimizer's group")
        param_of = {}
        for saved, own in zip(saved_groups, self.param_groups):
            param_of.update({int(i): p for i, p in zip(saved["params"], own["params"])})

        new_state = {}
        for index, values in state_dict["state"].items():
            if int(index) not in param_of:
                raise KeyError(f"loaded state dict has state for parameter {index}, "
                               "which no parameter group lists")
            param = param_of[int(index)]
            new_state[param] = {name: _value_for_param(name, value, param)
                                for name, value in values.items()}
        new_groups = []
        for saved, own in zip(saved_groups, self.param_groups):
            group = {k: v for k, v in saved.items() if k != "params"}
            group["params"] = own["params"]
            for name, default in self.defaults.items():   # state saved before a hyperparameter existed
                group.setdefault(name, default)
            self._check_hyperparameters(group)
            new_groups.append(group)
        self.state = new_state
        self.param_groups = new_groups

    # ----------------------------------------------------------------- helpers
    def _all_params(self) -> list[Parameter]:
        return [p for group in self.param_groups for p in group["params"]]

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# ------------------------------------------------------------------ validation
def check_non_negative(name: str, value: Any) -> None:
    """Raise ``ValueError(f"Invalid {name}: {value}")`` unless ``value`` is a number >= 0.

    NaN fails (``not nan >= 0``), so do infinities and non-numbers.
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not (0.0 <= value < math.inf):
        raise ValueError(f"Invalid {name}: {value}")


def check_fraction(name: str, value: Any) -> None:
    """Raise ``ValueError(f"Invalid {name}: {value}")`` unless ``0 <= value < 1``."""
    if isinstance(value, bool) or not isinstance(value, Real) or not (0.0 <= value < 1.0):
        raise ValueError(f"Invalid {name}: {value}")


def _as_parameter_list(params: Any) -> list[Parameter]:
    if isinstance(params, Parameter):
        return [params]
    if isinstance(params, (set, frozenset)):
        raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                        "ordering of parameters in sets changes between runs; use a list instead")
    if isinstance(params, np.ndarray):
        raise TypeError("optimizer can only optimize Parameters, but got a numpy array; "
                        "wrap it in barecnn.nn.Parameter")
    params = list(params)
    for param in params:
        if not isinstance(param, Parameter):
            raise TypeError("optimizer can only optimize Parameters, but one of the params is a "
                            f"{type(param).__name__}")
    return params


def _copy_value(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else value


def _value_for_param(name: str, value: Any, param: Parameter) -> Any:
    """A copy of a loaded state value: arrays cast to the parameter's dtype, numbers kept."""
    if isinstance(value, np.generic) or (name == "step" and isinstance(value, np.ndarray)):
        return value.item()             # a step count kept as an array (PyTorch's) becomes a number
    if not isinstance(value, np.ndarray):
        return value
    if value.shape != param.data.shape:
        raise ValueError(f"loaded state '{name}' has shape {value.shape}, "
                         f"its parameter has shape {param.data.shape}")
    dtype = param.data.dtype if np.issubdtype(param.data.dtype, np.floating) else value.dtype
    return np.array(value, dtype=dtype, copy=True)


# ------------------------------------------------------------ npz-able state
def flatten_state(state_dict: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, np.ndarray], dict]:
    """Split an optimizer ``state_dict`` into arrays for ``np.savez`` and JSON-able ``meta``.

    Parameters
    ----------
    state_dict : dict
        As returned by ``Optimizer.state_dict()``.
    prefix : str
        Put before every array key, so the arrays can share one ``.npz`` with a model's.

    Returns
    -------
    arrays : dict[str, ndarray]
        ``f"{prefix}state.{index}.{name}"`` -> the state array (e.g. ``"state.0.exp_avg"``).
    meta : dict
        Only JSON types: ``{"param_groups": [...], "state": {"index": {name: {"array": key}
        or {"value": number}}}}``. Tuples in the hyperparameters (``betas``) become lists.
    """
    arrays: dict[str, np.ndarray] = {}
    state_meta: dict[str, dict[str, dict]] = {}
    for index, values in state_dict["state"].items():
        entry = {}
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                key = f"{prefix}state.{index}.{name}"
                arrays[key] = value
                entry[name] = {"array": key}
            else:
                entry[name] = {"value": _json_scalar(value, f"state[{index}][{name!r}]")}
        state_meta[str(index)] = entry
    groups = []
    for group in state_dict["param_groups"]:
        groups.append({key: _json_hyperparameter(value, key) for key, value in group.items()})
    return arrays, {"param_groups": groups, "state": state_meta}


def unflatten_state(arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Rebuild the ``state_dict`` that ``flatten_state`` split (``arrays`` may be an ``NpzFile``).

    Lists among a group's hyperparameters (other than ``"params"``) become tuples again.
    """
    state = {}
    for index, entry in meta["state"].items():
        values = {}
        for name, where in entry.items():
            values[name] = np.array(arrays[where["array"]]) if "array" in where else where["value"]
        state[int(index)] = values
    groups = []
    for group in meta["param_groups"]:
        restored = {key: tuple(value) if isinstance(value, list) and key != "params" else value
                    for key, value in group.items()}
        restored["params"] = [int(i) for i in group["params"]]
        groups.append(restored)
    return {"state": state, "param_groups": groups}


def _json_scalar(value: Any, where: str) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {where} of type {type(value).__name__} as JSON")


def _json_hyperparameter(value: Any, key: str) -> Any:
    if isinstance(value, (list, tuple)):
        return [_json_scalar(v, f"param_groups[{key!r}]") for v in value]
    return _json_scalar(value, f"param_groups[{key!r}]")
