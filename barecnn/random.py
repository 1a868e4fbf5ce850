"""The library's one default random generator, so that ``barecnn.random.seed(s)`` makes weight
initialisation, dropout and data shuffling repeatable. Every function that draws random numbers
also accepts an explicit ``rng`` (a ``numpy.random.Generator``)."""
from __future__ import annotations

import contextlib
import threading

import numpy as np

_generator = np.random.default_rng()
_thread = threading.local()   # per-thread override, set by :func:`thread_generator`


def seed(value: int) -> None:
    """Reseed the default generator."""
    global _generator
    _generator = np.random.default_rng(value)


def default_rng() -> np.random.Generator:
    """The generator used when no ``rng`` is given (this thread's own inside
    :func:`thread_generator`)."""
    return getattr(_thread, "generator", None) or _generator


@contextlib.contextmanager
def thread_generator(seed: int):
    """Inside the block, :func:`default_rng` in *this thread* is a generator seeded with ``seed``.

    :class:`barecnn.nn.DataParallel` gives each chunk of a batch its own stream this way, with
    seeds drawn from the default generator, so dropout masks repeat from run to run.
    """
    previous = getattr(_thread, "generator", None)
    _thread.generator = np.random.default_rng(seed)
    try:
        yield _thread.generator
    finally:
        _thread.generator = previous


def get_state() -> dict:
    """The default generator's state (JSON-able), for checkpoints."""
    return _generator.bit_generator.state


def set_state(state: dict) -> None:
    _generator.bit_generator.state = state
