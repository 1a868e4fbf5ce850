"""barecnn: convolutional neural networks in bare NumPy.

Two levels: :mod:`barecnn.functional` (pure forward/backward kernels) and :mod:`barecnn.nn`
(PyTorch-shaped modules over them).
"""
__version__ = "0.1.0"

from . import functional, nn, random  # noqa: E402,F401
