"""The CS229-style CSV layout."""

import numpy as np
import pytest

from barecnn.data import load_csv_dir, load_dataset, read_csv_images, read_csv_labels


def write_rows(path, rows, fmt="{:d}"):
    path.write_text("".join(",".join(fmt.format(v) for v in row) + "\n" for row in rows))
    return path


def make_csv_dir(directory, n_train=6, n_test=4, one_hot=False, unit_floats=False):
    """Write a small CSV dataset; return the uint8 images and int labels written."""
    rng = np.random.default_rng(0)
    images = {}
    for split, n in (("train", n_train), ("test", n_test)):
        pixels = rng.integers(0, 256, size=(n, 784))
        labels = rng.integers(0, 10, size=n)
        if unit_floats:
            write_rows(directory / f"images_{split}.csv", pixels / 255.0, fmt="{:.6f}")
        else:
            write_rows(directory / f"images_{split}.csv", pixels)
        label_rows = np.eye(10, dtype=int)[labels] if one_hot else labels[:, None]
        write_rows(directory / f"labels_{split}.csv", label_rows)
        images[split] = (pixels.astype(np.uint8).reshape(-1, 28, 28), labels)
    return images


@pytest.mark.parametrize("one_hot", [False, True])
@pytest.mark.parametrize("unit_floats", [False, True])
def test_load_csv_dir(tmp_path, one_hot, unit_floats):
    written = make_csv_dir(tmp_path, one_hot=one_hot, unit_floats=unit_floats)
    train_x, train_y, test_x, test_y = load_csv_dir(tmp_path)
    assert train_x.shape == (6, 28, 28) and train_x.dtype == np.uint8
    assert train_y.dtype == np.int64 and test_y.shape == (4,)
    np.testing.assert_array_equal(train_x, written["train"][0])
    np.testing.assert_array_equal(test_y, written["test"][1])


def test_load_dataset_reads_csv_directory(tmp_path):
    make_csv_dir(tmp_path)
    dataset = load_dataset(tmp_path)
    assert dataset.train_images.shape == (6, 28, 28)
    assert "CSV" in dataset.source and str(tmp_path) in dataset.source


def test_wrong_row_length_names_file_and_line(tmp_path):
    rows = [[0] * 784, [0] * 784, [0] * 783]
    path = write_rows(tmp_path / "images_train.csv", rows)
    message = r"images_train\.csv, line 3: expected 784 values, got 783"
    with pytest.raises(ValueError, match=message):
        read_csv_images(path)


def test_every_row_wrong_length(tmp_path):
    path = write_rows(tmp_path / "images_train.csv", [[0] * 10, [0] * 10])
    with pytest.raises(ValueError, match=r"line 1: expected 784 values, got 10"):
        read_csv_images(path)


def test_non_number_names_line(tmp_path):
    path = tmp_path / "images_test.csv"
    path.write_text(",".join(["0"] * 784) + "\n" + ",".join(["0"] * 783 + ["x"]) + "\n")
    with pytest.raises(ValueError, match=r"images_test\.csv, line 2"):
        read_csv_images(path)


def test_pixel_values_out_of_range(tmp_path):
    path = write_rows(tmp_path / "images_train.csv", [[300] + [0] * 783])
    with pytest.raises(ValueError, match="0..255"):
        read_csv_images(path)


def test_bad_label_row_names_line(tmp_path):
    path = write_rows(tmp_path / "labels_train.csv", [[1], [12], [3]])
    with pytest.raises(ValueError, match=r"labels_train\.csv, line 2"):
        read_csv_labels(path)


def test_bad_one_hot_row_names_line(tmp_path):
    rows = np.eye(10, dtype=int)[[1, 2]]
    rows[1, 5] = 1
    path = write_rows(tmp_path / "labels_train.csv", rows)
    with pytest.raises(ValueError, match=r"line 2.*one-hot"):
        read_csv_labels(path)


def test_label_count_must_match(tmp_path):
    make_csv_dir(tmp_path)
    write_rows(tmp_path / "labels_test.csv", [[1], [2]])
    with pytest.raises(ValueError, match=r"4 images but .*labels_test\.csv has 2 labels"):
        load_csv_dir(tmp_path)


def test_missing_csv_file(tmp_path):
    make_csv_dir(tmp_path)
    (tmp_path / "labels_test.csv").unlink()
    with pytest.raises(FileNotFoundError, match="labels_test.csv"):
        load_csv_dir(tmp_path)
