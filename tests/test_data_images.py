"""Preparing a user's digit image the MNIST way."""

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from barecnn.data import load_digit_image, read_idx
from helpers import correlation

REPO_ROOT = Path(__file__).resolve().parents[1]


def center_of_mass(image):
    weights = image.astype(np.float64)
    rows = weights.sum(axis=1) @ np.arange(image.shape[0]) / weights.sum()
    cols = weights.sum(axis=0) @ np.arange(image.shape[1]) / weights.sum()
    return rows, cols


def drawn_zero(size=(120, 160), ink=0, paper=255):
    """A thick dark '0' on white paper, off-centre and narrow; mode 'L'."""
    image = Image.new("L", size, paper)
    ImageDraw.Draw(image).ellipse([20, 15, 75, 125], outline=ink, width=9)
    return image


def assert_mnist_like(result):
    assert result.shape == (28, 28) and result.dtype == np.uint8
    assert result.max() == 255
    assert result[0].max() == 0 and result[:, 0].max() == 0 and result[-1].max() == 0
    rows, cols = center_of_mass(result)
    assert abs(rows - 14) <= 0.5 and abs(cols - 14) <= 0.5
    nonzero = np.argwhere(result)
    extent = nonzero.max(axis=0) - nonzero.min(axis=0) + 1
    assert extent.max() == 20  # the longer side fills the 20x20 box


def test_dark_digit_on_white_png(tmp_path):
    path = tmp_path / "zero.png"
    drawn_zero().save(path)
    result = load_digit_image(path)
    assert_mnist_like(result)
    assert result[14, 14] == 0 and result[14, 8:21].max() > 200  # a bright ring, dark hole


def test_top_heavy_digit_is_shifted_but_not_cut_off():
    image = Image.new("L", (120, 160), 255)
    ImageDraw.Draw(image).line([(20, 20), (80, 20), (45, 110)], fill=0, width=9)
    ImageDraw.Draw(image).rectangle([20, 15, 80, 35], fill=0)
    result = load_digit_image(image)
    rows = np.flatnonzero(result.any(axis=1))
    assert rows[-1] == 27 and len(rows) == 20  # pushed to the bottom edge, all 20 rows kept


@pytest.mark.parametrize("mode", ["RGB", "P", "LA", "CMYK", "1"])
def test_other_modes_give_the_same_digit(tmp_path, mode):
    reference = load_digit_image(drawn_zero())
    path = tmp_path / f"zero_{mode}.png" if mode != "CMYK" else tmp_path / "zero.jpg"
    drawn_zero().convert(mode).save(path)
    result = load_digit_image(path)
    assert_mnist_like(result)
    assert correlation(result, reference, max_shift=1) > 0.95


def test_rgba_with_transparent_background(tmp_path):
    ink_only = Image.new("RGBA", (120, 160), (0, 0, 0, 0))
    ImageDraw.Draw(ink_only).ellipse([20, 15, 75, 125], outline=(20, 20, 90, 255), width=9)
    path = tmp_path / "rgba.png"
    ink_only.save(path)
    result = load_digit_image(path)
    assert_mnist_like(result)
    reference = load_digit_image(drawn_zero())
    assert correlation(result, reference, max_shift=1) > 0.95


@pytest.mark.parametrize("stroke", [(255, 255, 255, 255), (250, 230, 40, 255)], ids=["white", "yellow"])
def test_light_strokes_on_a_transparent_canvas(tmp_path, stroke):
    """A web canvas shown black but saved transparent, the digit drawn in a light colour: on white
    paper it would vanish (white) or nearly (yellow), so the transparent areas become black."""
    canvas = Image.new("RGBA", (120, 160), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).ellipse([20, 15, 75, 125], outline=stroke, width=9)
    path = tmp_path / "canvas.png"
    canvas.save(path)
    result = load_digit_image(path)
    assert_mnist_like(result)
    assert correlation(result, load_digit_image(drawn_zero()), max_shift=1) > 0.95


def test_sixteen_bit_grayscale(tmp_path):
    eight_bit = np.asarray(drawn_zero(), dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(eight_bit * 257).save(path)
    with Image.open(path) as image:
        assert image.mode.startswith("I")
    result = load_digit_image(path)
    assert_mnist_like(result)
    np.testing.assert_allclose(result, load_digit_image(drawn_zero()), atol=2)


@pytest.mark.parametrize("kind", ["int32 image", "uint16 array"])
def test_other_sixteen_bit_inputs(kind):
    deep = np.asarray(drawn_zero(), dtype=np.int64) * 257
    if kind == "int32 image":
        source = Image.fromarray(deep.astype(np.int32))
        assert source.mode == "I"
    else:
        source = deep.astype(np.uint16)
    np.testing.assert_allclose(load_digit_image(source), load_digit_image(drawn_zero()), atol=2)


def test_light_on_dark_is_not_inverted_and_bmp_works(tmp_path):
    path = tmp_path / "chalk.bmp"
    drawn_zero(ink=230, paper=25).save(path)
    result = load_digit_image(path)
    assert_mnist_like(result)
    np.testing.assert_allclose(result, load_digit_image(drawn_zero()), atol=2)


def test_noisy_grey_paper_photo():
    rng = np.random.default_rng(0)
    gray = np.asarray(drawn_zero(ink=40, paper=150), dtype=np.float64)
    gray += rng.normal(0, 6, gray.shape)
    result = load_digit_image(np.clip(gray, 0, 255).astype(np.uint8))
    assert_mnist_like(result)
    assert correlation(result, load_digit_image(drawn_zero()), max_shift=1) > 0.95


@pytest.mark.parametrize("slope", [(60, 0), (0, -60), (45, 45)])
def test_photo_lit_from_one_side(slope):
    """Light falling off across the page: the paper is a ramp, not one level. A single paper
    level put the whole ink under the noise threshold (the border's spread looked like noise)."""
    rng = np.random.default_rng(1)
    gray = np.asarray(drawn_zero(ink=60, paper=190), dtype=np.float64)
    rows, cols = np.mgrid[0:gray.shape[0], 0:gray.shape[1]]
    ramp = slope[0] * (rows / gray.shape[0] - 0.5) + slope[1] * (cols / gray.shape[1] - 0.5)
    paper = gray == 190
    gray[paper] += ramp[paper]
    gray += rng.normal(0, 5, gray.shape)
    result = load_digit_image(np.clip(gray, 0, 255).astype(np.uint8))
    assert_mnist_like(result)
    assert correlation(result, load_digit_image(drawn_zero()), max_shift=1) > 0.95


def pencil_photo(ramp, darkening=25, seed=0):
    """``drawn_zero`` as a light pencil's stroke photographed under uneven light: paper 175 at the
    top left, rising or falling by ``ramp`` levels (down, across) to the far side, the stroke
    ``darkening`` levels under it, less up to 40% where the graphite is thin, grain of 6 levels."""
    rng = np.random.default_rng(seed)
    stroke = np.asarray(drawn_zero(), dtype=np.float64) < 128
    rows, cols = np.mgrid[0:stroke.shape[0], 0:stroke.shape[1]]
    paper = 175.0 + ramp[0] * rows / stroke.shape[0] + ramp[1] * cols / stroke.shape[1]
    gray = paper - darkening * stroke * rng.uniform(0.6, 1.0, stroke.shape) + rng.normal(0, 6, stroke.shape)
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("ramp", [(60, -40), (-60, 60), (0, -80)])
def test_faint_pencil_under_uneven_light_is_read_as_dark_ink(ramp):
    """The stroke lies 15-25 levels under the paper, whose light varies by 80: the page's bright
    side lies farther above the median than the stroke lies below it, and the image was read as
    light ink on dark (correlation 0.03-0.07: the paper's bright part came out as the digit)."""
    result = load_digit_image(pencil_photo(ramp))
    assert_mnist_like(result)
    assert correlation(result, load_digit_image(drawn_zero()), max_shift=1) > 0.75


def test_the_ink_lies_on_the_side_departing_farthest_from_the_paper():
    from barecnn.data.images import _border_sample, _departures

    pencil = pencil_photo((0, -80)).astype(np.float64)
    below, above = _departures(pencil, *_border_sample(pencil.shape))
    assert below > 35 and above < 30                   # the stroke and the grain; the grain alone
    light = 255.0 - np.asarray(drawn_zero(), dtype=np.float64)     # light ink on black, as MNIST's
    below, above = _departures(light, *_border_sample(light.shape))
    assert below == 0 and above == 255


def test_a_level_plane_stays_on_the_paper_beside_uniform_ink():
    """Under half of the pixels are solid ink (a tightly cropped digit's border), all one level;
    the rest grainy paper. Refitted each time to the half of the pixels nearest the fit, the plane
    moved to the ink: the most uniform half."""
    from barecnn.data.images import _level_plane

    rng = np.random.default_rng(0)
    rows, cols = np.divmod(np.arange(400), 20)
    values = np.where(rng.random(400) < 0.45, 0.0, 200.0 + rng.normal(0, 8, 400))
    plane = _level_plane(values, rows, cols, (20, 20))
    assert np.all(np.abs(plane(rows, cols) - 200.0) < 3.0)


def test_a_border_of_ink_along_one_side_does_not_tilt_the_level_plane():
    """A digit cropped to its ink: a stroke down the left of the image, blurred into the paper. A
    plane through the half of the pixels nearest the median tilts between the stroke's edge and the
    paper, both spread about it by tens of levels (read that way, 7 of 5,000 `tight` digits turned
    light on dark); the paper is then one level, the median."""
    from barecnn.data.images import _level_plane

    rows, cols = np.divmod(np.arange(256), 16)
    values = np.clip(255.0 - 40.0 * (8 - cols), 0.0, 255.0) + np.random.default_rng(0).normal(0, 3, 256)
    plane = _level_plane(values, rows, cols, (16, 16))
    np.testing.assert_allclose(plane(rows, cols), np.median(values))


def test_ink_on_the_border_does_not_tilt_the_paper():
    """The paper plane is refitted without the border pixels far from the first fit (ink the
    frame cuts through), so strokes along one edge do not drag the plane towards them."""
    from barecnn.data.images import _border_sample, _fit_paper

    rows, cols = np.mgrid[0:100, 0:80]
    paper = 120.0 + 30.0 * rows / 100 - 20.0 * cols / 80
    gray = paper.copy()
    gray[:, :2] = 250.0            # ink along the whole left edge (bright: already inverted)
    gray[:40, -2:] = 250.0         # and down part of the right edge
    fitted, _ = _fit_paper(gray, _border_sample(gray.shape))
    np.testing.assert_allclose(fitted(rows, cols), paper, atol=1e-6)


def overexposed(image, seed=0):
    """A dark-on-white ``image`` photographed lit from one corner so brightly that the camera
    saturated: its paper ramps from 175 to 315 across the frame, and shows as 255 over about a
    third of it; grain of 5 levels."""
    gray = np.asarray(image, dtype=np.float64)
    rows, cols = np.mgrid[0:gray.shape[0], 0:gray.shape[1]]
    light = 175 + 70 * rows / gray.shape[0] + 70 * cols / gray.shape[1]
    photo = np.where(gray > 127, light, 50.0) + np.random.default_rng(seed).normal(0, 5, gray.shape)
    return np.clip(np.rint(photo), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", [0, 1])
def test_overexposed_paper_is_not_ink(seed):
    """A plane through the saturated patch and the rest of the page leaves the darker corner above it:
    it was read as ink, and the crop took in the corner."""
    page = overexposed(drawn_zero(size=(240, 320)), seed)
    assert 0.25 < np.mean(page == 255) < 0.5
    result, plain = load_digit_image(page), load_digit_image(drawn_zero(size=(240, 320)))
    assert correlation(result, plain, max_shift=1) > 0.95                                   # was 0.07 and 0.13
    assert result.any(axis=0).sum() == plain.any(axis=0).sum()                 # as wide: no corner in the crop


def test_paper_is_fitted_through_the_saturated_patch():
    from barecnn.data.images import _border_sample, _fit_paper

    rows, cols = np.mgrid[0:100, 0:80]
    beyond = 60.0 - 90.0 * rows / 100 - 40.0 * cols / 80      # inverted: paper at 0 and below is saturated
    gray = np.maximum(beyond, 0.0)
    gray[40:46, :2] = 250.0                                     # a stroke reaching the left edge
    fitted, noise = _fit_paper(gray, _border_sample(gray.shape))
    np.testing.assert_allclose(fitted.plane(rows, cols), beyond, atol=0.5)
    np.testing.assert_allclose(fitted(rows, cols), np.maximum(beyond, 0.0), atol=0.5)
    np.testing.assert_allclose(fitted.subtracted_from(np.maximum(beyond, 0.0)), 0.0, atol=0.5)   # no ink in it
    assert noise < 0.5


def test_small_tightly_cropped_scan_keeps_its_ink():
    """A 16x16 scan cropped to the digit (USPS's size): ink covers much of the border. The noise
    level was once measured on all of the border, ink included, and put every stroke under it."""
    big = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(big).ellipse([0, 0, 63, 63], outline=0, width=12)
    result = load_digit_image(big.resize((16, 16), Image.Resampling.BILINEAR))
    assert_mnist_like(result)
    assert result[11:18, 11:18].max() < 32 and result[14, 4:8].max() > 200   # a ring, hollow


def test_light_ink_said_by_the_caller_is_read_so_on_a_crop_full_of_ink():
    """A light 0 on black, cropped to its ink and thresholded (16x14): ink covers most of the
    image. ``invert=False`` once reached only the ink map: the frame steps read the paper their
    own way, took the black for a table beyond a light page and painted it over ("no ink found")."""
    big = Image.new("L", (64, 56), 0)
    ImageDraw.Draw(big).ellipse([0, 0, 63, 55], outline=255, width=12)
    small = np.where(np.asarray(big.resize((16, 14), Image.Resampling.BILINEAR)) > 127, 255, 0).astype(np.uint8)
    result = load_digit_image(small, invert=False)
    assert_mnist_like(result)
    assert result[11:18, 11:18].max() < 64 and result[14, 3:8].max() > 200   # a ring, hollow


def test_one_cropped_to_a_few_pixels_wide_is_read():
    """A '1' cropped to its ink leaves almost no paper: what the border calls paper is half ink, and
    its spread once made the noise threshold higher than the ink itself ("no ink found")."""
    big = Image.new("L", (16, 64), 255)
    ImageDraw.Draw(big).line([(4, 0), (8, 64)], fill=0, width=12)     # a slanted stroke, 16x4 once scanned
    result = load_digit_image(big.resize((4, 16), Image.Resampling.BILINEAR))
    assert result.max() == 255
    rows = np.flatnonzero(result.any(axis=1))
    assert rows[-1] - rows[0] + 1 == 20 and result.any(axis=0).sum() <= 10   # tall and narrow


@pytest.mark.parametrize("width", [4, 7, 12])
def test_measured_stroke_width_of_a_bar(width):
    from barecnn.data.images import _measure_stroke_width

    mask = np.zeros((220, 60), bool)
    mask[10:210, 20:20 + width] = True
    assert _measure_stroke_width(mask) == pytest.approx(width, rel=0.08)   # the bar's two ends add a little edge


def test_thin_strokes_are_widened_to_the_minimum_and_thick_ones_kept():
    from barecnn.data.images import MIN_STROKE_WIDTH, WORK_SCALE, _measure_stroke_width, _widen_thin_strokes

    thin = np.zeros((300, 200))
    thin[:, 98:101] = 1.0                 # a 3 px line, 300 px tall: 0.2 px once scaled into 20x20
    widened = _widen_thin_strokes(thin, 20)
    assert max(widened.shape) == pytest.approx(WORK_SCALE * 20, abs=2 * WORK_SCALE)
    measured = _measure_stroke_width(widened > 0.5 * widened.max()) / WORK_SCALE
    assert MIN_STROKE_WIDTH - 0.4 <= measured <= MIN_STROKE_WIDTH + 0.6
    thick = np.zeros((300, 200))
    thick[:, 80:120] = 1.0                # 40 px: 2.7 px in the box, like MNIST's median stroke
    assert _widen_thin_strokes(thick, 20) is thick


def test_ballpoint_digit_on_a_large_photo_comes_out_with_mnist_strokes():
    """A 2 px line around a 400 px tall '0' would be 0.1 px thick in the 20x20 box; predict widens
    it so the network sees a stroke about as thick as MNIST's thinner ones."""
    from barecnn.data.images import _measure_stroke_width

    image = Image.new("L", (300, 500), 235)
    ImageDraw.Draw(image).ellipse([60, 40, 240, 460], outline=20, width=2)
    result = load_digit_image(image)
    assert_mnist_like(result)
    upscaled = np.asarray(Image.fromarray(result).resize((112, 112), Image.Resampling.BICUBIC))
    assert _measure_stroke_width(upscaled > 127) / 4 > 1.5
    assert result[result > 0].size > 60       # a ring, not a hairline


def test_wide_shape_keeps_aspect_ratio():
    image = Image.new("L", (200, 100), 255)
    ImageDraw.Draw(image).rectangle([40, 45, 160, 54], fill=0)
    result = load_digit_image(image)
    rows = np.flatnonzero(result.any(axis=1))
    cols = np.flatnonzero(result.any(axis=0))
    assert len(cols) == 20 and len(rows) <= 4


def test_float_array_input():
    array = np.asarray(drawn_zero(), dtype=np.float32) / 255.0
    assert_mnist_like(load_digit_image(array))


def test_real_mnist_digit_round_trip(tmp_path):
    root = os.environ.get("BARECNN_DATA")
    path = (REPO_ROOT / root).resolve() / "mnist" / "t10k-images-idx3-ubyte.gz" if root else None
    if path is None or not path.is_file():
        pytest.skip("shared MNIST not available")
    digits = read_idx(path)[:20]
    correlations = []
    for index, digit in enumerate(digits):
        scan = Image.fromarray(255 - digit).resize((200, 200), Image.Resampling.BILINEAR)
        scan_path = tmp_path / f"digit{index}.png"
        scan.save(scan_path)
        result = load_digit_image(scan_path)
        correlations.append(np.corrcoef(result.ravel(), digit.ravel())[0, 1])
    assert correlations[0] > 0.8
    assert np.median(correlations) > 0.9


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (5, 1), (2, 2), (2, 50), (50, 2), (3, 3), (64, 3)])
@pytest.mark.parametrize("content", ["noise", "dot", "bar"])
def test_images_a_few_pixels_thin_give_a_digit_or_a_clear_error(shape, content):
    """Every step looks at lines and samples near the edges; in an image one or two pixels thin there
    may be none (the band step once indexed a second line of a 1-pixel-high image)."""
    rng = np.random.default_rng(sum(shape))
    if content == "noise":
        image = rng.integers(0, 256, shape).astype(np.uint8)
    else:
        image = np.full(shape, 230, np.uint8)
        if content == "dot":
            image[shape[0] // 2, shape[1] // 2] = 20
        else:
            image[: max(1, shape[0] // 5)] = 50
            image[shape[0] // 2] = 20
    try:
        result = load_digit_image(image)
    except ValueError as error:
        assert "no ink" in str(error)
    else:
        assert result.shape == (28, 28) and result.dtype == np.uint8


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_digit_image(tmp_path / "missing.png")


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("definitely not a PNG")
    with pytest.raises(ValueError, match="is not an image Pillow can read"):
        load_digit_image(path)


def test_phone_photo_format_pillow_cannot_read_says_what_to_do(tmp_path):
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(64))
    with pytest.raises(ValueError, match="IMG_0001.HEIC is not an image Pillow can read: .*save it as JPEG or PNG"):
        load_digit_image(path)


def test_truncated_image(tmp_path):
    path = tmp_path / "cut.png"
    drawn_zero().save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.png"):
        load_digit_image(path)


@pytest.mark.parametrize("paper", [255, 0, 128])
def test_blank_image(paper):
    with pytest.raises(ValueError, match="blank"):
        load_digit_image(Image.new("L", (50, 50), paper))


def png_claiming_size(path, width, height):
    """Write a tiny PNG whose header claims ``width`` x ``height`` pixels."""
    Image.new("L", (8, 8), 255).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("side", [7_000, 10_000, 20_000])
def test_huge_image_is_refused_before_decoding(tmp_path, side):
    limit_before = Image.MAX_IMAGE_PIXELS
    path = png_claiming_size(tmp_path / "bomb.png", side, side)
    with pytest.raises(ValueError, match=r"bomb\.png.*(limit|exceeds)") as info:
        load_digit_image(path)
    assert f"{side * side:,}" in str(info.value) or str(side * side) in str(info.value)
    assert Image.MAX_IMAGE_PIXELS == limit_before


def test_custom_pixel_limit():
    with pytest.raises(ValueError, match="100x100 = 10,000 pixels exceeds the limit of 5,000"):
        load_digit_image(drawn_zero((100, 100)), max_pixels=5_000)


# ------------------------------------------------------------------------- folders of labelled images
def test_read_image_folder_orders_by_label_then_name_and_prepares_like_predict(tmp_path):
    from barecnn.data import read_image_folder

    for label, names in (("3", ["b.png", "a.jpg"]), ("0", ["z.bmp"])):
        (tmp_path / label).mkdir()
        for name in names:
            drawn_zero(size=(120 + len(name), 160)).save(tmp_path / label / name)
    (tmp_path / "3" / ".hidden.png").write_text("skipped: dot files are ignored")
    images, labels, paths = read_image_folder(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == ["0/z.bmp", "3/a.jpg", "3/b.png"]
    np.testing.assert_array_equal(labels, [0, 3, 3])
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    for image, path in zip(images, paths):
        np.testing.assert_array_equal(image, load_digit_image(path))


def test_read_image_folder_labels_must_fit_the_model(tmp_path):
    from barecnn.data import read_image_folder

    (tmp_path / "7").mkdir()
    drawn_zero().save(tmp_path / "7" / "seven.png")
    assert read_image_folder(tmp_path, num_classes=10)[1].tolist() == [7]
    with pytest.raises(ValueError, match="folder names must be labels 0 .. 4, got '7'"):
        read_image_folder(tmp_path, num_classes=5)
