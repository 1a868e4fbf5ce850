"""The speed benchmark's plumbing (not its timings): the spec -> PyTorch translator, the tables,
and that ``bench.main`` runs with tiny settings, with and without PyTorch."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from barecnn import models

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench  # noqa: E402  (benchmarks/bench.py: outside the package, it may import torch)


def tiny_args(**overrides):
    args = dict(models="lenet5", batch_size=4, seconds=0.05, rounds=1, threads=None, naive=False, conv=False,
                memory=False)
    args.update(overrides)
    return SimpleNamespace(**args)


@pytest.mark.parametrize("name", list(models.ZOO))
def test_torch_twin_forward_equals_ours(name):
    torch = pytest.importorskip("torch")
    model = models.create(name, rng=np.random.default_rng(1)).double()
    model.eval()
    twin = bench.torch_twin(model, torch)
    assert list(twin.state_dict()) == list(model.state_dict())
    assert twin.training is False
    x = np.random.default_rng(2).standard_normal((3, 1, 28, 28))
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x), theirs, rtol=1e-10, atol=1e-12)


def test_torch_twin_trains_like_ours():
    """One SGD step from the same weights gives the same loss and weights (float64, BatchNorm in
    training mode; no dropout, whose masks cannot match)."""
    torch = pytest.importorskip("torch")
    spec = [models.conv(1, 4, 3, padding=1, bias=False), models.layer("BatchNorm2d", num_features=4),
            models.layer("ReLU"), models.layer("MaxPool2d", kernel_size=2), models.layer("GlobalAvgPool2d"),
            models.linear(4, 10)]
    model = models.Classifier("tiny", spec, models.STANDARDIZE, rng=np.random.default_rng(1)).double()
    twin = bench.torch_twin(model, torch)
    x, y = bench.batch_data(4)
    train_ours = bench.barecnn_steps(model, x.astype(np.float64), y)[0]
    train_theirs = bench.torch_steps(twin, x.astype(np.float64), y, torch)[0]
    assert train_ours() == pytest.approx(train_theirs().item(), rel=1e-10)
    for key, value in twin.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key], value.numpy(), rtol=1e-8, atol=1e-10, err_msg=key)


def test_torch_sequential_rejects_unknown_layers():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="Bogus"):
        bench.torch_sequential([["Bogus", {}]], torch)


def test_main_prints_throughput_table(capsys, tmp_path):
    pytest.importorskip("torch")
    out_json = tmp_path / "bench.json"
    assert bench.main(tiny_args(json=str(out_json))) == 0
    out = capsys.readouterr().out
    for text in ("machine", "numpy", "torch    2", "barecnn img/s", "PyTorch img/s", "ours/torch",
                 "max |logit difference|"):
        assert text in out
    # barecnn (split across workers), barecnn unsplit (n/a with one worker), torch, ratio
    assert re.search(r"^lenet5 +training +[\d,]+ +([\d,]+|n/a) +[\d,]+ +\d+\.\d+", out, re.M)
    assert re.search(r"^lenet5 +inference ", out, re.M)
    results = json.loads(out_json.read_text())
    assert [row["phase"] for row in results["throughput"]] == ["training", "inference"]
    assert all(row["barecnn"] > 0 and row["torch"] > 0 for row in results["throughput"])
    for row in results["throughput"]:
        assert (row["barecnn_unsplit"] is not None) == (row["workers"] > 1)


def test_main_without_torch(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)    # `import torch` now raises ImportError
    assert bench.import_torch() is None
    assert bench.main(tiny_args()) == 0
    out = capsys.readouterr().out
    assert "torch    not installed" in out
    assert "PyTorch is not installed" in out
    assert re.search(r"^lenet5 +training +[\d,]+ +([\d,]+|n/a) +n/a +n/a", out, re.M)


def test_main_rejects_unknown_model():
    with pytest.raises(ValueError, match="nosuchnet"):
        bench.main(tiny_args(models="lenet5,nosuchnet"))


def test_naive_vs_fast_agree_on_small_shapes():
    rows = bench.naive_vs_fast(conv_x=(2, 3, 7, 7), conv_w=(4, 3, 3, 3), pool_x=(2, 3, 6, 6))
    assert [row["op"] for row in rows] == ["conv forward", "conv backward", "max-pool forward", "max-pool backward"]
    assert all(row["max_abs_diff"] < 1e-10 and row["speedup"] > 0 for row in rows)
    assert "cs231n (Cython)" in bench.naive_table(rows)


def test_conv_gflops_rows_small():
    torch = bench.import_torch()
    gemm = bench.sgemm_gflops(n=64, torch=torch)
    rows = bench.conv_gflops(x_shape=(2, 3, 8, 8), w_shape=(4, 3, 3, 3), torch=torch)
    assert {(row["impl"], row["pass"]) for row in rows} >= {("barecnn", "forward"), ("barecnn", "backward")}
    assert all(row["gflops"] > 0 for row in rows)
    assert "% of numpy sgemm" in bench.conv_table(rows, gemm)


def test_peak_memory_in_a_fresh_process():
    rows = bench.peak_memory("lenet5", batch_size=4, steps=1, threads=1, impls=("barecnn",), timeout=60)
    assert "error" not in rows[0], rows[0]
    assert rows[0]["peak_mb"] >= rows[0]["training_mb"] >= 0
    assert "training peak +MB" in bench.memory_table(rows)


def test_table_aligns_columns():
    text = bench.table(["name", "value"], [["a", "1"], ["longer", "12345"]])
    lines = text.splitlines()
    assert len({len(line) for line in lines}) == 1
    assert lines[2].startswith("a ") and lines[2].endswith("    1")


def test_rate_and_best_time_call_at_least_once():
    calls = []
    assert bench.rate(lambda: calls.append(1), 0.0) > 0 and len(calls) == 1
    assert bench.best_time(lambda: None, repeat=3) >= 0


def test_bench_module_does_not_import_torch():
    import subprocess
    code = "import sys, barecnn, barecnn.cli, barecnn.train, barecnn.viz; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_throughput_times_the_split_and_the_unsplit_path():
    rows = bench.throughput(["lenet5"], 32, 0.02, 1, torch=None, workers=2)
    assert [row["phase"] for row in rows] == ["training", "inference"]
    assert all(row["workers"] == 2 and row["barecnn"] > 0 and row["barecnn_unsplit"] > 0 for row in rows)
    assert "barecnn img/s (2 workers)" in bench.throughput_table(rows)
