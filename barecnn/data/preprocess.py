"""Turn raw pixels into network input; the part of a saved model that reads images."""

from dataclasses import asdict, dataclass

import numpy as np

MODES = ("scale", "center", "standardize")
_FIXED_MEAN = {"scale": 0.0, "center": 0.5}
_CHUNK = 4096


@dataclass(frozen=True)
class Preprocess:
    """Map pixel values 0..255 to ``(x / 255 - mean) / std``, shaped (N, 1, H, W).

    Modes
    -----
    'scale'
        ``x / 255`` (mean 0, std 1).
    'center'
        ``x / 255 - 0.5``, as in the 3x3-convolution tutorial (mean 0.5, std 1).
    'standardize'
        ``(x / 255 - mean) / std`` with mean and std of the training pixels,
        see ``Preprocess.fit``.

    Attributes
    ----------
    mode : str
    mean, std : float
        On the 0..1 scale.
    height, width : int
        Expected image size.
    """

    mode: str = "center"
    mean: float = 0.5
    std: float = 1.0
    height: int = 28
    width: int = 28

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown preprocessing mode {self.mode!r}; expected one of {MODES}")
        if self.mode in _FIXED_MEAN and (self.mean, self.std) != (_FIXED_MEAN[self.mode], 1.0):
            raise ValueError(f"mode {self.mode!r} fixes mean={_FIXED_MEAN[self.mode]}, std=1.0")
        if not (np.isfinite(self.std) and self.std > 0 and np.isfinite(self.mean)):
            raise ValueError(f"need a finite mean and a positive std, got {self.mean}, {self.std}")
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f"image size must be positive, got {self.height}x{self.width}")

    @classmethod
    def for_mode(cls, mode, height=28, width=28):
        """Make a 'scale' or 'center' preprocessor (no statistics needed)."""
        if mode not in _FIXED_MEAN:
            raise ValueError(f"mode {mode!r} needs statistics; use Preprocess.fit(images, mode)")
        return cls(mode, _FIXED_MEAN[mode], 1.0, height, width)

    @classmethod
    def fit(cls, images, mode="standardize"):
        """Make a preprocessor for ``images``, computing mean and std if the mode needs them.

        Parameters
        ----------
        images : np.ndarray, (N, H, W) or (N, 1, H, W), uint8 or float 0..255
            Training images.
        mode : str
            One of 'scale', 'center', 'standardize'.

        Returns
        -------
        Preprocess
            The image size is taken from ``images``.
        """
        images = np.asarray(images)
        _check_numeric(images)
        if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[1] != 1):
            raise ValueError(
                f"expected images of shape (N, H, W) or (N, 1, H, W), got {images.shape}"
            )
        height, width = images.shape[-2:]
        if mode != "standardize":
            return cls.for_mode(mode, height, width)
        mean, std = _pixel_mean_std(images)
        return cls("standardize", mean / 255.0, max(std / 255.0, 1e-8), height, width)

    def __call__(self, images, dtype=np.float32):
        """Preprocess raw images.

        Parameters
        ----------
        images : np.ndarray, (N, H, W), (N, 1, H, W) or one (H, W) image
            uint8 or float pixel values on the 0..255 scale.
        dtype : dtype
            Float type of the result.

        Returns
        -------
        np.ndarray, (N, 1, H, W) of ``dtype``
        """
        images = self.check_images(images)
        if np.dtype(dtype).kind != "f":
            raise TypeError(f"the output dtype must be a float type, got {np.dtype(dtype)}")
        out = images.astype(dtype)
        out *= 1.0 / (255.0 * self.std)
        out -= self.mean / self.std
        return out

    def check_images(self, images):
        """Return ``images`` as an (N, 1, H, W) array, or raise TypeError/ValueError."""
        images = np.asarray(images)
        _check_numeric(images)
        size = (self.height, self.width)
        if images.ndim == 2 and images.shape == size:
            return images[None, None]
        if images.ndim == 3 and images.shape[1:] == size:
            return images[:, None]
        if images.ndim == 4 and images.shape[1:] == (1, *size):
            return images
        raise ValueError(
            f"expected images of shape (N, {self.height}, {self.width}) or "
            f"(N, 1, {self.height}, {self.width}), got {images.shape}"
        )

    def to_config(self):
        """Return a JSON-able dict that ``from_config`` turns back into this object."""
        config = asdict(self)
        config["mean"] = float(config["mean"])
        config["std"] = float(config["std"])
        return config

    @classmethod
    def from_config(cls, config):
        """Rebuild a ``Preprocess`` from ``to_config()`` output."""
        known = {"mode", "mean", "std", "height", "width"}
        unknown = set(config) - known
        if unknown or "mode" not in config:
            raise ValueError(f"bad Preprocess config {config!r}: keys must be {sorted(known)}")
        if config["mode"] == "standardize" and not {"mean", "std"} <= set(config):
            raise ValueError(f"a 'standardize' config needs mean and std, got {config!r}")
        return cls(
            mode=config["mode"],
            mean=float(config.get("mean", _FIXED_MEAN.get(config["mode"], 0.0))),
            std=float(config.get("std", 1.0)),
            height=int(config.get("height", 28)),
            width=int(config.get("width", 28)),
        )


def _check_numeric(images):
    """Raise TypeError unless ``images`` holds integers or floats."""
    if images.dtype == np.bool_ or images.dtype.kind not in "uif":
        raise TypeError(f"expected uint8 or float images, got dtype {images.dtype}")


def _pixel_mean_std(images):
    """Mean and standard deviation of all pixel values (0..255 scale), in float64.

    uint8 images use a 256-bin histogram (exact, no large temporaries); others
    are summed in chunks of images.
    """
    if images.dtype == np.uint8:
        counts = np.bincount(images.ravel(), minlength=256).astype(np.float64)
        levels = np.arange(256, dtype=np.float64)
        total = counts.sum()
        mean = (counts @ levels) / total
        variance = (counts @ (levels - mean) ** 2) / total
        return float(mean), float(np.sqrt(variance))
    total = sum_values = sum_squares = 0.0
    for start in range(0, len(images), _CHUNK):
        chunk = images[start : start + _CHUNK].astype(np.float64)
        total += chunk.size
        sum_values += chunk.sum()
        sum_squares += np.square(chunk).sum()
    mean = sum_values / total
    return float(mean), float(np.sqrt(max(sum_squares / total - mean**2, 0.0)))
