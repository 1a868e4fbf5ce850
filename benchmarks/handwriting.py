"""How the default model fares on handwriting that does not look like MNIST's.

MNIST's digits were written with thick pens and scanned; a user's digit is a photo of a pen or
pencil stroke, prepared by ``barecnn predict`` (``load_digit_image``). This benchmark scores a model
file on digits that differ from MNIST the way users' digits do, every one of them prepared the way
``predict`` prepares images:

* ``val``: the 5,000 validation digits ``barecnn train --seed S`` held out (as they are);
* ``thin-pen`` / ``thick-pen``: the same digits redrawn at 4x size with a thinner / thicker stroke
  (the core of the stroke, or the stroke dilated), then prepared from that large image;
* ``photo``: the same digits as dark ink on unevenly lit grey paper with grain and blur, at 4x size;
* ``thin-photo``: both at once, a ballpoint pen's thin stroke photographed on such paper;
* ``ruled`` / ``squared``: the photo taken of a page of a ruled / squared exercise book, its faint
  printed lines tilted with the page by up to 4 degrees;
* ``edge``: the photo taken a little beyond the page, the dark table showing along one side;
* ``corner``: the photo taken beyond a page's corner, the table along two adjacent sides;
* ``page``: the photo of a page turned by up to 20 degrees on the table, which shows in wedges
  along the frame; the page's edges pass 4-30 px (at 4x) from the ink;
* ``shadow``: the photo with a shadow across part of the page (the phone's, the hand's): 25-45%
  darker, its soft edge 6-20 px wide, reaching 15-45% of the way across;
* ``small``: a phone's photo in which the digit is small: the digit at a random spot of a page 3-5
  times as wide and as high (3:4, either way up), lit and grained as ``photo``, saved as JPEG
  (quality 70-95);
* ``dotted``: the photo on a dot-grid page: dots 1-2.5 px in radius on a square lattice 16-30 px
  apart (at 4x), 25-60% as dark as the pen, the page turned by up to 4 degrees;
* ``pencil``: a light pencil's grey strokes on the photo's paper, 20-60 levels under it (the
  paper's light varies by up to 80 levels across the page), the graphite grainy;
* ``boxed``: the photo of a form: a 2 px box drawn round the digit's field, 20 px of paper round it;
* ``box-cut``: the same box, the photo cut along its outer edge (a form's boxes cut apart);
* ``tight``: the digit cropped to its ink and scanned small, 16 px on its longer side (USPS's
  digits are 16x16), dark on white: ink touches every edge and no paper frames it;
* ``uci``: 1,797 digits by 43 other writers (UCI's optical digits, NIST forms, 32x32 bitmaps
  counted into 8x8 blocks), read from scikit-learn's copy of the data file without importing
  scikit-learn (``pip install scikit-learn``; the set is skipped without it).

The first four come from the training data's validation split, so they may guide choices; the test
set is never read here.

    python benchmarks/handwriting.py runs/barenet/model.npz [MODEL ...] [--seed 0] [--sets val thin-pen ...]
    python benchmarks/handwriting.py MODEL --limit 12 --picture sets.png   # what each set looks like
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import barecnn  # noqa: E402
from barecnn.data import load_dataset, load_digit_image  # noqa: E402
from barecnn.data.transforms import grey_dilate  # noqa: E402
from barecnn.train import Split, split_dataset  # noqa: E402

UPSCALE = 4
SETS = ("val", "thin-pen", "thick-pen", "photo", "thin-photo", "ruled", "squared", "edge", "boxed", "box-cut", "corner",
        "page", "shadow", "small", "dotted", "pencil", "tight", "uci")
TIGHT_SIZE = 16


def upscaled_ink(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, 112, 112) float ink in 0..1, bicubic, as if scanned at 4x."""
    size = images.shape[-1] * UPSCALE
    return np.stack([np.clip(np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC),
                                         dtype=np.float32) / 255.0, 0, 1) for image in images])


def thin_pen(ink: np.ndarray) -> np.ndarray:
    """Only the stroke's core: pixels above 90% of full ink, softened by one pixel of blur."""
    core = (ink > 0.9).astype(np.float32)
    return box_blur(core, 1)


def thick_pen(ink: np.ndarray) -> np.ndarray:
    """The stroke widened by about 6 px at 4x (1.5 px at 28x28)."""
    return grey_dilate(ink, 3)


def lit_paper(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """(N, H, W) light grey paper lit unevenly: levels 170-230, rising or falling by up to 40 levels
    down the page and across it."""
    n, height, width = shape
    ramp_y, ramp_x = np.mgrid[0:height, 0:width] / max(height, width)
    slope = rng.uniform(-40, 40, size=(n, 2, 1, 1))
    return rng.uniform(170, 230, size=(n, 1, 1)) + slope[:, 0] * ramp_y + slope[:, 1] * ramp_x


def photo(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dark ink on light grey paper: a lighting gradient, grain and slight blur (uint8, 0 = black)."""
    paper = lit_paper(ink.shape, rng)
    ink_level = rng.uniform(20, 90, size=(len(ink), 1, 1))
    page = paper - (paper - ink_level) * box_blur(ink, 1) + rng.normal(0, 6, size=ink.shape)
    return np.clip(np.rint(page), 0, 255).astype(np.uint8)


def pencil(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A light pencil's grey strokes photographed on ``photo``'s paper: 20-60 levels under it (a
    pen's are 80-210), the graphite's grain taking up to 40% off each pixel's darkening."""
    darkening = rng.uniform(20, 60, size=(len(ink), 1, 1)) * rng.uniform(0.6, 1.0, size=ink.shape)
    page = lit_paper(ink.shape, rng) - darkening * box_blur(ink, 1) + rng.normal(0, 6, size=ink.shape)
    return np.clip(np.rint(page), 0, 255).astype(np.uint8)


def turned(rows: np.ndarray, cols: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates in a frame turned by ``angle`` (radians): the distance down it and across it."""
    return rows * np.cos(angle) - cols * np.sin(angle), rows * np.sin(angle) + cols * np.cos(angle)


def lined_paper(ink: np.ndarray, rng: np.random.Generator, squared: bool) -> np.ndarray:
    """The strokes over a page's printed lines: ruled lines 22-36 px apart (squares of 16-26 px),
    about 2 px thick, 20-50% as dark as the pen, the page turned by up to 4 degrees (at 4x size)."""
    n, height, width = ink.shape
    rows, cols = np.mgrid[0:height, 0:width]
    out = ink.copy()
    for page in out:
        angle = np.deg2rad(rng.uniform(-4, 4))
        spacing = rng.uniform(16, 26) if squared else rng.uniform(22, 36)
        level = rng.uniform(0.2, 0.5)
        down, across = turned(rows, cols, angle)                          # distance down the page, across it
        for position in (down, across) if squared else (down,):
            np.maximum(page, level * np.clip(1.5 - to_printed(position, spacing, rng), 0, 1), out=page)
    return out


def dotted_paper(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The strokes over a dot-grid page's printed dots: a square lattice 16-30 px apart, dots of
    radius 1-2.5 px, 25-60% as dark as the pen, the page turned by up to 4 degrees (at 4x size)."""
    n, height, width = ink.shape
    rows, cols = np.mgrid[0:height, 0:width]
    out = ink.copy()
    for page in out:
        angle = np.deg2rad(rng.uniform(-4, 4))
        spacing, radius, level = rng.uniform(16, 30), rng.uniform(1, 2.5), rng.uniform(0.25, 0.6)
        down, across = turned(rows, cols, angle)
        to_row, to_col = (to_printed(position, spacing, rng) for position in (down, across))
        np.maximum(page, level * np.clip(radius + 0.5 - np.hypot(to_row, to_col), 0, 1), out=page)
    return out


def to_printed(position: np.ndarray, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """Distance from ``position`` (px along one axis of the page) to the nearest of lines ``spacing``
    px apart, at a random offset."""
    return np.abs((position - rng.uniform(0, spacing) + spacing / 2) % spacing - spacing / 2)


def strip(side: str, width: int):
    """The index expression of the ``width`` px along one side ("top", "bottom", "left", "right")."""
    return {"top": np.s_[:width], "bottom": np.s_[-width:], "left": np.s_[:, :width],
            "right": np.s_[:, -width:]}[side]


def table_edge(pages: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo taken a little beyond the page: a dark band (the table, levels 30-90) 4-8 px wide
    along one side, at 4x size, clear of the digit (MNIST's margins are wider)."""
    pages = pages.copy()
    for page in pages:
        width, level = rng.integers(4, 9), rng.uniform(30, 90)
        page[strip(("top", "bottom", "left", "right")[rng.integers(4)], width)] = level
    return pages


def table_corner(pages: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo taken beyond a page's corner: the table (levels 30-90) along two adjacent sides, each
    4-8 px wide at 4x size."""
    pages = pages.copy()
    for page in pages:
        level = rng.uniform(30, 90)
        across, down = rng.integers(4, 9, size=2)
        page[strip(("top", "bottom")[rng.integers(2)], across)] = level
        page[strip(("left", "right")[rng.integers(2)], down)] = level
    return pages


def turned_page(pages: np.ndarray, ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo of a page turned by up to 20 degrees on a table (levels 30-90, with the photo's
    grain) and off centre by up to 8 px: what lies beyond the page is table. The page's edges pass
    4-30 px from the farthest ``ink`` above 0.05 along each of its axes."""
    pages = pages.copy()
    height, width = pages.shape[1:]
    rows, cols = np.mgrid[0:height, 0:width]
    for page, strokes in zip(pages, ink):
        angle = np.deg2rad(rng.uniform(-20, 20))
        centre_row, centre_col = (height - 1) / 2 + rng.uniform(-8, 8, size=2)
        down, across = turned(rows - centre_row, cols - centre_col, angle)
        inked = strokes > 0.05
        half_height = np.abs(down[inked]).max(initial=0) + rng.uniform(4, 30)
        half_width = np.abs(across[inked]).max(initial=0) + rng.uniform(4, 30)
        table = (np.abs(down) > half_height) | (np.abs(across) > half_width)
        grain = rng.normal(0, 6, size=int(table.sum()))
        page[table] = np.clip(np.rint(rng.uniform(30, 90) + grain), 0, 255)
    return pages


def shadow(pages: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A shadow across part of each page, from any direction: 25-45% darker, its edge a logistic
    ramp 6-20 px wide (at 4x size), reaching 15-45% of the way across the photo."""
    height, width = pages.shape[1:]
    rows, cols = np.mgrid[0:height, 0:width] - np.array([height / 2, width / 2])[:, None, None]
    out = pages.astype(np.float64)
    for page in out:
        across, _ = turned(rows, cols, -rng.uniform(0, 2 * np.pi))          # towards the angle
        edge = across.max() - rng.uniform(0.15, 0.45) * (across.max() - across.min())
        ramp = 1.0 / (1.0 + np.exp(-(across - edge) / (rng.uniform(6, 20) / 4)))
        page *= 1.0 - rng.uniform(0.25, 0.45) * ramp
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def small_in_photo(ink: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """A phone's photo in which the digit is small: each digit's ink (at 4x) at a random spot of a
    page 3-5 times as high and as wide (3:4, portrait or landscape), lit and grained as ``photo``
    across the whole frame, and saved as JPEG at quality 70-95 (its blocks and ringing are specks
    of ink the size of the digit's strokes)."""
    pages = []
    size = ink.shape[-1]
    for strokes in ink:
        long_side = int(round(rng.uniform(3, 5) * size))
        short_side = long_side * 3 // 4
        height, width = (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)
        canvas = np.zeros((1, height, width), dtype=np.float32)
        top, left = rng.integers(0, height - size + 1), rng.integers(0, width - size + 1)
        canvas[0, top:top + size, left:left + size] = strokes
        encoded = io.BytesIO()
        Image.fromarray(photo(canvas, rng)[0]).save(encoded, "JPEG", quality=int(rng.integers(70, 96)))
        pages.append(np.asarray(Image.open(encoded)))
    return pages


def boxed(ink: np.ndarray, width: int = 2, paper: int = 20, level: float = 0.8) -> np.ndarray:
    """(N, H, W) ink -> (N, H + 2 * paper, W + 2 * paper): a form's box ``width`` px wide round each
    digit's field, with ``paper`` px of paper beyond it."""
    out = np.pad(ink, ((0, 0), (paper, paper), (paper, paper)))
    rows, cols = out.shape[1:]
    frame = np.zeros((rows, cols), dtype=bool)
    frame[paper - width:rows - paper + width, paper - width:cols - paper + width] = True
    frame[paper:rows - paper, paper:cols - paper] = False
    out[:, frame] = np.maximum(out[:, frame], level)
    return out


def tight_scan(image: np.ndarray) -> np.ndarray:
    """A (28, 28) MNIST digit cropped to its ink, scaled to TIGHT_SIZE px on its longer side, dark on white."""
    # Its own crop, not barecnn's: the sets are drawn the same whichever barecnn is being measured.
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    crop = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = TIGHT_SIZE / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    return 255 - np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BILINEAR))


def box_blur(images: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, separably, edges padded with zeros."""
    k = 2 * radius + 1
    for axis in (1, 2):
        padded = np.pad(images, [(0, 0)] + [(radius, radius) if a == axis else (0, 0) for a in (1, 2)])
        cumulative = np.cumsum(padded, axis=axis, dtype=np.float64)
        cumulative = np.concatenate([np.zeros_like(cumulative.take([0], axis=axis)), cumulative], axis=axis)
        length = images.shape[axis]
        images = ((cumulative.take(np.arange(k, k + length), axis=axis)
                   - cumulative.take(np.arange(0, length), axis=axis)) / k).astype(np.float32)
    return images


def prepare(pages) -> np.ndarray:
    """Run every image through ``predict``'s preparation: (N, 28, 28) uint8."""
    return np.stack([prepare_or_blank(page) for page in pages])


def prepare_or_blank(page) -> np.ndarray:
    """``predict``'s preparation of one image; an image it refuses (no ink found) becomes a blank
    digit, which counts as misread (and as refused, see :func:`refused`)."""
    try:
        return load_digit_image(page)
    except ValueError:
        return np.zeros((28, 28), dtype=np.uint8)


def uci_digits():
    """UCI's optical digits from scikit-learn's data file: (1797, 8, 8) counts 0..16 and labels,
    or None when scikit-learn is not installed."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder, "datasets", "data", "digits.csv.gz")
        if path.is_file():
            with gzip.open(path, "rt") as handle:
                table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
            return table[:, :64].reshape(-1, 8, 8), table[:, 64]
    return None


def build_sets(names, seed: int, limit: int | None = None, chunk: int = 500):
    """name -> (prepared images (N, 28, 28) uint8, labels); the validation split of ``seed``
    (its first ``limit`` digits, if given)."""
    data = load_dataset("mnist")
    _, val, _ = split_dataset(data, 5000, np.random.default_rng(seed))
    val = Split(val.images[:limit], val.labels[:limit])
    # photo and thin-photo draw from one stream, in this order, as when their figures were first made;
    # each later set has its own, so that it can be built alone.
    rng = np.random.default_rng(1234)
    own = {name: np.random.default_rng([1234, SETS.index(name)])
           for name in ("ruled", "squared", "edge", "boxed", "box-cut", "corner", "page", "shadow", "small", "dotted",
                        "pencil")}
    redraw = {"thin-pen": thin_pen, "thick-pen": thick_pen, "photo": lambda ink: photo(ink, rng),
              "thin-photo": lambda ink: photo(thin_pen(ink), rng),
              "ruled": lambda ink: photo(lined_paper(ink, own["ruled"], squared=False), own["ruled"]),
              "squared": lambda ink: photo(lined_paper(ink, own["squared"], squared=True), own["squared"]),
              "edge": lambda ink: table_edge(photo(ink, own["edge"]), own["edge"]),
              "boxed": lambda ink: photo(boxed(ink), own["boxed"]),
              "box-cut": lambda ink: photo(boxed(ink, paper=2), own["box-cut"]),
              "corner": lambda ink: table_corner(photo(ink, own["corner"]), own["corner"]),
              "page": lambda ink: turned_page(photo(ink, own["page"]), ink, own["page"]),
              "shadow": lambda ink: shadow(photo(ink, own["shadow"]), own["shadow"]),
              "small": lambda ink: small_in_photo(ink, own["small"]),
              "dotted": lambda ink: photo(dotted_paper(ink, own["dotted"]), own["dotted"]),
              "pencil": lambda ink: pencil(ink, own["pencil"])}
    sets = {}
    for name in names:
        if name == "val":
            sets[name] = (val.images, val.labels)
        elif name in redraw:
            # A chunk at a time: 5,000 of the `small` set's photos would hold 700 MB.
            sets[name] = (np.concatenate([prepare(redraw[name](upscaled_ink(val.images[start:start + chunk])))
                                          for start in range(0, len(val), chunk)]), val.labels)
        elif name == "tight":
            sets[name] = (prepare([tight_scan(image) for image in val.images]), val.labels)
        elif name == "uci":
            digits = uci_digits()
            if digits is None:
                print("uci: skipped (pip install scikit-learn to score it)")
                continue
            sets[name] = (prepare([counts / 16.0 for counts in digits[0][:limit]]), digits[1][:limit])
    return sets


def refused(images: np.ndarray) -> str:
    """', N refused' for the blank digits ``prepare`` put where ``predict`` found no ink, else ''."""
    count = int(np.sum(images.max(axis=(1, 2)) == 0))
    return f", {count} refused" if count else ""


def save_picture(sets, path, per_set: int = 12) -> None:
    """One row per set: its first ``per_set`` digits as the network sees them."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(sets), 1, figsize=(per_set * 0.6, len(sets) * 0.8), squeeze=False)
    for axis, (name, (images, _)) in zip(axes[:, 0], sets.items()):
        axis.imshow(np.concatenate(list(images[:per_set]), axis=1), cmap="gray", vmin=0, vmax=255)
        axis.set_ylabel(name, rotation=0, ha="right", va="center")
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model files (.npz) to score")
    parser.add_argument("--seed", type=int, default=0, help="the --seed the models were trained with")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--limit", type=int, default=None, help="score only the first N digits of each set")
    parser.add_argument("--save", help="write the prepared sets to this .npz (to look at them)")
    parser.add_argument("--picture", help="draw each set's first digits, as the network sees them, into this PNG")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    sets = build_sets(args.sets, args.seed, args.limit)
    sizes = ", ".join(f"{name} ({len(labels):,}{refused(images)})" for name, (images, labels) in sets.items())
    print(f"prepared {sizes} in {time.perf_counter() - start:.0f} s")
    if args.save:
        np.savez_compressed(args.save, **{f"{k}_images": v[0] for k, v in sets.items()},
                            **{f"{k}_labels": v[1] for k, v in sets.items()})
    if args.picture:
        save_picture(sets, args.picture)
    print("| model | " + " | ".join(sets) + " |")
    print("|---|" + "---|" * len(sets))
    for path in args.models:
        model = barecnn.load(path)
        scores = [np.mean(model.predict(images) == labels) for images, labels in sets.values()]
        print(f"| {path} | " + " | ".join(f"{s:.2%}" for s in scores) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
