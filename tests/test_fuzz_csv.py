"""Fuzzing the CSV readers: arbitrary text or bytes in an images/labels CSV must end in a result
of the documented shape or a ValueError naming the file, never another exception."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barecnn.data import read_csv_images, read_csv_labels

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CSV_ALPHABET = st.sampled_from(list("0123456789,.-+eE \n\tnaif"))


def _read(reader, path, data: bytes, **kwargs):
    path.write_bytes(data)
    try:
        return reader(path, **kwargs)
    except ValueError as error:
        assert str(path) in str(error), error
        return None


@FUZZ
@given(text=st.text(CSV_ALPHABET, max_size=400))
def test_images_csv_from_csv_like_text(tmp_path, text):
    result = _read(read_csv_images, tmp_path / "images.csv", text.encode(), row_length=4)
    if result is not None:
        assert result.dtype == np.uint8 and result.ndim == 2 and result.shape[1] == 4


@FUZZ
@given(data=st.binary(max_size=400))
def test_images_csv_from_random_bytes(tmp_path, data):
    result = _read(read_csv_images, tmp_path / "images.csv", data, row_length=4)
    if result is not None:
        assert result.dtype == np.uint8 and result.shape[1] == 4


@FUZZ
@given(text=st.text(CSV_ALPHABET, max_size=200))
def test_labels_csv_from_csv_like_text(tmp_path, text):
    result = _read(read_csv_labels, tmp_path / "labels.csv", text.encode())
    if result is not None:
        assert result.dtype == np.int64 and result.ndim == 1
        assert result.size == 0 or (result.min() >= 0 and result.max() < 10)
