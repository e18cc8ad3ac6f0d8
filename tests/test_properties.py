"""Property-based tests (hypothesis, issues 12 and 20): whatever the input, load_image, stylize and the
command line give a result or one of stylelab's documented exceptions with a one-line message,
never another exception type, and never change an input file; whatever a cache file holds, the
result cache and the normalisation cache give a miss (said in one warning) or a valid entry."""

from __future__ import annotations

import hashlib
import io
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import stylelab as sl  # noqa: E402
from stylelab.__main__ import main  # noqa: E402

# Sized for CI on 2 cores; STYLELAB_PROPERTY_SCALE=20 runs 20 times as many examples (a deeper hunt).
_SCALE = max(1, int(os.environ.get("STYLELAB_PROPERTY_SCALE", "1")))
_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
FAST = settings(max_examples=40 * _SCALE, deadline=None, suppress_health_check=_QUIET)
SLOW = settings(max_examples=15 * _SCALE, deadline=None, suppress_health_check=_QUIET)


def _is_one_documented_sentence(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, sl.StyleLabError) and text.strip() != "" and "\n" not in text.strip()


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


# --------------------------------------------------------------------------- load_image

sizes = st.one_of(
    st.none(),
    st.integers(-3, 40),
    st.tuples(st.integers(-1, 30), st.integers(-1, 30)),
    st.sampled_from([0.5, "32", True, (3,), (2, 3, 4), np.int64(12), (np.int32(5), np.int64(7)), 10**12]),
)

arrays = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.uint16, np.int32, np.int64, np.float32, np.float64, np.bool_, np.float16,
                           np.complex64]),
    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6),
)


@FAST
@given(array=arrays, size=sizes)
def test_load_image_of_any_array(array, size):
    before = array.copy()
    try:
        image = sl.load_image(array, size)
    except Exception as exc:  # noqa: BLE001 - the property is about the type
        assert _is_one_documented_sentence(exc), repr(exc)
    else:
        assert image.dtype == torch.float32 and image.dim() == 4 and image.shape[:2] == (1, 3)
        assert bool(((image >= 0) & (image <= 1)).all())
    assert np.array_equal(array, before, equal_nan=True)


def _png_bytes(array: np.ndarray, mode: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert(mode).save(buffer, format="PNG")
    return buffer.getvalue()


@FAST
@given(
    pixels=hnp.arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(3))),
    mode=st.sampled_from(["RGB", "RGBA", "L", "LA", "P", "1", "I;16", "CMYK"]),
    cut=st.one_of(st.none(), st.integers(0, 200)),
    flip=st.one_of(st.none(), st.integers(0, 400)),
    size=sizes,
    as_bytes=st.booleans(),
)
def test_load_image_of_any_file(tmp_path_factory, pixels, mode, cut, flip, size, as_bytes):
    data = bytearray(_png_bytes(pixels, mode) if mode != "CMYK" else _jpeg(pixels))
    if flip is not None and flip < len(data):
        data[flip] ^= 0xFF  # a damaged byte
    if cut is not None:
        data = data[:cut]  # a truncated download
    path = tmp_path_factory.mktemp("files") / "picture.png"
    path.write_bytes(bytes(data))
    before = _digest(path)
    try:
        image = sl.load_image(bytes(data) if as_bytes else path, size)
    except Exception as exc:  # noqa: BLE001
        assert _is_one_documented_sentence(exc), repr(exc)
    else:
        assert image.shape[:2] == (1, 3) and bool(((image >= 0) & (image <= 1)).all())
    assert _digest(path) == before


def _jpeg(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert("CMYK").save(buffer, format="JPEG")
    return buffer.getvalue()


# --------------------------------------------------------------------------- stylize

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.floats(allow_nan=True, allow_infinity=True),  # 1e300 and the like: beyond float32 (issue 20)
    st.integers(-5, 10**6),
    st.sampled_from([None, "1", [1.0], True, np.float32(0.5), np.int64(2)]),
)
layers = st.one_of(
    st.sampled_from(["relu1_1", "relu2_1", "conv1_2", "pool1", "relu9_1", "", None, 3, ("relu1_1",), []]),
    st.lists(st.sampled_from(["relu1_1", "relu2_1", "relu3_1", "bogus"]), max_size=3),
    st.dictionaries(st.sampled_from(["relu1_1", "relu2_1", "x"]), numbers, max_size=2),
)
options = st.fixed_dictionaries(
    {},
    optional={
        "content_layers": layers,
        "style_layers": layers,
        "content_weight": numbers,
        "style_weight": numbers,
        "tv_weight": numbers,
        "optimizer": st.sampled_from(["lbfgs", "adam", "ADAM", "sgd", None, 1]),
        "steps": st.one_of(st.integers(-1, 2), st.sampled_from([1.0, 2.5, "2", np.int64(2), [1, 2], None])),
        "lr": st.one_of(st.none(), numbers),
        "init": st.sampled_from(["content", "noise", "style", "photo", None, 5, np.zeros((16, 16, 3), np.uint8),
                                 torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 5, 5)]),
        "seed": st.one_of(st.integers(-2, 2**64), st.sampled_from(["abc", 1.5, None, np.int64(4)])),
        "size": st.one_of(st.none(), st.integers(-1, 24), st.sampled_from([(16, 20), (1, 1), "16", 10**9])),
        "style_scale": st.one_of(numbers, st.floats(1e-6, 3.0)),
        "style_blend": st.one_of(st.none(), st.lists(numbers, max_size=3), numbers),
        "preserve_color": st.sampled_from([None, "luminance", "histogram", "sepia", 1, False]),
        "masks": st.sampled_from([None, [None], [torch.ones(16, 16)], [np.ones((3, 3))], "mask", [None, None]]),
        "scales": st.one_of(st.none(), st.sampled_from(["64", (16,), (16, 24), (24, 16), (0,), [8.5]])),
        "line_search": st.booleans(),
        "callback": st.sampled_from([None, "print", lambda *a: None, lambda *a: True, lambda *a: np.ones(2),
                                     lambda *a: 1 / 0]),
    },
)


@SLOW
@given(kwargs=options, with_content=st.booleans(), styles=st.integers(0, 2))
def test_stylize_with_any_settings(model, kwargs, with_content, styles, monkeypatch):
    monkeypatch.setenv("STYLELAB_MEMORY_LIMIT", "256MiB")
    content = sl.data.example("chelsea", 16) if with_content else None
    style = [sl.data.example("swirls", 16)] * styles
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("steps"), int) and kwargs["steps"] > 2:
        kwargs["steps"] = 2
    try:
        result = sl.stylize(content, style or None, model=model, progress=False, **kwargs)
    except Exception as exc:  # noqa: BLE001
        assert _is_one_documented_sentence(exc), repr(exc)
    else:
        assert result.image.dim() == 4 and bool(torch.isfinite(result.image).all())
        assert result.status in ("completed", "stopped", "diverged", "no_progress")


# --------------------------------------------------------------------------- command line

cli_extras = st.lists(
    st.sampled_from([
        ["--size", "16"], ["--size", "0"], ["--size", "100000"], ["--steps", "2"], ["--steps", "0"],
        ["--steps", "1", "2"], ["--scales", "16", "24"], ["--scales", "24", "16"], ["--optimizer", "adam"],
        ["--lr", "nan"], ["--lr", "-1"], ["--style-weight", "inf"], ["--content-weight", "0"],
        ["--style-weight", "0"], ["--tv-weight", "1"], ["--init", "noise"], ["--init", "style"],
        ["--seed", "7"], ["--preserve-color", "luminance"], ["--blend", "1"], ["--blend", "0", "0"],
        ["--mask", "rest"], ["--mask", "{content}"], ["--max-memory", "1MiB"], ["--max-memory", "lots"],
        ["--weights", "{content}"],
    ]),
    max_size=3,
)


@pytest.mark.slow  # more than half a second on a 2-core CPU
@SLOW
@given(extras=cli_extras, output=st.sampled_from(["out.png", "out.jpg", "out", "out.gif", "{content}",
                                                   "{style}", "photo.jpg/x.png", "sub/dir/out.webp", "."]))
def test_the_command_line_with_any_arguments(tmp_path_factory, capsys, extras, output):
    folder = tmp_path_factory.mktemp("cli")
    content, style = folder / "photo.jpg", folder / "style.jpg"
    shutil.copy(sl.data.example_path("chelsea"), content)
    shutil.copy(sl.data.example_path("swirls"), style)
    before = (_digest(content), _digest(style))
    fill = {"content": str(content), "style": str(style)}
    argv = [str(content), str(style), "-o", str(folder / output.format(**fill)), "--quiet", "--weights", "random"]
    argv += [a.format(**fill) for extra in extras for a in extra]
    if "--size" not in argv and "--scales" not in argv:
        argv += ["--size", "16"]
    if "--steps" not in argv:
        argv += ["--steps", "1"]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: a malformed command line
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code in (0, 1, 2), (code, err)
    if code == 2:
        assert err and err[-1].startswith(("error: ", "python -m stylelab: error: ")), err
    assert "Traceback" not in "\n".join(err)
    assert (_digest(content), _digest(style)) == before
    assert [p.name for p in folder.rglob("*") if sl.files.is_temporary(p.name) or p.suffix == ".part"] == []


# --------------------------------------------------------------------------- checkers (issue 20)

_EXCEPTIONS = [ValueError, RuntimeError, NotImplementedError, RecursionError, MemoryError, SystemExit, GeneratorExit,
               StopIteration, KeyboardInterrupt, type("Odd", (BaseException,), {"__str__": lambda self: 1 / 0})]


def _values():
    """What an answer may return: numbers, odd tensors, containers, generators, objects that fail when read."""
    tensors = st.builds(
        lambda shape, dtype, device: torch.zeros(shape, dtype=dtype, device=device),
        st.lists(st.integers(0, 5), max_size=4).map(tuple),
        st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool, torch.complex64, torch.float16]),
        st.sampled_from(["cpu", "meta"]),
    )
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5), st.just(...),
                        st.sampled_from([np.float32(6.25), np.int64(64), np.array([1, 2]), 1j]))
    leaves = st.one_of(scalars, tensors, st.sampled_from(_EXCEPTIONS).map(_Raising))
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner, inner),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=3),
                                                        inner.map(lambda v: (x for x in [v, v, v]))),
                        max_leaves=6)


class _Raising:
    """A value that raises ``exception`` when it is read in any way."""

    def __init__(self, exception):
        self.exception = exception

    def _fail(self, *args, **kwargs):
        raise self.exception()

    __iter__ = __len__ = __float__ = __int__ = __index__ = __bool__ = __getitem__ = __array__ = _fail
    __repr__ = __eq__ = __lt__ = __gt__ = __ge__ = __le__ = __hash__ = _fail


def _answer(kind, value):
    if kind == "returns":
        return lambda *args: value
    if kind == "raises":
        return lambda *args: (_ for _ in ()).throw(value())
    if kind == "changes its input":
        return lambda *args: args[0].mul_(2) if args and isinstance(args[0], torch.Tensor) else value
    return value  # the answer itself is a value (not a function)


@pytest.mark.slow  # many checks
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # a TimeUp in hypothesis's gc hook
@settings(max_examples=60 * _SCALE, deadline=None, suppress_health_check=_QUIET)
@given(name=st.sampled_from(list(sl.exercises.EXERCISES)), kind=st.sampled_from(["returns", "raises",
       "changes its input", "is"]), data=st.data())
def test_a_checker_with_any_answer_gives_a_verdict(monkeypatch, name, kind, data):
    monkeypatch.setattr(sl.exercises.checking, "TIME_LIMIT", 0.5)
    value = data.draw(st.sampled_from(_EXCEPTIONS) if kind == "raises" else _values())
    result = sl.exercises.check(name, _answer(kind, value), quiet=True)  # never raises, never hangs
    assert result.status in ("passed", "failed", "not attempted"), (result.status, result.message)
    assert result.status != "passed" or kind == "is"
    assert isinstance(result.message, str) and result.message and str(result)


# --------------------------------------------------------------------------- the caches (issue 20)

KEY = "0123456789abcdef" * 2
DESCRIPTION = {"content": "ab" * 32, "settings": {"steps": 3}}
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)


def _valid_result(evaluations: int = 3):
    image = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    return sl.StyleTransferResult(image=image, history={"total": [3.0, 2.0, 1.0][:evaluations]},
                                  config={"size": [5, 7]}, best_step=evaluations, steps=2,
                                  evaluations=evaluations, seconds=0.5, status="completed", message="Completed.")


def _assert_miss_or_valid(load):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = load()  # any exception fails the property
    assert len(caught) <= 1 and all(issubclass(w.category, RuntimeWarning) and "\n" not in str(w.message)
                                    for w in caught)
    if result is None:
        return
    image = result.image
    assert image.dtype == torch.float32 and tuple(image.shape) == (1, 3, 5, 7)
    assert bool(torch.isfinite(image).all()) and float(image.min()) >= 0 and float(image.max()) <= 1
    assert result.status in ("completed", "no_progress") and result.evaluations >= 1
    assert all(len(v) == result.evaluations for v in result.history.values())


@FAST
@given(meta=st.one_of(st.binary(max_size=300), json_values.map(lambda v: __import__("json").dumps(v).encode())),
       image=st.one_of(st.binary(max_size=300), st.none()))
def test_any_bytes_in_a_result_cache_entry_are_a_miss(tmp_path_factory, meta, image):
    cache = sl.cache.ResultCache(tmp_path_factory.mktemp("cache"))
    image_path, meta_path = cache.paths(KEY)
    cache.folder.mkdir(exist_ok=True)
    meta_path.write_bytes(meta)
    if image is not None:
        image_path.write_bytes(image)
    _assert_miss_or_valid(lambda: cache.load(KEY, DESCRIPTION, (5, 7)))
    cache.clear()  # never raises either


_FIELDS = ["written_by", "format", "key", "shape", "image_sha256", "settings", "run_settings", "config", "history",
           "best_step", "steps", "evaluations", "seconds", "status", "message"]


@FAST
@given(changes=st.dictionaries(st.sampled_from(_FIELDS), json_values, max_size=3),
       drop=st.lists(st.sampled_from(_FIELDS), max_size=2),
       pixels=st.one_of(st.none(), hnp.arrays(st.sampled_from([np.float32, np.float64, np.float16]),
                                              st.sampled_from([(1, 3, 5, 7), (1, 3, 7, 5), (1, 3, 0, 0), (3, 5, 7),
                                                               (1, 1, 5, 7)]),
                                              elements=st.floats(-2, 8, width=16) | st.sampled_from(
                                                  [float("nan"), float("inf")]))))
def test_a_valid_looking_result_cache_entry_is_trusted_only_if_valid(tmp_path_factory, changes, drop, pixels):
    import json

    cache = sl.cache.ResultCache(tmp_path_factory.mktemp("cache"))
    cache.save(KEY, _valid_result(), settings=DESCRIPTION)
    image_path, meta_path = cache.paths(KEY)
    meta = json.loads(meta_path.read_text())
    if pixels is not None:  # a new image, its checksum and shape made to agree: only the values can tell
        buffer = io.BytesIO()
        np.save(buffer, pixels, allow_pickle=False)
        image_path.write_bytes(buffer.getvalue())
        meta["image_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
        meta["shape"] = list(pixels.shape)
    meta.update(changes)
    for field in drop:
        meta.pop(field, None)
    meta_path.write_text(json.dumps(meta))
    _assert_miss_or_valid(lambda: cache.load(KEY, DESCRIPTION, (5, 7)))


CHANNELS = {"relu1_1": 3, "relu2_1": 2}
_GOOD = {"relu1_1": [0.5, 2.0, 0.0], "relu2_1": [1.0, 4.0]}
means_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3), st.none(),
                         st.booleans(), st.text(max_size=3))


def _assert_usable(means):
    assert set(means) == set(CHANNELS)
    for layer, count in CHANNELS.items():
        values = means[layer]
        assert values.dtype == torch.float32 and values.shape == (count,)
        assert bool(torch.isfinite(values).all()) and float(values.min()) >= 0 and float(values.max()) > 0


@FAST
@given(data=st.one_of(st.binary(max_size=300), json_values.map(lambda v: __import__("json").dumps(v).encode())))
def test_any_bytes_in_a_normalisation_cache_file_are_measured_again(tmp_path_factory, monkeypatch, data):
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("STYLELAB_CACHE", str(folder))
    (folder / "normalization").mkdir()
    (folder / "normalization" / f"{KEY}.json").write_bytes(data)
    measured = {k: torch.tensor(v) for k, v in _GOOD.items()}
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        means = sl.normalization.cached_means(KEY * 2, lambda: measured, CHANNELS)
    assert len(caught) <= 1 and all(str(folder) in str(w.message) for w in caught)
    _assert_usable(means)
    assert all(torch.equal(means[k], measured[k]) for k in CHANNELS)


@FAST
@given(means=st.dictionaries(st.sampled_from(["relu1_1", "relu2_1", "relu3_1"]),
                             st.one_of(st.lists(means_values, max_size=4), means_values), max_size=3),
       key=st.sampled_from([KEY * 2, "f" * 64]), marker=st.sampled_from(["stylelab.normalization", "other"]))
def test_a_valid_looking_normalisation_file_is_used_only_if_it_can_normalise(tmp_path_factory, monkeypatch,
                                                                              means, key, marker):
    import json

    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("STYLELAB_CACHE", str(folder))
    (folder / "normalization").mkdir()
    record = {"written_by": marker, "version": "1", "key": key, "means": means}
    (folder / "normalization" / f"{KEY}.json").write_text(json.dumps(record))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = sl.normalization.cached_means(KEY * 2, lambda: {k: torch.tensor(v) for k, v in _GOOD.items()},
                                               CHANNELS)
    _assert_usable(result)
