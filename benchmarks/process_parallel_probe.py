"""Probe: would a second *process* beat a second thread for data parallelism?

    python benchmarks/process_parallel_probe.py --model lenet5 [--rounds 3]

``nn.DataParallel`` splits a batch across threads, and on LeNet-5 its gain is small because the
two threads' Python overhead serialises on the GIL. This probe times one training step (batch 64,
SGD with momentum, random data) three ways, interleaved round by round:

* unsplit: one thread, BLAS on every core;
* threads: ``nn.DataParallel(model, threads=2)``;
* process: the second half of the batch in a forked worker process holding a replica whose
  parameters live in shared memory (an anonymous ``mmap``), gradients returned through another
  shared buffer, inputs and outputs through a pipe.

It is a measurement, not a feature: no error handling, fixed at two halves, Linux (fork) only.
"""
from __future__ import annotations

import argparse
import mmap
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from barecnn import _blas, models, nn, optim  # noqa: E402


def shared_like(arrays) -> list[np.ndarray]:
    """Zeroed float arrays shaped like ``arrays``, in one anonymous shared mapping (kept by a fork)."""
    sizes = [a.size for a in arrays]
    buffer = np.frombuffer(mmap.mmap(-1, max(1, sum(sizes)) * 4), dtype=np.float32)
    bounds = np.cumsum([0] + sizes)
    return [buffer[lo:hi].reshape(a.shape) for a, lo, hi in zip(arrays, bounds[:-1], bounds[1:])]


def serve(connection, replica, shared_params, shared_grads) -> None:
    """The worker: forward / backward its half on request, gradients into shared memory."""
    with _blas.limit_blas_threads(1):
        params = list(replica.parameters())
        for param, shared in zip(params, shared_params):
            param.data = shared
        while True:
            message = connection.recv()
            if message[0] == "forward":
                for param in params:
                    param.grad = None
                connection.send(replica(message[1]))
            elif message[0] == "backward":
                replica.backward(message[1], need_input_grad=False)
                for param, shared in zip(params, shared_grads):
                    shared[...] = param.grad
                connection.send(None)
            else:
                return


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5", choices=list(models.ZOO))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="steps per round (default: ~1 s worth)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    model = models.create(args.model, rng=np.random.default_rng(0))
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    params = list(model.parameters())
    shared_params = shared_like([p.data for p in params])
    shared_grads = shared_like([p.data for p in params])
    ours, theirs = multiprocessing.Pipe()
    worker = multiprocessing.get_context("fork").Process(
        target=serve, args=(theirs, models.create(args.model), shared_params, shared_grads), daemon=True)
    worker.start()
    threads = nn.DataParallel(model, threads=2)

    def unsplit():
        optimizer.zero_grad()
        criterion(model(x), y)
        model.backward(criterion.backward(), need_input_grad=False)
        optimizer.step()

    def split_threads():
        optimizer.zero_grad()
        criterion(threads(x), y)
        threads.backward(criterion.backward(), need_input_grad=False)
        optimizer.step()

    def process_gradients():
        optimizer.zero_grad()
        for param, shared in zip(params, shared_params):
            shared[...] = param.data
        with _blas.limit_blas_threads(1):
            ours.send(("forward", x[32:]))
            logits = np.concatenate([model(x[:32]), ours.recv()])
            criterion(logits, y)
            grad = criterion.backward()
            ours.send(("backward", grad[32:]))
            model.backward(grad[:32], need_input_grad=False)
            ours.recv()
        for param, shared in zip(params, shared_grads):
            param.grad += shared

    def split_process():
        process_gradients()
        optimizer.step()

    # The split must compute the same gradients as the unsplit pass, or its timing means nothing.
    process_gradients()
    split = [p.grad.copy() for p in params]
    optimizer.zero_grad()
    criterion(model(x), y)
    model.backward(criterion.backward(), need_input_grad=False)
    worst = max(float(np.max(np.abs(a - p.grad)) / (np.max(np.abs(p.grad)) + 1e-30)) for a, p in zip(split, params))
    print(f"gradients, process split vs unsplit: max relative difference {worst:.1e} (float32)")
    if worst > 1e-4:
        raise SystemExit("the process split computes different gradients; not timing it")

    contenders = {"unsplit": unsplit, "threads": split_threads, "process": split_process}
    for step in contenders.values():   # warm up, and size the rounds
        start = time.perf_counter()
        for _ in range(5):
            step()
    steps = args.steps or max(5, int(1.0 / ((time.perf_counter() - start) / 5)))
    times = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, step in contenders.items():
            start = time.perf_counter()
            for _ in range(steps):
                step()
            times[name].append((time.perf_counter() - start) / steps * 1e3)
    ours.send(("quit",))
    worker.join(timeout=5)
    print(f"{args.model}, batch 64, ms per training step ({args.rounds} interleaved rounds of {steps} steps):")
    for name, values in times.items():
        print(f"  {name:<8} " + "  ".join(f"{v:6.2f}" for v in values) + f"   median {np.median(values):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
