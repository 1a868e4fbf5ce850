"""What barecnn knows about each named dataset: files, checksums, mirrors."""

from dataclasses import dataclass

# Stem of each IDX file, in the order (train images, train labels, test images, test labels).
IDX_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IDX_FILES = tuple(f"{stem}.gz" for stem in IDX_STEMS)

DIGIT_CLASSES = tuple(str(digit) for digit in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset that can be found by name and downloaded.

    Attributes
    ----------
    name : str
        Name used by ``load_dataset`` and as the folder name on disk.
    title : str
        Human name, used in messages.
    mirrors : tuple of str
        Base URLs, tried in order; each serves the four ``IDX_FILES``.
    md5 : dict
        File name -> MD5 hex digest of the published ``.gz`` file.
    class_names : tuple of str
        Name of each label 0..9.
    """

    name: str
    title: str
    mirrors: tuple
    md5: dict
    class_names: tuple


KNOWN_DATASETS = {
    "mnist": DatasetInfo(
        name="mnist",
        title="MNIST",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        class_names=DIGIT_CLASSES,
    ),
    "fashion-mnist": DatasetInfo(
        name="fashion-mnist",
        title="Fashion-MNIST",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        class_names=FASHION_CLASSES,
    ),
}


def canonical_name(name):
    """Return the registry key for ``name`` ('Fashion_MNIST' -> 'fashion-mnist'), or None."""
    key = str(name).strip().lower().replace("_", "-")
    aliases = {"fashionmnist": "fashion-mnist"}
    key = aliases.get(key, key)
    return key if key in KNOWN_DATASETS else None
