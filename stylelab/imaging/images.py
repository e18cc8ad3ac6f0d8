"""Load, resize, convert and save images as ``(1, 3, H, W)`` float tensors in [0, 1].

Everything in stylelab works on one image layout: a float32 tensor of shape
``(1, 3, H, W)`` (batch, RGB channels, height, width) with values in [0, 1].
:func:`load_image` turns any common source into that layout:

* a file path (PNG, JPEG, TIFF, BMP, WebP, GIF, ... anything Pillow reads),
* a ``PIL.Image.Image``,
* a numpy array, channels last: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 2)`` (grey + alpha),
  ``(H, W, 3)`` or ``(H, W, 4)`` (RGBA), of dtype uint8 (0-255), uint16 (0-65535),
  bool, or float (0-1),
* a torch tensor, channels first: ``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)`` with
  ``C`` in 1, 2, 3, 4, of dtype uint8 (0-255) or float (0-1).

Conversions, so that nothing surprises you later:

* grey images are repeated into three equal RGB channels;
* palette images are expanded to RGB (RGBA when the palette has transparency);
* transparent pixels (RGBA, LA, palette transparency) are composited **on white**, as
  they look in a browser or an image viewer with a white page;
* CMYK (common in print JPEGs) is converted to RGB with Pillow's conversion;
* 16-bit images (PNG, TIFF) keep their full precision: ``value / 65535``;
* the EXIF orientation tag is applied, so a phone photo comes out upright.

Large JPEGs are decoded directly at a reduced scale (1/2, 1/4 or 1/8) when a small
``size`` is requested, and other large images are box-reduced while still 8-bit, so a
40-megapixel photo loaded at ``size=512`` never becomes a full-size float tensor.

Reading files safely (opening, decompression-bomb limits, EXIF orientation, reduced-scale
decoding, 16-bit PNGs) is the job of :mod:`stylelab.imaging.decoding`; this module turns what it
decodes, and arrays and tensors, into the one image layout, and resizes, converts and
saves images.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import ImageLoadError, OutputPathError, ParameterError
from ..files import write_atomic
from .decoding import ImageSource, check_not_url, check_pixels, decode, is_png_rgb16, open_bytes, open_path, upright_size

__all__ = [
    "MAX_PIXELS",
    "load_image",
    "save_image",
    "to_pil",
    "resize",
    "target_size",
    "shuffle_patches",
]

#: Largest image (width x height) that :func:`load_image` opens by default. It equals
#: Pillow's own decompression-bomb limit; pass ``max_pixels=`` to lower it.
MAX_PIXELS = 178_956_970

Size = Union[int, Tuple[int, int], None]

_SAVE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}


def load_image(source: ImageSource, size: Size = None, *, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """Load ``source`` as a ``(1, 3, H, W)`` float32 tensor with values in [0, 1].

    Args:
        source: a path, the bytes of an image file (an upload), a PIL image, a numpy
            array (channels last) or a torch tensor (channels first); see the module
            docstring for every accepted layout. URLs are not read: download the file
            first (e.g. with :func:`stylelab.imaging.download.download`).
        size: ``None`` keeps the original size; an ``int`` scales the image so that its
            longest side has that many pixels (aspect ratio kept); a pair ``(h, w)``
            resizes to exactly that height and width.
        max_pixels: refuse images with more pixels than this (decompression bombs).

    Returns:
        A new tensor on the CPU, ``(1, 3, H, W)``, float32, values in [0, 1]. It never
        shares memory with ``source``.

    Raises:
        ImageNotFoundError: the path does not exist.
        ImageLoadError: anything else that makes the source unusable (a folder, an empty
            or damaged file, a file that is not an image, a wrong array shape, NaN values,
            values out of range, an image above ``max_pixels`` or a ``size`` that would
            make one, a URL).
    """
    _check_size(size)
    target = size
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        check_not_url(source)
        array, target = _read(open_path(path, max_pixels), size, repr(str(path)), reopen=lambda: Image.open(path))
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        array, target = _read(open_bytes(data, max_pixels), size, "these file bytes",
                              reopen=lambda: Image.open(io.BytesIO(data)))
    elif isinstance(source, Image.Image):
        check_pixels(source.size, max_pixels, "this PIL image")
        array, target = _read(source, size, "this PIL image", draft=False)
    elif isinstance(source, np.ndarray):
        array = source
    elif isinstance(source, torch.Tensor):
        array = _tensor_to_hwc(source)
    else:
        raise ImageLoadError(
            f"load_image cannot read a {type(source).__name__}; pass a file path, a PIL "
            "image, a numpy array (H, W, 3) or a torch tensor (3, H, W)."
        )
    tensor = _array_to_tensor(array)
    if size is None:
        return tensor
    if isinstance(source, (np.ndarray, torch.Tensor)):  # decoded sources already know their target
        target = _target(tuple(tensor.shape[-2:]), size)
    if max_pixels is not None and target[0] * target[1] > max_pixels:
        raise ImageLoadError(
            f"size={size!r} asks for a {target[0]}x{target[1]} image ({target[0] * target[1] / 1e6:.0f} "
            f"megapixels), above the {max_pixels / 1e6:.0f}-megapixel limit; ask for a smaller size."
        )
    return _resized(tensor, target)


def _read(
    image: Image.Image, size: Size, name: str, *, draft: bool = True, reopen: Optional[Callable[[], Image.Image]] = None,
) -> Tuple[np.ndarray, Tuple[int, int]]:
    """Decode an opened image for ``size``: its upright pixels (see :func:`stylelab.imaging.decoding.decode`)
    and the ``(h, w)`` that ``size`` asks for, computed from the full upright size (so that
    decoding at a reduced scale does not change it)."""
    if reopen is not None and is_png_rgb16(image):  # before upright_size: reading a PNG's EXIF decodes it at 8 bits
        array = decode(image, None, name, reopen=reopen)
        return array, _target(array.shape[:2], size)
    target = _target(upright_size(image, name), size)
    array = decode(image, target if size is not None else None, name, draft=draft, reopen=reopen)
    return array, target


def resize(image: torch.Tensor, size: Size) -> torch.Tensor:
    """Resize a ``(B, C, H, W)`` image tensor; ``size`` as in :func:`load_image`.

    Uses antialiased bicubic interpolation (so shrinking does not alias) and clamps the
    result to [0, 1]. Returns ``image`` itself when the size already matches.
    """
    _check_size(size)
    if size is None:
        return image
    if image.dim() != 4:
        raise ImageLoadError(
            f"resize expects a (B, C, H, W) tensor; got shape {tuple(image.shape)}. "
            "Use load_image first."
        )
    return _resized(image, _target((image.shape[-2], image.shape[-1]), size))


def _resized(image: torch.Tensor, shape: Tuple[int, int]) -> torch.Tensor:
    """``image`` ``(B, C, H, W)`` at exactly ``shape``, or ``image`` itself when it is that size already."""
    if tuple(shape) == tuple(image.shape[-2:]):
        return image
    out = F.interpolate(image, size=tuple(shape), mode="bicubic", align_corners=False, antialias=True)
    return out.clamp_(0.0, 1.0)


def target_size(current: Tuple[int, int], size: Size) -> Tuple[int, int]:
    """The ``(h, w)`` that ``size`` asks for, given the ``current`` ``(h, w)``."""
    _check_size(size)
    return _target(current, size)


def _target(current: Tuple[int, int], size: Size) -> Tuple[int, int]:
    """:func:`target_size` for a ``size`` already checked (``load_image`` checks it once)."""
    height, width = int(current[0]), int(current[1])
    if size is None:
        return height, width
    if isinstance(size, (int, np.integer)):
        scale = int(size) / max(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))
    return int(size[0]), int(size[1])


def to_pil(image: torch.Tensor | np.ndarray | Image.Image) -> Image.Image:
    """Convert an image (anything :func:`load_image` accepts, except paths) to PIL RGB.

    Values are clamped to [0, 1] and rounded to 8 bits.
    """
    if isinstance(image, Image.Image):
        return image.convert("RGB") if image.mode != "RGB" else image
    if isinstance(image, torch.Tensor):
        tensor = image.detach()
        if tensor.dim() == 4 and tensor.shape[0] == 1:
            tensor = tensor[0]
        if tensor.dim() == 3 and tensor.shape[0] == 3 and tensor.dtype.is_floating_point:
            if not torch.isfinite(tensor).all():
                raise ImageLoadError(
                    "This image tensor contains NaN or infinite values; it cannot be shown "
                    "or saved. Check the computation that produced it."
                )
            pixels = (tensor.float().clamp(0, 1) * 255).round().to(torch.uint8)
            return Image.fromarray(pixels.permute(1, 2, 0).cpu().numpy(), mode="RGB")
    tensor = load_image(image)
    return to_pil(tensor)


def save_image(image: torch.Tensor | np.ndarray | Image.Image, path: str | os.PathLike, *, quality: int = 95) -> Path:
    """Save an image to ``path``; the format follows the file extension.

    Args:
        image: ``(1, 3, H, W)`` or ``(3, H, W)`` tensor in [0, 1] (clamped), or anything
            :func:`to_pil` accepts.
        path: destination; ``.png``, ``.jpg``/``.jpeg``, ``.bmp``, ``.tif``/``.tiff`` or
            ``.webp``. Missing parent folders are created.
        quality: JPEG/WebP quality (1-100).

    Returns:
        The path written, as a ``Path``.

    The file is written by :func:`stylelab.files.write_atomic`: to a temporary file in the
    same folder, then renamed over ``path``, so ``path`` holds either its old contents or
    the whole new image, never a half-written one; a new file's permissions follow the umask.
    Raises :class:`~stylelab.OutputPathError` (unknown extension) or its subclass
    :class:`~stylelab.FileWriteError` (a folder in the way, a full disk, no permission, a
    name too long), before anything is written.
    """
    path = Path(path)
    fmt = _SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_SAVE_FORMATS))
        raise OutputPathError(
            f"Cannot tell which format to save {path.name!r} in; end the file name with one of {known}."
        )
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ParameterError(f"quality must be a whole number from 1 to 100 (95 is the default); got {quality!r}.")
    options = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format=fmt, **options)
    return write_atomic(path, buffer.getvalue(), what="the image")


# --------------------------------------------------------------------------- helpers


def _check_size(size: Size) -> None:
    if size is None:
        return
    if isinstance(size, (bool, np.bool_)):
        raise ImageLoadError(f"size must be an int or an (h, w) pair, not {size!r}.")
    if isinstance(size, (int, np.integer)):
        if size < 1:
            raise ImageLoadError(f"size must be a positive number of pixels; got {size}.")
        return
    if isinstance(size, Sequence) and len(size) == 2 and all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in size
    ):
        return
    raise ImageLoadError(
        f"size must be an int (longest side) or a pair of positive ints (h, w); got {size!r}."
    )


def _tensor_to_hwc(tensor: torch.Tensor) -> np.ndarray:
    shape = tuple(tensor.shape)
    data = tensor.detach()
    if data.dim() == 4:
        if data.shape[0] != 1:
            raise ImageLoadError(
                f"This tensor holds a batch of {data.shape[0]} images {shape}; pass one image "
                "at a time, e.g. images[i:i+1]."
            )
        data = data[0]
    if data.dim() == 2:
        data = data.unsqueeze(0)
    if data.dim() != 3 or data.shape[0] not in (1, 2, 3, 4):
        raise ImageLoadError(
            f"An image tensor must have shape (H, W), (C, H, W) or (1, C, H, W) with C in "
            f"1-4 channels first; got {shape}. For channels-last data use tensor.permute(2, 0, 1)."
        )
    if data.is_meta or data.layout != torch.strided:
        raise ImageLoadError(
            f"This tensor has no ordinary pixel data (device {data.device}, layout {data.layout}); "
            "pass a dense tensor, e.g. tensor.to_dense() on the CPU."
        )
    if data.dtype == torch.bool:
        data = data.to(torch.uint8) * 255
    if data.dtype in (torch.bfloat16, torch.float16):
        data = data.float()
    return data.permute(1, 2, 0).cpu().numpy()


def _array_to_tensor(array: np.ndarray) -> torch.Tensor:
    """``(H, W[, C])`` array of any supported dtype -> ``(1, 3, H, W)`` float32 in [0, 1]."""
    shape = tuple(array.shape)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4) or 0 in array.shape:
        raise ImageLoadError(
            f"A numpy image must have shape (H, W), (H, W, 3) or (H, W, 4), channels last; got "
            f"{shape}. For channels-first data use np.moveaxis(array, 0, -1)."
        )
    values = _to_unit_float(array)
    channels = values.shape[2]
    if channels in (2, 4):  # composite on white: c * alpha + 1 * (1 - alpha)
        alpha = values[:, :, -1:]
        values = values[:, :, :-1] * alpha + (1.0 - alpha)
    if values.shape[2] == 1:
        values = np.repeat(values, 3, axis=2)
    # Channels first, copied into a fresh buffer: the strides are the standard ones even for
    # a 1x1 image (torch's .contiguous() keeps odd strides on size-1 dimensions, which
    # L-BFGS's .view(-1) of the gradient can trip over).
    planar = torch.from_numpy(np.asarray(values, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
    return torch.empty(planar.shape, dtype=torch.float32).copy_(planar)


def _to_unit_float(array: np.ndarray) -> np.ndarray:
    dtype = array.dtype
    if dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low >= 0 and high <= 255:
            return array.astype(np.float32) / 255.0
        raise ImageLoadError(
            f"An integer image with values from {low} to {high} is ambiguous; convert it to "
            "uint8 (0-255) or uint16 (0-65535) first."
        )
    if np.issubdtype(dtype, np.floating):
        values = array.astype(np.float32)
        if not np.isfinite(values).all():
            raise ImageLoadError(
                "This image contains NaN or infinite values; fix the computation that made it "
                "(or use np.nan_to_num) before loading."
            )
        low, high = float(values.min()), float(values.max())
        if low < -1e-3 or high > 1 + 1e-3:
            hint = " (it looks like 0-255 data: divide by 255)" if high > 2 else ""
            raise ImageLoadError(
                f"Float images must hold values in [0, 1]; this one spans [{low:.3g}, {high:.3g}]{hint}."
            )
        return np.clip(values, 0.0, 1.0)
    raise ImageLoadError(f"Cannot read an image of dtype {dtype}; use uint8, uint16 or float values.")


def shuffle_patches(image: torch.Tensor, patch: int, seed: int = 0) -> torch.Tensor:
    """Cut ``image`` into square tiles of ``patch`` pixels and put them back in random order.

    The tiles form a grid from the top-left corner; a strip at the right or bottom
    that is narrower than ``patch`` stays where it is. Every pixel value is kept (the
    result is a permutation of the input's pixels), so statistics that ignore positions,
    such as the colour histogram or, nearly, a Gram matrix, barely change, while anything
    that depends on where things are (the content representation) changes a lot.
    The same ``seed`` gives the same shuffle. With at least two tiles every tile moves
    (the permutation has no fixed point): a tile left in place would hide part of the effect.

    Args:
        image: ``(B, C, H, W)`` tensor (any values, any dtype).
        patch: tile side in pixels, ``1 <= patch <= min(H, W)``.
        seed: seed of the permutation.

    Returns:
        A new tensor of the same shape, dtype and device.
    """
    if not isinstance(image, torch.Tensor) or image.dim() != 4:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ImageLoadError(f"shuffle_patches expects a (B, C, H, W) tensor; got {shape}. Use load_image first.")
    batch, channels, height, width = image.shape
    if isinstance(patch, bool) or not isinstance(patch, (int, np.integer)) or not 1 <= patch <= min(height, width):
        raise ValueError(
            f"patch must be a whole number of pixels between 1 and {min(height, width)} "
            f"(the shorter side of this {height}x{width} image); got {patch!r}."
        )
    patch = int(patch)
    rows, cols = height // patch, width // patch
    count = rows * cols
    generator = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(count, generator=generator)
    while count > 1 and bool((order == torch.arange(count)).any()):
        order = torch.randperm(count, generator=generator)  # about e = 2.7 draws on average
    core = image[:, :, : rows * patch, : cols * patch]
    tiles = core.reshape(batch, channels, rows, patch, cols, patch).permute(0, 2, 4, 1, 3, 5)
    tiles = tiles.reshape(batch, count, channels, patch, patch)[:, order.to(image.device)]
    shuffled = tiles.reshape(batch, rows, cols, channels, patch, patch).permute(0, 3, 1, 4, 2, 5)
    result = image.clone()
    result[:, :, : rows * patch, : cols * patch] = shuffled.reshape(batch, channels, rows * patch, cols * patch)
    return result
