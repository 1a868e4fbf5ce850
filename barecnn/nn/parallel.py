"""``DataParallel``: each batch split across CPU cores, one model replica per worker process.

NumPy runs each operation on one core, except BLAS's matrix multiplies; the copies, ReLUs and
pooling between them leave the other cores idle. So, as ``torch.nn.DataParallel`` does across
GPUs, this wrapper splits the batch into one chunk per worker, runs forward and backward of each
chunk on its own replica at the same time, joins the outputs, and sums the replicas' parameter
gradients into the wrapped module's. The first chunk runs here, in the calling process, on the
wrapped module itself; the others run in worker processes forked from this one. (Threads would
share Python's GIL, and a small network's step is Python-bound enough for that to cost most of
the gain: a LeNet-5 step at batch 64 took 4.23 ms split across two threads, 3.18 ms across two
processes, 4.19 ms unsplit, in one interleaved measurement.)
Every BLAS call uses one thread while the chunks run (:mod:`barecnn._blas`), so each worker keeps
to its core.

What travels, per step: parameters are copied into shared memory before each forward (workers'
replicas read them there, so optimizer steps and ``load_state_dict`` are seen at once); chunks,
outputs and upstream gradients go through pipes; parameter gradients come back through a second
shared buffer. Buffers (batch-norm running statistics) and training flags are sent with each
forward. What differs from one full-batch pass, as in PyTorch:

* batch norm normalises each chunk with that chunk's statistics, and the running statistics are
  updated from the first chunk only (the wrapped module runs it);
* dropout draws each chunk's mask from its own generator, seeded from
  :func:`barecnn.random.default_rng` at every forward (so runs stay repeatable for a given number
  of workers); a module with its own ``rng`` gets, in each worker, a generator seeded from it.

Worker processes need ``fork`` (Linux). Elsewhere, or with ``workers=1``, or for batches too small
to split (:data:`MIN_IMAGES_PER_WORKER`), or after the operating system refused to start a worker
(a ``RuntimeWarning`` says so once), the whole batch runs in the calling process.
"""
from __future__ import annotations

import copy
import mmap
import multiprocessing
import os
import signal
import sys
import warnings
import weakref
from contextlib import nullcontext

import numpy as np

from .. import random as barecnn_random
from .._blas import limit_blas_threads
from .module import Module, is_grad_enabled, no_grad

# Fewer images than this per worker and the messages' cost outweighs the gain: smaller batches
# run in the calling process alone.
MIN_IMAGES_PER_WORKER = 16

CAN_FORK = sys.platform.startswith("linux")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not Linux
        return os.cpu_count() or 1


def chunk_slices(batch_size: int, workers: int) -> list[slice]:
    """Contiguous, nearly equal slices of a batch, at most one per worker and none smaller than
    :data:`MIN_IMAGES_PER_WORKER` images (a single slice when the batch is too small to split)."""
    parts = max(1, min(workers, batch_size // MIN_IMAGES_PER_WORKER))
    bounds = [batch_size * k // parts for k in range(parts + 1)]
    return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]


class DataParallel(Module):
    """Run ``module`` on chunks of each batch in parallel processes (see the module docstring).

    Parameters
    ----------
    module : the network; its ``forward`` takes ``(N, ...)`` and returns ``(N, ...)``.
    workers : how many chunks (this process plus ``workers - 1`` forked ones) at most; default:
        every core this process may use.

    ``state_dict`` keys carry PyTorch's ``"module."`` prefix; the wrapped network is ``.module``.
    Worker processes start at the first split batch and stop with :meth:`close` (or when this
    object is garbage-collected, or when the program exits).
    """

    accepts_need_input_grad = True

    def __init__(self, module: Module, workers: int | None = None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be a barecnn Module, got {type(module).__name__}")
        if any(isinstance(inner, DataParallel) for inner in module.modules()):
            raise ValueError("DataParallel: the module already contains a DataParallel; wrap the network once")
        workers = usable_cores() if workers is None else workers
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"DataParallel: workers must be a positive integer, got {workers!r}")
        self.module = module
        self.workers = workers
        self.training = module.training
        self._pool: _WorkerPool | None = None
        self._cannot_start = False                # the OS refused a worker: run unsplit from then on
        self._chunks: list[slice] | None = None   # the last forward's split, for backward

    # ----------------------------------------------------------------- calling
    def forward(self, x: np.ndarray) -> np.ndarray:
        """``(N, ...)`` in, the wrapped module's ``(N, ...)`` output out, computed chunk by chunk."""
        if not isinstance(x, np.ndarray) or x.ndim < 1:
            raise TypeError(f"{self!r}: input must be a NumPy array with a batch axis, got "
                            f"{type(x).__name__}{getattr(x, 'shape', '')}")
        chunks = chunk_slices(len(x), self.workers if CAN_FORK and not self._cannot_start else 1)
        pool = self._pool_for(len(chunks) - 1) if len(chunks) > 1 else None
        if pool is None:
            self._chunks = [slice(0, len(x))]
            return self.module(x)
        self._chunks = chunks
        seeds = [int(seed) for seed in barecnn_random.default_rng().integers(2**63, size=len(chunks))]
        grad_enabled = is_grad_enabled()
        with limit_blas_threads(1):
            pool.send_forward(self.module, [x[chunk] for chunk in chunks[1:]], seeds[1:], grad_enabled)
            try:
                with barecnn_random.thread_generator(seeds[0]):
                    first = self.module(x[chunks[0]])
            finally:
                rest = pool.receive(len(chunks) - 1)
        return np.concatenate([first] + rest)

    def backward(self, grad_output: np.ndarray, need_input_grad: bool = True):
        """Backward chunk by chunk; the workers' parameter gradients are summed into the wrapped
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
        with limit_blas_threads(1):
            self._pool.send_backward([grad_output[chunk] for chunk in chunks[1:]], need_input_grad)
            try:
                first = _backward(self.module, grad_output[chunks[0]], need_input_grad)
            finally:
                rest = self._pool.receive(len(chunks) - 1)
        self._pool.add_gradients(self.module, [present for _, present in rest])
        return None if first is None else np.concatenate([first] + [dx for dx, _ in rest])

    def close(self) -> None:
        """Stop the worker processes (a later split batch starts new ones)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _pool_for(self, count: int) -> "_WorkerPool | None":
        """Running workers that hold replicas of the module as it is now (restarted when its
        parameters' shapes or dtypes changed, or more workers are needed); ``None`` when the
        operating system will not start them."""
        layout = _layout(self.module)
        if self._pool is not None and (self._pool.layout != layout or self._pool.size < count or not self._pool.alive):
            self.close()
        if self._pool is None:
            try:
                self._pool = _WorkerPool(self.module, count, layout)
            except OSError as error:   # no fork, no memory, a process limit: train unsplit instead
                warnings.warn(f"DataParallel: could not start worker processes ({error}); running unsplit",
                              RuntimeWarning, stacklevel=3)
                self._cannot_start = True
                return None
            weakref.finalize(self, self._pool.close)
        return self._pool

    def extra_repr(self) -> str:
        return f"workers={self.workers}"

    def __deepcopy__(self, memo):   # a copy gets its own workers when it first splits a batch
        return DataParallel(copy.deepcopy(self.module, memo), self.workers)


def _backward(module: Module, grad_output: np.ndarray, need_input_grad: bool):
    if not need_input_grad and module.accepts_need_input_grad:
        return module.backward(grad_output, need_input_grad=False)
    return module.backward(grad_output)


def _layout(module: Module) -> tuple:
    """What a replica must match: every parameter's shape and dtype, in order."""
    return tuple((p.data.shape, p.data.dtype.str) for p in module.parameters())


def _shared_arrays(layout: tuple) -> list[np.ndarray]:
    """Arrays shaped by ``layout`` in one anonymous shared mapping, which forked processes share."""
    offsets, total = [], 0
    for shape, dtype in layout:
        offsets.append(total)
        total += -(-int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize // 64) * 64
    memory = mmap.mmap(-1, max(total, 64))
    return [np.ndarray(shape, dtype=dtype, buffer=memory, offset=offset)
            for (shape, dtype), offset in zip(layout, offsets)]


class _WorkerPool:
    """``size`` forked processes, each holding a replica of ``module``, and the shared buffers."""

    def __init__(self, module: Module, size: int, layout: tuple):
        self.size, self.layout = size, layout
        self.params = _shared_arrays(layout)
        self.grads = [_shared_arrays(layout) for _ in range(size)]   # one set per worker
        self.connections, self.processes = [], []
        context = multiprocessing.get_context("fork")
        try:
            for number, grads in enumerate(self.grads, start=1):
                ours, theirs = context.Pipe()
                inherited = self.connections + [ours]   # the parent's ends, which the child must close
                process = context.Process(target=_serve, args=(theirs, inherited, module, number, self.params,
                                                               grads), daemon=True, name="barecnn-data-parallel")
                self.connections.append(ours)
                process.start()
                theirs.close()
                self.processes.append(process)
        except BaseException:
            self.close()   # the workers that did start
            raise

    @property
    def alive(self) -> bool:
        return all(process.is_alive() for process in self.processes)

    def send_forward(self, module: Module, chunks, seeds, grad_enabled: bool) -> None:
        for param, shared in zip(module.parameters(), self.params):
            shared[...] = param.data
        flags = [m.training for m in module.modules()]
        buffers = [(i, name, getattr(m, name)) for i, m in enumerate(module.modules()) for name in m._buffer_names]
        for connection, chunk, seed in zip(self.connections, chunks, seeds):
            connection.send(("forward", chunk, seed, grad_enabled, flags, buffers))

    def send_backward(self, chunks, need_input_grad: bool) -> None:
        for connection, chunk in zip(self.connections, chunks):
            connection.send(("backward", chunk, need_input_grad))

    def receive(self, count: int) -> list:
        """The next reply of the first ``count`` workers; a worker's error is raised here."""
        replies, error = [], None
        for connection in self.connections[:count]:
            try:
                status, value = connection.recv()
            except (EOFError, OSError):
                status, value = "error", RuntimeError("a DataParallel worker process died")
            if status == "error" and error is None:
                error = value
            replies.append(value)
        if error is not None:
            raise error
        return replies

    def add_gradients(self, module: Module, presence: list[list[bool]]) -> None:
        """Sum the gradients the workers left in shared memory into ``module``'s (``presence``:
        per worker, which parameters got a gradient)."""
        for grads, present in zip(self.grads, presence):
            for param, shared, has_grad in zip(module.parameters(), grads, present):
                if has_grad and param.grad is not None:
                    param.grad += shared   # no copy: the shared buffer is overwritten next step
                elif has_grad:
                    param.accumulate_grad(shared.copy())

    def close(self) -> None:
        for connection in self.connections:
            try:
                connection.send(("stop",))
                connection.close()
            except (OSError, ValueError):
                pass
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
        self.connections, self.processes = [], []


def _serve(connection, inherited, replica: Module, number: int, shared_params, shared_grads) -> None:
    """Worker ``number``'s loop: forward and backward on request, replies through ``connection``.

    The parent's ends of the pipes (``inherited`` through fork) are closed first, so that when the
    parent dies, however it dies, ``recv`` here sees the end of the pipe and the worker exits."""
    for end in inherited:
        end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle
    for module in replica.modules():   # a module's own generator (Dropout(rng=...)): a stream of its own
        if isinstance(getattr(module, "rng", None), np.random.Generator):
            module.rng = np.random.default_rng([number, int(module.rng.integers(2**63))])
    params = list(replica.parameters())
    for param, shared in zip(params, shared_params):
        param.data = shared
    modules = list(replica.modules())
    with limit_blas_threads(1):
        while True:
            try:
                message = connection.recv()
            except (EOFError, OSError):
                return   # the parent is gone
            if message[0] == "stop":
                return
            try:
                reply = _handle(message, replica, modules, params, shared_grads)
            except Exception as error:   # sent back and raised in the parent
                reply = ("error", error)
            try:
                connection.send(reply)
            except Exception as error:   # an unpicklable result or exception
                connection.send(("error", RuntimeError(f"DataParallel worker: {error!r}")))


def _handle(message, replica: Module, modules: list[Module], params, shared_grads):
    kind = message[0]
    if kind == "forward":
        _, chunk, seed, grad_enabled, flags, buffers = message
        for module, flag in zip(modules, flags):
            module.training = flag
        for index, name, value in buffers:
            setattr(modules[index], name, value)
        for param in params:
            param.grad = None
        with barecnn_random.thread_generator(seed), (nullcontext() if grad_enabled else no_grad()):
            return "ok", replica(chunk)
    if kind == "backward":
        _, chunk, need_input_grad = message
        dx = _backward(replica, chunk, need_input_grad)
        present = []
        for param, shared in zip(params, shared_grads):
            present.append(param.grad is not None)
            if param.grad is not None:
                shared[...] = param.grad
        return "ok", (dx, present)
    raise ValueError(f"DataParallel worker: unknown message {kind!r}")
