"""A folder of a user's own labelled digit images, one sub-folder per label.

    my_digits/
      0/  zero.jpg  another_zero.png ...
      1/  ...
      ...
      9/  ...

Each image is prepared exactly as ``barecnn predict`` prepares it (``load_digit_image``), so that
``barecnn evaluate MODEL --images my_digits`` scores a model on real handwriting the way it will
be used. Files and folders whose names start with a dot are ignored.
"""

from pathlib import Path

import numpy as np

from .images import load_digit_image


def read_image_folder(root, num_classes=10):
    """Read and prepare every image under ``root/<label>/``.

    Parameters
    ----------
    root : str or Path
        A folder whose sub-folders are named by label: ``0`` .. ``num_classes - 1``.
    num_classes : int
        Labels allowed as folder names.

    Returns
    -------
    images : np.ndarray, (N, 28, 28) uint8
        Each file prepared by ``load_digit_image``.
    labels : np.ndarray, (N,) int64
    paths : list of Path, (N,)
        In label order, then file-name order.

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder.
    ValueError
        Naming the offending path: a sub-folder that is not a label, a file directly in ``root``,
        a file that is not an image, an image with no ink, or no images at all.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    labelled = []
    for entry in sorted(_visible(root), key=lambda path: path.name):
        if not entry.is_dir():
            raise ValueError(f"{entry}: expected only sub-folders named by label (0 .. {num_classes - 1}) in {root}")
        label = _label_of(entry, num_classes)
        files = sorted((path for path in _visible(entry) if path.is_file()), key=lambda path: path.name)
        labelled.extend((label, path) for path in files)
    if not labelled:
        raise ValueError(f"{root}: no images found (expected sub-folders 0 .. {num_classes - 1} holding image files)")
    labelled.sort(key=lambda item: item[0])
    images = []
    for _, path in labelled:
        try:
            images.append(load_digit_image(path))
        except ValueError as error:
            message = str(error)
            raise ValueError(message if str(path) in message else f"{path}: {message}") from None
    labels = np.array([label for label, _ in labelled], dtype=np.int64)
    return np.stack(images), labels, [path for _, path in labelled]


def _visible(folder):
    return (path for path in folder.iterdir() if not path.name.startswith("."))


def _label_of(folder, num_classes):
    """The label a sub-folder's name gives, or ValueError."""
    name = folder.name
    if not (name.isdigit() and int(name) < num_classes):
        raise ValueError(f"{folder}: folder names must be labels 0 .. {num_classes - 1}, got {name!r}")
    return int(name)
