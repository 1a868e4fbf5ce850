"""The module layer: ``Parameter``, ``Module`` and ``Sequential``.

A module owns parameters (trainable arrays with a ``.grad``), buffers (state such as running
statistics) and a ``training`` flag. ``forward`` computes the output and keeps what ``backward``
needs; ``backward(grad_output)`` returns the gradient for the input and *accumulates* parameter
gradients into ``.grad`` (as PyTorch does), so a parameter used twice gets both contributions.
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import Iterator

import numpy as np

DEFAULT_DTYPE = np.float32

_grad_mode = threading.local()


def is_grad_enabled() -> bool:
    """Whether forward passes keep what backward needs (``False`` inside :class:`no_grad`)."""
    return getattr(_grad_mode, "enabled", True)


class no_grad:
    """Context manager and decorator, as ``torch.no_grad``: forward passes inside it keep nothing
    for backward, so activations are freed as soon as each layer returns (inference, evaluation).

    Per thread, nestable. A ``backward`` after such a forward raises a clear error.

    >>> with barecnn.no_grad():
    ...     logits = model(x)
    """

    def __enter__(self) -> "no_grad":
        self._previous = is_grad_enabled()
        _grad_mode.enabled = False
        return self

    def __exit__(self, *exc) -> None:
        _grad_mode.enabled = self._previous

    def __call__(self, function):
        @functools.wraps(function)
        def without_grad(*args, **kwargs):
            with no_grad():
                return function(*args, **kwargs)
        return without_grad


def require_defaults(owner: str, **options) -> None:
    """PyTorch options barecnn accepts for signature compatibility but does not implement: each is
    given as ``name=(value, default)``; anything but the default raises a clear ValueError."""
    for name, (value, default) in options.items():
        differs = value is not None if default is None else value != default
        if differs:
            shown = f"a {type(value).__name__}" if isinstance(value, np.ndarray) else repr(value)
            raise ValueError(f"{owner}: {name}={shown} is not supported by barecnn (only {name}={default!r})")


class Parameter:
    """A trainable array. ``data`` holds the values, ``grad`` the accumulated gradient.

    ``grad`` is ``None`` until a backward pass writes it, and again after ``zero_grad()``
    (PyTorch's ``set_to_none`` behaviour); optimizers skip parameters whose grad is ``None``.
    """

    def __init__(self, data):
        self.data = np.asarray(data)
        self.grad: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def accumulate_grad(self, grad: np.ndarray) -> None:
        """Add ``grad`` (same shape as ``data``) into ``.grad``.

        The first contribution is stored as is, so kernels must hand over arrays they own.
        """
        if grad.shape != self.data.shape:
            raise ValueError(f"gradient of shape {grad.shape} for a parameter of shape {self.data.shape}")
        if self.grad is None:
            self.grad = grad.astype(self.data.dtype, copy=False)
        else:
            self.grad += grad

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every layer and network.

    Subclasses set parameters, buffers and submodules as attributes in ``__init__`` and implement
    ``forward(x)`` and ``backward(grad_output)``. Attribute order is registration order, which
    fixes the order of ``parameters()`` and of ``state_dict()`` keys (as in PyTorch).
    """

    # True for modules whose backward takes ``need_input_grad=False`` to skip the input gradient
    # (what a network's first layer can do: nothing upstream needs it).
    accepts_need_input_grad = False

    def __init__(self):
        self.training = True
        self._buffer_names: list[str] = []

    # ----------------------------------------------------------------- calling
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _save_for_backward(self, cache, output_shape: tuple[int, ...]) -> None:
        """Keep what ``backward`` needs and the output shape its gradient must have (nothing under
        :class:`no_grad`)."""
        self._saved_under_no_grad = not is_grad_enabled()
        self._cache = None if self._saved_under_no_grad else cache
        self._output_shape = tuple(output_shape)

    def _saved_for_backward(self, grad_output):
        """The forward cache, after checking that a forward ran and ``grad_output`` fits it.

        The cache is released here (as PyTorch frees its graph after backward), so activations
        do not outlive the step: one forward allows one backward.
        """
        cache = getattr(self, "_cache", None)
        if cache is None and getattr(self, "_saved_under_no_grad", False):
            raise RuntimeError(f"{self!r}: backward() after a forward under barecnn.no_grad(), which keeps "
                               f"nothing for backward; run the forward outside no_grad() to backpropagate")
        if cache is None:
            raise RuntimeError(f"{self!r}: backward() called before forward() (each forward allows one backward)")
        if not isinstance(grad_output, np.ndarray):
            raise TypeError(f"{self!r}: grad_output must be a NumPy array, got {type(grad_output).__name__}")
        if grad_output.shape != self._output_shape:
            raise ValueError(f"{self!r}: grad_output has shape {grad_output.shape}, expected the output's shape "
                             f"{self._output_shape}")
        self._cache = None
        return cache

    def _check_input(self, x, layout: str, ndim: int | tuple[int, ...], channels: int | None = None):
        """Raise a clear error unless ``x`` is a float array of the right rank, channels and dtype."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{self!r}: input must be a NumPy array, got {type(x).__name__}")
        if x.dtype.kind != "f":
            raise TypeError(f"{self!r}: input must be float32 or float64, got dtype {x.dtype}")
        ranks = (ndim,) if isinstance(ndim, int) else ndim
        if x.ndim not in ranks:
            raise ValueError(f"{self!r}: expected input of shape {layout}, got shape {x.shape}")
        if x.size == 0:
            raise ValueError(f"{self!r}: input is empty (shape {x.shape})")
        if channels is not None and x.shape[1] != channels:
            raise ValueError(f"{self!r}: expected {channels} channels in input of shape {layout}, "
                             f"got shape {x.shape}")
        for name, value in vars(self).items():   # this layer's own parameters and buffers
            array = value.data if isinstance(value, Parameter) else value if name in self._buffer_names else None
            if array is not None and array.dtype != x.dtype and array.dtype.kind == "f":
                raise TypeError(f"{self!r}: input dtype {x.dtype} does not match '{name}' dtype "
                                f"{array.dtype}; call .double()/.float() on the model or cast the input")
        return x

    # ------------------------------------------------------------ registration
    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Store ``value`` as attribute ``name`` and include it in ``state_dict``."""
        if name not in self._buffer_names:
            self._buffer_names.append(name)
        setattr(self, name, value)

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` in registration order; a shared Parameter is listed once."""
        seen: set[int] = set()
        for name, param in self._all_named_parameters(prefix):
            if id(param) not in seen:
                seen.add(id(param))
                yield name, param

    def _all_named_parameters(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(value, Parameter):
                yield full, value
            elif isinstance(value, Module):
                yield from value._all_named_parameters(full)

    def parameters(self) -> Iterator[Parameter]:
        for _, param in self.named_parameters():
            yield param

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for name, value in vars(self).items():
            full = f"{prefix}.{name}" if prefix else name
            if name in self._buffer_names:
                yield full, value
            elif isinstance(value, Module):
                yield from value.named_buffers(full)

    # ------------------------------------------------------------------- state
    def zero_grad(self) -> None:
        """Reset every parameter's gradient to ``None``."""
        for param in self.parameters():
            param.grad = None

    def train(self, mode: bool = True) -> "Module":
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameters and buffers by dotted name (PyTorch's keys), as copies."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, value in vars(module).items():
                if isinstance(value, Parameter):
                    state[prefix + name] = value.data.copy()
                elif name in module._buffer_names:
                    state[prefix + name] = np.array(value, copy=True)
        return state

    def load_state_dict(self, state_dict) -> None:
        """Copy arrays from ``state_dict`` into this module's parameters and buffers.

        Strict, as PyTorch's default: missing keys, unexpected keys and shape mismatches are
        errors, and nothing is changed unless every key checks out. Values are cast to the
        dtype this module has now.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if missing or unexpected:
            raise KeyError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        converted = {}
        for key, value in state_dict.items():
            shape = np.shape(value)
            if shape != own[key].shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: '{key}' has shape {shape}, "
                                 f"expected {own[key].shape}")
            try:   # convert everything before changing anything
                converted[key] = np.array(value, dtype=own[key].dtype)
            except (TypeError, ValueError) as error:
                raise ValueError(f"{type(self).__name__}.load_state_dict: '{key}' cannot be converted to "
                                 f"{own[key].dtype}: {error}") from None
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, value in list(vars(module).items()):
                key = prefix + name
                if isinstance(value, Parameter):
                    value.data = converted[key]
                    value.grad = None
                elif name in module._buffer_names:
                    setattr(module, name, converted[key])

    def to_dtype(self, dtype) -> "Module":
        """Cast every floating parameter and buffer to ``dtype`` (gradients are dropped)."""
        for module in self.modules():
            for name, value in list(vars(module).items()):
                if isinstance(value, Parameter) and np.issubdtype(value.data.dtype, np.floating):
                    value.data = value.data.astype(dtype)
                    value.grad = None
                elif name in module._buffer_names and np.issubdtype(np.asarray(value).dtype, np.floating):
                    setattr(module, name, np.asarray(value).astype(dtype))
        return self

    def float(self) -> "Module":
        return self.to_dtype(np.float32)

    def double(self) -> "Module":
        return self.to_dtype(np.float64)

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


class Sequential(Module):
    """Modules applied in order; children are named ``"0"``, ``"1"``, ... (PyTorch's keys)."""

    def __init__(self, *modules: Module):
        super().__init__()
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {index} is a {type(module).__name__}, not a Module")
            if any(module is earlier for earlier in modules[:index]):
                raise ValueError(f"Sequential: argument {index} ({module!r}) appears twice; a barecnn module keeps "
                                 f"one forward cache (there is no autograd graph), so reusing one instance in a "
                                 f"pass would give wrong gradients: share weights by sharing Parameters instead")
            setattr(self, str(index), module)

    def __len__(self) -> int:
        return sum(1 for _ in self.children())

    def __getitem__(self, index: int) -> Module:
        return list(self.children())[index]

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return x

    accepts_need_input_grad = True

    def backward(self, grad_output, need_input_grad: bool = True):
        """Backward through every module in reverse; returns the input gradient.

        ``need_input_grad=False`` (what a training loop passes) lets the first module skip its
        input gradient when it can, and then returns ``None``.
        """
        children = list(self.children())
        for module in reversed(children[1:]):
            grad_output = module.backward(grad_output)
        first = children[0]
        if not need_input_grad and first.accepts_need_input_grad:
            return first.backward(grad_output, need_input_grad=False)
        return first.backward(grad_output)
