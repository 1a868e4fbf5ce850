"""How long ``predict`` takes to prepare one image, and the memory it needs (``load_digit_image``).

Four kinds of input, made here so that every checkout measures the same thing: a 28x28 MNIST
digit (a user's image already in MNIST's format), the handwriting benchmark's 112x112 photos of
validation digits, and a 4000x3000 (12 MP) phone photo of a drawn 7, on plain paper and on ruled
paper turned by 2 degrees. Time is the mean over the images (the 12 MP photos: over ``--repeat``
runs, after one unmeasured run); memory is the peak of Python's and NumPy's allocations
(``tracemalloc``) while one image is prepared.

    python benchmarks/prepare_speed.py [--count 500] [--repeat 3]

To compare with an older version, run this file from a ``git worktree`` of it (``python
/path/to/this/checkout/benchmarks/prepare_speed.py --package .``): ``--package`` names the checkout
whose ``barecnn`` is measured. The validation digits need MNIST (``BARECNN_DATA``).
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def phone_photo(ruled: bool, rng: np.random.Generator) -> np.ndarray:
    """(3000, 4000) uint8: a thick dark 7 on light grey paper with sensor noise, optionally over
    ruled lines 90 px apart, 6 px thick, turned by 2 degrees."""
    page = Image.new("L", (4000, 3000), 225)
    draw = ImageDraw.Draw(page)
    if ruled:
        for row in range(-500, 3500, 90):
            draw.line([(0, row), (4000, row + 140)], fill=170, width=6)
    draw.line([(1500, 1000), (2400, 1000), (1800, 2100)], fill=40, width=14, joint="curve")
    noisy = np.asarray(page, dtype=np.float64) + rng.normal(0, 4, (3000, 4000))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def seconds_per_image(load, images, repeat: int = 1) -> float:
    load(images[0])
    start = time.perf_counter()
    for _ in range(repeat):
        for image in images:
            load(image)
    return (time.perf_counter() - start) / (len(images) * repeat)


def peak_mib(load, image) -> float:
    tracemalloc.start()
    load(image)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="28x28 and 112x112 images to time")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each 12 MP photo")
    parser.add_argument("--package", default=str(Path(__file__).resolve().parent.parent),
                        help="the checkout whose barecnn is measured (default: this one)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(args.package).resolve()))
    from barecnn.data import load_dataset, load_digit_image   # first: handwriting.py puts this checkout on the path
    from barecnn.train import split_dataset

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import handwriting

    _, val, _ = split_dataset(load_dataset("mnist"), 5000, np.random.default_rng(0))
    digits = list(val.images[:args.count])
    photos = list(handwriting.photo(handwriting.upscaled_ink(val.images[:args.count]), np.random.default_rng(1)))
    rng = np.random.default_rng(2)
    plain, ruled = phone_photo(False, rng), phone_photo(True, rng)
    print(f"barecnn from {Path(sys.modules['barecnn'].__file__).parent.parent}")
    print("| input | time per image | peak memory |")
    print("|---|---|---|")
    for name, images, repeat in (("28x28 MNIST digit", digits, 1), ("112x112 photo", photos, 1),
                                 ("12 MP photo", [plain], args.repeat), ("12 MP photo, ruled", [ruled], args.repeat)):
        seconds = seconds_per_image(load_digit_image, images, repeat)
        print(f"| {name} | {seconds * 1e3:.2f} ms | {peak_mib(load_digit_image, images[0]):.1f} MiB |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
