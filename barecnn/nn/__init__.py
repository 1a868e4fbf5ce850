"""Modules with PyTorch's names, argument orders, parameter shapes and ``state_dict`` keys.

Each module owns its parameters and buffers, calls a pure kernel from :mod:`barecnn.functional`
in ``forward`` and its twin in ``backward``. ``backward(grad_output)`` returns the gradient for the
input and accumulates parameter gradients into ``Parameter.grad``.
"""
from .activation import LeakyReLU, ReLU, Sigmoid, Tanh
from .conv import Conv2d
from .dropout import Dropout
from .linear import Flatten, Identity, Linear
from .loss import CrossEntropyLoss
from .module import Module, Parameter, Sequential, is_grad_enabled, no_grad
from .parallel import DataParallel
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm
from .pooling import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d

__all__ = ["Module", "Parameter", "Sequential", "Conv2d", "Linear", "Flatten", "Identity", "MaxPool2d",
           "AvgPool2d", "GlobalAvgPool2d", "AdaptiveAvgPool2d", "ReLU", "LeakyReLU", "Tanh", "Sigmoid",
           "BatchNorm1d", "BatchNorm2d", "GroupNorm", "Dropout", "CrossEntropyLoss", "DataParallel", "no_grad",
           "is_grad_enabled"]
