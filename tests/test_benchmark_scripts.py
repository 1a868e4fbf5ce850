"""The benchmark scripts start (their imports and argument parsing work); timings are not tested."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script", ["speed.py", "profile_training.py", "accuracy.py", "conv_orders.py",
                                    "winograd_probe.py", "tutorial_checks.py", "handwriting.py",
                                    "prepare_speed.py"])
def test_script_help(script):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage" in done.stdout


def test_profile_runs_one_step():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "profile_training.py"), "--model", "seed001",
                           "--steps", "1", "--batch-size", "4"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "per training step" in done.stdout


def test_prepare_speed_measures_every_input():
    if not (Path(os.environ.get("BARECNN_DATA", "")) / "mnist").is_dir():
        pytest.skip("shared MNIST not available")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "prepare_speed.py"), "--count", "3",
                           "--repeat", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "MiB" in line]
    assert [row.split(" | ")[0] for row in rows] == ["| 28x28 MNIST digit", "| 112x112 photo", "| 12 MP photo",
                                                     "| 12 MP photo, ruled"]


def test_handwriting_scores_a_model_file(tmp_path):
    """The redrawn sets are built through predict's preparation and a model file is scored on them
    (an untrained model: the figures are not checked, only that every set gets one)."""
    import barecnn
    from barecnn import io

    if not (Path(os.environ.get("BARECNN_DATA", "")) / "mnist").is_dir():
        pytest.skip("shared MNIST not available")
    model_path = tmp_path / "model.npz"
    io.save(barecnn.models.create("lenet5"), model_path)
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "handwriting.py"), str(model_path),
                           "--limit", "20", "--sets", "val", "thin-pen", "thick-pen", "photo", "thin-photo",
                           "ruled", "squared", "edge", "boxed", "box-cut", "corner", "page", "shadow", "small", "dotted",
                           "pencil", "tight", "--picture", str(tmp_path / "sets.png")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.strip().splitlines()[-3], done.stdout.strip().splitlines()[-1]
    assert header == ("| model | val | thin-pen | thick-pen | photo | thin-photo | ruled | squared | edge | boxed | "
                      "box-cut | corner | page | shadow | small | dotted | pencil | tight |")
    assert row.startswith(f"| {model_path} |") and row.count("%") == 17
    assert (tmp_path / "sets.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lockstep_trains_barecnn_and_pytorch_alike():
    """``tutorial_checks.py lockstep`` on 200 random images (600 steps of batch 1): barecnn's Trainer
    and the PyTorch loop from the same weights, on the same order, end with the same weights."""
    pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import numpy as np
    import tutorial_checks
    from barecnn.data import Dataset

    rng = np.random.default_rng(0)
    data = Dataset(rng.integers(0, 256, (200, 28, 28), dtype=np.uint8), rng.integers(0, 10, 200),
                   rng.integers(0, 256, (100, 28, 28), dtype=np.uint8), rng.integers(0, 10, 100), "random", "random")
    result = tutorial_checks.lockstep(data, seed=3)
    assert result["apart"] < 1e-4
    assert result["disagree"] == 0 and result["barecnn"] == result["pytorch"]
