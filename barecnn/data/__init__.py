"""Datasets and data handling: IDX/CSV files, lookup and download, batching,
augmentation, preprocessing, and preparing a user's own digit images (one, or a
folder of labelled ones)."""

from .csv_format import load_csv_dir, read_csv_images, read_csv_labels
from .datasets import (
    Dataset,
    cache_dir,
    candidate_dirs,
    find_idx_files,
    load_dataset,
    load_dataset_dir,
    load_embedded_mnist,
)
from .download import ChecksumError, DownloadError, download_dataset, download_file
from .embedded import embedded_mnist_path
from .idx import parse_idx_bytes, read_idx, write_idx
from .image_folder import read_image_folder
from .images import load_digit_image
from .loader import iterate_minibatches, num_batches, subset, train_val_split
from .preprocess import Preprocess
from .registry import DIGIT_CLASSES, KNOWN_DATASETS
from .transforms import (
    affine_warp,
    augment_digits,
    grey_dilate,
    grey_erode,
    random_affine,
    random_shift_rotate,
    random_stroke_width,
    shift_rotate,
    stroke_width,
)

__all__ = [
    "ChecksumError",
    "DIGIT_CLASSES",
    "Dataset",
    "DownloadError",
    "KNOWN_DATASETS",
    "Preprocess",
    "affine_warp",
    "augment_digits",
    "cache_dir",
    "candidate_dirs",
    "download_dataset",
    "download_file",
    "embedded_mnist_path",
    "find_idx_files",
    "grey_dilate",
    "grey_erode",
    "iterate_minibatches",
    "load_csv_dir",
    "load_dataset",
    "load_dataset_dir",
    "load_digit_image",
    "load_embedded_mnist",
    "num_batches",
    "parse_idx_bytes",
    "random_affine",
    "random_shift_rotate",
    "random_stroke_width",
    "read_csv_images",
    "read_csv_labels",
    "read_idx",
    "read_image_folder",
    "shift_rotate",
    "stroke_width",
    "subset",
    "train_val_split",
    "write_idx",
]
