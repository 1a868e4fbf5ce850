"""The model zoo: each tutorial's network, the classics, and barecnn's default.

A model is a :class:`Classifier`: a ``Sequential`` of layers (so its ``state_dict`` keys are
PyTorch's ``"0.weight"``, ...) that also carries

* ``spec``: a JSON-able description of its layers, ``[["Conv2d", {...}], ["ReLU", {}], ...]``,
  from which :func:`build` rebuilds it without user code (this is what model files store), and
* ``preprocess``: how raw uint8 pixels become its input, so a saved model reads raw images.

Every zoo entry is a function ``(rng) -> Classifier`` registered in :data:`ZOO`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import nn
from . import random as barecnn_random
from .data.preprocess import Preprocess
from .functional import softmax

# Layer types a model file may name: the registry is the whole of what `build` can construct.
LAYER_TYPES = {name: getattr(nn, name) for name in (
    "Conv2d", "Linear", "Flatten", "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d", "AdaptiveAvgPool2d", "ReLU",
    "LeakyReLU", "Tanh", "Sigmoid", "BatchNorm1d", "BatchNorm2d", "GroupNorm", "Dropout", "Identity")}


class Classifier(nn.Sequential):
    """A sequential network plus its description and input preprocessing.

    ``forward`` takes preprocessed float input ``(N, C, H, W)`` and returns logits ``(N, K)``;
    ``predict`` / ``predict_proba`` take raw images (uint8, 0 = background) of shape
    ``(N, H, W)``, ``(N, 1, H, W)`` or one ``(H, W)`` image, and run in eval mode.
    """

    def __init__(self, name: str, spec: list, preprocess: Preprocess, rng: np.random.Generator | None = None):
        super().__init__(*(_build_layer(entry, rng) for entry in spec))
        self.name = name
        self.spec = spec
        self.preprocess = preprocess

    def predict_proba(self, images, batch_size: int = 500) -> np.ndarray:
        """Class probabilities ``(N, K)`` for raw images, computed in eval mode in batches (under
        :class:`barecnn.no_grad`, so no layer keeps its activations)."""
        was_training = self.training
        self.eval()
        try:
            x = self.preprocess(images, dtype=self.dtype)
            with nn.no_grad():
                chunks = [softmax(self(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
        finally:
            self.train(was_training)
        return np.concatenate(chunks)

    def predict(self, images, batch_size: int = 500) -> np.ndarray:
        """Predicted labels ``(N,)`` for raw images."""
        return self.predict_proba(images, batch_size).argmax(axis=1)

    @property
    def num_classes(self) -> int:
        """Width of the output: the number of classes (read from one forward pass of a blank image)."""
        blank = np.zeros((1, self.preprocess.height, self.preprocess.width), np.uint8)
        return self.predict_proba(blank).shape[1]

    @property
    def dtype(self):
        return next(self.parameters()).data.dtype

    def config(self) -> dict:
        """Everything :func:`from_config` needs to rebuild this model (weights aside)."""
        return {"name": self.name, "layers": self.spec, "preprocess": self.preprocess.to_config()}


def from_config(config: dict) -> Classifier:
    """Rebuild a :class:`Classifier` from :meth:`Classifier.config` output (weights are fresh)."""
    try:
        name, layers, preprocess = config["name"], config["layers"], config["preprocess"]
    except (KeyError, TypeError) as error:
        raise ValueError(f"model description is missing {error}") from None
    return Classifier(name, layers, Preprocess.from_config(preprocess))


def _build_layer(entry, rng) -> nn.Module:
    if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[1], dict)):
        raise ValueError(f"layer description must be [type, {{arguments}}], got {entry!r}")
    kind, kwargs = entry
    if kind not in LAYER_TYPES:
        raise ValueError(f"unknown layer type {kind!r}; known: {', '.join(sorted(LAYER_TYPES))}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    if rng is not None and kind in ("Conv2d", "Linear"):
        kwargs["rng"] = rng
    try:
        return LAYER_TYPES[kind](**kwargs)
    except TypeError as error:
        raise ValueError(f"bad arguments for {kind}: {error}") from None


# --------------------------------------------------------------------------- the zoo
# Standardisation with MNIST's pixel statistics until training refits them on its own data.
STANDARDIZE = Preprocess("standardize", mean=0.1307, std=0.3081)


def conv(cin, cout, k, **kw):
    return ["Conv2d", {"in_channels": cin, "out_channels": cout, "kernel_size": k, **kw}]


def linear(cin, cout, **kw):
    return ["Linear", {"in_features": cin, "out_features": cout, **kw}]


def layer(kind, **kw):
    return [kind, kw]


def seed000(rng=None) -> Classifier:
    """The 3x3 tutorial: conv 3x3x8 (no bias) -> max-pool 2 -> dense 1352 -> 10 (softmax in the loss).

    Its initialisation: filters ``randn / 9``, dense weights ``randn / 1352``, zero biases;
    input ``x / 255 - 0.5``.
    """
    model = Classifier("seed000", [conv(1, 8, 3, bias=False), layer("MaxPool2d", kernel_size=2),
                                   layer("Flatten"), linear(8 * 13 * 13, 10)], Preprocess.for_mode("center"), rng)
    rng = barecnn_random.default_rng() if rng is None else rng
    conv_layer, dense = model[0], model[3]
    conv_layer.weight.data = (rng.standard_normal(conv_layer.weight.shape) / 9).astype(np.float32)
    dense.weight.data = (rng.standard_normal(dense.weight.shape) / dense.in_features).astype(np.float32)
    dense.bias.data = np.zeros(10, np.float32)
    return model


def seed001(rng=None) -> Classifier:
    """The CS229-style tutorial: conv 4x4x2 -> max-pool 5 -> ReLU -> dense 50 -> 10."""
    return Classifier("seed001", [conv(1, 2, 4), layer("MaxPool2d", kernel_size=5), layer("ReLU"),
                                  layer("Flatten"), linear(2 * 5 * 5, 10)], STANDARDIZE, rng)


def seed004(rng=None) -> Classifier:
    """The LeNet-like tutorial: conv 5x5x3 -> ReLU -> max-pool 3x3 stride 2 -> dense 84 -> ReLU -> 10.

    Input ``x / 255 - 0.5``: with the tutorial's recipe (batch 4, momentum 0.9) it gave 93.4% mean
    validation accuracy over 5 seeds, against 82.8% for standardised pixels and 90.9% for ``x / 255``
    (``python benchmarks/tutorial_checks.py preprocessing``).
    """
    return Classifier("seed004", [conv(1, 3, 5), layer("ReLU"), layer("MaxPool2d", kernel_size=3, stride=2),
                                  layer("Flatten"), linear(3 * 11 * 11, 84), layer("ReLU"), linear(84, 10)],
                      Preprocess.for_mode("center"), rng)


def threelayer(rng=None) -> Classifier:
    """cs231n's three-layer ConvNet: conv 7x7x32 pad 3 - ReLU - max-pool 2 - affine 100 - ReLU - affine 10."""
    return Classifier("threelayer", [conv(1, 32, 7, padding=3), layer("ReLU"), layer("MaxPool2d", kernel_size=2),
                                     layer("Flatten"), linear(32 * 14 * 14, 100), layer("ReLU"), linear(100, 10)],
                      STANDARDIZE, rng)


def lenet5(rng=None) -> Classifier:
    """LeNet-5 (LeCun et al., 1998) with ReLU and max pooling: conv 5x5x6 pad 2 - pool - conv 5x5x16
    - pool - 120 - 84 - 10."""
    return Classifier("lenet5", [
        conv(1, 6, 5, padding=2), layer("ReLU"), layer("MaxPool2d", kernel_size=2),
        conv(6, 16, 5), layer("ReLU"), layer("MaxPool2d", kernel_size=2), layer("Flatten"),
        linear(16 * 5 * 5, 120), layer("ReLU"), linear(120, 84), layer("ReLU"), linear(84, 10)],
        STANDARDIZE, rng)


def kerascnn(rng=None) -> Classifier:
    """Keras's classic MNIST CNN: conv 3x3x32 - conv 3x3x64 - pool 2 - dropout .25 - dense 128 -
    dropout .5 - dense 10."""
    return Classifier("kerascnn", [
        conv(1, 32, 3), layer("ReLU"), conv(32, 64, 3), layer("ReLU"), layer("MaxPool2d", kernel_size=2),
        layer("Dropout", p=0.25), layer("Flatten"), linear(64 * 12 * 12, 128), layer("ReLU"),
        layer("Dropout", p=0.5), linear(128, 10)], STANDARDIZE, rng)


def barenet(rng=None) -> Classifier:
    """barecnn's default: three conv-BN-ReLU stages (32, 64, 128 channels), each followed by 2x2
    max pooling, then a linear classifier on the 3x3x128 features. Reaches 99.5% on MNIST within
    ten minutes on two CPU cores (with augmentation and a one-cycle schedule, see ``barecnn train``)."""
    def stage(cin, cout):
        return [conv(cin, cout, 3, padding=1, bias=False), layer("BatchNorm2d", num_features=cout), layer("ReLU"),
                layer("MaxPool2d", kernel_size=2)]
    return Classifier("barenet", [
        *stage(1, 32),                                   # 28 -> 14
        *stage(32, 64),                                  # 14 -> 7
        *stage(64, 128),                                 # 7 -> 3
        layer("Flatten"), layer("Dropout", p=0.25), linear(128 * 3 * 3, 10)], STANDARDIZE, rng)


ZOO: dict[str, Callable[..., Classifier]] = {
    "barenet": barenet, "seed000": seed000, "seed001": seed001, "seed004": seed004,
    "threelayer": threelayer, "lenet5": lenet5, "kerascnn": kerascnn,
}
DEFAULT_MODEL = "barenet"


def create(name: str, rng: np.random.Generator | None = None) -> Classifier:
    """A fresh zoo model by name."""
    if name not in ZOO:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(ZOO)}")
    return ZOO[name](rng)


def flops_per_image(model: Classifier, input_shape=(1, 28, 28)) -> int:
    """Multiply-adds x 2 of the conv and linear layers for one image (forward pass)."""
    x = np.zeros((1, *input_shape), dtype=model.dtype)
    total = 0
    was_training = model.training
    model.eval()
    for module in model:
        out = module(x)
        if isinstance(module, nn.Conv2d):
            total += 2 * out.size * int(np.prod(module.weight.shape[1:]))
        elif isinstance(module, nn.Linear):
            total += 2 * module.in_features * module.out_features
        x = out
    model.train(was_training)
    return total


def count_parameters(model: nn.Module) -> int:
    return sum(p.data.size for p in model.parameters())
