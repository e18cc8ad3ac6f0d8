"""Download a file once into a cache folder and check its SHA-256 digest.

Used for the ImageNet VGG-19 weights and for optional example images. Nothing in
stylelab downloads on import; each download is an explicit call, has a timeout, and ends
in either a verified file or a :class:`~stylelab.errors.DownloadError` that says what to
do offline.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

from ..errors import DownloadError, FileWriteError
from ..files import write_atomic

__all__ = ["cache_dir", "download", "sha256_of"]


def cache_dir() -> Path:
    """stylelab's cache folder: ``$STYLELAB_CACHE``, else ``~/.cache/stylelab``."""
    return Path(os.environ.get("STYLELAB_CACHE") or Path.home() / ".cache" / "stylelab")


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: str | os.PathLike, *, sha256: str | None = None, timeout: float = 30.0) -> Path:
    """Fetch ``url`` into ``dest`` unless a verified copy is already there.

    Args:
        url: http(s) address.
        dest: file to create. The download is streamed through
            :func:`stylelab.files.write_atomic` and renamed into place only after the
            checksum matched, so an interrupted or wrong download never leaves a file behind.
        sha256: expected hex digest, or its first 8+ characters (torchvision's file names
            carry the first 8); ``None`` skips the check.
        timeout: seconds to wait for the server to answer and for each read.

    Returns:
        ``dest`` as a Path.

    Raises:
        DownloadError: no connection, an HTTP error, or a checksum mismatch.
        FileWriteError: ``dest`` cannot be written (a full disk, no permission, ...).
    """
    dest = Path(dest)
    expected = sha256.lower() if sha256 else None
    if dest.is_file() and (expected is None or sha256_of(dest).startswith(expected)):
        return dest
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "stylelab"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            write_atomic(dest, _verified(response, url, expected), what="the download")
        return dest
    except (DownloadError, FileWriteError):
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(
            f"Could not download {url} ({reason}); on a machine without internet, copy the "
            f"file to {dest} by hand."
        ) from None


def _verified(response, url: str, expected: str | None) -> Iterator[bytes]:
    """The response's bytes in chunks; after the last, a DownloadError if they do not have the ``expected`` digest."""
    digest = hashlib.sha256()
    for block in iter(lambda: response.read(1 << 20), b""):
        digest.update(block)
        yield block
    actual = digest.hexdigest()
    if expected is not None and not actual.startswith(expected):
        raise DownloadError(
            f"The file from {url} has SHA-256 {actual[:16]}..., not the expected "
            f"{expected[:16]}...; it is damaged or has changed, so it was discarded."
        )
