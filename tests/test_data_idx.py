"""IDX reading and writing: the real files, every kind of corruption, and a fuzz test."""

import gzip
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barecnn.data import parse_idx_bytes, read_idx, write_idx
from barecnn.data._files import file_md5
from barecnn.data.idx import idx_bytes
from barecnn.data.registry import IDX_FILES, KNOWN_DATASETS

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dataset_dir(name):
    """Return $BARECNN_DATA/<name> (relative paths taken from the repo root), or skip."""
    root = os.environ.get("BARECNN_DATA")
    if not root:
        pytest.skip("BARECNN_DATA is not set")
    directory = (REPO_ROOT / root).resolve() / name
    if not all((directory / f).is_file() for f in IDX_FILES):
        pytest.skip(f"{name} files not found under {directory}")
    return directory


def small_labels():
    return np.arange(10, dtype=np.uint8)


def write_bytes(path, data):
    path.write_bytes(data)
    return path


def test_real_mnist_files_have_expected_shapes_and_labels():
    directory = shared_dataset_dir("mnist")
    train_images = read_idx(directory / "train-images-idx3-ubyte.gz")
    train_labels = read_idx(directory / "train-labels-idx1-ubyte.gz")
    test_labels = read_idx(directory / "t10k-labels-idx1-ubyte.gz")
    assert train_images.shape == (60000, 28, 28) and train_images.dtype == np.uint8
    assert train_labels.shape == (60000,) and test_labels.shape == (10000,)
    counts = np.bincount(train_labels, minlength=10)
    assert counts.sum() == 60000 and counts.min() > 5000
    assert train_images.max() == 255 and train_images[:, 0, 0].max() == 0
    assert train_images.flags.writeable


def test_shared_mnist_md5_matches_published_checksums():
    directory = shared_dataset_dir("mnist")
    for filename, md5 in KNOWN_DATASETS["mnist"].md5.items():
        assert file_md5(directory / filename) == md5, filename


@pytest.mark.parametrize("dtype", ["uint8", "int8", ">i2", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", [".idx", ".idx.gz"])
def test_write_then_read_round_trips(tmp_path, dtype, suffix):
    values = np.arange(24).reshape(2, 3, 4)
    array = (values if dtype == "uint8" else values - 5).astype(dtype)
    path = tmp_path / f"a{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=")
    np.testing.assert_array_equal(back, array)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp files left


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.int64))
    assert list(tmp_path.iterdir()) == []


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.gz"):
        read_idx(tmp_path / "nope.gz")


def test_truncated_gzip_names_file(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((20, 28, 28), np.uint8)))
    path = write_bytes(tmp_path / "cut.gz", data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.gz.*(corrupt|truncated)"):
        read_idx(path)


def test_corrupt_gzip_body_names_file(tmp_path):
    data = bytearray(gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8))))
    data[15] ^= 0xFF
    path = write_bytes(tmp_path / "flip.gz", bytes(data))
    with pytest.raises(ValueError, match=r"flip\.gz"):
        read_idx(path)


def test_gz_name_without_gzip_content(tmp_path):
    path = write_bytes(tmp_path / "plain.gz", b"this is not gzip at all")
    with pytest.raises(ValueError, match=r"plain\.gz.*not a gzip file"):
        read_idx(path)


def test_raw_idx_file_is_read_without_gzip(tmp_path):
    path = write_bytes(tmp_path / "labels-idx1-ubyte", idx_bytes(small_labels()))
    np.testing.assert_array_equal(read_idx(path), small_labels())


def test_wrong_magic(tmp_path):
    data = b"\x01\x02\x08\x01" + idx_bytes(small_labels())[4:]
    with pytest.raises(ValueError, match=r"bad\.idx.*wrong magic"):
        read_idx(write_bytes(tmp_path / "bad.idx", data))


def test_unknown_dtype_code(tmp_path):
    data = b"\x00\x00\x07\x01" + idx_bytes(small_labels())[4:]
    with pytest.raises(ValueError, match="dtype code 0x07"):
        read_idx(write_bytes(tmp_path / "bad.idx", data))


def test_payload_too_short(tmp_path):
    data = gzip.compress(idx_bytes(small_labels())[:-1])
    with pytest.raises(ValueError, match=r"short\.gz.*too short"):
        read_idx(write_bytes(tmp_path / "short.gz", data))


def test_payload_too_long(tmp_path):
    data = gzip.compress(idx_bytes(small_labels()) + b"\x00")
    with pytest.raises(ValueError, match=r"long\.gz.*too long"):
        read_idx(write_bytes(tmp_path / "long.gz", data))


def test_truncated_header(tmp_path):
    data = idx_bytes(np.zeros((2, 3, 4), np.uint8))[:9]
    with pytest.raises(ValueError, match="truncated header"):
        read_idx(write_bytes(tmp_path / "h.idx", data))


def test_parse_idx_bytes_big_endian_values():
    data = b"\x00\x00\x0b\x01\x00\x00\x00\x02" + b"\x01\x02\xff\xfe"
    np.testing.assert_array_equal(parse_idx_bytes(data), np.array([258, -2], dtype=np.int16))


_VALID_GZ = gzip.compress(idx_bytes(np.arange(60, dtype=np.uint8).reshape(3, 4, 5)), mtime=0)


def _read_from_temp(data, suffix):
    """Write ``data`` to a temporary file and read it; return the array or raise."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"fuzz{suffix}"
        path.write_bytes(data)
        return read_idx(path)


def _assert_only_value_error(data, suffix):
    try:
        result = _read_from_temp(data, suffix)
    except ValueError:
        return
    assert isinstance(result, np.ndarray)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=120), suffix=st.sampled_from(["", ".gz"]))
def test_fuzz_random_bytes_raise_only_value_error(data, suffix):
    _assert_only_value_error(data, suffix)


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(0, len(_VALID_GZ) - 1))
def test_fuzz_truncated_gzip_raises_value_error(cut):
    with pytest.raises(ValueError):
        _read_from_temp(_VALID_GZ[:cut], ".gz")


@settings(max_examples=150, deadline=None)
@given(position=st.integers(0, len(_VALID_GZ) - 1), mask=st.integers(1, 255))
def test_fuzz_flipped_bits_raise_only_value_error(position, mask):
    data = bytearray(_VALID_GZ)
    data[position] ^= mask
    _assert_only_value_error(bytes(data), ".gz")
