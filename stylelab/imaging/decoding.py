"""Reading image files safely: from a path or file bytes to an upright numpy array.

:func:`stylelab.load_image` uses this module for files, uploads and PIL images; the rest
of its work (arrays and tensors to ``(1, 3, H, W)`` floats, resizing, saving) is in
:mod:`stylelab.imaging.images`. Here:

* :func:`open_path`, :func:`open_bytes` - open a file or its bytes, reading only the
  header, with clear errors (missing, a folder, empty, not an image, a URL) and a limit
  against decompression bombs (:func:`check_pixels`);
* :func:`upright_size`, :func:`image_shape` - the size as shown (EXIF orientation);
* :func:`decode` - the pixels, upright, decoded cheaply for a small target (JPEG draft
  mode, 8-bit box reduction) and with the full 16 bits of a 16-bit PNG;
* :func:`pil_to_array` - a PIL image of any mode as a numpy array.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path
from typing import Callable, Optional, Tuple, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageLoadError, ImageNotFoundError

__all__ = [
    "ImageSource",
    "image_shape",
    "upright_size",
    "is_png_rgb16",
    "check_pixels",
    "check_not_url",
    "open_path",
    "open_bytes",
    "decode",
    "pil_to_array",
]

#: Everything :func:`stylelab.load_image` reads (file bytes too).
ImageSource = Union[str, os.PathLike, Image.Image, np.ndarray, torch.Tensor]

# Orientation tags 5-8 rotate by 90 degrees, so the stored width is the shown height.
_TRANSPOSING_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112
_TIFF_WIDTH, _TIFF_LENGTH = 256, 257


def image_shape(source: ImageSource) -> Optional[Tuple[int, int]]:
    """The ``(h, w)`` that :func:`~stylelab.load_image` would give ``source`` without ``size``, read cheaply.

    Only a file's header is read (the EXIF orientation applied). Returns ``None`` when the
    source cannot be measured without loading it; :func:`~stylelab.load_image` then reports why.
    """
    try:
        if isinstance(source, (str, os.PathLike)):
            if _looks_like_url(str(source)) or not os.path.isfile(source):
                return None
            with Image.open(source) as image:
                return upright_size(image, "this file")
        if isinstance(source, (bytes, bytearray, memoryview)):
            with Image.open(io.BytesIO(bytes(source))) as image:
                return upright_size(image, "this file")
        if isinstance(source, Image.Image):
            return upright_size(source, "this PIL image")
        if isinstance(source, np.ndarray) and source.ndim in (2, 3):
            return int(source.shape[0]), int(source.shape[1])
        if isinstance(source, torch.Tensor) and source.dim() >= 2:
            return int(source.shape[-2]), int(source.shape[-1])
    except (ImageLoadError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError, struct.error):
        return None
    return None


def upright_size(image: Image.Image, name: str) -> Tuple[int, int]:
    """``(h, w)`` of an opened image as shown, i.e. after its EXIF orientation; only the header is read.

    Raises :class:`~stylelab.ImageLoadError` (calling the image ``name``) when the
    header is damaged.
    """
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise ImageLoadError(f"{name} is damaged or truncated ({exc}); copy or download the image again.") from None
    width, height = _upright_wh(image, orientation)
    return height, width


def _stored_wh(image: Image.Image) -> Tuple[int, int]:
    """``(w, h)`` of the pixels as the file stores them, before any orientation.

    Usually ``image.size``; but recent Pillow versions rotate a TIFF themselves (its
    ``size`` is already the upright one, and loading turns the pixels), so for a TIFF the
    stored size is read from its ImageWidth and ImageLength tags.
    """
    tags = getattr(image, "tag_v2", None) if image.format == "TIFF" else None
    try:
        width, height = tags[_TIFF_WIDTH], tags[_TIFF_LENGTH]
        if isinstance(width, int) and isinstance(height, int):
            return width, height
    except (KeyError, TypeError, IndexError):
        pass
    return image.size


def _upright_wh(image: Image.Image, orientation: int) -> Tuple[int, int]:
    """``(w, h)`` as shown: the stored size, turned for orientations 5-8."""
    stored = _stored_wh(image)
    return stored[::-1] if orientation in _TRANSPOSING_ORIENTATIONS else stored


def check_pixels(dims: Tuple[int, int], max_pixels: int, name: str) -> None:
    width, height = dims
    if max_pixels is not None and width * height > max_pixels:
        raise ImageLoadError(
            f"{name} is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), above "
            f"the {max_pixels / 1e6:.0f}-megapixel safety limit against decompression bombs; "
            "use a smaller image, or pass max_pixels= if you trust this file."
        )


def _looks_like_url(text: str) -> bool:
    return "://" in text and text.split("://", 1)[0].lower() in ("http", "https", "ftp", "file", "s3", "gs")


def check_not_url(source: Union[str, os.PathLike]) -> None:
    text = os.fspath(source)
    if isinstance(text, str) and _looks_like_url(text):
        raise ImageLoadError(
            f"{text!r} is a URL, and load_image reads only local files; download it first, e.g. with "
            "stylelab.imaging.download.download(url, 'picture.jpg'), then pass the saved path."
        )


def open_bytes(data: bytes, max_pixels: int) -> Image.Image:
    """Open the bytes of an image file (an upload): only the header is read here."""
    if not data:
        raise ImageLoadError("These file bytes are empty (0 bytes); upload or read the image again.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(_bomb_message("This file", str(exc), max_pixels)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error):
        raise ImageLoadError(
            "These bytes are not an image that Pillow can read (their contents match no image format, "
            "whatever the file's extension); re-export the image as PNG or JPEG."
        ) from None
    check_pixels(image.size, max_pixels, "This file")
    return image


def _bomb_message(name: str, pillow_text: str, max_pixels: int) -> str:
    """Pillow refuses to open images above twice its pixel limit; say so, with the size if known."""
    numbers = [int(n) for n in pillow_text.replace("(", " ").replace(")", " ").split() if n.isdigit()]
    size = f" ({numbers[0] / 1e6:.0f} megapixels)" if numbers else ""
    return (
        f"{name} declares an enormous image{size}, above the {max_pixels / 1e6:.0f}-megapixel safety limit "
        "against decompression bombs, and was refused; use a smaller image."
    )


def open_path(path: Path, max_pixels: int) -> Image.Image:
    """Open an image file, reading only its header: a regular file (never a named pipe or a device)."""
    if not os.path.exists(path):  # os.path's tests never raise: a name too long for the system is not there
        raise ImageNotFoundError(
            f"No image file at {str(path)!r}; check the spelling (relative paths start in {os.getcwd()})."
        )
    if os.path.isdir(path):
        raise ImageLoadError(f"{str(path)!r} is a folder, not an image; pass the path of one image file inside it.")
    if not os.path.isfile(path):
        raise ImageLoadError(f"{str(path)!r} is not a regular file (a named pipe or a device); pass the path of an image file.")
    if os.stat(path).st_size == 0:
        raise ImageLoadError(f"{str(path)!r} is empty (0 bytes); copy or download the image again.")
    try:
        with warnings.catch_warnings():
            # We apply our own, explicit limit below instead of Pillow's warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(_bomb_message(repr(str(path)), str(exc), max_pixels)) from None
    except UnidentifiedImageError:
        raise ImageLoadError(
            f"{str(path)!r} is not an image that Pillow can read (its contents do not match "
            "any image format, whatever its extension); re-export it as PNG or JPEG."
        ) from None
    except OSError as exc:
        raise ImageLoadError(f"Could not read {str(path)!r} ({exc}); check the file's permissions.") from None
    check_pixels(image.size, max_pixels, repr(str(path)))
    return image


def decode(
    image: Image.Image, want: Optional[Tuple[int, int]], name: str, *, draft: bool = True,
    reopen: Optional[Callable[[], Image.Image]] = None,
) -> np.ndarray:
    """Decode an opened PIL image, upright, as a numpy array ``(H, W[, C])``.

    Args:
        image: from :func:`open_path`, :func:`open_bytes`, or any PIL image.
        want: the upright ``(h, w)`` the caller will resize to, or ``None`` for the full
            size. With ``draft``, a large JPEG is decoded at a reduced scale (1/2, 1/4 or
            1/8) and other large 8-bit images are box-reduced, always keeping at least
            ``want``; the caller's antialiased resize decides the final quality.
        name: how error messages call the image, e.g. ``"'photo.jpg'"``.
        draft: allow the reduced decoding (False for a PIL image the caller handed in).
        reopen: opens the same file again; given, a 16-bit RGB PNG keeps its 16 bits
            (it is decoded twice, see :func:`_png_rgb16`).

    Returns:
        The pixels as :func:`pil_to_array` gives them (uint8, uint16 or float32).

    Raises:
        ImageLoadError: a damaged or truncated file, or one too large to decode safely.
    """
    deep = reopen is not None and is_png_rgb16(image)  # first: reading a PNG's EXIF decodes it at 8 bits
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        if deep:
            return _orient_array(_png_rgb16(reopen), orientation)
        upright = _upright_wh(image, orientation)
        if want is not None and draft:
            image = _reduced(image, want, orientation in _TRANSPOSING_ORIENTATIONS, upright)
        else:
            image.load()
        if orientation != 1:
            # Exactly once: a decoder that turned the pixels itself (TIFF in recent Pillow)
            # removed the tag, and then this does nothing.
            image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise ImageLoadError(f"{name} is too large to decode safely (a possible decompression bomb).") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise ImageLoadError(
            f"{name} is damaged or truncated ({exc}); copy or download the image again."
        ) from None
    return pil_to_array(image)


def _reduced(image: Image.Image, want: Tuple[int, int], transposing: bool, upright: Tuple[int, int]) -> Image.Image:
    """``image`` loaded at no less than ``want`` ``(h, w)`` (upright), cheaply.

    ``transposing``: the orientation swaps width and height; ``upright``: the ``(w, h)`` as
    shown. The sizes are compared in the frame the pixels are in: as stored, or already
    upright when the decoder turned them itself.
    """
    stored_want = want[::-1] if transposing else want
    if image.format == "JPEG":
        # Let the JPEG decoder scale by 1/2, 1/4 or 1/8 while it decodes, keeping
        # both sides at least as large as the target.
        image.draft(image.mode, (stored_want[1], stored_want[0]))
    image.load()
    want_h, want_w = want if image.size == upright else stored_want
    if image.mode in ("L", "RGB", "RGBA", "LA", "P", "CMYK"):
        # Box-reduce while still 8-bit, keeping at least twice the target resolution
        # so that the final antialiased resize decides the quality.
        factor = min(image.size[0] // (2 * want_w), image.size[1] // (2 * want_h))
        if factor >= 2:
            if image.mode == "P":
                image = image.convert("RGBA" if _has_alpha(image) else "RGB")
            image = image.reduce(factor)
    return image


def is_png_rgb16(image: Image.Image) -> bool:
    """A PNG with 16 bits per RGB(A) sample, which Pillow would decode to 8 bits."""
    tile = getattr(image, "tile", None) or []
    return image.format == "PNG" and image.mode in ("RGB", "RGBA") and len(tile) == 1 and str(
        tile[0][3] if not isinstance(tile[0][3], tuple) else tile[0][3][0]
    ) in ("RGB;16B", "RGBA;16B")


def _png_rgb16(reopen: Callable[[], Image.Image]) -> np.ndarray:
    """The full 16-bit samples of a 16-bit RGB(A) PNG, ``(H, W, C)`` uint16.

    Pillow unpacks such a PNG to 8 bits, keeping each sample's high byte (raw mode
    ``RGB;16B``). Decoding it a second time with the little-endian raw mode keeps each
    sample's other byte; together they are the exact 16-bit value (the zlib and PNG
    filter stages are the same in both decodes, since both raw modes have 48 or 64 bits
    per pixel).
    """
    parts = []
    for rawmode_suffix in ("16B", "16L"):
        with reopen() as image:
            (tile,) = image.tile
            mode = image.mode
            args = tile[3]
            rawmode = f"{mode};{rawmode_suffix}"
            image.tile = [tile._replace(args=rawmode) if not isinstance(args, tuple) else tile._replace(args=(rawmode, *args[1:]))]
            image.load()
            parts.append(np.asarray(image).astype(np.uint16))
    high, low = parts
    return (high << 8) | low


def _orient_array(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an ``(H, W, C)`` array, as ``ImageOps.exif_transpose`` does."""
    operations = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
                  5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
                  7: lambda a: a[::-1, ::-1].transpose(1, 0, 2), 8: lambda a: np.rot90(a, 1)}
    operation = operations.get(orientation)
    return np.ascontiguousarray(operation(array)) if operation else array


def pil_to_array(image: Image.Image) -> np.ndarray:
    """A PIL image of any mode as a numpy array ``(H, W[, C])`` that :func:`stylelab.load_image` reads.

    * ``L``, ``LA``, ``RGB``, ``RGBA``: as they are (uint8); ``1``: 0 or 255;
    * ``P`` and ``PA``: the palette's colours, with its transparency (RGBA) if it has any;
    * ``La`` and ``RGBa`` (premultiplied alpha): composited on white, as float32 in [0, 1];
    * ``I;16`` (and its byte orders), and ``I`` read from a PNG file: 16-bit, ``value / 65535``;
    * ``I`` (32-bit integers) and ``F`` (32-bit floats) have no range of their own, so it
      is read from the data: values within [0, 1] (``F`` only) are taken as they are,
      within [0, 255] as 8-bit (so an ``I`` image of 8-bit values is not almost black),
      within [0, 65535] as 16-bit; negative or larger values are refused;
    * anything else (``CMYK``, ``YCbCr``, ``LAB``, ``HSV``, ``RGBX``, ...): Pillow's
      conversion to RGB.
    """
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N") or (mode == "I" and image.format == "PNG"):
        return np.asarray(image).astype(np.uint16)  # older Pillow opens a 16-bit grey PNG in mode I
    if mode in ("I", "F"):
        return _by_range(np.asarray(image, dtype=np.float64), mode)
    if mode == "1":
        return np.asarray(image.convert("L"))
    if mode == "P":
        return np.asarray(image.convert("RGBA" if _has_alpha(image) else "RGB"))
    if mode == "PA":
        return np.asarray(image.convert("RGBA"))
    if mode in ("La", "RGBa"):
        data = np.asarray(image, dtype=np.float32) / 255.0  # colour already multiplied by alpha
        return data[:, :, :-1] + (1.0 - data[:, :, -1:])  # on white: c * a + (1 - a)
    if mode in ("L", "LA", "RGB", "RGBA"):
        return np.asarray(image)
    return np.asarray(image.convert("RGB"))  # CMYK, YCbCr, LAB, HSV, RGBX, ...


def _by_range(data: np.ndarray, mode: str) -> np.ndarray:
    """Mode ``I`` or ``F`` pixels in [0, 1] as float32, the scale read from their range (see :func:`pil_to_array`)."""
    if data.size == 0 or not np.isfinite(data).all():
        return data.astype(np.float32)  # load_image names the problem
    low, high = float(data.min()), float(data.max())
    if low >= 0 and high <= 1 and mode == "F":
        return data.astype(np.float32)
    for top in (255.0, 65535.0):
        if low >= 0 and high <= top:
            return (data / top).astype(np.float32)
    raise ImageLoadError(
        f"This mode-{mode} image holds values from {low:g} to {high:g}, which fit no 8-bit or 16-bit scale; "
        "scale it to 0-255 or 0-65535 (or convert it to mode L or I;16) first."
    )


def _has_alpha(image: Image.Image) -> bool:
    """A palette image with transparency: a ``transparency`` entry, or a palette with an alpha channel."""
    if hasattr(image, "has_transparency_data"):  # Pillow >= 10.1
        return bool(image.has_transparency_data)
    palette = getattr(image, "palette", None)
    return "transparency" in image.info or getattr(palette, "mode", "") == "RGBA"
