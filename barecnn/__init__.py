"""barecnn: convolutional neural networks in bare NumPy.

Two levels: :mod:`barecnn.functional` (pure forward/backward kernels) and :mod:`barecnn.nn`
(PyTorch-shaped modules over them); :mod:`barecnn.optim`, :mod:`barecnn.data`,
:mod:`barecnn.models` and :mod:`barecnn.train` build the rest. ``barecnn.save`` / ``barecnn.load``
read and write model files (``.npz``, never pickle).
"""
__version__ = "0.1.0"

from . import functional, init, nn, optim, random  # noqa: E402,F401
from .io import load, save  # noqa: E402,F401
