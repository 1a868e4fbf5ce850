"""Learning-rate schedules that set ``group["lr"]`` of an optimizer's parameter groups.

Used as in PyTorch: build the schedule after the optimizer (this records each group's
``initial_lr`` and sets the rate for step 0), then call ``scheduler.step()`` after
``optimizer.step()``, once per epoch or once per iteration, whichever the schedule is meant for::

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.95)   # cs231n's lr_decay=0.95 per epoch
    for epoch in range(epochs):
        for x, y in batches:
            ...; optimizer.step()
        scheduler.step()

``t`` below is ``last_epoch``: the number of ``step()`` calls since construction. A schedule's
``state_dict()`` holds plain numbers and lists (JSON-able); restore the optimizer's state too,
since the current rate lives in its ``param_groups``.
"""
from __future__ import annotations

import math
from typing import Any

from barecnn.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "InverseTimeDecay", "CosineAnnealingLR", "WarmupCosine"]


class LRScheduler:
    """Base class: subclasses implement ``get_lr()``, the rates for step ``self.last_epoch``."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self._last_lr: list[float] = []
        self.step()

    def get_lr(self) -> list[float]:
        """The learning rate of each parameter group at step ``self.last_epoch``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr")

    def step(self) -> None:
        """Advance ``last_epoch`` by one and write the new rates into the optimizer."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The rates that the last ``step()`` (or the constructor) set, one per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (numbers and lists of numbers)."""
        return {key: list(value) if isinstance(value, list) else value
                for key, value in vars(self).items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore attributes saved by ``state_dict()`` of the same kind of schedule.

        The saved current rates (``get_last_lr()``) are written back into the optimizer's
        groups, so it does not matter whether the optimizer's state is loaded before or after.
        """
        own = self.state_dict()
        if set(state_dict) != set(own):
            raise KeyError(f"{type(self).__name__}.load_state_dict: expected keys {sorted(own)}, "
                           f"got {sorted(state_dict)}")
        if len(state_dict["base_lrs"]) != len(self.optimizer.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: state for "
                             f"{len(state_dict['base_lrs'])} parameter groups, the optimizer has "
                             f"{len(self.optimizer.param_groups)}")
        for key, value in state_dict.items():
            setattr(self, key, list(value) if isinstance(value, (list, tuple)) else value)
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.state_dict().items() if not k.startswith("_"))
        return f"{type(self).__name__}({settings})"


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps (as ``torch.optim.lr_scheduler.StepLR``).

    ``lr_t = lr_0 * gamma ** (t // step_size)``, applied as a multiplication of the current
    ``group["lr"]`` (PyTorch's chainable form), so a rate changed by hand keeps decaying from there.
    ``StepLR(optimizer, step_size=1, gamma=lr_decay)`` stepped once per epoch is cs231n's Solver.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"step_size must be a positive integer, got {step_size!r}")
        if not gamma >= 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        current = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return current
        return [lr * self.gamma for lr in current]


class InverseTimeDecay(LRScheduler):
    """``lr_t = lr_0 / (1 + decay * t)``: the ``decay`` argument of Keras's old ``SGD``.

    Keras applied it per update (``t`` = updates done before this one), so step this schedule
    once per iteration to reproduce it.
    """

    def __init__(self, optimizer: Optimizer, decay: float):
        if not 0 <= decay < math.inf:
            raise ValueError(f"decay must be a finite number >= 0, got {decay!r}")
        self.decay = decay
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        return [base / (1 + self.decay * self.last_epoch) for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from ``lr_0`` down to ``eta_min`` over ``T_max`` steps (SGDR without restarts).

    ``lr_t = eta_min + (lr_0 - eta_min) * (1 + cos(pi * t / T_max)) / 2``, the closed form of
    ``torch.optim.lr_scheduler.CosineAnnealingLR`` (which computes it recursively; the two agree
    to rounding). Past ``T_max`` the rate rises again along the same cosine, as in PyTorch.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"T_max must be a positive integer, got {T_max!r}")
        if not 0 <= eta_min < math.inf:
            raise ValueError(f"eta_min must be a finite number >= 0, got {eta_min!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]


class WarmupCosine(LRScheduler):
    """Linear warm-up, then half a cosine down to ``min_lr``; step it once per iteration.

    With ``W = warmup_steps`` and ``T = total_steps``::

        lr_t = lr_0 * (t + 1) / W                                            t < W
        lr_t = min_lr + (lr_0 - min_lr) * (1 + cos(pi * (t - W) / (T - W))) / 2   W <= t < T
        lr_t = min_lr                                                        t >= T

    The warm-up starts at ``lr_0 / W`` (not 0, so the first update is not wasted) and reaches
    ``lr_0`` at ``t = W - 1``; the decay starts from ``lr_0`` at ``t = W``. ``W = 0`` is a plain
    cosine decay over ``T`` steps. Set ``T`` to ``epochs * batches_per_epoch``.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int, total_steps: int, min_lr: float = 0.0):
        for name, value in (("warmup_steps", warmup_steps), ("total_steps", total_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if total_steps < 1 or warmup_steps > total_steps:
            raise ValueError(f"need 0 <= warmup_steps <= total_steps and total_steps >= 1, "
                             f"got warmup_steps={warmup_steps}, total_steps={total_steps}")
        if not 0 <= min_lr < math.inf:
            raise ValueError(f"min_lr must be a finite number >= 0, got {min_lr!r}")
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.min_lr = min_lr
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        return [self._rate(base) for base in self.base_lrs]

    def _rate(self, base_lr: float) -> float:
        t, warmup, total = self.last_epoch, self.warmup_steps, self.total_steps
        if t < warmup:
            return base_lr * (t + 1) / warmup
        if t >= total:
            return self.min_lr
        progress = (t - warmup) / (total - warmup)
        return self.min_lr + (base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
