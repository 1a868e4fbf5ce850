"""Prepare a user's own photo or scan of a digit the way MNIST digits were made.

MNIST digits are bright ink on a 0 background, scaled (keeping aspect ratio) to
fit a 20x20 box with anti-aliasing, and placed in a 28x28 field so that their
centre of mass lies at the field's centre. ``load_digit_image`` repeats those
steps for any image Pillow can read, and widens strokes much thinner than
MNIST's (its writers used thick pens; a ballpoint line on a large photo shrinks
to a hairline in the 20x20 box). What a photo shows besides the digit (a
page's printed lines, a form's box, the table at the frame's edge or round a
page smaller than half the frame, a shadow, specks of grain round a small
digit) is taken out first (``_clear_the_frame``, ``_shadow``, ``clutter.py``),
and paper the camera saturated is told from ink (``_fit_through_saturation``).
"""

import warnings
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
from PIL import Image, ImageOps

from .clutter import bounding_box, coarse_factor, remove_edge_clutter, remove_ruled_lines, remove_specks
from .transforms import grey_dilate, square_extreme

MAX_PIXELS = 40_000_000
# Phones' photo formats that Pillow cannot decode without a plug-in (iPhones save HEIC by default).
UNREADABLE_PHOTO_FORMATS = (".heic", ".heif")
FIELD_SIZE = 28
BOX_SIZE = 20
# Real MNIST digits have their centre of mass at (14.0, 14.0) in pixel-index
# coordinates (mean over the test set: 13.99, 14.01).
CENTER_OF_MASS = 14.0
MIN_CONTRAST = 16.0
# A band along an edge (a box cut along its lines, the table beyond the page): each of its lines is at
# least FRAME_SHARE band, and it is at most MAX_BAND of the image deep ...
FRAME_SHARE = 0.9
MAX_BAND = 0.2
# ... in an image of which at least MIN_PAPER is paper (a thick digit cropped to its ink is half ink).
MIN_PAPER = 0.6
# A light part of a light-ink image is a page smaller than half the frame (on a darker table) when at
# least PAGE_EDGE of the lining of its convex hull is light (its edges are the hull's), its hull fills
# at least PAGE_SQUARENESS of the smallest rectangle round it (a sheet is a rectangle, cut by the frame
# or not; a 0's outline is an ellipse, pi / 4), and at least PAGE_INK of the hull is dark: the digit,
# in strokes at most PAGE_STROKE of its size wide (the hole of a light square 0: 0.26-0.43; a page's
# digit: 0.05-0.23 on the `page` handwriting set).
PAGE_EDGE = 0.98
PAGE_SQUARENESS = 0.9
PAGE_INK = 0.02
PAGE_STROKE = 0.25
# Beyond a turned page, the table is painted over only when at most this share of the page's lining,
# and of the frame left unpainted, is ink.
STRAY_INK = 0.01
# Ink fainter than NOISE_LEVEL of the contrast, or than NOISE_SIGMAS standard deviations of the paper's
# noise, is noise ...
NOISE_LEVEL = 0.1
NOISE_SIGMAS = 4.0
# ... but the threshold is never more than half the ink's contrast: a digit cropped to a few pixels'
# width has too little paper to measure its noise on, and what passes for paper is half ink.
MAX_NOISE_LEVEL = 0.5
# A paper plane is fitted to at most about this many pixels (evenly spread): a 12 MP photo's border
# has 800,000, and fitting them all took half of its preparation time.
PLANE_SAMPLE = 5_000
# Where the camera saturated the paper, the plane is refitted through the saturation (at most
# MAX_REFITS times, until the pixels it rests on repeat), and that fit kept when it moves
# the paper by more than DEPARTURE of the contrast, takes UNSATURATED_PAPER of the unsaturated pixels
# for paper, they spread about it by at most PAPER_GRAIN grey levels, and it rises across them by
# RAMP_SIGMAS times that spread (``_fit_through_saturation``). The plane the ink's side is read from
# is tilted only when its paper spreads about it by at most PAPER_GRAIN too (``_level_plane``).
MAX_REFITS = 50
DEPARTURE = 0.5 * NOISE_LEVEL
UNSATURATED_PAPER = 0.9
PAPER_GRAIN = 10.0
RAMP_SIGMAS = 3.0
# A shadow is what is left after an opening over SHADOW_REACH of the image's shorter side, and at least
# SHADOW_STROKES strokes' widths (on a copy at most SHADOW_DETECT pixels across); it is taken out when
# at least SHADOW_AREA of the image lies SHADOW_LEVEL of the ink's contrast or more under it.
SHADOW_REACH = 0.15
SHADOW_STROKES = 2.0
SHADOW_DETECT = 128
SHADOW_AREA = 0.05
SHADOW_LEVEL = 0.15
# Strokes thinner than this, in pixels of the 28x28 result, are widened to it: about MNIST's 10th
# percentile. MNIST's digits upscaled 4x and measured by `_measure_stroke_width` the way a user's
# image is: median 2.6 px, 10th percentile 1.9, 90th 3.5.
MIN_STROKE_WIDTH = 2.0
# Thin strokes are widened at WORK_SCALE times the final resolution.
WORK_SCALE = 4


def load_digit_image(source, invert=None, max_pixels=MAX_PIXELS):
    """Load an image of one digit and turn it into an MNIST-style 28x28 image.

    Steps: convert to 8-bit grayscale (transparent areas count as paper:
    white, or black under light strokes); cut away bands along the edges (a
    box cut along its lines, the table beyond the page) and paint over the
    table beyond a page turned askew or smaller than half the frame (read
    from the page alone); make the ink bright on a 0 background,
    inverting dark-on-light images; subtract the paper (a plane fitted to the
    border, held where the camera saturated, and a shadow across it) and drop
    faint noise; take out the printed lines of ruled or squared paper, clutter
    at the frame's edge (``clutter``: part of a neighbouring digit) and specks
    away from the digit; crop to the ink, take out a box drawn round the
    digit, and crop again; widen strokes that would end
    up thinner than ``MIN_STROKE_WIDTH`` pixels (a thin pen photographed
    large); scale to fit 20x20 keeping the aspect ratio; stretch the
    brightest ink to 255; paste into 28x28 with the centre of mass at
    (14, 14).

    Parameters
    ----------
    source : str, Path, PIL.Image.Image or np.ndarray
        A file (PNG, JPEG, BMP, ... anything Pillow reads), an image, or an
        array of shape (H, W), (H, W, 3) or (H, W, 4): uint8, uint16, bool,
        or float (0..1 if its maximum is at most 1, else 0..255).
    invert : bool, optional
        True for dark ink on a light background, False for light on dark
        (then the frame's bands are read that way too, and no light page on a
        dark table is looked for); None decides from the side on which the
        image departs farthest from the paper at its border.
    max_pixels : int
        Refuse images with more pixels than this, before decoding them.

    Returns
    -------
    np.ndarray, (28, 28) uint8
        0 = background, 255 = the brightest ink.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    ValueError
        If the file is not an image Pillow can read, is larger than
        ``max_pixels``, or shows no ink.
    """
    image = _open_image(source, max_pixels)
    ink = _remove_box(*_ink_map(_clear_the_frame(_grayscale(image), invert), invert))
    digit = _fit_in_box(_widen_thin_strokes(ink, BOX_SIZE), BOX_SIZE)
    return _center_by_mass(digit, FIELD_SIZE, CENTER_OF_MASS)


def _open_image(source, max_pixels):
    """Return ``source`` as a decoded PIL image, checking its size before decoding."""
    if isinstance(source, Image.Image):
        _check_size(source.size, max_pixels, "image")
        return source
    if isinstance(source, np.ndarray):
        return _image_from_array(source, max_pixels)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_size(image.size, max_pixels, str(path))
                image.load()
                return ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ValueError(f"{path}: image too large to decode safely ({error})") from error
    except (OSError, SyntaxError) as error:
        hint = "; save it as JPEG or PNG first" if path.suffix.lower() in UNREADABLE_PHOTO_FORMATS else ""
        raise ValueError(f"{path} is not an image Pillow can read: {error}{hint}") from error


def _check_size(size, max_pixels, name):
    """Raise ValueError if a (width, height) image has more than ``max_pixels`` pixels."""
    width, height = size
    if width * height > max_pixels:
        raise ValueError(
            f"{name}: {width}x{height} = {width * height:,} pixels exceeds the limit of "
            f"{max_pixels:,} pixels"
        )


def _image_from_array(array, max_pixels):
    """Turn an (H, W), (H, W, 3) or (H, W, 4) array into an 8-bit PIL image."""
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))):
        raise ValueError(
            f"expected an image array of shape (H, W), (H, W, 3) or (H, W, 4), got {array.shape}"
        )
    _check_size((array.shape[1], array.shape[0]), max_pixels, "image array")
    if array.dtype == np.bool_:
        values = array.astype(np.float64) * 255.0
    elif array.dtype.kind in "ui":
        values = array.astype(np.float64)
        if values.max(initial=0) > 255:
            values *= 255.0 / 65535.0
    elif array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ValueError("image array contains NaN or infinite values")
        values = array.astype(np.float64)
        if values.max(initial=0) <= 1.0:
            values *= 255.0
    else:
        raise TypeError(f"expected a numeric image array, got dtype {array.dtype}")
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))


def _grayscale(image):
    """Return the image as a float64 (H, W) array of gray levels 0..255.

    Transparent pixels are composited onto paper (``_composite_on_paper``);
    16-bit images are scaled down to 0..255.
    """
    mode = image.mode
    if mode.startswith("I;16"):
        return np.asarray(image, dtype=np.float64) / 257.0
    if mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if values.max(initial=0) > 255:
            return values / 257.0
        return values * 255.0 if mode == "F" and values.max(initial=0) <= 1.0 else values
    if "A" in mode or "a" in mode or "transparency" in image.info:
        return _composite_on_paper(image.convert("RGBA"))
    if mode not in ("L", "1", "P", "RGB"):
        image = image.convert("RGB")
    return np.asarray(image.convert("L"), dtype=np.float64)


def _composite_on_paper(rgba):
    """Flatten an RGBA image onto paper: white, or black when the strokes are light ones (a digit
    drawn in white on a transparent canvas would vanish on white). Light means they would show
    less than half the contrast on white that they show on black.

    Returns
    -------
    np.ndarray, (H, W) float64 gray levels 0..255
    """
    def flatten(level):
        paper = Image.new("RGBA", rgba.size, (level, level, level, 255))
        return np.asarray(Image.alpha_composite(paper, rgba).convert("L"))

    on_white, on_black = flatten(255), flatten(0)
    light_strokes = 2 * (255 - int(on_white.min())) < int(on_black.max())
    return (on_black if light_strokes else on_white).astype(np.float64)


def _clear_the_frame(gray, invert=None):
    """Take out what lies beyond the digit's paper along the frame of an (H, W) image: cut the
    bands along its edges (``_trim_edge_bands``), then paint over the table beyond a page turned in
    the photo (``_paint_over_table``). Both read the paper once (``_read_paper``), on the page alone
    when the page is smaller than half the frame (``_small_page``). When ``invert`` is False (the
    caller says the ink is light) the paper is read so, and only bands are cut: no light page lies
    on a darker table then. (``invert=True`` pins nothing here: the digit's ink is dark, but a small
    page on a table is itself light on dark.)

    Returns
    -------
    np.ndarray, (h, w) float: ``gray`` itself, a part of it, or a copy with the table painted over.
    """
    if invert is False:
        return _trim_edge_bands(gray, _read_paper(gray, dark_ink=False))
    reading = _read_paper(gray)
    page = _small_page(reading)
    if page is not None:
        reading = _read_paper(gray, page)
    trimmed = _trim_edge_bands(gray, reading)
    return _paint_over_table(trimmed, reading if trimmed is gray else None)


def _trim_edge_bands(gray, reading=None):
    """Cut away the bands along the edges of an (H, W) image: a form's box cut along its lines (all
    four sides), the table beyond the page (one side, or two at a page's corner).

    They are cut before anything else: the border is where the paper and the ink's polarity are
    read, and a band along two sides is half of it. A row or column is band when at least
    ``FRAME_SHARE`` of it lies more than a quarter of the ink's contrast (the image's median to its
    extreme) beyond the paper, a plane fitted to the whole image (``_read_paper``; on a photo lit
    from one side, a band on the bright side may be no darker than the median). A side's band is
    the run of such lines from its edge inwards, at most ``MAX_BAND`` of the image deep. Bands on
    all four sides are a box, and are cut. Otherwise a side's band is cut when it stands apart from
    the ink inside it or the opposite side is clear of ink (one of the first two lines inside the
    band, or inside the opposite side's own band, has no ink between the neighbouring sides' bands;
    the first may be a band's blurred edge), and only if some side without a band is clear as
    well: a digit cropped to its ink touches every edge (the straight sides of a tall 0 run from
    edge to edge; a 7's bar does too, but its stem joins it and reaches the opposite side). Nothing
    is cut when nothing would be left inside (a square 0 is all band), nor in an image less than
    ``MIN_PAPER`` paper (a thick digit filling its crop: against a plane fitted to its ink, the pale
    edges round its strokes would read as band).

    ``reading`` is ``_read_paper(gray)``, when it has been read already.

    Returns
    -------
    np.ndarray, (h, w) float: ``gray`` itself, or the part inside the bands.
    """
    reading = _read_paper(gray) if reading is None else reading
    if reading is None or np.mean(reading.ink) > 1.0 - MIN_PAPER:
        return gray          # not mostly paper: the polarity is in doubt (a thick digit filling its crop)
    height, width = gray.shape
    top, right, bottom, left = _bands_to_cut(reading.ink_at, gray.shape)
    within = np.ix_((reading.rows >= top) & (reading.rows < height - bottom),
                    (reading.cols >= left) & (reading.cols < width - right))
    if not any((top, right, bottom, left)) or not reading.ink[within].any():
        return gray          # no band, or nothing inside: the bands are the digit (a square 0)
    return gray[top:height - bottom, left:width - right]


def _bands_to_cut(ink_at, shape):
    """How many lines to cut from each side (top, right, bottom, left) of an image of ``shape``,
    ``ink_at(rows, cols)`` telling ink from paper (see ``_trim_edge_bands``)."""
    depths = [_band_depth(ink_at, shape, side) for side in range(4)]
    if all(depths):
        return depths                                     # a box cut along its lines
    clear = [_clear_inside(ink_at, shape, depths, side) for side in range(4)]
    if not any(clear[side] for side in range(4) if not depths[side]):
        return [0, 0, 0, 0]                               # ink on every edge: a tightly cropped digit
    return [d if d and (clear[side] or clear[(side + 2) % 4]) else 0 for side, d in enumerate(depths)]


def _edge_line(ink_at, shape, side, k):
    """Which pixels of the k-th line in from a side (0 top, 1 right, 2 bottom, 3 left) of an image
    of ``shape`` are ink; rows run left to right, columns top to bottom."""
    height, width = shape
    if side in (0, 2):
        return ink_at(k if side == 0 else height - 1 - k, np.arange(width))
    return ink_at(np.arange(height), width - 1 - k if side == 1 else k)


def _band_depth(ink_at, shape, side):
    """The number of lines from a side's edge that are each at least ``FRAME_SHARE`` ink; 0 when
    none is, or when the band would be deeper than ``MAX_BAND`` of the image."""
    for k in range(int(MAX_BAND * min(shape)) + 1):
        if np.mean(_edge_line(ink_at, shape, side, k)) < FRAME_SHARE:
            return k
    return 0


def _clear_inside(ink_at, shape, depths, side):
    """Whether one of the first two lines inside a side's band (the first may be its blurred edge)
    is free of ink between the neighbouring sides' bands (and their blurred edges)."""
    first, last = (3, 1) if side in (0, 2) else (0, 2)          # the sides a row / column runs from, to
    start, stop = (depths[first] and depths[first] + 1), (depths[last] and depths[last] + 1)
    lines = shape[0] if side in (0, 2) else shape[1]
    return any(not _edge_line(ink_at, shape, side, k)[start:-stop or None].any()
               for k in (depths[side], depths[side] + 1) if k < lines)


def _paint_over_table(gray, reading=None):
    """Paint the table beyond a page turned in the photo over with the page's paper.

    A page photographed askew on a table leaves the table in wedges along the frame (the bands
    ``_trim_edge_bands`` cuts are the square case); left in, the table is most of the border, where
    the paper and the ink's polarity are read. A page is convex: it is the convex hull of the paper
    (the sample of ``_read_paper`` less its ink and single specks), and what lies beyond it is
    table. That is painted with the paper's level, and with it one sample of the page's edge (its
    blur), when the ink is dark (the paper is the light level most of the image shows), when at
    most ``STRAY_INK`` of the page's lining (two samples inside its outline, along the table) and of
    the frame left unpainted is ink, and when ink is left: a digit cropped to its ink has ink on the
    frame (it touches every edge), a 1 cut along its stroke on the lining, and a square 0 has none
    left inside. ``reading`` is ``_read_paper(gray)``, when it has been read already.

    Returns
    -------
    np.ndarray, (H, W) float: ``gray`` itself, or a copy with the table painted over.
    """
    reading = _read_paper(gray) if reading is None else reading
    if reading is None or not reading.dark_ink:
        return gray          # light ink: a page does not lie on a darker table
    ink, frame = reading.ink, _border_mask(reading.ink.shape)
    if not ink[frame].any():
        return gray          # no table at the frame
    paper = ~ink & ~_isolated(~ink)
    beyond = ~_inside_convex_hull(paper, reading.rows, reading.cols)
    if not beyond.any():
        return gray
    lining = grey_dilate(beyond, 2) & ~beyond
    painted = grey_dilate(beyond, 1)
    left = ink & ~painted
    if ink[lining].sum() > STRAY_INK * lining.sum() or left[frame].sum() > STRAY_INK * frame.sum():
        return gray          # the digit on the page's edge, or cropped to its ink
    if not left.any():
        return gray          # nothing left: the digit is all there is (a square 0)
    nearest_row = np.searchsorted((reading.rows[:-1] + reading.rows[1:]) / 2.0, np.arange(gray.shape[0]))
    nearest_col = np.searchsorted((reading.cols[:-1] + reading.cols[1:]) / 2.0, np.arange(gray.shape[1]))
    at_rows, at_cols = np.nonzero(painted[nearest_row][:, nearest_col])
    out = gray.copy()
    out[at_rows, at_cols] = reading.paper_at(at_rows, at_cols)
    return out


def _sample_grid(shape):
    """Rows and columns of an evenly spread grid of about ``PLANE_SAMPLE`` pixels of an image of
    ``shape`` (a plane needs no more)."""
    step = max(1, round(np.sqrt(shape[0] * shape[1] / PLANE_SAMPLE)))
    return np.arange(0, shape[0], step), np.arange(0, shape[1], step)


def _inside_convex_hull(mask, grid_rows, grid_cols):
    """Which points of a grid (an (h, w) mask at pixel rows ``grid_rows`` and columns ``grid_cols``)
    lie inside (or on) the convex hull of its True points; none when they are fewer than three, or
    in a line."""
    return _inside(_grid_hull(mask, grid_rows, grid_cols), grid_rows, grid_cols)


def _grid_hull(mask, grid_rows, grid_cols):
    """The vertices (k, 2), in pixels, counter-clockwise, of the convex hull of the True points of a
    grid (an (h, w) mask at pixel rows ``grid_rows`` and columns ``grid_cols``): the hull of each
    grid row's first and last True point (``_convex_hull``)."""
    rows = np.flatnonzero(mask.any(axis=1))
    firsts = mask[rows].argmax(axis=1)
    lasts = mask.shape[1] - 1 - mask[rows, ::-1].argmax(axis=1)
    return _convex_hull(np.column_stack([np.r_[grid_rows[rows], grid_rows[rows]],
                                         np.r_[grid_cols[firsts], grid_cols[lasts]]]))


def _inside(hull, grid_rows, grid_cols):
    """Which points of the grid (``grid_rows``, ``grid_cols``) lie inside (or on) the convex polygon
    ``hull`` (counter-clockwise vertices): (h, w) bool, none when it has fewer than three."""
    if len(hull) < 3:
        return np.zeros((grid_rows.size, grid_cols.size), dtype=bool)
    points = np.stack(np.meshgrid(grid_rows, grid_cols, indexing="ij"), axis=-1).reshape(-1, 2)
    start, edge = hull, np.roll(hull, -1, axis=0) - hull
    # Counter-clockwise: inside is left of every edge (cross product >= 0).
    cross = (edge[:, None, 0] * (points[None, :, 1] - start[:, None, 1])
             - edge[:, None, 1] * (points[None, :, 0] - start[:, None, 0]))
    return (cross >= 0).all(axis=0).reshape(grid_rows.size, grid_cols.size)


def _convex_hull(points):
    """The vertices of the convex hull of (n, 2) integer points, counter-clockwise (Andrew's
    monotone chain); fewer than three when the points are fewer or in a line."""
    points = sorted(set(map(tuple, points.tolist())))
    if len(points) < 3:
        return np.array(points)

    def chain(ordered):
        kept = []
        for point in ordered:
            while len(kept) >= 2 and _turn(kept[-2], kept[-1], point) <= 0:
                kept.pop()
            kept.append(point)
        return kept[:-1]

    return np.array(chain(points) + chain(reversed(points)))


def _turn(a, b, c):
    """The cross product (b - a) x (c - a): positive when a, b, c turn counter-clockwise."""
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


class _PaperReading(NamedTuple):
    """Ink told from paper in an image (``_read_paper``)."""
    rows: np.ndarray          # (h,) the pixel rows of an evenly spread sample grid ...
    cols: np.ndarray          # (w,) ... and its columns
    ink: np.ndarray           # (h, w) bool: which samples are ink
    dark_ink: bool            # whether the ink is darker than the paper
    ink_at: Callable          # (rows, cols) -> bool array: whether the pixels there are ink
    paper_at: Callable        # (rows, cols) -> float array: the paper's grey level there


def _read_paper(gray, page=None, dark_ink=None):
    """Tell ink from paper in an (H, W) image most of which is paper, on a grid of about
    ``PLANE_SAMPLE`` of its pixels: the ink lies on the side the image departs to farthest from
    them (``_departures``), the paper is a plane fitted to them, and a pixel is ink when it lies
    more than a quarter of the ink's contrast (the sample's median to the image's extreme) beyond
    it, on the ink's side.

    ``page``, an (h, w) bool mask of the sample grid, says where the paper is when it is not most
    of the image (``_small_page``): the median and the plane are then the page's. ``dark_ink``, when
    given, says on which side the ink lies instead.

    Returns
    -------
    _PaperReading, or None for a flat image.
    """
    grid_rows, grid_cols = _sample_grid(gray.shape)
    rows, cols = np.meshgrid(grid_rows, grid_cols, indexing="ij")
    sample = gray[rows, cols]
    on_paper = np.ones(sample.shape, dtype=bool) if page is None else page
    if dark_ink is None:
        below, above = _departures(gray, rows[on_paper], cols[on_paper])
        if below == above:
            return None
        dark_ink = below > above
    towards_ink = -1.0 if dark_ink else 1.0
    median = np.median(sample[on_paper])
    darkest, brightest = gray.min(), gray.max()
    well_off = max(brightest - median, median - darkest) / 4.0
    # The paper saturates at white (255) under dark ink, at black (0) under light ink.
    clip_level = -255.0 if towards_ink < 0 else 0.0
    plane, _ = _fit_plane(towards_ink * sample[on_paper], rows[on_paper], cols[on_paper], gray.shape, clip_level)

    def ink_at(at_rows, at_cols):
        return towards_ink * gray[at_rows, at_cols] - plane(at_rows, at_cols) > well_off

    def paper_at(at_rows, at_cols):
        return towards_ink * plane(at_rows, at_cols)

    return _PaperReading(grid_rows, grid_cols, ink_at(rows, cols), bool(towards_ink < 0), ink_at, paper_at)


def _departures(gray, fit_rows, fit_cols):
    """How far an (H, W) image departs from its paper, below it and above it: the paper is a plane
    fitted to the pixels at (``fit_rows``, ``fit_cols``) whichever side the ink lies on
    (``_level_plane``), and the departures are those of the image's darkest and brightest pixels,
    taken block by block on the ``_sample_grid`` (a thin stroke passes between the samples, never
    through a block unseen; the plane is read at each block's first pixel).

    The ink lies on the farther side. Measured from the median instead, as it once was, faint ink
    under uneven light read as light: a pencil's strokes 20-40 grey levels under the paper, on a
    page lit 40 levels brighter at one side than at the other, lie nearer the median than the
    paper's bright side does, but far from the plane.

    Returns
    -------
    (below, above) : two floats, how far the darkest block's pixel lies under the plane and the
    brightest's over it.
    """
    grid_rows, grid_cols = _sample_grid(gray.shape)
    plane = _level_plane(gray[fit_rows, fit_cols], fit_rows, fit_cols, gray.shape)
    at_blocks = plane(grid_rows[:, None], grid_cols[None, :])
    darkest = _block_extremes(gray, grid_rows, grid_cols, np.minimum)
    brightest = _block_extremes(gray, grid_rows, grid_cols, np.maximum)
    return float(np.max(at_blocks - darkest)), float(np.max(brightest - at_blocks))


def _block_extremes(gray, grid_rows, grid_cols, extreme):
    """``extreme`` (np.minimum, np.maximum) of each block of an (H, W) image that starts at a
    point of the ``_sample_grid`` (``grid_rows``, ``grid_cols``) and runs to the next: (h, w). The
    rows are reduced a whole block at a time through a reshaped view (``reduceat`` over the full
    image takes three times as long), the last partial block apart."""
    step = grid_rows[1] - grid_rows[0] if grid_rows.size > 1 else gray.shape[0]
    whole = gray.shape[0] - gray.shape[0] % step
    down = extreme.reduce(gray[:whole].reshape(-1, step, gray.shape[1]), axis=1)
    if whole < gray.shape[0]:
        down = np.vstack([down, extreme.reduce(gray[whole:], axis=0)])
    return extreme.reduceat(down, grid_cols, axis=1)


def _level_plane(values, rows, cols, shape):
    """The plane ``a + b*row + c*col`` through the paper's pixels among ``values`` at (``rows``,
    ``cols``) of an image of ``shape``, ink on either side of it: fitted to the half of the values
    nearest their median (the paper's level, as long as the paper is most of the pixels), then
    refitted three times to the values at most 3 robust standard deviations (1.4826 times the
    median absolute residual, at least one grey level) from the previous fit, above or below.
    The paper is one level, the median, unless the pixels the plane rests on spread about it by
    at most ``PAPER_GRAIN`` grey levels: a camera's grain about a page's light, not ink and paper
    about a plane tilted between them (the border of a digit cropped to its ink, strokes along one
    side). Returns the paper's level as a function of (rows, cols).

    The median residual keeps at least half of the pixels, and the fit on the level it started
    from: least trimmed squares, refitted to the half nearest the fit each time, would wander to
    the most uniform half instead (a tightly cropped digit's solid strokes, under half of the
    border, rather than its grainy paper)."""
    design = _design(rows, cols, shape)
    size = np.abs(values - np.median(values))
    paper = size <= np.median(size)
    for _ in range(3):
        size = np.abs(values - design @ _least_squares(design[paper], values[paper]))
        paper = size <= 3.0 * max(1.4826 * np.median(size), 1.0)
    coefficients = _least_squares(design[paper], values[paper])
    if _robust_sigma(values[paper] - design[paper] @ coefficients) > PAPER_GRAIN:
        coefficients = (np.median(values), 0.0, 0.0)
    return _Paper(tuple(coefficients), shape, -np.inf).plane


def _small_page(reading):
    """The page, when an image read as light ink on dark (``reading``, ``_read_paper``) is a light
    page smaller than half the frame on a darker table: then the table is the median level, and the
    page read as light ink, the digit as paper.

    The light samples (less single specks) are a page when their convex hull is the page's outline:
    at least ``PAGE_EDGE`` of its lining (the hull's samples next to what lies beyond it, or on the
    frame) is light; a rectangle's, cut by the frame or not: the hull fills at least
    ``PAGE_SQUARENESS`` of the smallest rectangle round it, within the frame; and holds the
    digit: at least ``PAGE_INK`` of it is dark, in strokes (``_measure_stroke_width``) at most
    ``PAGE_STROKE`` of the dark part's size wide. A light digit on dark fails one of these: a 7's or a 4's hull reaches
    over the dark, a 0's outline is an ellipse, a 1 holds no dark, and the hole of a square 0 is one
    wide patch, not strokes.

    Returns
    -------
    np.ndarray, (h, w) bool: the page's light samples (its paper), or None.
    """
    if reading is None or reading.dark_ink:
        return None
    light = reading.ink & ~_isolated(reading.ink)
    outline = _grid_hull(light, reading.rows, reading.cols)
    hull = _inside(outline, reading.rows, reading.cols)
    if not hull.any():
        return None
    lining = hull & grey_dilate(~np.pad(hull, 1), 1)[1:-1, 1:-1]
    dark = hull & ~light
    if np.mean(light[lining]) < PAGE_EDGE or dark.sum() < PAGE_INK * hull.sum():
        return None
    if _squareness(outline, (reading.rows[-1], reading.cols[-1])) < PAGE_SQUARENESS:
        return None
    rows, cols = bounding_box(dark)
    if _measure_stroke_width(dark) > PAGE_STROKE * max(rows.stop - rows.start, cols.stop - cols.start):
        return None
    return light


def _squareness(hull, frame=None):
    """The area of a convex polygon (``hull``: (k, 2) vertices, counter-clockwise) over that of the
    smallest rectangle round it (one of its sides lies along a side of the polygon: rotating
    calipers, Freeman and Shapira); 0 for fewer than three vertices. With ``frame`` (the last row
    and column of the image), only the rectangle's part inside the image counts: a page the frame
    cuts is a rectangle cut by it, and the part beyond the frame is not missing from it."""
    if len(hull) < 3:
        return 0.0
    hull = hull.astype(float)
    edges = np.roll(hull, -1, axis=0) - hull
    along = edges / np.hypot(edges[:, 0], edges[:, 1])[:, None]
    across = np.column_stack([-along[:, 1], along[:, 0]])
    lengths, widths = along @ hull.T, across @ hull.T          # (k, k): each vertex along, across each side
    smallest = np.inf
    for side in range(len(hull)):
        (a0, a1), (c0, c1) = (lengths[side].min(), lengths[side].max()), (widths[side].min(), widths[side].max())
        # The rectangle's corners, counter-clockwise, in (along, across) and then in pixels.
        rectangle = np.array([[a0, c0], [a1, c0], [a1, c1], [a0, c1]]) @ np.stack([along[side], across[side]])
        if frame is not None:
            rectangle = _clip_to_frame(rectangle, frame)
        smallest = min(smallest, _polygon_area(rectangle))
    return float(_polygon_area(hull) / smallest) if smallest > 0 else 0.0


def _clip_to_frame(polygon, frame):
    """The part of a convex polygon ((k, 2) vertices, rows and columns) inside the frame from (0, 0)
    to ``frame`` (the last row and column), by Sutherland and Hodgman's clipping: one side of the
    frame at a time, each edge kept, cut, or dropped."""
    for axis, limit, inward in ((0, 0.0, 1.0), (0, frame[0], -1.0), (1, 0.0, 1.0), (1, frame[1], -1.0)):
        if len(polygon) == 0:
            break
        inside = inward * (polygon[:, axis] - limit) >= 0
        kept = []
        for start, stop, start_in, stop_in in zip(polygon, np.roll(polygon, -1, axis=0), inside, np.roll(inside, -1)):
            if start_in:
                kept.append(start)
            if start_in != stop_in:
                kept.append(start + (limit - start[axis]) / (stop[axis] - start[axis]) * (stop - start))
        polygon = np.array(kept).reshape(-1, 2)
    return polygon


def _polygon_area(polygon):
    """The area of a polygon ((k, 2) vertices, in order): the shoelace formula."""
    if len(polygon) < 3:
        return 0.0
    rows, cols = polygon[:, 0], polygon[:, 1]
    return 0.5 * abs(np.dot(rows, np.roll(cols, -1)) - np.dot(cols, np.roll(rows, -1)))


def _ink_map(gray, invert):
    """Return ink intensity 0..1 on a 0 background.

    The paper is modelled as a plane ``a + b*row + c*col`` fitted to the border
    pixels (a photo's light often falls off across the page), held at 0 where
    the camera saturated the paper (``_fit_through_saturation``), and every
    pixel's ink is its difference from that; a shadow across light paper, which
    a plane cannot follow, is subtracted too, and the ink under it brightened by
    as much as the shadow dimmed the paper (``_shadow``). A page's printed lines,
    clutter at the frame's edge and specks away from the digit are taken out
    (``clutter``). Faint pixels are zeroed: those
    less than 10% of the ink contrast, or less than four noise standard
    deviations (estimated from the paper pixels of the border; at most half the
    contrast) above the paper, and single bright pixels with no bright
    neighbour.

    Parameters
    ----------
    gray : np.ndarray, (H, W) float, 0..255
    invert : bool or None
        None: invert when the image departs farther below the paper at the
        border than above it (``_departures``).

    Returns
    -------
    ink : np.ndarray, (H, W) float in 0..1
    floor : float
        The noise threshold, as a fraction of the contrast: every non-zero ink is at least this.
    """
    border = _border_sample(gray.shape)
    if invert is None:
        below, above = _departures(gray, *border)
        invert = below > above
    if invert:
        gray = 255.0 - gray
    paper, noise_sigma = _fit_paper(gray, border)
    above_paper = paper.subtracted_from(gray)
    if invert:                     # a shadow darkens light paper
        _take_out_shadow(above_paper, paper)
    contrast = above_paper.max()
    if contrast < MIN_CONTRAST:
        raise ValueError(
            f"no ink found: the image is blank (ink differs from the background by "
            f"{max(contrast, 0):.0f} of 255 levels, need {MIN_CONTRAST:.0f})"
        )
    floor = max(NOISE_LEVEL, min(NOISE_SIGMAS * noise_sigma / contrast, MAX_NOISE_LEVEL))
    above_paper /= contrast
    ink = remove_ruled_lines(np.clip(above_paper, 0.0, 1.0, out=above_paper), floor)
    ink[ink < floor] = 0.0
    ink[_isolated(ink > 0)] = 0.0
    ink = remove_specks(remove_edge_clutter(ink, floor))
    return ink, floor


def _take_out_shadow(above_paper, paper):
    """Subtract a shadow (``_shadow``) from an (H, W) map of ink above the paper, in place, and give
    the ink under it back the contrast it took: a shadow dims the pen as much as the paper, so of a
    stroke's contrast P - I, (P - I)(1 - s) is left, where P is the paper's brightness (255 less
    ``paper(rows, cols)``, the inverted paper's level) and the shadow is P s."""
    shade = _shadow(above_paper)
    if shade is None:
        return
    height, width = above_paper.shape
    brightness = 255.0 - paper(np.arange(height)[:, None], np.arange(width)[None, :])
    above_paper -= shade
    above_paper *= brightness / np.maximum(brightness - shade, 0.25 * brightness)


def _shadow(above_paper):
    """A shadow across the page (the phone's, the hand's): what lies above the paper's plane over
    areas much wider than the strokes, in an (H, W) map in which ink is brighter than paper.

    A plane cannot follow a shadow's edge, and the shadow read as ink. The shadow is what is left
    of the map after a grey opening (a running minimum, then maximum, over a square:
    ``square_extreme``) wider than anything a stroke makes: ``SHADOW_REACH`` of the image's
    shorter side, and ``SHADOW_STROKES`` times the strokes' width (the ink above 75% of the
    contrast: a shadow is fainter than the pen), so a thick digit filling its crop is not taken
    for one. It is found on a coarse copy (block means, at most ``SHADOW_DETECT`` pixels across;
    the strokes are measured on block maxima) and scaled back up. An opening leaves a straight
    edge, sharp or soft, as it is; what it cannot keep is a shadow narrower than its square: a thin
    band along the frame, the tip of a wedge across a corner (those stay ink).

    Returns
    -------
    np.ndarray, (H, W) float, at least 0: the shadow to subtract; None when none is found (less
    than ``SHADOW_AREA`` of the image lies ``SHADOW_LEVEL`` of the contrast or more under one).
    """
    height, width = above_paper.shape
    factor = coarse_factor(above_paper.shape, SHADOW_DETECT)
    coarse, highest = _blocks(above_paper, factor, np.mean), _blocks(above_paper, factor, np.max)
    contrast = above_paper.max()
    stroke = _measure_stroke_width(highest > 0.75 * contrast)
    size = 2 * int(round(max(1.0, SHADOW_REACH * min(coarse.shape), SHADOW_STROKES * stroke))) + 1
    eroded = square_extreme(coarse, size, np.minimum)
    if eroded.max() <= SHADOW_LEVEL * contrast:
        return None          # strokes only: nothing survives the running minimum
    shade = square_extreme(eroded, size, np.maximum)
    if np.mean(shade > SHADOW_LEVEL * contrast) < SHADOW_AREA:
        return None
    scaled = Image.fromarray(shade.astype(np.float32)).resize((width, height), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(scaled, dtype=np.float64), 0.0, None)


def _blocks(values, factor, reduce):
    """``reduce`` (np.mean, np.max) over each ``factor`` x ``factor`` block of an (H, W) array: (H // f,
    W // f), a last partial block left out (at least one block each way)."""
    rows, cols = max(1, values.shape[0] // factor), max(1, values.shape[1] // factor)
    down = reduce(values[:rows * factor].reshape(rows, -1, values.shape[1]), axis=1)
    return reduce(down[:, :cols * factor].reshape(rows, cols, -1), axis=2)


def _fit_paper(gray, border):
    """Fit ``a + b*row + c*col`` to the paper at the border of an (H, W) image in which ink is
    brighter than paper (already inverted), at the pixels ``border`` (rows, cols: ``_border_sample``;
    see ``_fit_plane``).

    Returns
    -------
    paper : _Paper, the paper's level (held at 0 where the camera saturated)
    noise_sigma : float
        The robust standard deviation of the paper pixels about the plane: the grain and sensor
        noise, measured on paper alone (a tightly cropped digit's ink covers much of the border).
    """
    rows, cols = border
    return _fit_plane(gray[rows, cols], rows, cols, gray.shape, clip_level=0.0)


def _border_sample(shape):
    """Rows and columns of at most about ``PLANE_SAMPLE`` pixels evenly spread along the thin frame
    round an image of ``shape`` (``_border_mask``): where the paper is read."""
    rows, cols = np.nonzero(_border_mask(shape))
    step = max(1, rows.size // PLANE_SAMPLE)
    return rows[::step], cols[::step]


def _fit_plane(values, rows, cols, shape, clip_level):
    """Fit the paper's level ``a + b*row + c*col`` to pixels at (``rows``, ``cols``) of an image of
    ``shape``, ink brighter than paper.

    The darker half of the pixels is paper as long as ink covers less than half of them. The plane
    is fitted to that half, then refitted three times to the pixels at most 3 robust standard
    deviations above the previous fit: ink stays out. A flat page gives a constant, a photo lit
    from one side a ramp. Where light paper saturated the camera, the plane is fitted again
    through the saturation (``_fit_through_saturation``), and held at ``clip_level``.

    Returns
    -------
    paper : _Paper, the paper's level at (rows, cols)
    noise_sigma : float
        The robust standard deviation of the paper pixels about the plane (the unsaturated ones,
        when the plane runs through a saturated patch).
    """
    design = _design(rows, cols, shape)
    paper = values <= np.median(values)
    for _ in range(3):
        paper = _paper_among(values - design @ _least_squares(design[paper], values[paper]), paper)
    coefficients = _least_squares(design[paper], values[paper])
    noise_sigma = _robust_sigma(values[paper] - design[paper] @ coefficients)
    through = _fit_through_saturation(design, values, clip_level, coefficients)
    if through is not None:
        coefficients, noise_sigma = through
    return _Paper(tuple(coefficients), shape, float(clip_level)), noise_sigma


def _design(rows, cols, shape):
    """The (n, 3) design matrix of a plane ``a + b*row + c*col`` at pixels (``rows``, ``cols``) of an
    image of ``shape``; coordinates scaled to -0.5..0.5 keep the 3x3 normal equations well
    conditioned (as ``_Paper.plane`` reads them)."""
    height, width = shape
    return np.column_stack([np.ones(rows.size), rows / height - 0.5, cols / width - 0.5])


def _fit_through_saturation(design, values, clip_level, plain):
    """The paper's plane refitted for pixels saturated at ``clip_level``, or None to keep ``plain``.

    Where light paper would lie beyond what the camera records (0 or 255; ``clip_level``, oriented
    like ``values``) the photo shows ``clip_level``: a flat patch that the plain fit, whose ink
    threshold it shrinks to nothing, follows, leaving the rest of the page above the plane, read
    as ink. A saturated pixel says only that the paper there is at ``clip_level`` or beyond, so it
    counts only where the plane lies above ``clip_level`` (holding it down there). The unsaturated
    paper (the darker half of the unsaturated pixels, to start with) is chosen again at most 3
    robust standard deviations above the plane, and the plane refitted, until the pixels it
    rests on come round again (at most ``MAX_REFITS`` times: a censored regression, fitted as its
    noiseless limit, one-sided least squares). A quick look first: when the unsaturated pixels
    spread by more than twice ``PAPER_GRAIN`` about their own least-squares plane, they are ink
    (an MNIST digit's), and nothing is refitted.

    The refit is kept when it is a page's light running into saturation: it moves the paper's
    level by more than ``DEPARTURE`` of the contrast somewhere (half what the noise floor drops
    anyway); it takes at least ``UNSATURATED_PAPER`` of the unsaturated pixels for paper (a photo's
    border is paper; a scan cropped to its ink, saturated white round it, has ink there); they
    spread about it by at most ``PAPER_GRAIN`` grey levels (a camera's grain: 5-6 on the
    handwriting sets' photos; faint ink taken for paper spreads over tens: 12-75 on training
    digits scanned like the ``tight`` set); and the plane rises across them by at least
    ``RAMP_SIGMAS`` times that spread.

    Returns
    -------
    (coefficients (3,), noise_sigma) or None
    """
    clipped = values <= clip_level
    if not clipped.any() or clipped.all():
        return None
    unclipped = ~clipped
    own_plane = design[unclipped] @ _least_squares(design[unclipped], values[unclipped])
    if _robust_sigma(values[unclipped] - own_plane) > 2 * PAPER_GRAIN:
        return None                 # the unsaturated pixels are not one plane's paper: ink
    coefficients = plain
    measured = unclipped & (values <= np.median(values[unclipped]))
    paper = None
    for _ in range(MAX_REFITS):
        if not measured.any():
            return None
        predicted = design @ coefficients
        measured = unclipped & _paper_among(values - predicted, measured)
        # A saturated pixel holds the plane down only where the plane lies above the clip level.
        previous, paper = paper, measured | (clipped & (predicted > clip_level))
        if previous is not None and np.array_equal(paper, previous):
            break                   # the same pixels give the same plane
        coefficients = _least_squares(design[paper], values[paper])
    if measured.sum() < UNSATURATED_PAPER * unclipped.sum():
        return None
    fitted = design[measured] @ coefficients
    noise_sigma = _robust_sigma(values[measured] - fitted)
    moved = np.maximum(design @ coefficients, clip_level) - np.maximum(design @ plain, clip_level)
    if (np.abs(moved).max() <= DEPARTURE * (values.max() - clip_level) or noise_sigma > PAPER_GRAIN
            or fitted.max() - fitted.min() < RAMP_SIGMAS * max(noise_sigma, 1.0)):
        return None
    return coefficients, noise_sigma


class _Paper(NamedTuple):
    """The paper's level in an image of ``shape``: the plane ``a + b*row + c*col`` (rows and columns
    scaled to -0.5..0.5), held at ``clip_level`` where the camera saturated (``_fit_plane``)."""
    coefficients: tuple
    shape: tuple
    clip_level: float

    def plane(self, rows, cols):
        """The plane at (rows, cols), broadcasting like numpy."""
        a, b, c = self.coefficients
        return a + b * (rows / self.shape[0] - 0.5) + c * (cols / self.shape[1] - 0.5)

    def __call__(self, rows, cols):
        """The paper's level at (rows, cols): the plane, held at the clip level."""
        return np.maximum(self.plane(rows, cols), self.clip_level)

    def subtracted_from(self, gray):
        """``gray`` less the paper's level, a new (H, W) array. A plane that stays above the clip
        level (its lowest point in the image is a corner) is subtracted by its rows' part, then its
        columns': no (H, W) plane is built for a large photo."""
        rows, cols = np.arange(self.shape[0])[:, None], np.arange(self.shape[1])
        if self.plane(rows[[0, -1]], cols[[0, -1]]).min() < self.clip_level:
            return gray - self(rows, cols)
        above = gray - self.plane(rows, 0)
        above -= self.plane(0, cols) - self.plane(0, 0)
        return above


def _paper_among(residuals, paper):
    """Which pixels lie at most 3 robust standard deviations (of the ``paper`` pixels' residuals,
    and at least one grey level) above a fitted plane: paper, the rest ink."""
    return residuals <= 3.0 * max(_robust_sigma(residuals[paper]), 1.0)


def _least_squares(design, values):
    """Coefficients minimising ``|design @ c - values|``, from the (3x3) normal equations."""
    return np.linalg.lstsq(design.T @ design, design.T @ values, rcond=None)[0]


def _robust_sigma(values):
    """Standard deviation estimated from the median absolute deviation (1.4826 MAD)."""
    return 1.4826 * np.median(np.abs(values - np.median(values)))


def _isolated(mask):
    """Return the True pixels of an (H, W) mask that have no True 8-neighbour."""
    padded = np.pad(mask, 1).astype(np.int8)
    height, width = mask.shape
    neighbours = sum(
        padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if (dy, dx) != (0, 0)
    )
    return mask & (neighbours == 0)


def _border_mask(shape):
    """True on a thin frame around an (H, W) image (about 2% of its size)."""
    width = max(1, min(shape) // 50)
    mask = np.ones(shape, dtype=bool)
    mask[width:-width, width:-width] = False
    return mask


def _remove_box(ink, floor):
    """Crop an (H, W) ink map to the ink, without a box drawn round the digit (a form's).

    The box stops short of the photo's margins, so it was not taken for a page's printed lines;
    cropped to the ink, its sides run along the crop's edges, and a second look finds them. Ink
    fainter than ``floor`` once the box is subtracted is zeroed.
    """
    cropped = _crop_to_ink(ink)
    cleaned = remove_ruled_lines(cropped, floor)
    if cleaned is cropped:
        return cropped
    return _crop_to_ink(np.where(cleaned < floor, 0.0, cleaned))


def _crop_to_ink(ink):
    """Crop an (H, W) ink map to the bounding box of its non-zero pixels."""
    if not ink.any():
        raise ValueError("no ink found: the image is blank")
    return ink[bounding_box(ink > 0)]


def _widen_thin_strokes(ink, box_size):
    """Widen strokes that would be thinner than ``MIN_STROKE_WIDTH`` pixels once the ink is
    scaled into the ``box_size`` box (a ballpoint pen's line, photographed large).

    The ink is first resampled to ``WORK_SCALE`` times its final size, then grey-dilated by a
    disk that adds the missing width (half on each side), and cropped to its new extent.

    Parameters
    ----------
    ink : np.ndarray, (h, w) float 0..1, cropped to the ink

    Returns
    -------
    np.ndarray, (h', w') float 0..1: ``ink`` itself when its strokes are wide enough.
    """
    scale = box_size / max(ink.shape)
    width = _measure_stroke_width(ink > 0.5) * scale
    if width >= MIN_STROKE_WIDTH:
        return ink
    work = _resize(ink, WORK_SCALE * box_size / max(ink.shape))
    radius = (MIN_STROKE_WIDTH - width) * WORK_SCALE / 2.0
    # Zero margin first, so the widened strokes have room to grow.
    return _crop_to_ink(grey_dilate(np.pad(work, int(np.ceil(radius))), radius))


def _measure_stroke_width(mask):
    """Mean width in pixels of the strokes of an (H, W) boolean mask: a stroke of width w and
    length L covers w * L pixels, of which 2 * L lie on its edge (next to a background pixel
    above, below, left or right), so w = 2 * area / edge. Strokes 1-2 px wide read as 2."""
    if not mask.any():
        return 0.0
    padded = np.pad(mask, 1)
    interior = (mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    area = int(mask.sum())
    return 2.0 * area / max(area - int(interior.sum()), 1)


def _resize(ink, scale):
    """Resample an (h, w) float ink map by ``scale`` (Lanczos), negative ringing clipped to 0."""
    height, width = ink.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, None)


def _fit_in_box(ink, box_size):
    """Scale an ink map to fit ``box_size`` x ``box_size``, keeping its aspect ratio.

    Returns
    -------
    np.ndarray, (h, w) uint8 with max(h, w) == box_size and the brightest pixel 255.
    """
    height, width = ink.shape
    scale = box_size / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(ink.astype(np.float32)).resize(new_size, Image.Resampling.LANCZOS)
    values = np.clip(np.asarray(resized, dtype=np.float64), 0.0, None)
    peak = values.max()
    if peak <= 0:
        raise ValueError("no ink found: the ink vanished when scaled to 20x20")
    return np.rint(values * (255.0 / peak)).astype(np.uint8)


def _center_by_mass(digit, field_size, center):
    """Paste ``digit`` into a zero field so that its centre of mass lands on ``center``.

    The shift is the rounded centre-of-mass offset, limited so that no ink
    leaves the field.

    Returns
    -------
    np.ndarray, (field_size, field_size) uint8
    """
    height, width = digit.shape
    weights = digit.astype(np.float64)
    mass = weights.sum()
    mass_row = (weights.sum(axis=1) @ np.arange(height)) / mass
    mass_col = (weights.sum(axis=0) @ np.arange(width)) / mass
    top = int(np.clip(np.floor(center - mass_row + 0.5), 0, field_size - height))
    left = int(np.clip(np.floor(center - mass_col + 0.5), 0, field_size - width))
    field = np.zeros((field_size, field_size), dtype=np.uint8)
    field[top : top + height, left : left + width] = digit
    return field
