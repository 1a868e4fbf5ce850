"""nn.DataParallel: a batch split across worker processes gives the unsplit pass's results (what
differs by design — batch norm per chunk, dropout per chunk — is checked as documented), errors stay
clear, workers stop, and BLAS's thread count is limited inside and restored after."""
from __future__ import annotations

import numpy as np
import pytest

from barecnn import _blas, models, nn
from barecnn import random as barecnn_random
from barecnn.nn.parallel import CAN_FORK, MIN_IMAGES_PER_WORKER, chunk_slices
from barecnn.train import TrainConfig

BATCH = 3 * MIN_IMAGES_PER_WORKER + 2      # three uneven chunks with workers=3

pytestmark = pytest.mark.skipif(not CAN_FORK, reason="worker processes need fork (Linux)")


def lenet5_float64():
    return models.create("lenet5", rng=np.random.default_rng(0)).double()


def batch(n=BATCH, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 28, 28)), rng.integers(0, 10, n)


def loss_and_grads(net, params, x, y, need_input_grad=True):
    """Loss, input gradient and parameter gradients of one forward/backward of ``net``."""
    criterion = nn.CrossEntropyLoss()
    for p in params:
        p.grad = None
    loss = criterion(net(x), y)
    dx = net.backward(criterion.backward(), need_input_grad=need_input_grad)
    return loss, dx, [p.grad.copy() for p in params]


@pytest.mark.parametrize("workers", [2, 3])
def test_split_batch_gives_the_full_batch_results(workers):
    model = lenet5_float64()
    params = list(model.parameters())
    x, y = batch()
    loss, dx, grads = loss_and_grads(model, params, x, y)
    runner = nn.DataParallel(model, workers=workers)
    loss_split, dx_split, grads_split = loss_and_grads(runner, params, x, y)
    assert runner._pool is not None and len(runner._pool.processes) == workers - 1   # really split
    np.testing.assert_allclose(loss_split, loss, rtol=1e-12)
    np.testing.assert_allclose(dx_split, dx, rtol=1e-9, atol=1e-15)
    for g, g_split in zip(grads, grads_split):
        np.testing.assert_allclose(g_split, g, rtol=1e-9, atol=1e-15)


def test_without_input_gradient_and_after_an_optimizer_step():
    model = lenet5_float64()
    runner = nn.DataParallel(model, workers=2)
    params = list(model.parameters())
    x, y = batch()
    for p in params:                                     # an in-place update and a rebinding update
        p.data = p.data * 0.5
    params[0].data -= 0.01
    _, dx_split, grads_split = loss_and_grads(runner, params, x, y, need_input_grad=False)
    assert dx_split is None
    _, _, grads = loss_and_grads(model, params, x, y, need_input_grad=False)
    for g, g_split in zip(grads, grads_split):
        np.testing.assert_allclose(g_split, g, rtol=1e-9, atol=1e-15)


def test_load_state_dict_reaches_the_replicas():
    model = lenet5_float64()
    runner = nn.DataParallel(model, workers=2)
    x, _ = batch()
    runner(x)                                            # replicas exist now
    other = models.create("lenet5", rng=np.random.default_rng(5)).double()
    runner.load_state_dict({"module." + k: v for k, v in other.state_dict().items()})
    np.testing.assert_allclose(runner(x), other(x), rtol=1e-12)
    assert list(runner.state_dict())[0] == "module.0.weight"


def test_chunk_slices():
    assert chunk_slices(MIN_IMAGES_PER_WORKER * 2 - 1, 4) == [slice(0, MIN_IMAGES_PER_WORKER * 2 - 1)]
    assert chunk_slices(1, 8) == [slice(0, 1)]
    for n, threads in [(64, 2), (65, 3), (500, 4), (100, 16)]:
        slices = chunk_slices(n, threads)
        sizes = [s.stop - s.start for s in slices]
        assert 1 <= len(slices) <= threads and slices[0].start == 0 and slices[-1].stop == n
        assert all(a.stop == b.start for a, b in zip(slices, slices[1:]))
        assert max(sizes) - min(sizes) <= 1 and min(sizes) >= MIN_IMAGES_PER_WORKER


def test_small_batches_run_unsplit():
    model = lenet5_float64()
    runner = nn.DataParallel(model, workers=4)
    x, y = batch(n=MIN_IMAGES_PER_WORKER)
    loss_and_grads(runner, list(model.parameters()), x, y)
    assert runner._pool is None


def test_batch_norm_normalises_each_chunk_and_keeps_the_first_chunks_statistics():
    bn = nn.BatchNorm2d(3).double()
    runner = nn.DataParallel(bn, workers=2)
    x = np.random.default_rng(0).standard_normal((2 * MIN_IMAGES_PER_WORKER, 3, 4, 4)) * 3 + 1
    first, second = x[:MIN_IMAGES_PER_WORKER], x[MIN_IMAGES_PER_WORKER:]
    reference = nn.BatchNorm2d(3).double()
    expected = np.concatenate([reference(first), nn.BatchNorm2d(3).double()(second)])
    np.testing.assert_allclose(runner(x), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, reference.running_mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, reference.running_var, rtol=1e-12)


def test_dropout_masks_differ_by_chunk_and_repeat_with_the_seed():
    runner = nn.DataParallel(nn.Dropout(0.5), workers=2)
    x = np.ones((2 * MIN_IMAGES_PER_WORKER, 50))
    barecnn_random.seed(7)
    out = runner(x)
    barecnn_random.seed(7)
    again = runner(x)
    np.testing.assert_array_equal(out, again)
    half = MIN_IMAGES_PER_WORKER
    assert not np.array_equal(out[:half], out[half:])
    assert 0.3 < np.mean(out == 0) < 0.7


def test_no_grad_reaches_the_worker_processes():
    runner = nn.DataParallel(lenet5_float64(), workers=2)
    x, _ = batch()
    with nn.no_grad():
        out = runner(x)
    with pytest.raises(RuntimeError, match="no_grad"):
        runner.backward(np.ones_like(out))


def test_errors_are_clear():
    model = lenet5_float64()
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        nn.DataParallel(model, workers=0)
    with pytest.raises(TypeError, match="barecnn Module"):
        nn.DataParallel(lambda x: x)
    with pytest.raises(ValueError, match="already contains a DataParallel"):
        nn.DataParallel(nn.Sequential(nn.DataParallel(nn.ReLU())))
    runner = nn.DataParallel(model, workers=2)
    with pytest.raises(RuntimeError, match="before forward"):
        runner.backward(np.ones((BATCH, 10)))
    x, _ = batch()
    out = runner(x)
    with pytest.raises(ValueError, match=f"{BATCH} rows"):
        runner.backward(np.ones((BATCH - 1, 10)))
    # an error inside a worker process reaches the caller
    bad = np.zeros((BATCH, 2, 28, 28))
    with pytest.raises(ValueError, match="channels"):
        runner(bad)
    assert out.shape == (BATCH, 10)


class RecordBlasThreads(nn.Module):
    """Replaces each row of its input by how many threads BLAS may use while it runs."""

    def forward(self, x):
        return np.full((len(x), 1), _blas.blas_threads(), dtype=x.dtype)


@pytest.mark.skipif(_blas.blas_threads() is None, reason="NumPy's BLAS is not an OpenBLAS we can read")
def test_blas_uses_one_thread_in_every_chunk_and_its_setting_after():
    before = _blas.blas_threads()
    runner = nn.DataParallel(RecordBlasThreads(), workers=2)
    seen = runner(np.ones((2 * MIN_IMAGES_PER_WORKER, 3)))
    assert set(seen.ravel()) == {1}                      # this process's chunk and the worker's
    assert _blas.blas_threads() == before
    with _blas.limit_blas_threads(1):
        assert _blas.blas_threads() == 1
    assert _blas.blas_threads() == before
    assert isinstance(_blas.blas_kernels(), str) and _blas.blas_kernels()   # e.g. "Haswell"


def test_workers_stop_on_close_and_restart_when_the_model_changes():
    model = lenet5_float64()
    runner = nn.DataParallel(model, workers=2)
    x, _ = batch()
    runner(x)
    (process,) = runner._pool.processes
    model.float()                                        # new dtypes: replicas must be rebuilt
    out = runner(x.astype(np.float32))
    assert out.dtype == np.float32 and not process.is_alive()
    (process,) = runner._pool.processes
    runner.close()
    assert not process.is_alive() and runner._pool is None
    np.testing.assert_allclose(runner(x.astype(np.float32)), model(x.astype(np.float32)), rtol=1e-5, atol=1e-6)
    runner.close()


def test_a_copy_gets_its_own_workers():
    import copy
    runner = nn.DataParallel(lenet5_float64(), workers=2)
    x, _ = batch()
    runner(x)
    twin = copy.deepcopy(runner)
    assert twin._pool is None and twin.workers == 2
    np.testing.assert_allclose(twin(x), runner(x), rtol=1e-12)
    runner.close()
    twin.close()


def test_trainer_workers_option_is_validated():
    with pytest.raises(ValueError, match="--workers must be a positive integer"):
        TrainConfig(model="lenet5", workers=0).resolved().validate()
    TrainConfig(model="lenet5", workers=2).resolved().validate()


def test_a_dropout_with_its_own_generator_gets_an_independent_stream_per_worker():
    runner = nn.DataParallel(nn.Dropout(0.5, rng=np.random.default_rng(3)), workers=2)
    out = runner(np.ones((2 * MIN_IMAGES_PER_WORKER, 50)))
    half = MIN_IMAGES_PER_WORKER
    assert not np.array_equal(out[:half], out[half:])
    runner.close()


def test_workers_exit_when_their_parent_dies_without_cleaning_up():
    """os._exit skips every exit handler, as a crash or SIGKILL would: the worker must still end."""
    import subprocess
    import sys
    import time

    script = ("import os, numpy as np\n"
              "from barecnn import models, nn\n"
              "runner = nn.DataParallel(models.create('lenet5'), workers=2)\n"
              "runner(np.zeros((64, 1, 28, 28), np.float32))\n"
              "print(runner._pool.processes[0].pid, flush=True)\n"
              "os._exit(0)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[0])

    def running() -> bool:
        try:
            with open(f"/proc/{pid}/status") as status:
                return not any(line.startswith("State:") and ("Z" in line or "X" in line) for line in status)
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(), f"worker {pid} outlived its parent"


def test_when_the_os_refuses_a_worker_training_goes_on_unsplit(monkeypatch):
    import multiprocessing.context

    def refuse(self):
        raise OSError("fork: Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", refuse)
    model = lenet5_float64()
    params = list(model.parameters())
    x, y = batch()
    _, dx, grads = loss_and_grads(model, params, x, y)
    runner = nn.DataParallel(model, workers=2)
    with pytest.warns(RuntimeWarning, match="could not start worker processes"):
        _, dx_runner, grads_runner = loss_and_grads(runner, params, x, y)
    assert runner._pool is None and runner._cannot_start
    np.testing.assert_allclose(dx_runner, dx, rtol=1e-12)
    for g, g_runner in zip(grads, grads_runner):
        np.testing.assert_allclose(g_runner, g, rtol=1e-12)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # no second warning: it stays unsplit quietly
        loss_and_grads(runner, params, x, y)
