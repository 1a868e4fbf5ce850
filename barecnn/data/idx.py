"""Read and write IDX files, the format MNIST and Fashion-MNIST are published in.

An IDX file is a 4-byte magic number ``0x00 0x00 <dtype code> <ndim>``, then
``ndim`` big-endian uint32 dimension sizes, then the values in C order,
big-endian. The published files are gzip-compressed (``*.gz``).
"""

import gzip
import zlib
from pathlib import Path

import numpy as np

from ._files import atomic_output

GZIP_MAGIC = b"\x1f\x8b"

# IDX dtype code -> big-endian NumPy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_FOR_DTYPE = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}


def read_idx(path):
    """Read an IDX file, gzip-compressed or raw.

    Parameters
    ----------
    path : str or Path
        The file. Compression is detected from its first bytes, not its name.

    Returns
    -------
    np.ndarray
        Array of the shape stored in the header, in native byte order, e.g.
        ``(N, 28, 28)`` uint8 for an images file and ``(N,)`` uint8 for labels.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not valid IDX: a broken gzip stream, a bad magic number,
        an unknown dtype code, or a payload shorter or longer than the header
        says. The message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    raw = path.read_bytes()
    return parse_idx_bytes(_maybe_gunzip(raw, path), name=str(path))


def _maybe_gunzip(raw, path):
    """Decompress ``raw`` if it is gzip data; refuse a ``.gz`` file that is not."""
    if not raw.startswith(GZIP_MAGIC):
        if path.suffix == ".gz":
            raise ValueError(f"{path}: named .gz but is not a gzip file (starts with {raw[:4]!r})")
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: corrupt or truncated gzip stream ({error})") from error


def parse_idx_bytes(data, name="<bytes>"):
    """Parse the uncompressed bytes of an IDX file.

    Parameters
    ----------
    data : bytes
        The whole uncompressed file.
    name : str
        What to call the data in error messages (usually the file path).

    Returns
    -------
    np.ndarray
        The stored array, native byte order, writable.

    Raises
    ------
    ValueError
        If the header or payload size is wrong.
    """
    if len(data) < 4:
        raise ValueError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{name}: wrong magic number {data[:4].hex()}, expected 0000<dtype><ndim>")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX dtype code 0x{code:02x} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"{name}: truncated header: {ndim} dimensions need {header_size} bytes, "
            f"file has {len(data)}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    actual = len(data) - header_size
    if actual != expected:
        problem = "payload too short" if actual < expected else "payload too long"
        raise ValueError(
            f"{name}: {problem}: shape {shape} of {dtype.newbyteorder('=').name} needs "
            f"{expected} bytes after the header, found {actual}"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Write ``array`` as an IDX file, atomically; gzip it if ``path`` ends in ``.gz``.

    Parameters
    ----------
    path : str or Path
        Destination. Its directory must exist.
    array : array_like
        Any shape with 1 to 255 dimensions, of dtype uint8, int8, int16, int32,
        float32 or float64.

    Raises
    ------
    TypeError
        If the dtype has no IDX code.
    ValueError
        If the array has no dimensions or too many.
    """
    path = Path(path)
    data = idx_bytes(array)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    with atomic_output(path) as f:
        f.write(data)


def idx_bytes(array):
    """Return the uncompressed IDX encoding of ``array`` (see ``write_idx``)."""
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODE_FOR_DTYPE:
        names = ", ".join(d.name for d in _CODE_FOR_DTYPE)
        raise TypeError(f"IDX cannot store dtype {array.dtype}; use one of {names}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got an array of shape {array.shape}")
    code = _CODE_FOR_DTYPE[native]
    header = bytes([0, 0, code, array.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
