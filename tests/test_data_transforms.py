"""Random shift and rotation augmentation."""

import time

import numpy as np
import pytest

from barecnn.data import random_shift_rotate, shift_rotate


def digit_batch(n=8):
    rng = np.random.default_rng(0)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[:, 8:20, 12:16] = rng.integers(100, 256, size=(n, 12, 4))
    return images


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("with_channel", [False, True])
def test_shape_and_dtype_are_kept(dtype, with_channel):
    images = digit_batch().astype(dtype)
    if with_channel:
        images = images[:, None]
    out = random_shift_rotate(images, np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == images.dtype


def test_deterministic_given_rng_and_varies_with_seed():
    images = digit_batch()
    a = random_shift_rotate(images, np.random.default_rng(5))
    b = random_shift_rotate(images, np.random.default_rng(5))
    c = random_shift_rotate(images, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, images)


def test_zero_ranges_are_the_identity():
    images = digit_batch()
    out = random_shift_rotate(images, np.random.default_rng(0), max_shift=0, max_degrees=0)
    np.testing.assert_array_equal(out, images)


def test_integer_shift_moves_pixels_and_fills_with_zero():
    images = digit_batch(2).astype(np.float32)
    out = shift_rotate(images, np.zeros(2), np.array([[1, 2], [-3, 0]]))
    expected = np.zeros_like(images)
    expected[0, 1:, 2:] = images[0, :-1, :-2]
    expected[1, :-3, :] = images[1, 3:, :]
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_quarter_turn_matches_rot90():
    images = digit_batch(3)
    out = shift_rotate(images, np.full(3, np.pi / 2), np.zeros((3, 2), int))
    np.testing.assert_array_equal(out, np.rot90(images, axes=(1, 2)))


def test_small_rotation_keeps_most_of_the_ink():
    images = digit_batch().astype(np.float64)
    out = random_shift_rotate(images, np.random.default_rng(1), max_shift=2, max_degrees=10)
    ratio = out.sum(axis=(1, 2)) / images.sum(axis=(1, 2))
    assert np.all(np.abs(ratio - 1) < 0.05)


def test_rejects_unbatched_images():
    with pytest.raises(ValueError, match="expected images of shape"):
        random_shift_rotate(np.zeros((28, 28)), np.random.default_rng(0))


def test_fast_enough_for_a_batch_of_64():
    images = np.random.default_rng(0).integers(0, 256, (64, 1, 28, 28), dtype=np.uint8)
    rng = np.random.default_rng(0)
    random_shift_rotate(images, rng)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        random_shift_rotate(images, rng)
        best = min(best, time.perf_counter() - start)
    assert best < 0.025  # typically ~2 ms; loose for busy CI machines
