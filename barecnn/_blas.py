"""How many threads NumPy's BLAS may use, read and set at run time (OpenBLAS on Linux).

:class:`barecnn.nn.DataParallel` runs one model replica per thread, and each replica's matrix
multiplies must then stay on its own core: two replicas each asking OpenBLAS for two threads
would put four busy threads on two cores. NumPy has no API for this, so, as threadpoolctl does,
we find the OpenBLAS library mapped into the process and call its ``openblas_set_num_threads``
through ctypes. Where that library is not found (another BLAS, another OS) nothing is changed.
"""
from __future__ import annotations

import contextlib
import ctypes
import threading

_PREFIXES = ("scipy_openblas", "openblas")
_SUFFIXES = ("64_", "")
_lock = threading.Lock()
_functions: tuple | None = None
_searched = False


def _mapped_openblas_paths() -> list[str]:
    try:
        with open("/proc/self/maps") as maps:
            return sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return []


def _openblas_functions():
    """``(get_num_threads, set_num_threads)`` of the loaded OpenBLAS, or ``None``."""
    global _functions, _searched
    if not _searched:
        _searched = True
        for path in _mapped_openblas_paths():
            try:
                library = ctypes.CDLL(path)
            except OSError:
                continue
            for prefix in _PREFIXES:
                for suffix in _SUFFIXES:
                    get = getattr(library, f"{prefix}_get_num_threads{suffix}", None)
                    set_ = getattr(library, f"{prefix}_set_num_threads{suffix}", None)
                    if get is not None and set_ is not None:
                        get.restype, set_.argtypes = ctypes.c_int, (ctypes.c_int,)
                        _functions = (get, set_)
                        return _functions
    return _functions


def blas_threads() -> int | None:
    """The number of threads OpenBLAS uses now, or ``None`` where it cannot be read."""
    functions = _openblas_functions()
    return None if functions is None else int(functions[0]())


@contextlib.contextmanager
def limit_blas_threads(limit: int):
    """Inside the block BLAS uses at most ``limit`` threads; the previous count is restored after.

    Process-wide (OpenBLAS has one setting), so enter it from one thread at a time: the caller
    that starts the worker threads, not the workers.
    """
    functions = _openblas_functions()
    if functions is None:
        yield
        return
    get, set_ = functions
    with _lock:
        before = int(get())
        if before > limit:
            set_(limit)
        try:
            yield
        finally:
            if before > limit:
                set_(before)
