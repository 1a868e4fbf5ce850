"""barecnn: convolutional neural networks in bare NumPy.

Two levels: :mod:`barecnn.functional` (pure forward/backward kernels) and :mod:`barecnn.nn`
(PyTorch-shaped modules over them); :mod:`barecnn.optim`, :mod:`barecnn.data`,
:mod:`barecnn.models` and :mod:`barecnn.train` build the rest. ``barecnn.save`` / ``barecnn.load``
read and write model files (``.npz``, never pickle).

Importing barecnn asks glibc's malloc to keep freed memory for reuse (see ``barecnn._allocator``;
``BARECNN_KEEP_FREED_MEMORY=0`` opts out): NumPy's fresh per-step arrays would otherwise cost a
page fault per 4 KiB, about a third of a small network's training step.
"""
__version__ = "0.1.0"

from ._allocator import keep_freed_memory

KEEPS_FREED_MEMORY = keep_freed_memory()

from . import functional, init, nn, optim, random  # noqa: E402,F401
from .io import load, save  # noqa: E402,F401
from .nn import is_grad_enabled, no_grad  # noqa: E402,F401
