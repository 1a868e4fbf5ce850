"""Data augmentation: random shifts and small rotations, vectorised over the batch."""

import numpy as np


def random_shift_rotate(images, rng, max_shift=2, max_degrees=10.0, fill=0):
    """Shift each image by a random whole number of pixels and rotate it slightly.

    Each image gets its own shift, drawn uniformly from
    ``-max_shift..max_shift`` along each axis, and its own angle, drawn
    uniformly from ``[-max_degrees, max_degrees]``, about the image centre.

    Parameters
    ----------
    images : np.ndarray, (N, H, W) or (N, C, H, W), uint8 or float
    rng : np.random.Generator
        The only source of randomness: the same generator state gives the same output.
    max_shift : int
        Largest shift in pixels.
    max_degrees : float
        Largest rotation in degrees.
    fill : float
        Value of pixels that come from outside the image (0 = MNIST background).

    Returns
    -------
    np.ndarray
        Same shape and dtype as ``images``.
    """
    n = len(images)
    angles = np.deg2rad(rng.uniform(-max_degrees, max_degrees, size=n))
    shifts = rng.integers(-max_shift, max_shift + 1, size=(n, 2))
    return shift_rotate(images, angles, shifts, fill)


def shift_rotate(images, angles, shifts, fill=0):
    """Rotate each image about its centre, then shift it, with bilinear interpolation.

    Parameters
    ----------
    images : np.ndarray, (N, H, W) or (N, C, H, W), uint8 or float
    angles : np.ndarray, (N,)
        Rotation of each image in radians (counter-clockwise as displayed).
    shifts : np.ndarray, (N, 2)
        (down, right) shift of each image in pixels.
    fill : float
        Value for pixels sampled from outside the image.

    Returns
    -------
    np.ndarray
        Same shape and dtype as ``images``; channels of one image move together.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"expected images of shape (N, H, W) or (N, C, H, W), got {images.shape}")
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise TypeError(f"expected integer or float images, got dtype {images.dtype}")
    n, height, width = images.shape[0], images.shape[-2], images.shape[-1]
    work_dtype = images.dtype if images.dtype.kind == "f" else np.dtype(np.float32)
    channels_last = np.moveaxis(images.reshape(n, -1, height, width), 1, -1).astype(work_dtype)
    src_y, src_x = _source_coordinates(height, width, np.asarray(angles), np.asarray(shifts))
    warped = _bilinear_sample(channels_last, src_y, src_x, fill)
    out = np.moveaxis(warped, -1, 1).reshape(images.shape)
    return _cast_like(out, images.dtype)


def _source_coordinates(height, width, angles, shifts):
    """Map every output pixel back to where it comes from in the input.

    Returns
    -------
    src_y, src_x : np.ndarray, (N, H, W) float
    """
    center_y, center_x = (height - 1) / 2.0, (width - 1) / 2.0
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    dy = grid_y[None] - center_y - shifts[:, 0, None, None]
    dx = grid_x[None] - center_x - shifts[:, 1, None, None]
    cos = np.cos(angles).astype(np.float32)[:, None, None]
    sin = np.sin(angles).astype(np.float32)[:, None, None]
    # With y pointing down, a counter-clockwise turn by +angle maps an input offset
    # (dy, dx) to (cos dy - sin dx, sin dy + cos dx); sampling needs its inverse.
    src_y = cos * dy + sin * dx + center_y
    src_x = -sin * dy + cos * dx + center_x
    return src_y, src_x


def _bilinear_sample(images, src_y, src_x, fill):
    """Sample ``images`` at fractional positions, with ``fill`` outside.

    Parameters
    ----------
    images : np.ndarray, (N, H, W, C) float
    src_y, src_x : np.ndarray, (N, H, W)

    Returns
    -------
    np.ndarray, (N, H, W, C)
    """
    n, height, width, channels = images.shape
    # A one-pixel border of ``fill``: clipping any far-away index into it reads ``fill``.
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=fill)
    flat = padded.reshape(-1, channels)
    row0 = np.floor(src_y)
    col0 = np.floor(src_x)
    weight_y = (src_y - row0)[..., None].astype(images.dtype)
    weight_x = (src_x - col0)[..., None].astype(images.dtype)
    row0 = row0.astype(np.intp) + 1
    col0 = col0.astype(np.intp) + 1
    image_offset = (np.arange(n) * (height + 2) * (width + 2))[:, None, None]
    top_row = image_offset + np.clip(row0, 0, height + 1) * (width + 2)
    bottom_row = image_offset + np.clip(row0 + 1, 0, height + 1) * (width + 2)
    left_col = np.clip(col0, 0, width + 1)
    right_col = np.clip(col0 + 1, 0, width + 1)
    top = flat.take(top_row + left_col, axis=0) * (1 - weight_x)
    top += flat.take(top_row + right_col, axis=0) * weight_x
    bottom = flat.take(bottom_row + left_col, axis=0) * (1 - weight_x)
    bottom += flat.take(bottom_row + right_col, axis=0) * weight_x
    return top * (1 - weight_y) + bottom * weight_y


def _cast_like(values, dtype):
    """Round and clip float ``values`` into an integer ``dtype``; pass floats through."""
    if dtype.kind == "f":
        return values.astype(dtype, copy=False)
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)
