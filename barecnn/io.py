"""Model files: one ``.npz`` read with ``allow_pickle=False``, so loading can never run code.

Layout of a file::

    __barecnn__          uint8 bytes of a JSON header: {"format", "version", "kind", "model": <config>, ...}
    model/<state key>    every parameter and buffer (PyTorch's state_dict keys)
    optim/...            checkpoints only: optimizer state arrays (see barecnn.optim.flatten_state)

``kind`` is ``"model"`` or ``"checkpoint"``; :func:`load` reads either and returns the model.
Every write goes to a temporary file in the same folder, is flushed and fsynced, then renamed
over the target, so a crash leaves the old file or the new one, never half of one.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .models import Classifier, from_config

FORMAT = "barecnn-model"
VERSION = 1
HEADER_KEY = "__barecnn__"
ZIP_MAGIC = b"PK\x03\x04"   # every .npz is a zip archive
# What zipfile/zlib raise on damaged archives (a flipped flag bit can claim encryption, an unknown
# compression method, ...): all mean "corrupt file" to a reader.
CORRUPT_ARCHIVE_ERRORS = (OSError, zipfile.BadZipFile, EOFError, KeyError, NotImplementedError, RuntimeError,
                          zlib.error, struct.error)
MODEL_PREFIX = "model/"


def atomic_write(path, write) -> None:
    """Call ``write(file_object)`` on a temp file beside ``path``, fsync, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def save_arrays(path, header: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write ``header`` (JSON) and ``arrays`` into one ``.npz``, atomically."""
    payload = {HEADER_KEY: np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)}
    for key, value in arrays.items():
        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError(f"refusing to save object array '{key}' (it would need pickle)")
        payload[key] = array
    atomic_write(path, lambda handle: np.savez(handle, **payload))


def load_arrays(path) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a barecnn ``.npz``: ``(header, arrays)``. Never unpickles anything.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for
    anything that is not an intact barecnn file (truncated, garbage, pickled objects, ...).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    with open(path, "rb") as handle:
        if handle.read(4) != ZIP_MAGIC:
            raise ValueError(f"{path}: not a barecnn model file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except ValueError as error:
        if "pickle" in str(error):
            raise ValueError(f"{path}: contains pickled objects; refusing to load it (barecnn files never "
                             f"need pickle)") from None
        raise ValueError(f"{path}: not a readable barecnn model file ({error})") from None
    except CORRUPT_ARCHIVE_ERRORS as error:
        raise ValueError(f"{path}: not a readable barecnn model file (truncated or corrupt: {error})") from None
    if HEADER_KEY not in arrays:
        raise ValueError(f"{path}: not a barecnn model file (no '{HEADER_KEY}' header; a plain state_dict? "
                         f"use barecnn.io.import_state_dict)")
    try:
        header = json.loads(arrays.pop(HEADER_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: corrupt header ({error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise ValueError(f"{path}: not a barecnn model file (format {found!r})")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{path}: corrupt header (version {version!r})")
    if version > VERSION:
        raise ValueError(f"{path}: written by a newer barecnn (file version {version}, this reads {VERSION})")
    return header, arrays


def model_header(model: Classifier, kind: str = "model", **extra) -> dict:
    return {"format": FORMAT, "version": VERSION, "kind": kind, "model": model.config(),
            "dtype": str(model.dtype), **extra}


def model_arrays(model: Classifier) -> dict[str, np.ndarray]:
    return {MODEL_PREFIX + key: value for key, value in model.state_dict().items()}


def save(model: Classifier, path, **extra) -> Path:
    """Save weights, architecture and preprocessing of ``model`` to ``path`` (``.npz``)."""
    if not isinstance(model, Classifier):
        raise TypeError(f"save: expected a barecnn Classifier (from barecnn.models), got {type(model).__name__}")
    save_arrays(path, model_header(model, **extra), model_arrays(model))
    return Path(path)


def model_from_file(header: dict, arrays: dict[str, np.ndarray], path) -> Classifier:
    """Rebuild the model a file describes and load its weights (strictly)."""
    try:
        model = from_config(header["model"])
        if header.get("dtype") == "float64":
            model.double()
        state = {key[len(MODEL_PREFIX):]: value for key, value in arrays.items() if key.startswith(MODEL_PREFIX)}
        model.load_state_dict(state)
    except (KeyError, ValueError, TypeError) as error:
        raise ValueError(f"{path}: model description and weights do not fit: {error}") from None
    return model


def load(path) -> Classifier:
    """Load a model (or the model inside a training checkpoint) saved by barecnn, in eval mode."""
    header, arrays = load_arrays(path)
    return model_from_file(header, arrays, path).eval()


def export_state_dict(model, path) -> Path:
    """Write ``model.state_dict()`` as a plain ``.npz`` with PyTorch's keys.

    In PyTorch: ``sd = {k: torch.from_numpy(v) for k, v in np.load(path).items()}``,
    then ``torch_model.load_state_dict(sd)`` for the same architecture.
    """
    state = model.state_dict()
    atomic_write(path, lambda handle: np.savez(handle, **state))
    return Path(path)


def import_state_dict(model, path):
    """Load a plain ``.npz`` state_dict (e.g. saved from PyTorch as numpy arrays) into ``model``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"state_dict file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            state = {key: npz[key] for key in npz.files}
    except (ValueError, *CORRUPT_ARCHIVE_ERRORS) as error:
        raise ValueError(f"{path}: not a readable .npz state_dict ({error})") from None
    model.load_state_dict(state)
    return model
