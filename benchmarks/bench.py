"""Speed benchmark: barecnn against PyTorch on the same networks, weights and data.

``python benchmarks/speed.py`` prints, in one run:

1. the machine: CPU, cores, NumPy and its BLAS, PyTorch, and the thread counts used;
2. training and inference images/s for each zoo model, barecnn vs a PyTorch twin built from the
   model's ``spec`` with the same weights, data and optimizer. The two are timed *interleaved*,
   round by round (alternating which goes first), so that whatever else runs on a shared machine
   slows both alike; each side reports its median over the rounds, and the ratio ours/torch;
3. the naive loop kernels against the fast ones on cs231n's shapes, beside cs231n's speedups;
4. convolution GFLOP/s against the machine's measured sgemm rate;
5. peak resident memory while training, each framework in a fresh subprocess.

PyTorch is optional and only ever imported inside functions: without it every barecnn number is
still measured and the PyTorch columns read ``n/a``. Timings on a busy machine are noisy; quote
the ratios, which are measured side by side, rather than the absolute numbers.

Example
-------
>>> from types import SimpleNamespace
>>> main(SimpleNamespace(models="lenet5", seconds=0.1, rounds=1, naive=False, conv=False,
...                      memory=False))   # doctest: +SKIP
"""
from __future__ import annotations

import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from barecnn import _blas
from barecnn import functional as F
from barecnn import models, nn, optim
from barecnn.functional import naive
from barecnn.nn.parallel import usable_cores

SEED = 0
NUM_CLASSES = 10
IMAGE_SHAPE = (1, 28, 28)

# cs231n assignment 2 (ConvolutionalNetworks.ipynb): its Cython im2col kernels against its loops.
CS231N_SPEEDUPS = {"conv forward": 357, "conv backward": 642, "max-pool forward": 71, "max-pool backward": 31}


# --------------------------------------------------------------------------- torch
def import_torch():
    """The ``torch`` module, or ``None`` when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def torch_sequential(spec, torch=None):
    """A ``torch.nn.Sequential`` with the layers of a barecnn ``spec`` (``[[type, kwargs], ...]``).

    Our layer names and arguments are PyTorch's, so most entries map one to one; the exception
    is ``GlobalAvgPool2d``, which becomes ``Sequential(AdaptiveAvgPool2d(1), Flatten())`` (no
    parameters, so the ``state_dict`` keys stay aligned). Weights are PyTorch's fresh ones: use
    :func:`torch_twin` for a copy of a model's weights.
    """
    torch = torch or import_torch()
    if torch is None:
        raise ImportError("torch_sequential needs PyTorch")
    tnn = torch.nn
    layers = []
    for kind, kwargs in spec:
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items() if k not in ("rng", "dtype")}
        if kind == "GlobalAvgPool2d":
            layers.append(tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten()))
        elif kind in models.LAYER_TYPES and hasattr(tnn, kind):
            layers.append(getattr(tnn, kind)(**kwargs))
        else:
            raise ValueError(f"torch_sequential: no PyTorch layer for {kind!r}")
    return tnn.Sequential(*layers)


def torch_twin(model: models.Classifier, torch=None):
    """PyTorch's copy of ``model``: same layers (from ``model.spec``), dtype, weights, buffers and mode."""
    torch = torch or import_torch()
    twin = torch_sequential(model.spec, torch)
    twin.to(torch.float64 if model.dtype == np.float64 else torch.float32)
    twin.load_state_dict({key: torch.from_numpy(np.array(value)) for key, value in model.state_dict().items()})
    return twin.train(model.training)


# ------------------------------------------------------------------------- machine
def cpu_description() -> str:
    """CPU model name, with its widest vector extension when /proc/cpuinfo tells."""
    name, flags = "", set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not name:
                    name = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    name = name or platform.processor() or "unknown CPU"
    vector = next((label for flag, label in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("asimd", "NEON"))
                   if flag in flags), "")
    return f"{name} ({platform.machine()}{', ' + vector if vector else ''})"


def blas_build() -> str:
    """NumPy's BLAS as ``numpy.show_config`` describes it (NumPy 2), e.g. ``scipy-openblas 0.3.31``."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:   # older NumPy prints instead of returning a dict
        return "unknown BLAS"
    return f"{blas.get('name', 'unknown BLAS')} {blas.get('version', '')}".strip()


def blas_runtime() -> dict:
    """The BLAS NumPy loaded: ``{"api", "version", "kernels", "threads"}`` as far as known.

    From threadpoolctl when it is installed; otherwise read (never set) through
    :mod:`barecnn._blas`, which finds the OpenBLAS mapped into this process as threadpoolctl does.
    """
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                return {"api": pool.get("internal_api"), "version": pool.get("version"),
                        "kernels": pool.get("architecture"), "threads": pool.get("num_threads")}
    except ImportError:
        pass
    threads = _blas.blas_threads()
    if threads is None:
        return {}
    info = {"api": "openblas", "threads": threads}
    kernels = _blas.blas_kernels()
    if kernels is not None:
        info["kernels"] = kernels
    return info


class Threads:
    """Set the BLAS and PyTorch thread counts for the benchmark and put them back afterwards.

    ``wanted=None`` means every usable core for both. NumPy's BLAS is set through threadpoolctl
    when it is installed; otherwise it keeps the count it started with (``OPENBLAS_NUM_THREADS``
    or OpenBLAS's default of one per core), and ``note`` says so.
    """

    def __init__(self, wanted: int | None, torch=None):
        self.wanted = wanted or usable_cores()
        self.torch, self._limiter, self._torch_before = torch, None, None
        self.note = ""

    def __enter__(self) -> "Threads":
        try:
            from threadpoolctl import threadpool_limits
            self._limiter = threadpool_limits(limits=self.wanted, user_api="blas")
            self.note = "set by threadpoolctl"
        except ImportError:
            current = blas_runtime().get("threads")
            if current == self.wanted:
                self.note = "as requested; OpenBLAS's start-up setting, threadpoolctl not installed"
            else:
                self.note = (f"wanted {self.wanted}, but threadpoolctl is not installed to change it at run time: "
                             f"start Python with OPENBLAS_NUM_THREADS={self.wanted} (benchmarks/speed.py --threads does)")
        if self.torch is not None:
            self._torch_before = self.torch.get_num_threads()
            self.torch.set_num_threads(self.wanted)
        return self

    def __exit__(self, *exc) -> None:
        if self._limiter is not None:
            self._limiter.restore_original_limits()
        if self._torch_before is not None:
            self.torch.set_num_threads(self._torch_before)


def machine_info(torch, threads: Threads) -> dict:
    runtime = blas_runtime()
    info = {"cpu": cpu_description(), "cores": os.cpu_count(), "usable_cores": usable_cores(),
            "python": platform.python_version(), "numpy": np.__version__, "blas": blas_build(),
            "blas_kernels": runtime.get("kernels"), "blas_threads": runtime.get("threads"),
            "blas_threads_note": threads.note, "torch": None, "torch_threads": None, "load_average": None}
    if hasattr(os, "getloadavg"):
        info["load_average"] = os.getloadavg()[0]
    if torch is not None:
        backends = [name for name, module in (("MKL", "mkl"), ("oneDNN", "mkldnn"))
                    if getattr(getattr(torch.backends, module, None), "is_available", lambda: False)()]
        info.update(torch=torch.__version__, torch_backends=backends, torch_threads=torch.get_num_threads())
    return info


def machine_lines(info: dict) -> list[str]:
    kernels = f", run-time kernels {info['blas_kernels']}" if info["blas_kernels"] else ""
    blas_threads = info["blas_threads"] if info["blas_threads"] is not None else "?"
    lines = [f"machine  {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
             f"Python {info['python']}",
             f"numpy    {info['numpy']}, BLAS {info['blas']}{kernels}; {blas_threads} BLAS threads "
             f"({info['blas_threads_note']})"]
    if info["blas_kernels"] == "Haswell" and "AVX-512" in info["cpu"]:
        lines.append("hint     this CPU has AVX-512 but OpenBLAS picked its Haswell (AVX2) kernels; "
                     "OPENBLAS_CORETYPE=SkylakeX in the environment selects the AVX-512 ones")
    if info["torch"] is None:
        lines.append("torch    not installed: barecnn numbers only")
    else:
        lines.append(f"torch    {info['torch']} ({', '.join(info['torch_backends']) or 'native kernels'}); "
                     f"{info['torch_threads']} threads (torch.set_num_threads)")
    load = info.get("load_average")
    if load is not None and load > 0.5 * info["usable_cores"]:
        lines.append(f"load     {load:.1f} (1-minute average) on {info['usable_cores']} cores: other programs are "
                     f"running, so multi-threaded timings will be erratic; compare with --threads 1")
    return lines


# -------------------------------------------------------------------------- timing
def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn``, calling it until ``seconds`` have passed (at least once).

    Stops early rather than overshoot by more than half of ``seconds`` when calls are slow.
    """
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds or elapsed * (calls + 1) / calls > 1.5 * seconds:
            return calls / elapsed


# Millisecond kernels on a shared machine: the fastest of up to 200 calls (1 s budget) is the
# estimate least disturbed by other work.
FAST_REPEATS = 200


def best_time(fn: Callable[[], object], repeat: int = 20, budget: float = 1.0) -> float:
    """The fastest of up to ``repeat`` calls of ``fn`` (at least 2, stopping after ``budget`` seconds)."""
    times, start = [], time.perf_counter()
    while len(times) < repeat and (len(times) < 2 or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def timed_once(fn: Callable[[], object]):
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def interleaved(contenders: dict[str, Callable[[], object]], seconds: float, rounds: int,
                warmup: int = 2) -> dict[str, list[float]]:
    """Calls per second of each contender, round by round, in alternating order.

    Every contender is called ``warmup`` times first; then each round times each contender for
    ``seconds``, the order reversed on odd rounds so that neither always runs first.
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            rates[name].append(rate(contenders[name], seconds))
    return rates


def spread(values: list[float]) -> float:
    """Largest relative distance of a round from the median (0.05 = 5%)."""
    median = statistics.median(values)
    return max(abs(v - median) for v in values) / median if median else 0.0


# ---------------------------------------------------------------------- throughput
def batch_data(batch_size: int, seed: int = SEED):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch_size, *IMAGE_SHAPE)).astype(np.float32)
    y = rng.integers(0, NUM_CLASSES, batch_size)
    return x, y


def barecnn_steps(model: models.Classifier, x: np.ndarray, y: np.ndarray, workers: int | None = None):
    """``(train_step, infer_step)`` closures for barecnn: SGD(lr=0.01, momentum=0.9) on cross-entropy;
    inference runs under ``barecnn.no_grad()`` as PyTorch's runs under ``inference_mode``.

    Both run through ``nn.DataParallel(model, workers)``, as ``barecnn train`` does: the batch is
    split across ``workers`` processes (default: one per usable core); ``workers=1`` is the
    unsplit batch in this process, its matrix multiplies on every BLAS thread."""
    runner = nn.DataParallel(model, workers=workers)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def train_step():
        runner.train()
        optimizer.zero_grad()
        loss = criterion(runner(x), y)
        runner.backward(criterion.backward(), need_input_grad=False)   # as torch: the input needs no grad
        optimizer.step()
        return loss

    def infer_step():
        runner.eval()
        with nn.no_grad():         # as torch.inference_mode: keep nothing for backward
            return runner(x)

    return train_step, infer_step


def torch_steps(twin, x: np.ndarray, y: np.ndarray, torch):
    """The same two closures for PyTorch (``inference_mode`` for inference)."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9)

    def train_step():
        twin.train()
        optimizer.zero_grad()
        loss = criterion(twin(xt), yt)
        loss.backward()
        optimizer.step()
        return loss

    def infer_step():
        twin.eval()
        with torch.inference_mode():
            return twin(xt)

    return train_step, infer_step


def throughput(model_names: list[str], batch_size: int, seconds: float, rounds: int, torch,
               log: Callable[[str], None] = lambda line: None, workers: int = 1) -> list[dict]:
    """Training and inference images/s per model and phase, barecnn and PyTorch interleaved.

    barecnn runs as ``barecnn train`` does, its batch split across ``workers`` processes
    (:class:`barecnn.nn.DataParallel`); with ``workers > 1`` it is also timed unsplit (one process,
    BLAS on every thread), interleaved with the others, so the table shows what the split gains."""
    results = []
    x, y = batch_data(batch_size)
    for name in model_names:
        model = models.create(name, rng=np.random.default_rng(SEED))
        twin = torch_twin(model, torch) if torch is not None else None
        agreement = None
        if twin is not None:
            with torch.inference_mode():
                agreement = float(np.max(np.abs(model.eval()(x) - twin.eval()(torch.from_numpy(x)).numpy())))
        ours = barecnn_steps(model, x, y, workers)
        unsplit = barecnn_steps(model, x, y, 1) if workers > 1 else None
        theirs = torch_steps(twin, x, y, torch) if twin is not None else None
        for index, phase in enumerate(("training", "inference")):
            contenders = {"barecnn": ours[index]}
            if unsplit is not None:
                contenders["barecnn_unsplit"] = unsplit[index]
            if theirs is not None:
                contenders["torch"] = theirs[index]
            rates = interleaved(contenders, seconds, rounds)
            row = {"model": name, "phase": phase, "batch_size": batch_size, "rounds": rounds,
                   "barecnn": statistics.median(rates["barecnn"]) * batch_size,
                   "barecnn_spread": spread(rates["barecnn"]), "barecnn_rounds": rates["barecnn"],
                   "torch": None, "torch_spread": None, "ratio": None, "max_logit_diff": agreement,
                   "workers": workers, "barecnn_unsplit": None}
            if "barecnn_unsplit" in rates:
                row["barecnn_unsplit"] = statistics.median(rates["barecnn_unsplit"]) * batch_size
            if "torch" in rates:
                row.update(torch=statistics.median(rates["torch"]) * batch_size, torch_spread=spread(rates["torch"]),
                           torch_rounds=rates["torch"])
                row["ratio"] = row["barecnn"] / row["torch"]
            results.append(row)
            log(f"  {name} {phase}: barecnn {row['barecnn']:.0f} img/s"
                + (f", torch {row['torch']:.0f} img/s" if row["torch"] else ""))
    return results


# ----------------------------------------------------------------- naive vs fast
def naive_vs_fast(conv_x=(100, 3, 31, 31), conv_w=(25, 3, 3, 3), conv_stride=2, conv_pad=1,
                  pool_x=(100, 3, 32, 32), pool_size=2, naive_repeat: int = 1, seed: int = SEED) -> list[dict]:
    """cs231n's comparison: loop kernels (timed ``naive_repeat`` times, best kept) against the fast
    ones (best of many), float64 as in cs231n, with the largest difference between their results."""
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(conv_x), rng.standard_normal(conv_w), rng.standard_normal(conv_w[0])

    def best_once(fn):
        runs = [timed_once(fn) for _ in range(naive_repeat)]
        return min(t for t, _ in runs), runs[0][1]

    rows = []
    t_naive, (out_n, cache_n) = best_once(lambda: naive.conv2d_forward(x, w, b, conv_stride, conv_pad))
    out_f, cache_f = F.conv2d_forward(x, w, b, conv_stride, conv_pad)
    t_fast = best_time(lambda: F.conv2d_forward(x, w, b, conv_stride, conv_pad), repeat=FAST_REPEATS)
    rows.append(_naive_row("conv forward", t_naive, t_fast, [(out_n, out_f)]))
    dout = rng.standard_normal(out_f.shape)
    t_naive, grads_n = best_once(lambda: naive.conv2d_backward(dout, cache_n))
    grads_f = F.conv2d_backward(dout, cache_f)
    t_fast = best_time(lambda: F.conv2d_backward(dout, cache_f), repeat=FAST_REPEATS)
    rows.append(_naive_row("conv backward", t_naive, t_fast, list(zip(grads_n, grads_f))))

    xp = rng.standard_normal(pool_x)
    t_naive, (out_n, cache_n) = best_once(lambda: naive.max_pool2d_forward(xp, pool_size, pool_size))
    out_f, cache_f = F.max_pool2d_forward(xp, pool_size, pool_size)
    t_fast = best_time(lambda: F.max_pool2d_forward(xp, pool_size, pool_size), repeat=FAST_REPEATS)
    rows.append(_naive_row("max-pool forward", t_naive, t_fast, [(out_n, out_f)]))
    dout = rng.standard_normal(out_f.shape)
    t_naive, dx_n = best_once(lambda: naive.max_pool2d_backward(dout, cache_n))
    dx_f = F.max_pool2d_backward(dout, cache_f)
    t_fast = best_time(lambda: F.max_pool2d_backward(dout, cache_f), repeat=FAST_REPEATS)
    rows.append(_naive_row("max-pool backward", t_naive, t_fast, [(dx_n, dx_f)]))
    shapes = {"conv forward": f"x {conv_x}, w {conv_w}, stride {conv_stride}, pad {conv_pad}",
              "max-pool forward": f"x {pool_x}, {pool_size}x{pool_size} stride {pool_size}"}
    for row in rows:
        row["shape"] = shapes.get(row["op"], "")
    return rows


def _naive_row(op: str, t_naive: float, t_fast: float, pairs) -> dict:
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in pairs if a is not None)
    return {"op": op, "naive_s": t_naive, "fast_s": t_fast, "speedup": t_naive / t_fast,
            "cs231n_speedup": CS231N_SPEEDUPS[op], "max_abs_diff": diff}


# ----------------------------------------------------------------------- GFLOP/s
def sgemm_gflops(n: int = 2048, torch=None, seed: int = SEED) -> dict:
    """Measured float32 ``n x n`` matmul GFLOP/s (best of several): NumPy's BLAS and PyTorch's."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    flops = 2 * n ** 3
    result = {"n": n, "numpy": flops / best_time(lambda: a @ b, repeat=8, budget=2.0) / 1e9, "torch": None}
    if torch is not None:
        at, bt = torch.from_numpy(a), torch.from_numpy(b)
        result["torch"] = flops / best_time(lambda: torch.mm(at, bt), repeat=8, budget=2.0) / 1e9
    return result


def conv_gflops(x_shape=(64, 32, 26, 26), w_shape=(64, 32, 3, 3), torch=None, seed: int = SEED) -> list[dict]:
    """GFLOP/s of one float32 convolution (stride 1, no padding), forward and backward, barecnn and PyTorch.

    Forward counts ``2*N*F*H'*W'*C*HH*WW`` flops, backward (dx and dw) twice that. Our input is
    given channels-last in memory (an NCHW *view*), as a preceding barecnn conv + ReLU hands it
    over; PyTorch's is an ordinary contiguous NCHW tensor.
    """
    rng = np.random.default_rng(seed)
    N, C, H, W = x_shape
    Fo, _, HH, WW = w_shape
    Ho, Wo = H - HH + 1, W - WW + 1
    forward_flops = 2 * N * Fo * Ho * Wo * C * HH * WW
    x = rng.standard_normal((N, H, W, C), np.float32).transpose(0, 3, 1, 2)
    w, b = rng.standard_normal(w_shape, np.float32) * 0.1, rng.standard_normal(Fo, np.float32)
    dout = rng.standard_normal((N, Ho, Wo, Fo), np.float32).transpose(0, 3, 1, 2)
    _, cache = F.conv2d_forward(x, w, b)
    timings = [("barecnn", "forward", best_time(lambda: F.conv2d_forward(x, w, b), budget=1.5)),
               ("barecnn", "backward", best_time(lambda: F.conv2d_backward(dout, cache), budget=1.5))]
    if torch is not None:
        xt, wt, bt = (torch.from_numpy(np.ascontiguousarray(a)).requires_grad_() for a in (x, w, b))
        dt = torch.from_numpy(np.ascontiguousarray(dout))
        with torch.inference_mode():
            x_inf, w_inf, b_inf = xt.detach(), wt.detach(), bt.detach()
            timings.append(("torch", "forward", best_time(
                lambda: torch.nn.functional.conv2d(x_inf, w_inf, b_inf), budget=1.5)))
        out = torch.nn.functional.conv2d(xt, wt, bt)
        timings.append(("torch", "backward", best_time(
            lambda: torch.autograd.grad(out, (xt, wt, bt), dt, retain_graph=True), budget=1.5)))
    rows = []
    for impl, direction, seconds in timings:
        flops = forward_flops * (1 if direction == "forward" else 2)
        rows.append({"impl": impl, "pass": direction, "ms": seconds * 1e3, "gflops": flops / seconds / 1e9,
                     "x_shape": list(x_shape), "w_shape": list(w_shape)})
    return rows


# ------------------------------------------------------------------------- memory
def _rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def memory_child(impl: str, model_name: str, batch_size: int, steps: int, threads: int) -> dict:
    """Run in a fresh process: peak resident memory of ``steps`` training steps above the resident
    size after imports, model and data (MB). The peak is reset just before training by writing 5 to
    /proc/self/clear_refs (Linux); otherwise ``ru_maxrss``, which then includes import peaks."""
    import resource

    torch = import_torch() if impl == "torch" else None
    if impl == "torch" and torch is None:
        return {"impl": impl, "error": "torch not installed"}
    if torch is not None:
        torch.set_num_threads(threads)
    model = models.create(model_name, rng=np.random.default_rng(SEED))
    x, y = batch_data(batch_size)
    step = (torch_steps(torch_twin(model, torch), x, y, torch) if torch is not None
            else barecnn_steps(model, x, y, threads))[0]
    baseline_kib = _rss_kib("VmRSS")
    method = "VmHWM after clear_refs"
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        method = "ru_maxrss"
    for _ in range(steps):
        step()
    peak_kib = _rss_kib("VmHWM") if method != "ru_maxrss" else None
    if peak_kib is None or baseline_kib is None:
        method = "ru_maxrss"
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        baseline_kib = baseline_kib or 0
    workers_kib = sum(_private_kib(child.pid) for child in multiprocessing.active_children())
    if workers_kib:
        method += " + workers' private memory"
    return {"impl": impl, "model": model_name, "batch_size": batch_size, "steps": steps, "method": method,
            "baseline_mb": baseline_kib / 1024, "peak_mb": (peak_kib + workers_kib) / 1024,
            "training_mb": (peak_kib + workers_kib - baseline_kib) / 1024}


def _private_kib(pid: int) -> int:
    """Memory a (forked DataParallel worker) process has of its own, not shared with its parent:
    its private pages from /proc/PID/smaps_rollup (0 where unreadable). barecnn keeps freed memory
    for reuse, so after a few steps this is the worker's peak."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return sum(int(line.split()[1]) for line in rollup if line.startswith(("Private_Clean:", "Private_Dirty:")))
    except OSError:
        return 0


def peak_memory(model_name: str = "kerascnn", batch_size: int = 64, steps: int = 5, threads: int | None = None,
                impls=("barecnn", "torch"), timeout: float = 300) -> list[dict]:
    """:func:`memory_child` for each implementation, each in its own fresh Python process."""
    threads = threads or usable_cores()
    package_root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    rows = []
    for impl in impls:
        code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
                f"from bench import memory_child; "
                f"print(json.dumps(memory_child({impl!r}, {model_name!r}, {batch_size}, {steps}, {threads})))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)
        if done.returncode != 0:
            error = (done.stderr.strip().splitlines() or ["failed"])[-1]
            rows.append({"impl": impl, "error": error})
        else:
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


# ------------------------------------------------------------------------- output
def table(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    """Plain aligned text: the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells):
        return "  ".join(f"{cell:<{w}}" if i < left else f"{cell:>{w}}"
                         for i, (cell, w) in enumerate(zip(map(str, cells), widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _num(value, fmt: str = ",.0f", missing: str = "n/a") -> str:
    return missing if value is None else format(value, fmt)


def throughput_table(rows: list[dict]) -> str:
    body = [[r["model"], r["phase"], _num(r["barecnn"]), _num(r.get("barecnn_unsplit")), _num(r["torch"]),
             _num(r["ratio"], ".3f"), _num(r["barecnn_spread"], ".0%") + " / " + _num(r["torch_spread"], ".0%")]
            for r in rows]
    workers = rows[0].get("workers", 1) if rows else 1
    return table(["model", "phase", f"barecnn img/s ({workers} workers)", "barecnn unsplit", "PyTorch img/s",
                  "ours/torch", "round spread"], body, left=2)


def naive_table(rows: list[dict]) -> str:
    body = [[r["op"], f"{r['naive_s']:.2f} s", f"{r['fast_s'] * 1e3:.2f} ms", f"{r['speedup']:,.0f}x",
             f"{r['cs231n_speedup']}x", f"{r['max_abs_diff']:.1e}"] for r in rows]
    return table(["kernel (float64)", "naive", "fast", "speedup", "cs231n (Cython)", "max |diff|"], body)


def conv_table(rows: list[dict], gemm: dict) -> str:
    body = [[f"{r['impl']} {r['pass']}", f"{r['ms']:.2f}", f"{r['gflops']:.1f}",
             f"{100 * r['gflops'] / gemm['numpy']:.0f}%"] for r in rows]
    return table(["conv (float32)", "ms", "GFLOP/s", "% of numpy sgemm"], body)


def memory_table(rows: list[dict]) -> str:
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["impl"], "n/a", "n/a", "n/a", r["error"]])
        else:
            body.append([r["impl"], f"{r['baseline_mb']:.0f}", f"{r['training_mb']:.1f}", f"{r['peak_mb']:.0f}",
                         r["method"]])
    return table(["framework", "after imports MB", "training peak +MB", "peak RSS MB", "method"], body)


# ---------------------------------------------------------------------------- main
def _arg(args, name: str, default):
    value = getattr(args, name, None)
    return default if value is None else value


def main(args) -> int:
    """Run the benchmark described by ``args`` (``speed.py``'s options) and print the tables.

    ``args`` attributes, all optional: ``models`` (comma-separated zoo names), ``batch_size``,
    ``seconds`` (per measurement), ``rounds`` (interleaved), ``threads``, ``naive`` (bool),
    ``conv`` (bool, GFLOP/s section), ``memory`` (bool, peak-memory section), ``memory_model``,
    ``json`` (a path to write every number to). Returns the exit code (0).
    """
    names = [name.strip() for name in _arg(args, "models", "lenet5,kerascnn,barenet").split(",") if name.strip()]
    unknown = [name for name in names if name not in models.ZOO]
    if unknown or not names:
        raise ValueError(f"bench: unknown model(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(models.ZOO)}")
    batch_size, seconds = int(_arg(args, "batch_size", 64)), float(_arg(args, "seconds", 3.0))
    rounds = int(_arg(args, "rounds", 3))
    torch = import_torch()
    results: dict = {}
    say = lambda text="": print(text, flush=True)   # noqa: E731
    with Threads(getattr(args, "threads", None), torch) as threads:
        info = results["machine"] = machine_info(torch, threads)
        for line in machine_lines(info):
            say(line)

        say(f"\nThroughput at batch {batch_size}, float32, random {IMAGE_SHAPE} images; training = forward + "
            f"cross-entropy + backward + SGD(momentum 0.9).\nbarecnn splits each batch across {threads.wanted} "
            f"processes (nn.DataParallel, as `barecnn train` does); 'unsplit' is the same code in one process.\n"
            f"barecnn and PyTorch alternate: {rounds} round(s) of "
            f"~{seconds:g} s each; medians shown, ratio > 1 means barecnn is faster.")
        rows = results["throughput"] = throughput(names, batch_size, seconds, rounds, torch, workers=threads.wanted)
        say(throughput_table(rows))
        if torch is None:
            say("note: PyTorch is not installed, so only barecnn was timed (pip install torch for the comparison)")
        else:
            diffs = {}
            for row in rows:
                diffs.setdefault(row["model"], row["max_logit_diff"])
            say("same weights: max |logit difference| in eval mode " +
                ", ".join(f"{name} {diff:.1e}" for name, diff in diffs.items()))

        if _arg(args, "naive", True):
            say("\nNaive loops vs fast kernels on cs231n's shapes (naive timed once, fast best of many):")
            results["naive"] = naive_vs_fast()
            say(naive_table(results["naive"]))
            say("shapes: " + "; ".join(f"{r['op'].split()[0]}: {r['shape']}" for r in results["naive"] if r["shape"]))

        if _arg(args, "conv", True):
            gemm = results["sgemm"] = sgemm_gflops(torch=torch)
            results["conv"] = conv_gflops(torch=torch)
            say(f"\nConvolution speed: kerascnn's second conv, x (64, 32, 26, 26) * w (64, 32, 3, 3), no padding "
                f"(forward {2 * 64 * 64 * 24 * 24 * 32 * 9 / 1e9:.2f} GFLOP, backward twice that).")
            say(f"measured sgemm {gemm['n']}x{gemm['n']} float32: numpy {gemm['numpy']:.1f} GFLOP/s"
                + (f", torch {gemm['torch']:.1f} GFLOP/s" if gemm["torch"] else ""))
            say(conv_table(results["conv"], gemm))

        if _arg(args, "memory", True):
            model_name = _arg(args, "memory_model", "kerascnn")
            impls = ("barecnn", "torch") if torch is not None else ("barecnn",)
            say(f"\nPeak resident memory training {model_name} at batch {batch_size} for 5 steps, "
                f"each in a fresh process:")
            mem = results["memory"] = peak_memory(model_name, batch_size, 5, threads.wanted, impls)
            say(memory_table(mem))
            ok = {r["impl"]: r for r in mem if "error" not in r}
            if "barecnn" in ok and "torch" in ok and ok["torch"]["training_mb"] > 0:
                say(f"training memory ours/torch: {ok['barecnn']['training_mb'] / ok['torch']['training_mb']:.2f}x")

    path = getattr(args, "json", None)
    if path:
        Path(path).write_text(json.dumps(results, indent=1, default=str))
        say(f"\nwrote {path}")
    return 0
