"""Pure kernels with cs231n's contract: ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> gradients``. Nothing here holds state; :mod:`barecnn.nn` wraps these
in modules. :mod:`barecnn.functional.naive` has the loop versions of conv and pooling.
"""
from .activation import (leaky_relu_backward, leaky_relu_forward, relu_backward, relu_forward, sigmoid,
                         sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward)
from .conv import conv2d_backward, conv2d_forward
from .dropout import dropout_backward, dropout_forward
from .linear import linear_backward, linear_forward
from .loss import (check_labels, log_softmax, softmax, softmax_cross_entropy_backward,
                   softmax_cross_entropy_forward)
from .normalization import (batch_norm_backward, batch_norm_forward, group_norm_backward,
                            group_norm_forward)
from .pool import (adaptive_avg_pool2d_backward, adaptive_avg_pool2d_forward, avg_pool2d_backward,
                   avg_pool2d_forward, global_avg_pool2d_backward, global_avg_pool2d_forward,
                   max_pool2d_backward, max_pool2d_forward)

__all__ = [name for name in dir() if not name.startswith("_") and name not in {"activation", "conv", "dropout",
           "linear", "loss", "normalization", "pool"}]
