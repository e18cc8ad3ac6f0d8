"""An on-disk cache of :func:`~stylelab.stylize` results, so re-running a lesson is instant.

>>> cache = ResultCache(".stylelab_cache")                              # doctest: +SKIP
>>> result = cache.stylize(content, style, model=model, steps=300)     # computed, then saved
>>> result = cache.stylize(content, style, model=model, steps=300)     # read back from disk

An entry is keyed by everything that changes the result:

* the pixels of the content, style and (tensor) initial images - hashed after
  :func:`~stylelab.load_image`, so a path and the tensor it holds give the same key;
* the masks, hashed by their values;
* the run's :class:`~stylelab.engine.settings.TransferSettings`, by their
  :meth:`~stylelab.engine.settings.TransferSettings.record` (every setting, in one normal form
  with the defaults filled in, so leaving an argument out and passing its default value
  are the same, and a new setting can never be forgotten here);
* the model: its ``weights_source``, ``pooling``, preprocessing, device type, precision,
  memory layout and a hash of its weights *at call time* (two random networks with
  different seeds are different models, and so is a model whose weights were changed in
  place since the last call);
* the stylelab and torch versions and the cache format.

Arguments that cannot change the image are not part of the key: ``progress`` and
``callback``. On a hit the callback is **not** called, since no optimisation runs.

Each entry is two files in the folder: ``<key>.npy`` holds the image as float32, exactly
as it was computed (lossless), and ``<key>.json`` holds the history, the config, the run's
counters and the settings it was keyed by, plus the SHA-256 of the ``.npy`` file; it
starts with the marker ``"written_by": "stylelab.ResultCache"``. Both are written by
:func:`stylelab.files.write_atomic` (a temporary file, then a rename; the ``.json`` last,
so an entry is complete or absent), with permissions that follow the umask: a cache an
instructor builds can be read by the students.

**Nothing on disk is trusted.** :meth:`ResultCache.load` is the one door through which an
entry comes back, and it checks everything first: the files are regular files of a
plausible size (never a named pipe or a link to a device, which would hang or fill the
memory), the ``.json`` is exactly what :meth:`ResultCache.save` writes for this key and
these settings (no NaN, a history of one finite value per evaluation for every term,
counters that fit it), the image matches its checksum, has the shape this run makes and
holds finite values in [0, 1]. Anything else is a miss, said once in a ``RuntimeWarning``
and recomputed, never an error and never a returned image. Only runs that spent their whole
budget are stored (status ``"completed"``, or ``"no_progress"``: a run whose start image
was already the best is just as repeatable): an interrupted, stopped or diverged run is
returned but not cached, so the next call tries again. :meth:`ResultCache.clear` deletes
only the files the cache wrote, never other files in the folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from .. import version
from ..engine.prepare import output_size
from ..engine.result import StyleTransferResult
from ..engine.settings import TransferSettings
from ..engine.transfer import run, settings_from
from ..errors import FileReadError, FileWriteError, OutputPathError, ParameterError, StyleLabError
from ..files import path_too_long, read_regular, temporary_target, write_atomic
from ..imaging.decoding import image_shape
from ..imaging.images import MAX_PIXELS, load_image, target_size
from ..vgg.features import VGGFeatures
from ..vgg.network import build_model, use_model
from ..vgg.weights import state_digest

__all__ = ["ResultCache", "DEFAULT_FOLDER", "CACHE_FORMAT"]

#: Default folder, relative to the working directory (the lessons run in ``notebooks/``,
#: where ``.gitignore`` keeps ``.stylelab_cache/`` out of git).
DEFAULT_FOLDER = ".stylelab_cache"
#: Bumped whenever the layout of an entry changes; older entries then count as misses.
CACHE_FORMAT = 4
#: The marker every entry's ``.json`` starts with: which files in the folder the cache wrote.
MARK = "stylelab.ResultCache"
#: Largest ``.json`` an entry can have (its history, config and settings are a few hundred KB at most).
META_LIMIT = 32 * 2**20
#: The statuses of the runs that are stored (they spent their whole budget: repeatable).
_STORED = ("completed", "no_progress")
_ENTRY_FILE = re.compile(r"^[0-9a-f]{32}(\.json|\.npy)?$")
_OLD_TEMPORARY = re.compile(r"^\.[0-9a-f]{32}\.(json|npy)\.[A-Za-z0-9_]{8}\.tmp$")  # before format 4 (mkstemp)


class ResultCache:
    """Store and reuse :class:`~stylelab.StyleTransferResult` objects on disk.

    Args:
        folder: where entries live; created on the first write. Default
            ``".stylelab_cache"`` in the working directory.

    Attributes:
        folder: the cache folder (a :class:`~pathlib.Path`).
        hits: results read from disk by :meth:`stylize` so far.
        misses: results computed by :meth:`stylize` so far.
        last_hit: whether the latest :meth:`stylize` call was read from disk.
    """

    def __init__(self, folder: str | os.PathLike = DEFAULT_FOLDER) -> None:
        self.folder = Path(folder).expanduser()
        problem = path_too_long(self.folder)
        if problem:
            raise OutputPathError(problem)
        if os.path.exists(self.folder) and not os.path.isdir(self.folder):
            raise OutputPathError(
                f"The cache folder {str(self.folder)!r} is a file, not a folder; pass another path to ResultCache."
            )
        self.hits = 0
        self.misses = 0
        self.last_hit = False

    # ------------------------------------------------------------------ main entry

    def stylize(
        self,
        content: Any,
        style: Any = None,
        *,
        init: Any = None,
        masks: Any = None,
        model: Optional[VGGFeatures] = None,
        callback: Any = None,
        progress: bool = True,
        **settings: Any,
    ) -> StyleTransferResult:
        """:func:`~stylelab.stylize` with the same arguments, read from disk when possible.

        Without ``model``, the network is built from the settings as :func:`~stylelab.stylize`
        would. Returns a :class:`~stylelab.StyleTransferResult`; a hit returns the stored
        image bit for bit, with the history, counters, ``seconds`` and settings of the run
        that produced it (the callback is not called: nothing runs).
        """
        checked, init_image = settings_from(init, settings)
        model = build_model(checked.network) if model is None else use_model(model, checked.network)
        description = self.describe(content, style, checked, model=model, init_image=init_image, masks=masks)
        key = _key_of(description)
        cached = self.load(key, description, _output_shape(content, checked))
        self.last_hit = cached is not None
        if cached is not None:
            self.hits += 1
            return cached
        result = run(content, style, checked, init_image=init_image, masks=masks, model=model, callback=callback,
                     progress=progress)
        self.misses += 1
        try:
            self.save(key, result, settings=description)
        except (OSError, TypeError, ValueError) as exc:  # a full disk must not lose the result
            warnings.warn(
                f"Could not write to the result cache in {str(self.folder)!r} ({_fragment(exc)}); the result is "
                "returned but will be recomputed next time.",
                RuntimeWarning,
                stacklevel=2,
            )
        return result

    # ------------------------------------------------------------------ keys

    def key(self, content: Any, style: Any = None, *, model: VGGFeatures, init: Any = None, masks: Any = None,
            callback: Any = None, progress: bool = True, **settings: Any) -> str:
        """The entry name for these :func:`~stylelab.stylize` arguments (32 hex digits);
        ``callback`` and ``progress`` cannot change a result and are not part of it."""
        checked, init_image = settings_from(init, settings)
        return _key_of(self.describe(content, style, checked, model=model, init_image=init_image, masks=masks))

    @staticmethod
    def describe(content: Any, style: Any, settings: TransferSettings, *, model: VGGFeatures, init_image: Any = None,
                 masks: Any = None) -> Dict[str, Any]:
        """What an entry is keyed by (JSON values): the images' pixels, the model's fingerprint,
        the settings' record (the network's part is the model's fingerprint) and the versions.

        Settings that mean the same run give the same description: ``lr=None`` and the
        optimiser's default, ``init=None`` and its default rule, ``1`` and ``1.0``.
        """
        resolved = settings.replace(lr=settings.learning_rate, init=settings.start_rule(content is not None))
        record = resolved.record()
        del record["network"]
        styles = None if style is None else [_image_digest(s) for s in (style if isinstance(style, (list, tuple)) else [style])]
        return {
            "format": CACHE_FORMAT,
            "stylelab": version.__version__,
            "torch": torch.__version__,
            "content": None if content is None else _image_digest(content),
            "style": styles,
            "masks": _masks(masks),
            "init_image": None if init_image is None else _image_digest(init_image),
            "model": model_fingerprint(model),
            "settings": record,
        }

    # ------------------------------------------------------------------ storage

    def paths(self, key: str) -> tuple:
        """``(image_path, meta_path)`` of an entry."""
        return self.folder / f"{key}.npy", self.folder / f"{key}.json"

    def load(self, key: str, description: Optional[Dict[str, Any]] = None,
             shape: Optional[Tuple[int, int]] = None) -> Optional[StyleTransferResult]:
        """The stored result for ``key``, or ``None`` (a miss) if it is absent or invalid.

        Nothing on disk is trusted: this is the one place an entry is read, and it is checked
        (by :func:`_checked_meta` and :func:`_checked_result`) before it is returned. An
        invalid entry (damaged, not written by this cache, holding values no run makes)
        is a miss, said once in a ``RuntimeWarning``, and is recomputed.
        ``description`` (what the entry must have been keyed by) and ``shape`` (the
        ``(H, W)`` the run makes), when given, must match too.
        """
        image_path, meta_path = self.paths(key)
        try:
            meta_bytes = read_regular(meta_path, limit=META_LIMIT, what="the cache entry")
            if meta_bytes is None:
                return None  # never written, or a crash before the entry was committed: a plain miss
            meta = _checked_meta(meta_bytes, key, description, shape)
            height, width = meta["shape"][2:]
            image_bytes = read_regular(image_path, limit=_npy_bytes(height, width), what="the cache image")
            if image_bytes is None:
                raise _Invalid("its image file is missing")
            return _checked_result(meta, image_bytes)
        except (_Invalid, FileReadError) as exc:
            warnings.warn(
                f"Ignoring the damaged cache entry {key} in {str(self.folder)!r} ({_fragment(exc)}); it will be recomputed.",
                RuntimeWarning,
                stacklevel=3,
            )
            return None

    def save(self, key: str, result: StyleTransferResult, settings: Optional[Dict[str, Any]] = None) -> bool:
        """Store ``result`` under ``key``; returns False (and stores nothing) unless it ran its budget.

        Interrupted, stopped and diverged runs are not stored: they are not what the
        settings ask for. ``"no_progress"`` runs are (the same settings give the same
        start image back every time). Raises :class:`~stylelab.FileWriteError` when the
        entry cannot be written (a full disk, no permission); nothing partial is left.
        """
        if result.status not in _STORED:
            return False
        values = [v for series in result.history.values() for v in series]
        if not all(math.isfinite(v) for v in values):
            return False
        image = result.image.detach().cpu().float().contiguous().numpy()
        buffer = io.BytesIO()
        np.save(buffer, image, allow_pickle=False)
        raw = buffer.getvalue()
        meta = {
            "written_by": MARK,
            "format": CACHE_FORMAT,
            "key": key,
            "shape": list(image.shape),
            "image_sha256": hashlib.sha256(raw).hexdigest(),
            "settings": settings,
            "run_settings": None if result.settings is None else result.settings.record(),
            "config": result.config,
            "history": result.history,
            "best_step": result.best_step,
            "steps": result.steps,
            "evaluations": result.evaluations,
            "seconds": result.seconds,
            "status": result.status,
            "message": result.message,
        }
        text = json.dumps(meta, allow_nan=False)
        image_path, meta_path = self.paths(key)
        write_atomic(image_path, raw, what="the cache image")
        write_atomic(meta_path, text, what="the cache entry")  # last: its presence commits the entry
        return True

    # ------------------------------------------------------------------ housekeeping

    def entries(self) -> List[str]:
        """The keys of the entries this cache wrote into its folder (other files are not entries)."""
        try:
            names = os.listdir(self.folder)
        except OSError:  # no folder yet, or one that cannot be listed
            return []
        return sorted(name[:-5] for name in names if _ENTRY_FILE.match(name) and name.endswith(".json")
                      and _written_here(self.folder / name))

    def __len__(self) -> int:
        """Number of entries on disk (complete or not) that this cache wrote."""
        return len(self.entries())

    def clear(self) -> int:
        """Delete the files this cache wrote (entries, orphaned images, temporary files); returns
        how many entries went. Any other file in the folder (yours) is left alone.

        The cache's files are recognised by their names (32 hex digits) and contents: a
        ``.json`` that names its own key, a ``.npy`` holding a float32 ``(1, 3, H, W)``
        image, a temporary file of :func:`stylelab.files.write_atomic` for such a name.
        Raises :class:`~stylelab.FileWriteError` when some of them cannot be deleted (a
        read-only, shared cache)."""
        keys = set(self.entries())
        if not keys and not os.path.isdir(self.folder):
            return 0
        kept = []
        for path in list(self.folder.iterdir()):
            name = path.name
            ours = (
                (_ENTRY_FILE.match(name) and path.stem in keys)
                or (name.endswith(".npy") and _ENTRY_FILE.match(name) and _is_cache_image(path))
                or _ENTRY_FILE.match(temporary_target(name) or "")
                or _OLD_TEMPORARY.match(name)
            )
            if ours:
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    kept.append(exc)
        if kept:
            raise FileWriteError(f"Could not delete {len(kept)} of the cache's files in {str(self.folder)!r} "
                                 f"({kept[0].strerror or kept[0]}); check that you may write in that folder.")
        return len(keys)

    def __repr__(self) -> str:
        return f"ResultCache({str(self.folder)!r}: {len(self)} entries, {self.hits} hits, {self.misses} misses)"


# --------------------------------------------------------------------------- helpers


def model_fingerprint(model: VGGFeatures) -> Dict[str, str]:
    """What identifies a model's behaviour: weights source, pooling, preprocessing, device
    type, precision, memory layout and a SHA-256 of its weights.

    The hash is computed on every call (about 0.07 s for VGG-19's 80 MB on a laptop CPU),
    never remembered: weights changed in place (``load_state_dict``, ``p.data.mul_``, an
    optimiser step) must change the key, and no cheap sign of such a change is reliable
    (``.data`` bypasses PyTorch's version counters).
    """
    if not isinstance(model, VGGFeatures):
        raise ParameterError(f"model must be a stylelab.VGGFeatures; got a {type(model).__name__}.")
    digest = state_digest(model.state_dict())
    return {
        "weights_source": str(model.weights_source),
        "pooling": str(model.pooling),
        "preprocessing": str(model.preprocessing),
        "device": model.device.type,
        "precision": str(model.precision),
        "channels_last": bool(model.channels_last),
        "weights_sha256": digest,
    }


def _key_of(settings: Dict[str, Any]) -> str:
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _image_digest(source: Any) -> str:
    return _array_digest(load_image(source))


def _array_digest(value: Any) -> str:
    """SHA-256 of a tensor's or array's shape and float32 values."""
    array = torch.as_tensor(value).detach().float().cpu().contiguous().numpy()
    hasher = hashlib.sha256(str(tuple(array.shape)).encode("ascii"))
    hasher.update(array.tobytes())
    return hasher.hexdigest()


def _masks(masks: Any) -> Any:
    if masks is None:
        return None
    return [None if m is None else _array_digest(m) if isinstance(m, (torch.Tensor, np.ndarray)) else _image_digest(m)
            for m in masks]


def _output_shape(content: Any, settings: TransferSettings) -> Optional[Tuple[int, int]]:
    """The ``(H, W)`` of the image this run makes (``None`` when the content's size cannot be read cheaply)."""
    size = output_size(settings)
    if content is None:
        return target_size((1, 1), size)
    own = image_shape(content)
    return None if own is None else target_size(own, size)


# --------------------------------------------------------------------------- what an entry must be


class _Invalid(Exception):
    """A cache entry that must not be trusted (the reason is the message); :meth:`ResultCache.load` makes it a miss."""


def _fragment(exc: BaseException) -> str:
    """An exception's message as a clause inside a sentence: one line, no final full stop."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.rstrip(".")


def _npy_bytes(height: int, width: int) -> int:
    """Size of the ``.npy`` of a ``(1, 3, height, width)`` float32 image (its header is at most a few hundred bytes)."""
    return 12 * height * width + 4096


def _is_int(value: Any, low: int, high: Optional[int] = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value and (high is None or value <= high)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _no_constants(name: str) -> Any:
    raise _Invalid(f"it holds {name}, which the cache never writes")


def _checked_meta(raw: bytes, key: str, description: Optional[Dict[str, Any]],
                  shape: Optional[Tuple[int, int]]) -> Dict[str, Any]:
    """The entry's ``.json``, parsed, if it is exactly what :meth:`ResultCache.save` writes for ``key``."""
    try:
        meta = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _Invalid("its .json file is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("written_by") != MARK or meta.get("format") != CACHE_FORMAT:
        raise _Invalid("it was written by another version of the cache, or not by the cache")
    if meta.get("key") != key:
        raise _Invalid("it belongs to another key")
    if description is not None and meta.get("settings") != json.loads(json.dumps(description)):
        raise _Invalid("it was made with other settings")
    stored = meta.get("shape")
    if not (isinstance(stored, list) and len(stored) == 4 and stored[:2] == [1, 3]
            and all(_is_int(side, 1, MAX_PIXELS) for side in stored[2:]) and stored[2] * stored[3] <= MAX_PIXELS):
        raise _Invalid(f"its image shape {stored!r} is not (1, 3, H, W) with H, W >= 1")
    if shape is not None and tuple(stored[2:]) != tuple(shape):
        raise _Invalid(f"its image is {stored[2]}x{stored[3]}, but this run makes {shape[0]}x{shape[1]}")
    digest = meta.get("image_sha256")
    if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
        raise _Invalid("its image checksum is missing")
    evaluations = meta.get("evaluations")
    if not _is_int(evaluations, 1):
        raise _Invalid(f"its evaluation count {evaluations!r} is not a whole number >= 1")
    history = meta.get("history")
    if not (isinstance(history, dict) and "total" in history and all(
            isinstance(series, list) and len(series) == evaluations and all(_is_number(v) for v in series)
            for series in history.values())):
        raise _Invalid(f"its loss history does not hold {evaluations} finite values per term")
    if not (_is_int(meta.get("best_step"), 0, evaluations + 1) and _is_int(meta.get("steps"), 0)
            and _is_number(meta.get("seconds")) and meta["seconds"] >= 0):
        raise _Invalid("its counters do not fit its history")
    if meta.get("status") not in _STORED or not isinstance(meta.get("message"), str):
        raise _Invalid(f"its status {meta.get('status')!r} is not one the cache keeps")
    if not isinstance(meta.get("config"), dict) or meta["config"].get("size", stored[2:]) != stored[2:]:
        raise _Invalid("its config does not describe its image")
    if meta.get("run_settings") is not None and not isinstance(meta["run_settings"], dict):
        raise _Invalid("its settings are not a record of settings")
    return meta


def _checked_result(meta: Dict[str, Any], image_bytes: bytes) -> StyleTransferResult:
    """The result an entry holds, if its image is the one its ``.json`` describes and a valid image.

    ``meta`` has passed :func:`_checked_meta`. The image must match the recorded checksum and
    shape, be float32 and hold finite values in [0, 1].

    Raises:
        _Invalid: with the reason.
    """
    if hashlib.sha256(image_bytes).hexdigest() != meta["image_sha256"]:
        raise _Invalid("the image file does not match its checksum")
    try:
        array = np.load(io.BytesIO(image_bytes), allow_pickle=False)
    except (ValueError, OSError, EOFError, TypeError, SyntaxError) as exc:
        raise _Invalid(f"the image file is not an array ({_fragment(exc)})") from None
    if not isinstance(array, np.ndarray) or array.dtype != np.float32 or list(array.shape) != meta["shape"]:
        raise _Invalid(f"the image has shape {getattr(array, 'shape', None)} and type {getattr(array, 'dtype', None)}")
    if not np.isfinite(array).all() or float(array.min()) < 0.0 or float(array.max()) > 1.0:
        raise _Invalid("the image holds values outside [0, 1] (or NaN)")
    try:
        settings = None if meta["run_settings"] is None else TransferSettings.from_record(meta["run_settings"])
    except (StyleLabError, TypeError, ValueError, KeyError) as exc:
        raise _Invalid(f"its settings are not valid ({_fragment(exc)})") from None
    return StyleTransferResult(
        image=torch.from_numpy(array.copy()),
        history={str(k): [float(x) for x in v] for k, v in meta["history"].items()},
        facts=dict(meta["config"]),  # stored as result.config: settings and facts
        best_step=meta["best_step"],
        steps=meta["steps"],
        evaluations=meta["evaluations"],
        seconds=float(meta["seconds"]),
        status=meta["status"],
        message=meta["message"],
        settings=settings,
    )


def _written_here(meta_path: Path) -> bool:
    """Whether ``<key>.json`` is an entry's ``.json`` (of any format): it names its own key.

    Old formats (before :data:`MARK`) hold ``key`` and ``image_sha256`` too; a file of
    yours would have to name itself by a 32-digit key to be taken for one.
    """
    try:
        raw = read_regular(meta_path, limit=META_LIMIT, what="the cache entry")
        meta = json.loads(raw.decode("utf-8")) if raw is not None else None
    except (FileReadError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(meta, dict) and meta.get("key") == meta_path.stem and "image_sha256" in meta


def _is_cache_image(path: Path) -> bool:
    """Whether ``<key>.npy`` holds what the cache writes there: a float32 ``(1, 3, H, W)`` array."""
    try:
        head = read_regular(path, limit=0, what="the cache image", first=512)
        if head is None:
            return False
        stream = io.BytesIO(head)
        version = np.lib.format.read_magic(stream)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            return False
        shape, _, dtype = readers[version](stream)
    except (FileReadError, ValueError, OSError, SyntaxError, EOFError):
        return False
    return dtype == np.float32 and len(shape) == 4 and tuple(shape[:2]) == (1, 3)
