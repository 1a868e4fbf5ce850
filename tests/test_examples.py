"""Every tutorial experiment in examples/ runs from its documented command (here on a few images:
``--limit`` caps the training, validation and test images, so the figures are not checked)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["seed000_3x3_1k.py", "seed000_keras_full.py", "seed001_cs229.py", "seed004_lenet_like.py",
            "cs231n_threelayer.py"]


def test_every_example_is_run_here():
    scripts = sorted(path.name for path in (ROOT / "examples").glob("*.py") if not path.name.startswith("_"))
    assert scripts == sorted(EXAMPLES)


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_runs_on_a_few_images(script):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--seeds", "2", "--limit", "120"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for seed in (0, 1):
        assert any(line.startswith(f"seed {seed}: test accuracy ") and
                   "on 120 test images (120 training images" in line for line in lines), done.stdout
    assert any(line.startswith("ours: mean test accuracy") and "over 2 seeds" in line for line in lines)
    assert "(--limit 120: a check that the script runs, not the tutorial's experiment)" in lines
    assert any(line.startswith("tutorial: ") for line in lines)
    assert any(line.startswith("why they differ: ") for line in lines)
