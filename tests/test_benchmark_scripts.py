"""The benchmark scripts start (their imports and argument parsing work); timings are not tested."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script", ["speed.py", "profile_training.py", "accuracy.py", "conv_orders.py",
                                    "winograd_probe.py", "tutorial_checks.py", "process_parallel_probe.py"])
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the probe forks a worker (Linux)")
def test_process_parallel_probe_checks_its_gradients_and_runs():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "process_parallel_probe.py"), "--rounds", "1",
                           "--steps", "1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "max relative difference" in done.stdout and "median" in done.stdout
