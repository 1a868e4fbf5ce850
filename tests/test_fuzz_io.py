"""Fuzzing the model-file loader: random bytes, truncations and bit flips of a real model file
must end in a ValueError naming the file (never another exception, never unpickling)."""
import io as _io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import barecnn
from barecnn import models

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "model.npz"
    barecnn.save(models.create("seed001", rng=np.random.default_rng(0)), path)
    return path.read_bytes()


def _load_raises_value_error(tmp_path, data: bytes):
    path = tmp_path / "fuzzed.npz"
    path.write_bytes(data)
    try:
        barecnn.load(path)
    except ValueError as error:
        assert str(path) in str(error)
        return
    # a flip that leaves the archive intact (e.g. inside padding) may still load: that is fine


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(tmp_path, data):
    _load_raises_value_error(tmp_path, data)


@FUZZ
@given(fraction=st.floats(0, 0.999))
def test_truncations(tmp_path, model_bytes, fraction):
    with pytest.raises(ValueError, match="fuzzed.npz"):
        path = tmp_path / "fuzzed.npz"
        path.write_bytes(model_bytes[:int(len(model_bytes) * fraction)])
        barecnn.load(path)


@FUZZ
@given(position=st.integers(0, 10**9), bit=st.integers(0, 7))
def test_bit_flips(tmp_path, model_bytes, position, bit):
    data = bytearray(model_bytes)
    data[position % len(data)] ^= 1 << bit
    _load_raises_value_error(tmp_path, bytes(data))
