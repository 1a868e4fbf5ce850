"""Shared pytest configuration and fixtures for the barecnn test suite."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

# Make tests/helpers.py importable as ``helpers`` whatever the import mode.
sys.path.insert(0, os.path.dirname(__file__))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: property-based or loop-heavy tests (deselect with -m 'not slow')")


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, fixed-seed NumPy generator for each test."""
    return np.random.default_rng(20240611)


# --------------------------------------------------------------------------------------------
# Fixtures for the training-stack tests (test_io, test_train, test_cli, test_resume, ...).
# Data: a small IDX folder cut from the shared MNIST ($BARECNN_DATA, relative paths taken from
# the repository root; tests that need it skip when it is absent) and a synthetic, learnable
# IDX folder that needs nothing. ``barecnn_cli`` runs the command in a subprocess.
# --------------------------------------------------------------------------------------------
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_mnist_path():
    """``$BARECNN_DATA/mnist`` as an absolute path if its four IDX files are there, else None."""
    root = os.environ.get("BARECNN_DATA")
    if not root:
        return None
    directory = (REPO_ROOT / root).resolve() / "mnist"
    from barecnn.data.datasets import find_idx_files
    return directory if directory.is_dir() and find_idx_files(directory) is not None else None


def _write_idx_dir(directory: Path, train_images, train_labels, test_images, test_labels) -> Path:
    from barecnn.data import write_idx
    from barecnn.data.registry import IDX_STEMS
    directory.mkdir(parents=True, exist_ok=True)
    for stem, array in zip(IDX_STEMS, (train_images, train_labels, test_images, test_labels)):
        write_idx(directory / stem, np.asarray(array, dtype=np.uint8))
    return directory


@pytest.fixture(scope="session")
def mnist_subset():
    """A fixed subset of the shared MNIST: dict of uint8 arrays (2,400 train, 500 test); skips if absent."""
    directory = shared_mnist_path()
    if directory is None:
        pytest.skip("shared MNIST not found (set BARECNN_DATA to the folder holding mnist/)")
    from barecnn.data import load_dataset_dir
    dataset = load_dataset_dir(directory)
    return {"train_images": dataset.train_images[:2400].copy(), "train_labels": dataset.train_labels[:2400].copy(),
            "test_images": dataset.test_images[:500].copy(), "test_labels": dataset.test_labels[:500].copy()}


@pytest.fixture(scope="session")
def mnist_subset_dir(tmp_path_factory, mnist_subset):
    """An IDX folder holding ``mnist_subset`` (pass it as ``--dataset DIR``)."""
    return _write_idx_dir(tmp_path_factory.mktemp("mnist_subset") / "mnist-small",
                          mnist_subset["train_images"], mnist_subset["train_labels"],
                          mnist_subset["test_images"], mnist_subset["test_labels"])


def synthetic_digits(n: int, seed: int = 0):
    """``n`` learnable 28x28 uint8 images and labels: one blocky template per class plus noise."""
    templates = np.kron(np.random.default_rng(12345).random((10, 7, 7)) > 0.6, np.ones((4, 4)))
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = templates[labels] * 200.0 + rng.random((n, 28, 28)) * 55.0
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.uint8)


@pytest.fixture(scope="session")
def synthetic_data_dir(tmp_path_factory):
    """An IDX folder of synthetic digits (400 train, 100 test): no MNIST needed."""
    train = synthetic_digits(400, seed=1)
    test = synthetic_digits(100, seed=2)
    return _write_idx_dir(tmp_path_factory.mktemp("synthetic") / "synthetic", *train, *test)


@pytest.fixture(scope="session")
def barecnn_cli(tmp_path_factory):
    """Run ``python -m barecnn ARGS...`` in a subprocess: ``barecnn_cli(*args, cwd=None, timeout=120)``.

    The environment has an absolute ``$BARECNN_DATA`` (if set), a private ``XDG_CACHE_HOME``, the
    Agg matplotlib backend and one BLAS thread (unless set). ``executable`` replaces
    ``[python, -m, barecnn]`` (e.g. ``["barecnn"]`` or a wrapper script). Returns the
    ``subprocess.CompletedProcess`` (text output captured).
    """
    cache = tmp_path_factory.mktemp("xdg_cache")

    def run(*args, cwd=None, timeout=120, executable=None):
        env = dict(os.environ, XDG_CACHE_HOME=str(cache), MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
        # One BLAS thread per subprocess: on busy shared cores OpenBLAS's spinning threads make a
        # short training run several times slower (the results are the same).
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(name, "1")
        if env.get("BARECNN_DATA"):
            env["BARECNN_DATA"] = str((REPO_ROOT / env["BARECNN_DATA"]).resolve())
        command = list(executable) if executable else [sys.executable, "-m", "barecnn"]
        return subprocess.run(command + [str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def make_synthetic_digits():
    """The ``synthetic_digits(n, seed)`` generator, for tests that want arrays rather than a folder."""
    return synthetic_digits
