"""The library's one default random generator, so that ``barecnn.random.seed(s)`` makes weight
initialisation, dropout and data shuffling repeatable. Every function that draws random numbers
also accepts an explicit ``rng`` (a ``numpy.random.Generator``)."""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def seed(value: int) -> None:
    """Reseed the default generator."""
    global _generator
    _generator = np.random.default_rng(value)


def default_rng() -> np.random.Generator:
    """The generator used when no ``rng`` is given."""
    return _generator


def get_state() -> dict:
    """The default generator's state (JSON-able), for checkpoints."""
    return _generator.bit_generator.state


def set_state(state: dict) -> None:
    _generator.bit_generator.state = state
