"""Optimizers and learning-rate schedules over a list of parameters, as ``torch.optim``.

Usage::

    from barecnn import optim
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.95)
    for epoch in range(epochs):
        for x, y in batches:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            model.backward(criterion.backward())
            optimizer.step()
        scheduler.step()

Saving without pickle: ``flatten_state(optimizer.state_dict())`` gives arrays for ``np.savez``
and JSON-able metadata; ``unflatten_state(arrays, meta)`` reverses it.
"""
from barecnn.optim import lr_scheduler
from barecnn.optim.adam import Adam, AdamW
from barecnn.optim.lr_scheduler import (CosineAnnealingLR, InverseTimeDecay, LRScheduler, StepLR,
                                        WarmupCosine)
from barecnn.optim.optimizer import Optimizer, flatten_state, unflatten_state
from barecnn.optim.rmsprop import RMSprop
from barecnn.optim.sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop",
    "flatten_state", "unflatten_state",
    "lr_scheduler", "LRScheduler", "StepLR", "InverseTimeDecay", "CosineAnnealingLR", "WarmupCosine",
]
