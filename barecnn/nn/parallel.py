"""``DataParallel``: one batch split across CPU threads, one model replica per thread.

NumPy runs each operation on one core, except BLAS's matrix multiplies; the copies, ReLUs and
pooling between them leave the other cores idle. So, as ``torch.nn.DataParallel`` does across
GPUs, this wrapper splits the batch into one chunk per thread, runs the wrapped module's forward
and backward on each chunk in its own thread (NumPy releases the GIL inside its loops and BLAS
calls), joins the outputs, and sums the replicas' parameter gradients into the wrapped module's.
Each thread's BLAS calls are limited to one thread meanwhile (:mod:`barecnn._blas`).

Replicas are copies of the wrapped module made on first use; every forward points their
parameters and buffers at the wrapped module's arrays again, so optimizer steps and
``load_state_dict`` are seen at once. What differs from one full-batch pass, as in PyTorch:

* batch norm normalises each chunk with that chunk's statistics, and the running statistics are
  updated from the first chunk only (the wrapped module runs it);
* dropout draws each chunk's mask from its own generator, seeded from
  :func:`barecnn.random.default_rng` at every forward (so runs stay repeatable); a module with its
  own ``rng`` gets, in each replica, a generator seeded once from that one.
"""
from __future__ import annotations

import copy
import os
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from .. import random as barecnn_random
from .._blas import limit_blas_threads
from .module import Module, Parameter, is_grad_enabled, no_grad

# Fewer images than this per thread and the threads' start-up and Python overhead outweigh the
# gain: smaller batches run in the calling thread alone.
MIN_IMAGES_PER_THREAD = 16

_pool: ThreadPoolExecutor | None = None


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not Linux
        return os.cpu_count() or 1


def _worker_pool(workers: int) -> ThreadPoolExecutor:
    """The shared pool of worker threads, grown to at least ``workers`` threads."""
    global _pool
    if _pool is None or _pool._max_workers < workers:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="barecnn-data-parallel")
    return _pool


def chunk_slices(batch_size: int, threads: int) -> list[slice]:
    """Contiguous, nearly equal slices of a batch, at most one per thread and none smaller than
    :data:`MIN_IMAGES_PER_THREAD` images (a single slice when the batch is too small to split)."""
    parts = max(1, min(threads, batch_size // MIN_IMAGES_PER_THREAD))
    bounds = [batch_size * k // parts for k in range(parts + 1)]
    return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]


class DataParallel(Module):
    """Run ``module`` on chunks of each batch in parallel threads (see the module docstring).

    Parameters
    ----------
    module : the network; its ``forward`` takes ``(N, ...)`` and returns ``(N, ...)``.
    threads : how many threads (and chunks) at most; default: every core this process may use.

    ``state_dict`` keys carry PyTorch's ``"module."`` prefix; the wrapped network is ``.module``.
    """

    accepts_need_input_grad = True

    def __init__(self, module: Module, threads: int | None = None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be a barecnn Module, got {type(module).__name__}")
        if any(isinstance(inner, DataParallel) for inner in module.modules()):
            raise ValueError("DataParallel: the module already contains a DataParallel; wrap the network once")
        threads = usable_cores() if threads is None else threads
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise ValueError(f"DataParallel: threads must be a positive integer, got {threads!r}")
        self.module = module
        self.threads = threads
        self.training = module.training
        self._replicas: list[Module] = []      # copies for threads 2, 3, ... (a list: not children)
        self._links: list[list[tuple[Module, Module]]] = []   # (original, copy) module pairs per replica
        self._chunks: list[slice] | None = None  # the last forward's split, for backward

    # ---------------------------------------------------------------- replicas
    def _replicas_for(self, count: int) -> list[Module]:
        """``count`` modules to run chunks on: the wrapped module first, then synced copies."""
        while len(self._replicas) < count - 1:
            replica = copy.deepcopy(self.module)
            links = list(zip(self.module.modules(), replica.modules()))
            for original, copied in links:   # a module's own generator (Dropout(rng=...)): a new stream
                if isinstance(getattr(original, "rng", None), np.random.Generator):
                    copied.rng = np.random.default_rng(original.rng.integers(2**63))
            self._replicas.append(replica)
            self._links.append(links)
        for links in self._links[:count - 1]:
            _sync(links)
        return [self.module] + self._replicas[:count - 1]

    def _run(self, work, replicas: list[Module], pieces: list, seeds: list[int | None]) -> list:
        """``work(replica, piece)`` for every replica, the first in this thread, the rest in the pool,
        each under this thread's grad mode and floating-point error settings."""
        grad_enabled, errors = is_grad_enabled(), np.geterr()

        def call(replica, piece, seed):
            with np.errstate(**errors), (nullcontext() if grad_enabled else no_grad()), \
                    (nullcontext() if seed is None else barecnn_random.thread_generator(seed)):
                return work(replica, piece)

        with limit_blas_threads(1):
            futures = [_worker_pool(len(replicas) - 1).submit(call, *args)
                       for args in zip(replicas[1:], pieces[1:], seeds[1:])]
            try:
                first = call(replicas[0], pieces[0], seeds[0])
            finally:
                wait(futures)   # every thread is done before BLAS gets its threads back
        return [first] + [future.result() for future in futures]

    # ----------------------------------------------------------------- calling
    def forward(self, x: np.ndarray) -> np.ndarray:
        """``(N, ...)`` in, the wrapped module's ``(N, ...)`` output out, computed chunk by chunk."""
        if not isinstance(x, np.ndarray) or x.ndim < 1:
            raise TypeError(f"{self!r}: input must be a NumPy array with a batch axis, got "
                            f"{type(x).__name__}{getattr(x, 'shape', '')}")
        chunks = chunk_slices(len(x), self.threads)
        self._chunks = chunks
        if len(chunks) == 1:
            return self.module(x)
        replicas = self._replicas_for(len(chunks))
        seeds = [int(seed) for seed in barecnn_random.default_rng().integers(2**63, size=len(chunks))]
        outputs = self._run(lambda replica, chunk: replica(x[chunk]), replicas, chunks, seeds)
        return np.concatenate(outputs)

    def backward(self, grad_output: np.ndarray, need_input_grad: bool = True):
        """Backward chunk by chunk; parameter gradients of the replicas are summed into the wrapped
        module's ``.grad``. Returns the input gradient ``(N, ...)`` (``None`` with
        ``need_input_grad=False`` where the first layer can skip it)."""
        chunks = self._chunks
        if chunks is None:
            raise RuntimeError(f"{self!r}: backward() called before forward() (each forward allows one backward)")
        self._chunks = None
        if not isinstance(grad_output, np.ndarray) or len(grad_output) != chunks[-1].stop:
            raise ValueError(f"{self!r}: grad_output must be an array of {chunks[-1].stop} rows (the forward's "
                             f"batch), got {getattr(grad_output, 'shape', type(grad_output).__name__)}")
        if len(chunks) == 1:
            return _backward(self.module, grad_output, need_input_grad)
        replicas = [self.module] + self._replicas[:len(chunks) - 1]
        grads = self._run(lambda replica, chunk: _backward(replica, grad_output[chunk], need_input_grad),
                          replicas, chunks, [None] * len(chunks))
        for replica in replicas[1:]:
            for original, copied in zip(self.module.parameters(), replica.parameters()):
                if copied.grad is not None:
                    original.accumulate_grad(copied.grad)
                    copied.grad = None
        return None if any(g is None for g in grads) else np.concatenate(grads)

    def extra_repr(self) -> str:
        return f"threads={self.threads}"


def _backward(module: Module, grad_output: np.ndarray, need_input_grad: bool):
    if not need_input_grad and module.accepts_need_input_grad:
        return module.backward(grad_output, need_input_grad=False)
    return module.backward(grad_output)


def _sync(links: list[tuple[Module, Module]]) -> None:
    """Point each copy's parameters and buffers at its original's arrays (no copies) and copy its
    training flag. Safe because modules rebind buffers, never write into them."""
    for original, copied in links:
        copied.training = original.training
        for name, value in vars(original).items():
            if isinstance(value, Parameter):
                replica_param = vars(copied)[name]
                replica_param.data, replica_param.grad = value.data, None
            elif name in original._buffer_names:
                setattr(copied, name, value)
