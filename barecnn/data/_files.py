"""Small file helpers shared by the data modules: atomic writes and MD5 sums."""

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path):
    """Open a temporary file beside ``path`` and move it into place on success.

    The temporary file lives in the same directory so that ``os.replace`` is an
    atomic rename. It is flushed and fsynced before the rename. If the ``with``
    block raises, the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : str or Path
        Final location of the file.

    Yields
    ------
    file
        A binary file object open for writing.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp_file:
            yield tmp_file
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def file_md5(path, chunk_size=1 << 20):
    """Return the hex MD5 digest of the file at ``path``."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()
