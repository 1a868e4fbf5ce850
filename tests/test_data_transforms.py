"""Augmentation: affine warps (shift, rotation, scale, slant, elastic bends) and stroke width."""

import numpy as np
import pytest

from barecnn.data import affine_warp, augment_digits, random_affine, random_shift_rotate, shift_rotate, stroke_width
from barecnn.data.transforms import square_extreme


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


# --------------------------------------------------------------------- affine warps and stroke width


def test_affine_warp_with_rotation_matrices_is_shift_rotate():
    images = digit_batch(4).astype(np.float64)
    angles = np.array([0.1, -0.2, 0.3, 0.0])
    shifts = np.array([[1, 0], [0, -2], [2, 2], [0, 0]])
    cos, sin = np.cos(angles), np.sin(angles)
    matrices = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    np.testing.assert_allclose(affine_warp(images, matrices, shifts), shift_rotate(images, angles, shifts), atol=1e-6)


def test_scaling_matrix_stretches_about_the_centre():
    """diag(1, 2) doubles every column offset from the centre (27 / 2 = 13.5): a vertical bar
    two columns off the centre lands four columns off it, twice as wide."""
    images = np.zeros((1, 28, 28), np.float64)
    images[0, 6:22, 15] = 1.0                        # 1.5 columns right of the centre line
    out = affine_warp(images, np.diag([1.0, 2.0])[None], np.zeros((1, 2), int))
    cols = out[0, 14]
    centre_of_ink = (cols @ np.arange(28)) / cols.sum()
    assert abs(centre_of_ink - (13.5 + 2 * 1.5)) < 1e-6
    assert np.isclose(out.sum(), 2 * images.sum(), rtol=0.02)


def test_shear_slants_columns_by_row():
    """[[1, 0], [k, 1]]: a pixel k rows below the centre moves k * shear columns right."""
    images = np.zeros((1, 28, 28), np.float64)
    images[0, 4:24, 13:15] = 1.0                     # a vertical bar through the centre
    out = affine_warp(images, np.array([[[1.0, 0.0], [0.5, 1.0]]]), np.zeros((1, 2), int))
    top, bottom = out[0, 6], out[0, 21]              # 7.5 rows above and below the centre
    centre = lambda row: (row @ np.arange(28)) / row.sum()  # noqa: E731
    assert abs(centre(top) - (13.5 - 0.5 * 7.5)) < 1e-6
    assert abs(centre(bottom) - (13.5 + 0.5 * 7.5)) < 1e-6


def test_random_affine_without_scale_or_shear_draws_as_shift_rotate():
    images = digit_batch()
    a = random_affine(images, np.random.default_rng(3), max_shift=2, max_degrees=10)
    b = random_shift_rotate(images, np.random.default_rng(3), max_shift=2, max_degrees=10)
    np.testing.assert_array_equal(a, b)
    c = random_affine(images, np.random.default_rng(3), max_shift=2, max_degrees=10, max_scale=0.2, max_shear=0.3)
    assert not np.array_equal(a, c)


def test_stroke_width_extremes_are_dilation_and_erosion():
    images = np.zeros((2, 9, 9), np.float32)
    images[:, 2:7, 4] = 200.0                        # a one-pixel-wide vertical line
    images[1, 2:7, 3:6] = 200.0                      # and a three-pixel-wide one
    thick = stroke_width(images[:1], np.array([1.0]))
    np.testing.assert_array_equal(thick[0, 1:8, 3:6], 200.0)   # grown by a pixel on every side
    assert thick[0].sum() == 200.0 * 7 * 3
    thin = stroke_width(images[1:], np.array([-1.0]))
    expected = np.zeros((9, 9), np.float32)
    expected[3:6, 4] = 200.0                         # the cross erosion leaves the core
    np.testing.assert_array_equal(thin[0], expected)


def test_stroke_width_blends_keeps_the_peak_and_zero_is_identity():
    images = digit_batch(3)
    np.testing.assert_array_equal(stroke_width(images, np.zeros(3)), images)
    half = stroke_width(images.astype(np.float64), np.array([0.5, -0.5, 0.25]))
    assert np.allclose(half.max(axis=(1, 2)), images.max(axis=(1, 2)))
    ink = (half > 0).sum(axis=(1, 2))
    before = (images > 0).sum(axis=(1, 2))
    assert ink[0] > before[0] and ink[1] <= before[1]


@pytest.mark.parametrize("amounts", [np.array([1.5]), np.array([0.1, 0.2])])
def test_stroke_width_rejects_bad_amounts(amounts):
    with pytest.raises(ValueError, match="one amount in \\[-1, 1\\] per image"):
        stroke_width(np.zeros((1, 28, 28), np.uint8), amounts)


def test_augment_digits_keeps_shape_dtype_and_is_repeatable():
    images = digit_batch(16)
    a = augment_digits(images, np.random.default_rng(7))
    b = augment_digits(images, np.random.default_rng(7))
    assert a.shape == images.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, images)


def test_constant_displacement_is_a_shift():
    """A displacement field of (-1, -2) everywhere samples each output pixel one row up and two
    columns left of itself: the image moves down 1 and right 2, like shift (1, 2)."""
    images = digit_batch(2).astype(np.float32)
    displacements = np.zeros((2, 2, 28, 28), np.float32)
    displacements[:, 0], displacements[:, 1] = -1.0, -2.0
    identity = np.tile(np.eye(2), (2, 1, 1))
    out = affine_warp(images, identity, np.zeros((2, 2), int), displacements=displacements)
    np.testing.assert_allclose(out, shift_rotate(images, np.zeros(2), np.array([[1, 2], [1, 2]])), atol=1e-5)


def test_elastic_displacements_are_smooth_and_scale_with_alpha():
    from barecnn.data.transforms import elastic_displacements

    fields = elastic_displacements(np.random.default_rng(0), 64, 28, 28, alpha=34.0, sigma=4.0)
    assert fields.shape == (64, 2, 28, 28)
    neighbour_step = np.abs(np.diff(fields, axis=-1)).mean()
    assert neighbour_step < 0.2 * np.abs(fields).mean()          # smooth: neighbours move together
    # Uniform noise (variance 1/3) blurred by a 2-D Gaussian keeps variance 1/(3 * 4 pi sigma^2)
    # away from the edges: a typical displacement of alpha * 0.041 = 1.4 px for Simard's 34 and 4.
    centre = fields[..., 8:20, 8:20]
    assert 0.8 * 34 * 0.0407 < centre.std() < 1.2 * 34 * 0.0407
    doubled = elastic_displacements(np.random.default_rng(0), 64, 28, 28, alpha=68.0, sigma=4.0)
    np.testing.assert_allclose(doubled, 2 * fields, rtol=1e-5)


def test_random_affine_elastic_bends_strokes_locally():
    """Elastic warps (Simard's alpha 34, sigma 4) move strokes by about a pixel or two: every image
    changes, while its ink's centre moves by about that (at most four pixels)."""
    images = digit_batch().astype(np.float64)
    out = random_affine(images, np.random.default_rng(0), max_shift=0, max_degrees=0, elastic=34.0)
    assert all(not np.allclose(a, b) for a, b in zip(out, images))
    grid = np.arange(28)

    def centre(x):
        return np.stack([x.sum(axis=2) @ grid, x.sum(axis=1) @ grid], -1) / x.sum(axis=(1, 2))[:, None]
    moved = np.abs(centre(out) - centre(images))
    assert np.median(moved) < 2.0 and moved.max() < 4.0


@pytest.mark.parametrize("size", [1, 3, 5, 13])
def test_square_extreme_is_the_minimum_and_maximum_over_a_square(size):
    """Three passes per axis (van Herk / Gil-Werman) give what the plain windows give, at every size,
    whether or not the blocks divide the padded length."""
    values = np.random.default_rng(size).random((9, 11))
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(values, size // 2, mode="edge"), (size, size))
    np.testing.assert_array_equal(square_extreme(values, size, np.minimum), windows.min(axis=(2, 3)))
    np.testing.assert_array_equal(square_extreme(values, size, np.maximum), windows.max(axis=(2, 3)))
