"""The example images in the repository's ``images/`` folder, by name.

>>> import stylelab as sl
>>> sl.data.names("style")                       # doctest: +SKIP
['blocks', 'hubble', 'mosaic', 'swirls', 'waves']
>>> cat = sl.data.example("chelsea", size=256)  # doctest: +SKIP

Origins and licences (all public domain or CC0) are in ``images/SOURCES.md``. Your own
images need no registration: pass their path to :func:`stylelab.load_image`. For an
image on the web, :func:`fetch_image` downloads it once into the cache (with an optional
SHA-256 check) and loads it.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import torch

from ..errors import ImageNotFoundError
from .download import cache_dir, download
from .images import Size, load_image

__all__ = ["Example", "EXAMPLES", "images_dir", "names", "example_path", "example", "fetch_image"]


@dataclass(frozen=True)
class Example:
    """One example image: its file, its role, and a caption with its credit."""

    file: str
    kind: str  # "content" or "style"
    caption: str
    credit: str


EXAMPLES: Dict[str, Example] = {
    "astronaut": Example("astronaut.jpg", "content", "Astronaut Eileen Collins", "NASA, public domain"),
    "chelsea": Example("chelsea.jpg", "content", "Chelsea the cat", "Stefan van der Walt, CC0"),
    "coffee": Example("coffee.jpg", "content", "A cup of coffee", "Rachel Michetti, CC0"),
    "rocket": Example("rocket.jpg", "content", "DSCOVR launch", "SpaceX, public domain"),
    "swirls": Example("swirls.jpg", "style", "Swirling brush strokes", "stylelab, CC0"),
    "mosaic": Example("mosaic.jpg", "style", "Stained-glass mosaic", "stylelab, CC0"),
    "waves": Example("waves.jpg", "style", "Layered waves", "stylelab, CC0"),
    "blocks": Example("blocks.jpg", "style", "Geometric blocks", "stylelab, CC0"),
    "hubble": Example("hubble.jpg", "style", "Hubble eXtreme Deep Field", "NASA, public domain"),
}


def images_dir() -> Path:
    """The folder holding the example images: ``$STYLELAB_IMAGES`` or the repository's ``images/``."""
    override = os.environ.get("STYLELAB_IMAGES")
    folder = Path(override) if override else Path(__file__).resolve().parents[2] / "images"
    if not folder.is_dir():
        raise ImageNotFoundError(
            f"The example images folder {folder} does not exist; install stylelab from a clone of "
            "the repository (pip install -e .) or set STYLELAB_IMAGES to a folder holding them."
        )
    return folder


def names(kind: Optional[str] = None) -> List[str]:
    """Sorted names of the example images; ``kind`` is ``"content"``, ``"style"`` or ``None`` (all)."""
    if kind not in (None, "content", "style"):
        raise ValueError(f"kind must be 'content', 'style' or None, not {kind!r}.")
    return sorted(name for name, info in EXAMPLES.items() if kind is None or info.kind == kind)


def example_path(name: str) -> Path:
    """Path of the example image called ``name``."""
    if name not in EXAMPLES:
        close = difflib.get_close_matches(str(name), list(EXAMPLES), n=2, cutoff=0.4)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ImageNotFoundError(
            f"There is no example image called {name!r}.{hint} Choose from {', '.join(names())}."
        )
    return images_dir() / EXAMPLES[name].file


def example(name: str, size: Size = None) -> torch.Tensor:
    """Load an example image as a ``(1, 3, H, W)`` tensor in [0, 1]; ``size`` as in ``load_image``."""
    return load_image(example_path(name), size)


def fetch_image(url: str, *, sha256: Optional[str] = None, size: Size = None, timeout: float = 30.0) -> torch.Tensor:
    """Download an image once into ``<cache>/images`` and load it.

    Args:
        url: http(s) address of an image file.
        sha256: the expected SHA-256 hex digest (recommended: a changed file is refused).
        size: as in :func:`stylelab.load_image`.
        timeout: seconds to wait for the server.

    Raises:
        DownloadError: offline, HTTP error or checksum mismatch, with what to do instead.
    """
    suffix = Path(url.split("?", 1)[0]).suffix.lower() or ".img"
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    path = download(url, cache_dir() / "images" / f"{key}{suffix}", sha256=sha256, timeout=timeout)
    return load_image(path, size)
