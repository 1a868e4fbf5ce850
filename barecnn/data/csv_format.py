"""Read the CSV layout used by the CS229-style tutorial.

A directory holds ``images_train.csv``, ``labels_train.csv``, ``images_test.csv``
and ``labels_test.csv``. Each images row is 784 comma-separated pixel values,
either integers 0..255 or floats 0..1. Each labels row is one integer class or a
one-hot row of 10 values.
"""

import warnings
from pathlib import Path

import numpy as np

CSV_FILES = ("images_train.csv", "labels_train.csv", "images_test.csv", "labels_test.csv")
PIXELS_PER_ROW = 28 * 28
NUM_CLASSES = 10


def has_csv_layout(directory):
    """Return True if ``directory`` holds all four CSV files."""
    return all((Path(directory) / name).is_file() for name in CSV_FILES)


def load_csv_dir(directory):
    """Load the four CSV files of ``directory``.

    Returns
    -------
    train_images : np.ndarray, (N, 28, 28) uint8
    train_labels : np.ndarray, (N,) int64
    test_images : np.ndarray, (M, 28, 28) uint8
    test_labels : np.ndarray, (M,) int64

    Raises
    ------
    FileNotFoundError
        If a file is missing.
    ValueError
        If a row is malformed or the image and label counts differ.
    """
    directory = Path(directory)
    missing = [name for name in CSV_FILES if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{directory}: missing CSV files {', '.join(missing)}")
    arrays = []
    for split in ("train", "test"):
        images_path = directory / f"images_{split}.csv"
        labels_path = directory / f"labels_{split}.csv"
        images = read_csv_images(images_path)
        labels = read_csv_labels(labels_path)
        if len(images) != len(labels):
            raise ValueError(
                f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels"
            )
        arrays += [images.reshape(-1, 28, 28), labels]
    return tuple(arrays)


def read_csv_images(path, row_length=PIXELS_PER_ROW):
    """Read an images CSV file.

    Parameters
    ----------
    path : str or Path
    row_length : int
        Values each row must have (784 for 28x28 images).

    Returns
    -------
    np.ndarray, (N, row_length) uint8
        Pixel values 0..255. A file whose values are all within 0..1, or that
        holds any non-integer value, is taken as 0..1 floats and scaled by 255.

    Raises
    ------
    ValueError
        Naming the file and line of a row with the wrong length or a value that
        is not a number, or naming the file if values fall outside 0..255.
    """
    values = _read_numeric_rows(path, row_length)
    if not np.isfinite(values).all() or values.min(initial=0) < 0 or values.max(initial=0) > 255:
        raise ValueError(f"{path}: pixel values must be finite and within 0..255 (or 0..1)")
    is_unit_scale = values.max(initial=0) <= 1.0 or not np.array_equal(values, np.round(values))
    if is_unit_scale:
        if values.max(initial=0) > 1.0:
            raise ValueError(f"{path}: non-integer pixel values must be within 0..1")
        values = values * 255.0
    return np.round(values).astype(np.uint8)


def read_csv_labels(path, num_classes=NUM_CLASSES):
    """Read a labels CSV file: one integer per row, or one-hot rows.

    Returns
    -------
    np.ndarray, (N,) int64

    Raises
    ------
    ValueError
        Naming the file and line of a row that is neither a class index in
        ``0..num_classes-1`` nor a one-hot row of ``num_classes`` values.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"CSV file not found: {path}")
    first_row = _first_row_length(path)
    row_length = 1 if first_row == 1 else num_classes
    values = _read_numeric_rows(path, row_length)
    if row_length == 1:
        labels = values[:, 0]
        bad = (labels != np.round(labels)) | (labels < 0) | (labels >= num_classes)
    else:
        labels = values.argmax(axis=1)
        one_hot_sorted = np.eye(1, num_classes, num_classes - 1)  # [0, ..., 0, 1]
        bad = ~(np.sort(values, axis=1) == one_hot_sorted).all(axis=1)
    if bad.any():
        line = _data_line_numbers(path)[int(np.argmax(bad))]
        raise ValueError(
            f"{path}, line {line}: expected a label in 0..{num_classes - 1} "
            f"or a one-hot row of {num_classes} values"
        )
    return labels.astype(np.int64)


def _read_numeric_rows(path, row_length):
    """Return the file's non-blank rows as a float64 array of shape (N, row_length)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file not found: {path}")
    try:
        with warnings.catch_warnings():   # an empty file is reported below as our own error
            warnings.simplefilter("ignore", UserWarning)
            values = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as error:
        _raise_for_bad_row(path, row_length, error)
    if values.size == 0:
        raise ValueError(f"{path}: no data rows")
    if values.shape[1] != row_length:
        _raise_for_bad_row(path, row_length)
    return values


def _raise_for_bad_row(path, row_length, error=None):
    """Scan ``path`` line by line and raise a ValueError for the first bad row."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            fields = line.strip().split(",")
            if len(fields) != row_length:
                raise ValueError(
                    f"{path}, line {line_number}: expected {row_length} values, got {len(fields)}"
                )
            try:
                [float(field) for field in fields]
            except ValueError:
                raise ValueError(f"{path}, line {line_number}: a value is not a number") from None
    raise ValueError(f"{path}: could not be read as CSV numbers ({error})")


def _first_row_length(path):
    """Return the number of comma-separated fields on the first non-blank line."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                return len(line.split(","))
    raise ValueError(f"{path}: no data rows")


def _data_line_numbers(path):
    """Return the 1-based line numbers of the non-blank lines of ``path``."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return [number for number, line in enumerate(f, start=1) if line.strip()]
