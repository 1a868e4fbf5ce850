"""Download the IDX files of a named dataset from public mirrors, with MD5 checks.

Only ``urllib`` is used. Every file is streamed into a temporary file beside its
destination, checked against the published MD5 and only then renamed into
place, so an interrupted or corrupt download never leaves a file behind.
"""

import hashlib
import http.client
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from ._files import atomic_output, file_md5
from .registry import IDX_FILES, KNOWN_DATASETS, canonical_name

CHUNK_SIZE = 1 << 16
USER_AGENT = "barecnn/0.1 (Python urllib)"


class DownloadError(OSError):
    """No mirror delivered a file with the expected checksum."""


class ChecksumError(ValueError):
    """A downloaded file's MD5 differs from the published one."""


def download_dataset(name, dest_dir, progress=True, opener=None, timeout=30.0):
    """Download the four IDX files of a known dataset into ``dest_dir``.

    Files already present with the right MD5 are kept.

    Parameters
    ----------
    name : str
        A key of ``KNOWN_DATASETS`` ('mnist', 'fashion-mnist').
    dest_dir : str or Path
        Folder to fill; created if needed.
    progress : bool
        Show a tqdm progress bar per file.
    opener : callable, optional
        ``opener(request, timeout=...)`` returning a readable response; defaults
        to ``urllib.request.urlopen``. Tests pass a fake.
    timeout : float
        Seconds to wait for a server.

    Returns
    -------
    Path
        ``dest_dir``.

    Raises
    ------
    DownloadError
        If some file could not be fetched from any mirror.
    """
    info = KNOWN_DATASETS[canonical_name(name) or name]
    dest_dir = Path(dest_dir)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"cannot create download folder {dest_dir}: {error}") from error
    for filename in IDX_FILES:
        target = dest_dir / filename
        if target.is_file() and file_md5(target) == info.md5[filename]:
            continue
        urls = [mirror + filename for mirror in info.mirrors]
        download_file(urls, target, info.md5[filename], progress, opener, timeout)
    return dest_dir


def download_file(urls, target, md5, progress=True, opener=None, timeout=30.0):
    """Fetch one file, trying ``urls`` in order until one gives the right MD5.

    Parameters
    ----------
    urls : sequence of str
        Mirrors of the same file.
    target : str or Path
        Where the verified file ends up.
    md5 : str
        Expected hex digest.
    progress, opener, timeout
        As in ``download_dataset``.

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    DownloadError
        Listing every URL tried and why it failed.
    """
    target = Path(target)
    failures = []
    for url in urls:
        try:
            _fetch_verified(url, target, md5, progress, opener, timeout)
            return target
        except (OSError, ValueError, http.client.HTTPException) as error:
            failures.append(f"{url}: {error}")
    raise DownloadError(f"could not download {target.name}:\n  " + "\n  ".join(failures))


def _fetch_verified(url, target, md5, progress, opener, timeout):
    """Stream ``url`` into ``target`` atomically; raise ChecksumError on a bad MD5."""
    opener = opener or urllib.request.urlopen
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    digest = hashlib.md5(usedforsecurity=False)
    with opener(request, timeout=timeout) as response, atomic_output(target) as out:
        bar = tqdm(
            total=_content_length(response), desc=target.name, unit="B",
            unit_scale=True, unit_divisor=1024, disable=not progress, leave=False,
        )
        with bar:
            for chunk in iter(lambda: response.read(CHUNK_SIZE), b""):
                digest.update(chunk)
                out.write(chunk)
                bar.update(len(chunk))
        if digest.hexdigest() != md5:
            raise ChecksumError(f"MD5 mismatch: got {digest.hexdigest()}, expected {md5}")


def _content_length(response):
    """Return the response's Content-Length as an int, or None if unknown."""
    headers = getattr(response, "headers", None)
    length = headers.get("Content-Length") if headers is not None else None
    return int(length) if length and str(length).isdigit() else None
