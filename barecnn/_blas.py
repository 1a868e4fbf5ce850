"""NumPy's BLAS at run time: how many threads it uses (read and set) and which kernels it picked.

:class:`barecnn.nn.DataParallel` runs each chunk of a batch in its own process, one per core, and
each process's matrix multiplies must then stay on that core: two processes each asking OpenBLAS
for two threads would put four busy threads on two cores. NumPy has no API for this, so, as
threadpoolctl does, we find the OpenBLAS library mapped into the process (Linux: /proc/self/maps)
and call its ``openblas_get/set_num_threads`` and ``openblas_get_corename`` through ctypes. Where
no OpenBLAS is found (another BLAS, another OS) nothing is read or changed.
"""
from __future__ import annotations

import contextlib
import ctypes
import threading

_PREFIXES = ("scipy_openblas", "openblas")   # NumPy's wheels rename the symbols with the first
_SUFFIXES = ("64_", "")
_lock = threading.Lock()
_openblas: dict | None = None
_searched = False


def _mapped_openblas_paths() -> list[str]:
    try:
        with open("/proc/self/maps") as maps:
            return sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return []


def _functions() -> dict | None:
    """``{"get_num_threads", "set_num_threads", "get_corename"}`` of the loaded OpenBLAS (the last
    may be ``None``), or ``None``; looked up once."""
    global _openblas, _searched
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
                    if get is None or set_ is None:
                        continue
                    get.restype, set_.argtypes = ctypes.c_int, (ctypes.c_int,)
                    corename = getattr(library, f"{prefix}_get_corename{suffix}", None)
                    if corename is not None:
                        corename.restype = ctypes.c_char_p
                    _openblas = {"get_num_threads": get, "set_num_threads": set_, "get_corename": corename}
                    return _openblas
    return _openblas


def blas_threads() -> int | None:
    """The number of threads OpenBLAS uses now, or ``None`` where it cannot be read."""
    functions = _functions()
    return None if functions is None else int(functions["get_num_threads"]())


def blas_kernels() -> str | None:
    """The CPU kernels OpenBLAS picked at start-up (e.g. ``Haswell``), or ``None`` if unknown."""
    functions = _functions()
    if functions is None or functions["get_corename"] is None:
        return None
    return functions["get_corename"]().decode(errors="replace")


@contextlib.contextmanager
def limit_blas_threads(limit: int):
    """Inside the block BLAS uses at most ``limit`` threads; the previous count is restored after.

    Process-wide (OpenBLAS has one setting); the lock keeps two threads of one process from
    interleaving their set and restore.
    """
    functions = _functions()
    if functions is None:
        yield
        return
    get, set_ = functions["get_num_threads"], functions["set_num_threads"]
    with _lock:
        before = int(get())
        if before > limit:
            set_(limit)
        try:
            yield
        finally:
            if before > limit:
                set_(before)
