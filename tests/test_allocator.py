"""barecnn keeps freed memory in the process (glibc mallopt), unless told not to."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from barecnn import _allocator

LINUX = sys.platform.startswith("linux")


def run_python(code: str, **env) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, **env})
    return result.stdout.strip()


@pytest.mark.skipif(not LINUX, reason="mallopt is glibc's")
def test_import_keeps_freed_memory_on_linux():
    assert run_python("import barecnn; print(barecnn.KEEPS_FREED_MEMORY)") == "True"


def test_opt_out_by_environment(monkeypatch):
    monkeypatch.setenv(_allocator.OPT_OUT_VARIABLE, "0")
    assert _allocator.keep_freed_memory() is False
    assert run_python("import barecnn; print(barecnn.KEEPS_FREED_MEMORY)", **{_allocator.OPT_OUT_VARIABLE: "0"}) \
        == "False"


@pytest.mark.skipif(not LINUX, reason="page-fault counts are read from getrusage on Linux")
def test_steps_stop_page_faulting():
    """The point of the setting: after warm-up, training steps reuse memory instead of faulting in
    fresh pages (without it LeNet-5 takes ~2,000 faults per step)."""
    code = """
import resource, numpy as np, barecnn
from barecnn import models, nn, optim
model = models.create('lenet5', rng=np.random.default_rng(0))
x = np.random.default_rng(1).standard_normal((64, 1, 28, 28)).astype(np.float32)
y = np.arange(64) % 10
opt, crit = optim.SGD(model.parameters(), lr=0.01), nn.CrossEntropyLoss()
def step():
    opt.zero_grad(); crit(model(x), y); model.backward(crit.backward(), need_input_grad=False); opt.step()
for _ in range(5): step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10): step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""
    kept = float(run_python(code))
    returned = float(run_python(code, **{_allocator.OPT_OUT_VARIABLE: "0"}))
    assert kept < 50, f"{kept} page faults per step with freed memory kept"
    assert returned > 10 * max(kept, 1), f"opting out should fault far more ({returned} vs {kept} per step)"
