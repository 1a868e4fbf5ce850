"""What a photo of a digit shows besides the digit, found and taken out of its ink map: the printed
lines of ruled or squared paper, clutter at the frame's edge, specks and a dot grid's dots.

Printed lines. A digit written in an exercise book is photographed with the page's lines. Left
in, the lines count as ink: the crop grows to the whole photo and the digit shrinks inside it.
What sets a printed line apart from a pen stroke is that it is straight, thin, and runs from one
edge of the photo to the other through margins where the digit has no ink. Lines are searched for on a
coarse copy of the ink (at most ``DETECT_SIZE`` pixels across), at every tilt up to
``MAX_TILT_DEGREES``: a photo is rarely square to the page. A family of lines (horizontal or
vertical) is removed only when it has at least two lines, not all within twice a line's greatest
thickness of each other (a thick stroke whose top and bottom rows alone reach a speck in the margin
is split into two thin "lines"), and, without the lines, both margins it crosses are free of ink:
a tightly cropped digit (a 7's top bar from edge to edge, a '1' cropped to its height) is never
touched. A box drawn round the digit (a form's) is found the same way once the ink is cropped: its
sides then run along the crop's edges.

Removing a family subtracts the lines' level (their median ink) from the band they occupy, so a pen
darker than the print keeps most of its strength where it runs along a line, and restores strokes
that cross a line by interpolating across the band between the ink on either side. Nothing is
removed when nothing but lines would be left (a square 0 cropped to its ink is all lines).

Clutter at the edge. The frame of a photo often catches what is not the digit: the table beyond
the page, a shadow, part of the neighbouring digit. Ink connected to the frame that stays out of
the central box (the middle half of each side) is taken out, as long as other ink is left; a digit
that touches the frame also reaches into the centre, and is left alone.

Specks. A large photo of a small digit holds, far from the digit, specks of grain and of JPEG's
blocks that pass the noise threshold; the crop stretched round them and the digit shrank inside it.
Ink is grouped into blobs (8-connected on a coarse copy, bridging gaps of one coarse pixel, so a
faint stroke broken by the threshold stays one blob); a blob holding less than ``SPECK_SHARE`` of
all the ink, reaching farther beyond the box round the other blobs (the digit) than a tenth of the
digit's size, is a speck, and taken out. So are a dot-grid page's printed dots, near the digit or
not: at least ``MIN_DOTS`` small blobs of similar mass on a lattice (their nearest neighbours equally
far, and at least three neighbours close by: a dotted stroke's dots have two).
"""

import numpy as np

from .transforms import grey_dilate

DETECT_SIZE = 256
MAX_TILT_DEGREES = 6.0
# Over DETECT_SIZE pixels, a quarter of a degree drifts by 1.1 pixels: a line keeps to one or two rows.
TILT_STEP_DEGREES = 0.25
# A printed line shows in at least this fraction of the photo's width (a stroke crossing it is ink
# too, so it does not hide the line) ...
MIN_COVERAGE = 0.75
# ... reaches the first and last MARGIN of it ...
MARGIN = 0.03
# ... and is at most this fraction of the photo thick (plus three coarse pixels: a tilted line straddles
# two rows, and is looked for widened by one row on each side).
MAX_THICKNESS = 0.04
# Smaller images are not searched: in them a pen stroke is as thin, relative to the image, as a
# printed line (UCI's 8x8 digits lost 0.45 points to lines found in them).
MIN_SIZE = 64
# A page's lines come at least in pairs; a single straight stroke from edge to edge is more likely the
# digit itself (a '1' cropped to its height).
MIN_LINES = 2
# A blob of ink holding less than SPECK_SHARE of all the ink, reaching farther than SPECK_DISTANCE of the
# digit's size beyond the digit's box, is a speck, not part of the digit.
SPECK_SHARE = 0.02
SPECK_DISTANCE = 0.1
# MIN_DOTS to MAX_DOTS small blobs of similar mass are a dot grid's when DOT_REGULAR of them have their
# nearest neighbour equally far (within DOT_SPACING) and DOT_SURROUNDED have three neighbours near (an A4
# page of 5 mm dots holds about 2,500; more is grain).
MIN_DOTS = 12
MAX_DOTS = 5_000
DOT_SPACING = 0.2
DOT_REGULAR = 0.8
DOT_SURROUNDED = 0.5


def remove_ruled_lines(ink, floor):
    """Remove the printed lines of ruled or squared paper from an ink map.

    Parameters
    ----------
    ink : np.ndarray, (H, W) float in 0..1
        Ink intensity above the paper, not yet thresholded: faint print is often close to the noise
        threshold, and is looked for down to half of it.
    floor : float
        The noise threshold: ink fainter than this is no ink (the caller zeroes it afterwards).

    Returns
    -------
    np.ndarray, (H, W) float in 0..1
        A new map without the lines, or ``ink`` itself when it shows none, when it shows nothing
        else, or when it is smaller than ``MIN_SIZE`` on a side.
    """
    if min(ink.shape) < MIN_SIZE:
        return ink
    factor = coarse_factor(ink.shape)
    faint, inked = _coarse(ink > floor / 2, factor), _coarse(ink > floor, factor)
    margin_rows, margin_cols = _margin(inked.shape[0]), _margin(inked.shape[1])
    # A family is searched for only when ink reaches both margins it would cross (the search is most
    # of the time this step takes, and a clean photo has none there).
    along_rows = np.zeros_like(faint)
    if inked[:, :margin_cols].any() and inked[:, -margin_cols:].any():
        along_rows = _line_bands(faint)
    along_cols = np.zeros_like(faint)
    if inked[:margin_rows].any() and inked[-margin_rows:].any():
        along_cols = _line_bands(faint.T).T
    digit = inked & ~grey_dilate(along_rows | along_cols, 1)
    bands = []   # (band at full size, the axis that crosses it)
    if along_rows.any() and not _reaches(digit[:, :margin_cols].T, digit[:, -margin_cols:].T):
        bands.append((_expand(along_rows, factor, ink.shape), 0))
    if along_cols.any() and not _reaches(digit[:margin_rows], digit[-margin_rows:]):
        bands.append((_expand(along_cols, factor, ink.shape), 1))
    if not bands:
        return ink
    out = ink.copy()
    for band, _ in bands:
        np.minimum(out, ink - _line_level(ink, band, floor), out=out, where=band)
    np.clip(out, 0.0, None, out=out)
    if not (out > floor).any():
        return ink          # nothing but lines: they are the digit (a square 0), or there is none
    # Strokes cross the lines only within the box around the remaining ink.
    box = bounding_box(out > floor)
    without_print = out[box].copy()
    for band, axis in bands:
        across = _interpolate_across(without_print, band[box], axis, floor)
        np.maximum(out[box], across, out=out[box], where=band[box])
    return out


def remove_edge_clutter(ink, floor):
    """Take out the ink connected to the image's frame that never enters its central box.

    Parameters
    ----------
    ink : np.ndarray, (H, W) float in 0..1
        Ink intensity on a 0 background.
    floor : float
        The noise threshold: only ink above it is followed from the frame.

    Returns
    -------
    np.ndarray, (H, W) float in 0..1
        A new map without the clutter, or ``ink`` itself when there is none, when it reaches into
        the centre, or when it is all the ink there is.
    """
    factor = coarse_factor(ink.shape)
    inked = _coarse(ink > floor, factor)
    if not (inked[0].any() or inked[-1].any() or inked[:, 0].any() or inked[:, -1].any()):
        return ink                  # nothing on the frame
    blobs = _blobs(inked, bridge=False)
    clutter = inked & np.isin(blobs, np.concatenate([blobs[0], blobs[-1], blobs[:, 0], blobs[:, -1]]))
    height, width = inked.shape
    centre = (slice(height // 4, height - height // 4), slice(width // 4, width - width // 4))
    rest = inked & ~clutter
    if not clutter.any() or clutter[centre].any() or not rest.any():
        return ink
    # One coarse pixel more, for the clutter's edge, but never the rest's blocks.
    doomed = _expand(grey_dilate(clutter, 1.5) & ~rest, factor, ink.shape)
    return np.where(doomed, 0.0, ink)


def remove_specks(ink):
    """Take out the specks: blobs of ink (``_blobs``) that each hold less than ``SPECK_SHARE`` of
    all the ink and reach farther than ``SPECK_DISTANCE`` of the digit's size beyond the box round
    the other blobs (the digit). Nearer, a small blob hardly stretches the crop, and is more likely
    the digit's own: a thin stroke broken by the noise threshold. A dot-grid page's dots
    (``_printed_dots``) are specks wherever they are.

    Parameters
    ----------
    ink : np.ndarray, (H, W) float in 0..1, on a 0 background, zero below the noise threshold

    Returns
    -------
    np.ndarray, (H, W) float in 0..1
        A new map without the specks, or ``ink`` itself when there are none.
    """
    factor = coarse_factor(ink.shape)
    mass = _block_sums(ink, factor)
    blobs, blob_mass, small = _small_blobs(mass)
    off = blobs.size                                        # the label of the blocks without ink
    in_small = small[blobs]
    digit = ~in_small & (blobs < off)
    if not in_small.any() or not digit.any():
        return ink                  # one blob, or none standing out (dots, all of them the digit)
    rows, cols = bounding_box(digit)
    down, across = np.nonzero(in_small)
    beyond = np.maximum(np.maximum(rows.start - down, down - (rows.stop - 1)),
                        np.maximum(cols.start - across, across - (cols.stop - 1)))
    reach = np.zeros(off + 1)
    np.maximum.at(reach, blobs[in_small], beyond)
    far = reach > SPECK_DISTANCE * max(rows.stop - rows.start, cols.stop - cols.start)
    specks = small & (far | _printed_dots(blobs, mass, blob_mass, small))
    doomed = specks[blobs]
    if not doomed.any():
        return ink
    return np.where(_expand(doomed, factor, ink.shape), 0.0, ink)


def _small_blobs(mass):
    """The blobs of an (h, w) map of ink ``mass`` (``_blobs`` of its inked pixels), each label's ink,
    and which labels name a blob holding less than ``SPECK_SHARE`` of all the ink.

    Returns
    -------
    blobs : np.ndarray, (h, w) int
    blob_mass, small : np.ndarray, (h * w + 1,) float and bool, indexed by label
    """
    blobs = _blobs(mass > 0)
    blob_mass = np.bincount(blobs.ravel(), weights=mass.ravel(), minlength=blobs.size + 1)
    return blobs, blob_mass, (blob_mass > 0) & (blob_mass < SPECK_SHARE * blob_mass.sum())


def _printed_dots(blobs, mass, blob_mass, small):
    """Which blobs are a dot-grid page's printed dots: the ``small`` blobs of similar mass (half to
    twice their median), when ``MIN_DOTS`` to ``MAX_DOTS`` of them lie on a lattice: at least
    ``DOT_REGULAR`` of them have their nearest neighbour at the same distance (within
    ``DOT_SPACING`` of the median distance), and at least ``DOT_SURROUNDED`` have three neighbours
    within 1.5 times it (a lattice's four nearest and four diagonal ones; a dotted stroke's dots
    have two, and grain's specks lie at any distance).

    Parameters
    ----------
    blobs : np.ndarray, (h, w) int, the labels of ``_blobs``
    mass : np.ndarray, (h, w), the ink in each pixel
    blob_mass, small : np.ndarray, (h * w + 1,), as ``_small_blobs`` gives them

    Returns
    -------
    np.ndarray, (h * w + 1,) bool, indexed like ``small``.
    """
    dots = np.zeros_like(small)
    if not small.any():
        return dots
    typical = np.median(blob_mass[small])
    candidates = np.flatnonzero(small & (blob_mass >= typical / 2) & (blob_mass <= 2 * typical))
    if not MIN_DOTS <= candidates.size <= MAX_DOTS:
        return dots
    labels, down, across = blobs.ravel(), *np.indices(blobs.shape)
    centres = np.column_stack([np.bincount(labels, weights=(mass * down).ravel(), minlength=small.size),
                               np.bincount(labels, weights=(mass * across).ravel(), minlength=small.size)])
    centres = centres[candidates] / blob_mass[candidates, None]
    nearest = []                                          # each dot's three nearest neighbours' distances
    for start in range(0, len(centres), 256):             # in slices: a photo may show thousands of dots
        apart = np.hypot(*(centres[start:start + 256, None, :] - centres[None, :, :]).transpose(2, 0, 1))
        apart[np.arange(len(apart)), np.arange(start, start + len(apart))] = np.inf
        nearest.append(np.sort(np.partition(apart, 2, axis=1)[:, :3], axis=1))
    nearest = np.concatenate(nearest)
    spacing = np.median(nearest[:, 0])
    regular = np.abs(nearest[:, 0] - spacing) <= DOT_SPACING * spacing
    surrounded = nearest[:, 2] <= 1.5 * spacing
    if np.mean(regular) >= DOT_REGULAR and np.mean(surrounded) >= DOT_SURROUNDED:
        dots[candidates] = True
    return dots


def _blobs(mask, bridge=True):
    """Label the blobs of an (h, w) mask: its 8-connected groups, once gaps of one pixel are bridged
    (``bridge``) or as they are.

    Every pixel starts with its own flat index as label. In each pass a pixel's label, and the
    label of the pixel it names, take the smallest label around it, and labels are then followed
    to the pixel whose label is its own (hooking and pointer jumping, as in Shiloach and Vishkin's
    connected components: a long stroke is labelled in a few passes, not one pass per pixel).

    Returns
    -------
    np.ndarray, (h, w) int: each blob's pixels hold the flat index of one of them; pixels off the
    mask hold h * w.
    """
    height, width = mask.shape
    off = height * width
    bridged = grey_dilate(mask, 1.5) if bridge else mask
    labels = np.append(np.where(bridged.ravel(), np.arange(off), off), off)     # labels[off] = off
    while True:
        around = np.where(bridged, -grey_dilate(-labels[:off].reshape(height, width), 1.5), off).ravel()
        lower = np.flatnonzero(around < labels[:off])
        if lower.size == 0:
            return np.where(mask, labels[:off].reshape(height, width), off)
        np.minimum.at(labels, labels[lower], around[lower])
        np.minimum(labels[:off], around, out=labels[:off])
        while True:
            followed = labels[labels]
            if np.array_equal(followed, labels):
                break
            labels = followed


def _block_sums(values, factor):
    """(H, W) -> (ceil(H/f), ceil(W/f)): the sum of each f x f block (the last ones partial); True
    counts 1. No (H, W) copy is made: a 12 MP photo's ink map is 96 MB."""
    height, width = values.shape
    whole = height - height % factor
    down = values[:whole].reshape(whole // factor, factor, width).sum(axis=1)
    if whole < height:
        down = np.vstack([down, values[whole:].sum(axis=0, keepdims=True)])
    return np.add.reduceat(down, np.arange(0, width, factor), axis=1)


def _reaches(*strips):
    """Whether the digit reaches into either margin strip (m, length): a stroke that crosses a strip
    covers at least m of its pixels; a speck left over from a line does not."""
    return any(strip.sum() >= strip.shape[0] for strip in strips)


def bounding_box(mask):
    """(row slice, column slice) of the smallest box holding every True pixel of an (H, W) mask
    (empty slices when there is none)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return slice(0, 0), slice(0, 0)
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def coarse_factor(shape, size=DETECT_SIZE):
    """The block size f that brings an image of ``shape`` to at most ``size`` pixels across."""
    return max(1, -(-max(shape) // size))


def _margin(length):
    """Width in pixels of the margin strip at each end of a ``length``-pixel side (at least 1)."""
    return max(1, int(round(MARGIN * length)))


def _coarse(mask, factor):
    """(H, W) bool -> (ceil(H/f), ceil(W/f)) bool: True where at least ``1/f`` of the f x f block is
    True, as much as a one-pixel line through it covers. Noise, a scattering of single pixels over a
    large photo, does not fill a block that far."""
    return _block_sums(mask, factor) >= factor


def _expand(mask, factor, shape):
    """Undo :func:`_coarse` for a mask: each coarse pixel becomes an f x f block, cut to ``shape``."""
    return np.repeat(np.repeat(mask, factor, axis=0), factor, axis=1)[: shape[0], : shape[1]]


def _line_bands(mask):
    """The pixels of the nearly horizontal printed lines of an (h, w) ink mask.

    A line at tilt ``a`` through row ``k`` of column 0 holds the pixels with
    ``row - round(col * tan a) == k``. At every tilt, the fraction of the ``w`` columns in which
    that row holds ink is counted for every ``k`` (one ``bincount``); the tilt whose counts peak
    highest is the lines' tilt.

    Returns
    -------
    np.ndarray, (h, w) bool: every line found, one coarse pixel wider on each side; none unless
    there are at least ``MIN_LINES``, farther apart than one thick stroke.
    """
    height, width = mask.shape
    inked_rows, inked_cols = np.nonzero(mask)
    best_score, best_shifts = -1.0, None
    for degrees in np.arange(-MAX_TILT_DEGREES, MAX_TILT_DEGREES + TILT_STEP_DEGREES / 2, TILT_STEP_DEGREES):
        shifts = np.rint(np.arange(width) * np.tan(np.deg2rad(degrees))).astype(np.int64)
        score = float(np.sum((np.bincount(inked_rows - shifts[inked_cols] + shifts.max()) / width) ** 8))
        if score > best_score:
            best_score, best_shifts = score, shifts
    line_of = np.arange(height)[:, None] - best_shifts[None, :] + best_shifts.max()   # (h, w), all >= 0
    # A line that runs between two of these sheared rows shows in each only in part; widened by a row
    # on either side, it shows whole in both.
    lines = _printed_lines(grey_dilate(mask, 1), line_of)
    # Lines that all lie within twice the thickest a line may be are one thick stroke whose rows reach
    # the margins in part (a 7's bar with a speck beside its end), not a page's lines or a box's sides.
    if len(lines) < MIN_LINES or lines[-1][1] - lines[0][0] <= 2 * _thickest(height):
        return np.zeros_like(mask)
    band = np.zeros(line_of.max() + 2, dtype=bool)
    for start, stop in lines:
        band[max(start - 1, 0) : stop + 1] = True
    return band[line_of]


def _runs(flags):
    """[(start, stop), ...] of the runs of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _printed_lines(mask, line_of):
    """The runs (start, stop) of lines ``line_of`` of an (h, w) mask that look printed: inked along
    ``MIN_COVERAGE`` of the stretch they cross inside the image, inked within the margin of both
    ends of that stretch, and thin. A tilted line may leave through the top or bottom edge: its
    stretch then ends there."""
    height, width = mask.shape
    count = line_of.max() + 1
    flat_lines, flat_mask = line_of.ravel(), mask.ravel()
    columns = np.broadcast_to(np.arange(width), mask.shape).ravel()
    length = np.bincount(flat_lines, minlength=count)
    coverage = np.bincount(flat_lines, weights=flat_mask, minlength=count) / np.maximum(length, 1)
    first, last = np.full(count, width), np.full(count, -1)
    np.minimum.at(first, flat_lines, columns)
    np.maximum.at(last, flat_lines, columns)
    margin = _margin(width)
    at_start = np.bincount(flat_lines, weights=flat_mask & (columns - first[flat_lines] < margin), minlength=count)
    at_end = np.bincount(flat_lines, weights=flat_mask & (last[flat_lines] - columns < margin), minlength=count)
    # Row by row, so that a pen stroke lying along a line (inked, but short of the margins) does not
    # make the line look thick; a row's neighbours count for its ends, as a line tilted a little off
    # the searched tilt ends a row higher or lower than it starts.
    near = np.ones(3)
    reaches = (np.convolve(at_start > 0, near, "same") > 0) & (np.convolve(at_end > 0, near, "same") > 0)
    printed = (coverage >= MIN_COVERAGE) & reaches
    return [(start, stop) for start, stop in _runs(printed) if stop - start <= _thickest(height)]


def _thickest(height):
    """The most rows a printed line may take in an image ``height`` rows high (``MAX_THICKNESS``)."""
    return MAX_THICKNESS * height + 3


def _line_level(ink, band, floor):
    """The lines' ink: the median of the band's pixels above ``floor / 2`` (0 if there are none)."""
    inked = ink[band & (ink > floor / 2)]
    return float(np.median(inked)) if inked.size else 0.0


def _interpolate_across(ink, band, axis, floor):
    """Strokes that cross the lines, bridged over the band.

    For each pixel of ``band``, the pixels just outside the band on either side along ``axis`` are
    found; where both hold ink above ``floor`` (a stroke enters and leaves the band), the result
    is the linear interpolation between them, elsewhere 0.

    Returns
    -------
    np.ndarray, (H, W) float: meaningful inside ``band`` only.
    """
    if axis == 1:
        return _interpolate_across(ink.T, band.T, 0, floor).T
    height = ink.shape[0]
    rows = np.arange(height, dtype=np.int32)[:, None]
    above = np.maximum.accumulate(np.where(band, -1, rows), axis=0)
    below = np.minimum.accumulate(np.where(band, height, rows)[::-1], axis=0)[::-1]
    cols = np.arange(ink.shape[1])[None, :]
    ink_above = np.where(above >= 0, ink[np.clip(above, 0, height - 1), cols], 0.0)
    ink_below = np.where(below < height, ink[np.clip(below, 0, height - 1), cols], 0.0)
    fraction = (rows - above) / np.maximum(below - above, 1)
    crossing = (ink_above > floor) & (ink_below > floor)
    return np.where(crossing, ink_above + (ink_below - ink_above) * fraction, 0.0)
