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
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageLoadError, ImageNotFoundError, OutputPathError, ParameterError

__all__ = [
    "MAX_PIXELS",
    "load_image",
    "image_shape",
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
ImageSource = Union[str, os.PathLike, Image.Image, np.ndarray, torch.Tensor]

_SAVE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
# Orientation tags 5-8 rotate by 90 degrees, so the stored width is the shown height.
_TRANSPOSING_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


def load_image(source: ImageSource, size: Size = None, *, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """Load ``source`` as a ``(1, 3, H, W)`` float32 tensor with values in [0, 1].

    Args:
        source: a path, the bytes of an image file (an upload), a PIL image, a numpy
            array (channels last) or a torch tensor (channels first); see the module
            docstring for every accepted layout. URLs are not read: download the file
            first (e.g. with :func:`stylelab.download.download`).
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
        _check_not_url(source)
        image = _open_path(path, max_pixels)
        array, target = _decode(image, size, name=repr(str(path)), max_pixels=max_pixels,
                                reopen=lambda: Image.open(path))
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        image = _open_bytes(data, max_pixels)
        array, target = _decode(image, size, name="these file bytes", max_pixels=max_pixels,
                                reopen=lambda: Image.open(io.BytesIO(data)))
    elif isinstance(source, Image.Image):
        _check_pixels(source.size, max_pixels, "this PIL image")
        array, target = _decode(source, size, name="this PIL image", draft=False)
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
        target = target_size(tuple(tensor.shape[-2:]), size)
    if max_pixels is not None and target[0] * target[1] > max_pixels:
        raise ImageLoadError(
            f"size={size!r} asks for a {target[0]}x{target[1]} image ({target[0] * target[1] / 1e6:.0f} "
            f"megapixels), above the {max_pixels / 1e6:.0f}-megapixel limit; ask for a smaller size."
        )
    return resize(tensor, target)


def image_shape(source: ImageSource) -> Optional[Tuple[int, int]]:
    """The ``(h, w)`` that :func:`load_image` would give ``source`` without ``size``, read cheaply.

    Only a file's header is read (the EXIF orientation applied). Returns ``None`` when the
    source cannot be measured without loading it; :func:`load_image` then reports why.
    """
    try:
        if isinstance(source, (str, os.PathLike)):
            if _looks_like_url(str(source)) or not Path(source).is_file():
                return None
            with Image.open(source) as image:
                return _upright_size(image)
        if isinstance(source, (bytes, bytearray, memoryview)):
            with Image.open(io.BytesIO(bytes(source))) as image:
                return _upright_size(image)
        if isinstance(source, Image.Image):
            return source.size[1], source.size[0]
        if isinstance(source, np.ndarray) and source.ndim in (2, 3):
            return int(source.shape[0]), int(source.shape[1])
        if isinstance(source, torch.Tensor) and source.dim() >= 2:
            return int(source.shape[-2]), int(source.shape[-1])
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError, struct.error):
        return None
    return None


def _upright_size(image: Image.Image) -> Tuple[int, int]:
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    width, height = image.size if orientation not in _TRANSPOSING_ORIENTATIONS else image.size[::-1]
    return height, width


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
    height, width = target_size((image.shape[-2], image.shape[-1]), size)
    if (height, width) == tuple(image.shape[-2:]):
        return image
    out = F.interpolate(image, size=(height, width), mode="bicubic", align_corners=False, antialias=True)
    return out.clamp_(0.0, 1.0)


def target_size(current: Tuple[int, int], size: Size) -> Tuple[int, int]:
    """The ``(h, w)`` that ``size`` asks for, given the ``current`` ``(h, w)``."""
    _check_size(size)
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

    The file is written atomically: to a temporary file in the same folder, then renamed
    over ``path``, so ``path`` holds either its old contents or the whole new image, never
    a half-written one. Raises :class:`~stylelab.OutputPathError` (unknown extension, a
    folder in the way) or ``OSError`` (disk full, no permission).
    """
    path = Path(path)
    fmt = _SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_SAVE_FORMATS))
        raise OutputPathError(
            f"Cannot tell which format to save {path.name!r} in; end the file name with one of {known}."
        )
    if path.is_dir():
        raise OutputPathError(f"{str(path)!r} is a folder; give a file name inside it, e.g. {str(path / 'out.png')!r}.")
    pil = to_pil(image)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputPathError(f"Cannot create {str(path)!r}: a file is in the way of its folder; choose another folder.") from None
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ParameterError(f"quality must be a whole number from 1 to 100 (95 is the default); got {quality!r}.")
    options = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            pil.save(stream, format=fmt, **options)
            stream.flush()
            os.fsync(stream.fileno())
        if path.exists():
            shutil.copymode(path, temporary)
        else:
            os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


def _check_pixels(dims: Tuple[int, int], max_pixels: int, name: str) -> None:
    width, height = dims
    if max_pixels is not None and width * height > max_pixels:
        raise ImageLoadError(
            f"{name} is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), above "
            f"the {max_pixels / 1e6:.0f}-megapixel safety limit against decompression bombs; "
            "use a smaller image, or pass max_pixels= if you trust this file."
        )


def _looks_like_url(text: str) -> bool:
    return "://" in text and text.split("://", 1)[0].lower() in ("http", "https", "ftp", "file", "s3", "gs")


def _check_not_url(source: Union[str, os.PathLike]) -> None:
    text = os.fspath(source)
    if isinstance(text, str) and _looks_like_url(text):
        raise ImageLoadError(
            f"{text!r} is a URL, and load_image reads only local files; download it first, e.g. with "
            "stylelab.download.download(url, 'picture.jpg'), then pass the saved path."
        )


def _open_bytes(data: bytes, max_pixels: int) -> Image.Image:
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
    _check_pixels(image.size, max_pixels, "This file")
    return image


def _bomb_message(name: str, pillow_text: str, max_pixels: int) -> str:
    """Pillow refuses to open images above twice its pixel limit; say so, with the size if known."""
    numbers = [int(n) for n in pillow_text.replace("(", " ").replace(")", " ").split() if n.isdigit()]
    size = f" ({numbers[0] / 1e6:.0f} megapixels)" if numbers else ""
    return (
        f"{name} declares an enormous image{size}, above the {max_pixels / 1e6:.0f}-megapixel safety limit "
        "against decompression bombs, and was refused; use a smaller image."
    )


def _open_path(path: Path, max_pixels: int) -> Image.Image:
    if not path.exists():
        raise ImageNotFoundError(
            f"No image file at {str(path)!r}; check the spelling (relative paths start in {os.getcwd()})."
        )
    if path.is_dir():
        raise ImageLoadError(f"{str(path)!r} is a folder, not an image; pass the path of one image file inside it.")
    if path.stat().st_size == 0:
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
    _check_pixels(image.size, max_pixels, repr(str(path)))
    return image


def _decode(
    image: Image.Image, size: Size, name: str, draft: bool = True, max_pixels: int = MAX_PIXELS,
    reopen: Optional[Callable[[], Image.Image]] = None,
) -> Tuple[np.ndarray, Tuple[int, int]]:
    """Decode a PIL image (cheaply, for small targets), upright, as a numpy array.

    Returns the array and the ``(h, w)`` that ``size`` asks for, computed from the
    image's full upright size (so that decoding at reduced scale does not change it).
    ``reopen`` opens the same file again (a 16-bit RGB PNG is decoded twice, see
    :func:`_png_rgb16`).
    """
    if reopen is not None and _is_png_rgb16(image):
        try:
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            array = _png_rgb16(reopen)
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
            raise ImageLoadError(f"{name} is damaged or truncated ({exc}); copy or download the image again.") from None
        array = _orient_array(array, orientation)
        return array, target_size(array.shape[:2], size)
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        shown_w, shown_h = image.size if orientation not in _TRANSPOSING_ORIENTATIONS else image.size[::-1]
        target = target_size((shown_h, shown_w), size)
        if size is not None:
            want_h, want_w = target if orientation not in _TRANSPOSING_ORIENTATIONS else target[::-1]
            if draft and image.format == "JPEG":
                # Let the JPEG decoder scale by 1/2, 1/4 or 1/8 while it decodes, keeping
                # both sides at least as large as the target.
                image.draft(image.mode, (want_w, want_h))
        image.load()
        if size is not None and draft and image.mode in ("L", "RGB", "RGBA", "LA", "P", "CMYK"):
            # Box-reduce while still 8-bit, keeping at least twice the target resolution
            # so that the final antialiased resize decides the quality.
            factor = min(image.size[0] // (2 * want_w), image.size[1] // (2 * want_h))
            if factor >= 2:
                if image.mode == "P":
                    image = image.convert("RGBA" if "transparency" in image.info else "RGB")
                image = image.reduce(factor)
        if orientation != 1:
            image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise ImageLoadError(f"{name} is too large to decode safely (a possible decompression bomb).") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise ImageLoadError(
            f"{name} is damaged or truncated ({exc}); copy or download the image again."
        ) from None
    return _pil_to_array(image), target


def _is_png_rgb16(image: Image.Image) -> bool:
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


def _pil_to_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image).astype(np.uint16)
    if mode == "I":
        # 32-bit integer mode is what Pillow gives 16-bit PNG/TIFF data in some versions.
        data = np.asarray(image, dtype=np.float64)
        return np.clip(data / 65535.0, 0.0, 1.0).astype(np.float32)
    if mode == "F":
        return np.asarray(image, dtype=np.float32)
    if mode == "1":
        return np.asarray(image.convert("L"))
    if mode == "P":
        return np.asarray(image.convert("RGBA" if "transparency" in image.info else "RGB"))
    if mode == "PA":
        return np.asarray(image.convert("RGBA"))
    if mode in ("L", "LA", "RGB", "RGBA"):
        return np.asarray(image)
    return np.asarray(image.convert("RGB"))  # CMYK, YCbCr, LAB, HSV, RGBX, ...


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
    The same ``seed`` gives the same shuffle; the permutation is never the identity
    when there are at least two tiles.

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
    if count > 1 and bool((order == torch.arange(count)).all()):
        order = order.roll(1)  # a "shuffle" that moves nothing would teach nothing
    core = image[:, :, : rows * patch, : cols * patch]
    tiles = core.reshape(batch, channels, rows, patch, cols, patch).permute(0, 2, 4, 1, 3, 5)
    tiles = tiles.reshape(batch, count, channels, patch, patch)[:, order.to(image.device)]
    shuffled = tiles.reshape(batch, rows, cols, channels, patch, patch).permute(0, 3, 1, 4, 2, 5)
    result = image.clone()
    result[:, :, : rows * patch, : cols * patch] = shuffled.reshape(batch, channels, rows * patch, cols * patch)
    return result
