"""Preprocess: modes, accepted shapes, errors and config round trip."""

import json

import numpy as np
import pytest

from barecnn.data import Preprocess


def raw_images(n=4, size=(28, 28)):
    return np.random.default_rng(0).integers(0, 256, (n, *size), dtype=np.uint8)


def test_center_mode_matches_tutorial():
    images = raw_images()
    out = Preprocess.for_mode("center")(images)
    assert out.shape == (4, 1, 28, 28) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], images / 255.0 - 0.5, atol=1e-6)


def test_scale_mode():
    images = raw_images()
    out = Preprocess.fit(images, "scale")(images)
    np.testing.assert_allclose(out[:, 0], images / 255.0, atol=1e-6)


def test_standardize_uses_training_statistics():
    images = raw_images(50)
    pre = Preprocess.fit(images, "standardize")
    assert pre.mean == pytest.approx(images.mean() / 255.0)
    assert pre.std == pytest.approx(images.std() / 255.0)
    out = pre(images, dtype=np.float64)
    assert out.dtype == np.float64
    assert out.mean() == pytest.approx(0.0, abs=1e-9) and out.std() == pytest.approx(1.0)


def test_fit_on_float_images_matches_uint8():
    images = raw_images(20)
    a = Preprocess.fit(images)
    b = Preprocess.fit(images.astype(np.float32)[:, None])
    assert a.mean == pytest.approx(b.mean) and a.std == pytest.approx(b.std)


@pytest.mark.parametrize("shape", [(28, 28), (3, 28, 28), (3, 1, 28, 28)])
def test_accepted_shapes(shape):
    out = Preprocess()(np.zeros(shape, dtype=np.uint8))
    assert out.ndim == 4 and out.shape[1:] == (1, 28, 28)
    assert out.shape[0] == (1 if len(shape) == 2 else 3)
    np.testing.assert_allclose(out, -0.5)


def test_wrong_shape_message():
    with pytest.raises(ValueError) as info:
        Preprocess()(np.zeros((5, 3, 32, 32), dtype=np.uint8))
    assert str(info.value) == (
        "expected images of shape (N, 28, 28) or (N, 1, 28, 28), got (5, 3, 32, 32)"
    )


@pytest.mark.parametrize("bad", [np.zeros((2, 28, 28), dtype=bool), np.full((2, 28, 28), "a")])
def test_non_numeric_dtype(bad):
    with pytest.raises(TypeError, match="expected uint8 or float images"):
        Preprocess()(bad)


def test_other_image_size():
    images = raw_images(3, size=(32, 24))
    pre = Preprocess.fit(images, "standardize")
    assert (pre.height, pre.width) == (32, 24)
    assert pre(images).shape == (3, 1, 32, 24)
    with pytest.raises(ValueError, match=r"\(N, 32, 24\)"):
        pre(raw_images(1))


@pytest.mark.parametrize("mode", ["scale", "center", "standardize"])
def test_config_round_trip_through_json(mode):
    images = raw_images(10)
    pre = Preprocess.fit(images, mode)
    config = json.loads(json.dumps(pre.to_config()))
    back = Preprocess.from_config(config)
    assert back == pre
    np.testing.assert_array_equal(back(images), pre(images))


def test_bad_configs():
    with pytest.raises(ValueError, match="unknown preprocessing mode"):
        Preprocess.from_config({"mode": "whiten"})
    with pytest.raises(ValueError, match="keys"):
        Preprocess.from_config({"mode": "center", "colour": 1})
    with pytest.raises(ValueError, match="mean and std"):
        Preprocess.from_config({"mode": "standardize"})
    with pytest.raises(ValueError, match="positive std"):
        Preprocess("standardize", 0.1, 0.0)
