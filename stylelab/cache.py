"""An on-disk cache of :func:`~stylelab.stylize` results, so re-running a lesson is instant.

>>> cache = ResultCache(".stylelab_cache")                              # doctest: +SKIP
>>> result = cache.stylize(content, style, model=model, steps=300)     # computed, then saved
>>> result = cache.stylize(content, style, model=model, steps=300)     # read back from disk

An entry is keyed by everything that changes the result:

* the pixels of the content, style and (tensor) initial images - hashed after
  :func:`~stylelab.load_image`, so a path and the tensor it holds give the same key;
* the masks, hashed by their values;
* the run's :class:`~stylelab.settings.TransferSettings`, by their
  :meth:`~stylelab.settings.TransferSettings.record` (every setting, in one normal form
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
counters and the settings it was keyed by, plus the SHA-256 of the ``.npy`` file. Both
are written to a temporary file first and moved into place atomically, the ``.json``
last, so an entry is complete or absent. A missing, partial or damaged entry is a cache
miss: it is recomputed and rewritten, never an error. Only runs that spent their whole
budget are stored (status ``"completed"``, or ``"no_progress"``: a run whose start image
was already the best is just as repeatable): an interrupted, stopped or diverged run is
returned but not cached, so the next call tries again.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import torch

from .errors import OutputPathError, ParameterError
from .images import load_image
from .network import build_model, use_model
from .result import StyleTransferResult
from .settings import TransferSettings
from .transfer import run, settings_from
from .vgg import VGGFeatures
from .weights import state_digest

__all__ = ["ResultCache", "DEFAULT_FOLDER", "CACHE_FORMAT"]

#: Default folder, relative to the working directory (the lessons run in ``notebooks/``,
#: where ``.gitignore`` keeps ``.stylelab_cache/`` out of git).
DEFAULT_FOLDER = ".stylelab_cache"
#: Bumped whenever the layout of an entry changes; older entries then count as misses.
CACHE_FORMAT = 3


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
        if self.folder.exists() and not self.folder.is_dir():
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
        cached = self.load(key)
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
                f"Could not write to the result cache in {str(self.folder)!r} ({exc}); the result is "
                "returned but will be recomputed next time. Check the folder is writable.",
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
        from . import __version__

        resolved = settings.replace(lr=settings.learning_rate, init=settings.start_rule(content is not None))
        record = resolved.record()
        del record["network"]
        styles = None if style is None else [_image_digest(s) for s in (style if isinstance(style, (list, tuple)) else [style])]
        return {
            "format": CACHE_FORMAT,
            "stylelab": __version__,
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

    def load(self, key: str) -> Optional[StyleTransferResult]:
        """The stored result for ``key``, or ``None`` if it is absent or damaged."""
        image_path, meta_path = self.paths(key)
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("format") != CACHE_FORMAT or meta.get("key") != key:
                raise ValueError("it was written by another version of the cache")
            raw = image_path.read_bytes()
            if hashlib.sha256(raw).hexdigest() != meta["image_sha256"]:
                raise ValueError("the image file does not match its checksum")
            array = np.load(io.BytesIO(raw), allow_pickle=False)
            if array.dtype != np.float32 or array.ndim != 4 or array.shape[:2] != (1, 3):
                raise ValueError(f"the image has shape {array.shape} and type {array.dtype}")
            history = {str(k): [float(x) for x in v] for k, v in meta["history"].items()}
            return StyleTransferResult(
                image=torch.from_numpy(array.copy()),
                history=history,
                config=dict(meta["config"]),
                best_step=int(meta["best_step"]),
                steps=int(meta["steps"]),
                evaluations=int(meta["evaluations"]),
                seconds=float(meta["seconds"]),
                status=str(meta["status"]),
                message=str(meta["message"]),
                settings=None if meta.get("run_settings") is None else TransferSettings.from_record(meta["run_settings"]),
            )
        except Exception as exc:  # a damaged entry is a miss, whatever the damage
            warnings.warn(
                f"Ignoring the damaged cache entry {key} in {str(self.folder)!r} ({exc}); it will be recomputed.",
                RuntimeWarning,
                stacklevel=3,
            )
            return None

    def save(self, key: str, result: StyleTransferResult, settings: Optional[Dict[str, Any]] = None) -> bool:
        """Store ``result`` under ``key``; returns False (and stores nothing) unless it ran its budget.

        Interrupted, stopped and diverged runs are not stored: they are not what the
        settings ask for. ``"no_progress"`` runs are (the same settings give the same
        start image back every time).
        """
        if result.status not in ("completed", "no_progress"):
            return False
        values = [v for series in result.history.values() for v in series]
        if not all(math.isfinite(v) for v in values):
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, result.image.detach().cpu().float().contiguous().numpy(), allow_pickle=False)
        raw = buffer.getvalue()
        meta = {
            "format": CACHE_FORMAT,
            "key": key,
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
        _write_atomic(image_path, raw)
        _write_atomic(meta_path, text.encode("utf-8"))  # last: its presence commits the entry
        return True

    # ------------------------------------------------------------------ housekeeping

    def __len__(self) -> int:
        """Number of entries on disk (complete or not)."""
        return len(list(self.folder.glob("*.json"))) if self.folder.is_dir() else 0

    def clear(self) -> int:
        """Delete every entry (and leftover temporary files); returns how many entries went."""
        if not self.folder.is_dir():
            return 0
        count = len(self)
        for path in list(self.folder.glob("*.npy")) + list(self.folder.glob("*.json")) + list(self.folder.glob(".*.tmp")):
            path.unlink(missing_ok=True)
        return count

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


def _write_atomic(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
