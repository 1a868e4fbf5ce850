"""The benchmark scripts start (their imports and argument parsing work); timings are not tested."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script", ["speed.py", "profile_training.py", "accuracy.py", "conv_orders.py",
                                    "winograd_probe.py", "tutorial_checks.py"])
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
