"""The gallery: what each lesson produces on an ImageNet-trained network, rendered once.

A learner in fast mode, or one whose machine has only random weights, still deserves to
see what the lessons describe. ``python -m stylelab.course.gallery`` renders one picture per
lesson (and the README's hero) with a trained network at settings that show each point
clearly, and writes them as small JPEGs beside a ``README.md`` that says how each was made::

    python -m stylelab.vgg.convert                          # once: the ImageNet-trained VGG-16 (Caffe weights)
    python -m stylelab.course.gallery                       # all pictures into images/gallery/ (about 15 min on an idle 2-core CPU)
    python -m stylelab.course.gallery --only 05_transfer    # one picture

Every figure is titled with the network that made it; the gallery refuses random weights
unless ``--allow-untrained`` is given (then every title says "untrained").
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import torch

from ..files import write_atomic
from ..imaging.data import example, images_dir
from ..vgg.features import VGGFeatures

__all__ = ["Picture", "PICTURES", "render", "main"]


@dataclass(frozen=True)
class Picture:
    """One gallery picture: its file stem, what it shows, and how to draw it.

    ``draw(model, size, steps)`` returns a matplotlib figure; ``size`` is the longest side
    of the images in pixels, ``steps`` the L-BFGS evaluations per optimisation.
    """

    name: str
    caption: str
    size: int
    steps: int
    draw: Callable[[VGGFeatures, int, int], "object"]


def _stylize(model: VGGFeatures, content, style, size: int, steps: int, **options):
    from ..engine.transfer import stylize

    return stylize(content, style, model=model, size=size, steps=steps, progress=False, **options)


def _filters(model: VGGFeatures, size: int, steps: int):
    from .lesson_figures import filter_patches

    from ..vgg.network import NetworkSettings, build_model

    untrained = "random" if model.architecture.name == "vgg19" else "random-vgg16"
    random = build_model(NetworkSettings(weights=untrained, device=str(model.device)))
    return filter_patches(
        [model, random], [model.weights_label, random.weights_label],
        title="conv1_1's 64 filters: trained ones are smooth edges and colour blobs, random ones noise",
    )


def _reconstructions(model: VGGFeatures, size: int, steps: int):
    from .figures import show_images

    photo = example("chelsea", size=size)
    layers = ["relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2"]
    images = [photo] + [
        _stylize(model, photo, None, size, steps, content_layers=[name], init="noise").image for name in layers
    ]
    return show_images(
        images, ["photo"] + layers, size=2.6,
        title=f"Content reconstructions from white noise, {steps} evaluations each ({model.weights_label})",
    )


def _textures(model: VGGFeatures, size: int, steps: int):
    from .figures import show_images

    style = example("swirls", size=size)
    depths = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    images = [style] + [
        _stylize(model, None, style, size, steps, style_layers=depths[: k + 1]).image for k in range(len(depths))
    ]
    labels = ["style image"] + [f"relu1_1 ... {name}" if k else name for k, name in enumerate(depths)]
    return show_images(
        images, labels, size=2.6,
        title=f"Textures from white noise with growing style layer sets, {steps} evaluations ({model.weights_label})",
    )


#: The content/style weight ratios of the ratio sweep (normalised network, content weight 1).
RATIOS = (1e3, 1e4, 1e5, 1e6, 1e7)


def _ratios(model: VGGFeatures, size: int, steps: int):
    from .figures import show_images

    photo, style = example("chelsea", size=size), example("swirls")
    images = [_stylize(model, photo, style, size, steps, style_weight=beta).image for beta in RATIOS]
    return show_images(
        images, [f"style weight {beta:.0e}" for beta in RATIOS], size=2.6,
        title=f"More style weight, more style: content weight 1, {steps} evaluations from the photo ({model.weights_label})",
    )


def _transfer(model: VGGFeatures, size: int, steps: int):
    from .figures import show_images

    photo, style = example("chelsea", size=size), example("swirls", size=size)
    result = _stylize(model, photo, style, size, steps)
    return show_images(
        [photo, style, result.image], ["content", "style", "result"], size=3.6,
        title=f"Gatys et al.'s style transfer: {steps} L-BFGS evaluations at {size} px ({model.weights_label})",
    )


def _control(model: VGGFeatures, size: int, steps: int):
    from .figures import show_images

    photo, style = example("coffee", size=size), example("mosaic")
    runs = [("style's colours", None), ("luminance only", "luminance"), ("histogram matched", "histogram")]
    images = [photo] + [_stylize(model, photo, style, size, steps, preserve_color=mode).image for _, mode in runs]
    return show_images(
        images, ["photo"] + [label for label, _ in runs], size=2.8,
        title=f"Keeping the photo's colours (Gatys et al. 2017), {steps} evaluations ({model.weights_label})",
    )


def _high_resolution(model: VGGFeatures, size: int, steps: int):
    from ..engine.transfer import stylize
    from .analysis import course_style_weight
    from .figures import show_images

    photo, style = example("chelsea", size=size), example("swirls", size=size)
    scales = (size // 4, size // 2, size)
    evaluations = (steps, max(1, steps // 3), max(1, steps // 6))  # as lesson 06, section 5
    beta = course_style_weight(model, photo, style)
    result = stylize(photo, style, model=model, scales=scales, steps=evaluations, style_weight=beta, progress=False)
    return show_images(
        [result.image], [f"{result.image.shape[-1]}x{result.image.shape[-2]} px"], size=8,
        title=f"Coarse to fine {scales} px, {evaluations} L-BFGS evaluations, the course's style weight "
              f"({model.weights_label})",
    )


def _presets(model: VGGFeatures, size: int, steps: int):
    from ..engine import presets
    from ..engine.transfer import stylize
    from .figures import show_images

    photo, style = example("chelsea", size=size), example("swirls", size=size)
    images, labels = [], []
    for name in presets.names():
        keywords = presets.on_network(name, model)  # Gatys' normalised copy; VGG-16's layer for d2l's relu4_4
        images.append(stylize(photo, style, preset=name, size=None, steps=steps, progress=False, **keywords).image)
        ratio = presets.effective_balance(name, content=photo, style=style, **keywords)
        labels.append(f"{name}\neffective balance r = {ratio:.2g}")
    return show_images(
        images, labels, ncols=3, size=3.0,
        title=f"One photo and painting under six implementations' conventions, {steps} evaluations each ({model.weights_label})",
    )


def _hero(model: VGGFeatures, size: int, steps: int):
    from .figures import show_images

    pairs = [("chelsea", "swirls"), ("astronaut", "mosaic"), ("coffee", "blocks")]
    images = [_stylize(model, example(c, size=size), example(s), size, steps).image for c, s in pairs]
    return show_images(
        images, [f"{c} in {s}" for c, s in pairs], size=3.2,
        title=f"stylelab: {steps} L-BFGS evaluations each at {size} px on a 2-core CPU ({model.weights_label})",
    )


PICTURES: Dict[str, Picture] = {
    p.name: p
    for p in (
        Picture("hero", "Three transfers with the default settings (README).", 224, 150, _hero),
        Picture("01_filters", "conv1_1's filters, trained and random (lesson 01).", 0, 0, _filters),
        Picture("02_reconstructions", "Content reconstructions from noise (lesson 02, Gatys et al. 2016 Fig. 1 bottom).", 128, 150, _reconstructions),
        Picture("03_textures", "Texture synthesis with growing layer sets (lesson 03, Fig. 1 top).", 128, 150, _textures),
        Picture("04_ratios", "The content/style weight sweep (lesson 04, cf. Fig. 3).", 128, 100, _ratios),
        Picture("05_transfer", "A full transfer (lesson 05).", 320, 300, _transfer),
        Picture("06_control", "Colour preservation (lesson 06).", 160, 150, _control),
        Picture("06_high_resolution", "The course's last picture: coarse to fine at laptop settings (lesson 06, section 5).",
                512, 60, _high_resolution),
        Picture("07_presets", "The six presets' conventions on one photo and painting (lesson 07).", 192, 150, _presets),
    )
}


def render(picture: Picture, model: VGGFeatures, folder: Path, size: Optional[int] = None, steps: Optional[int] = None) -> dict:
    """Draw ``picture`` and save it as ``folder/<name>.jpg``; returns what the README records."""
    import matplotlib.pyplot as plt

    size = size or picture.size
    steps = steps or picture.steps
    began = time.perf_counter()
    figure = picture.draw(model, size, steps)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="jpg", dpi=80, pil_kwargs={"quality": 82, "optimize": True})
    plt.close(figure)
    write_atomic(folder / f"{picture.name}.jpg", buffer.getvalue(), what="the gallery picture")
    return {"name": picture.name, "caption": picture.caption, "size": size, "steps": steps,
            "seconds": time.perf_counter() - began, "bytes": len(buffer.getvalue())}


def _readme(records: List[dict], model: VGGFeatures, folder: Path) -> None:
    path = folder / "README.md"
    known = {}
    if path.is_file():  # keep the rows of pictures not rendered this time
        for line in path.read_text().splitlines():
            if line.startswith("| [`"):
                known[line.split("`")[1].removesuffix(".jpg")] = line
    for r in records:
        settings = f"{r['size']} px, {r['steps']} evaluations" if r["steps"] else "no optimisation"
        known[r["name"]] = (f"| [`{r['name']}.jpg`]({r['name']}.jpg) | {r['caption']} | {settings} | "
                            f"{r['seconds']:.0f} s | {r['bytes'] // 1024} KB |")
    rows = [known[name] for name in PICTURES if name in known]
    write_atomic(
        path,
        "# Gallery\n\nMade by `python -m stylelab.course.gallery` with the "
        f"**{model.weights_label}**{', normalised' if model.normalized else ''} on the CPU "
        f"(torch {torch.__version__}); every setting not listed is stylelab's default. "
        "Rebuild one picture with `python -m stylelab.course.gallery --only NAME`. The times are wall clock "
        "on the machine that rendered them, with whatever else it was running.\n\n"
        "| picture | what it shows | settings | time | size |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n",
        what="the gallery's README",
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m stylelab.course.gallery [--only NAME ...] [--weights W] [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m stylelab.course.gallery", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(PICTURES), help="render only these pictures")
    parser.add_argument("--weights", default="caffe-vgg16", help="a trained network (default caffe-vgg16)")
    parser.add_argument("--out", default=None, help="folder (default: images/gallery in the repository)")
    parser.add_argument("--size", type=int, help="override every picture's image size")
    parser.add_argument("--steps", type=int, help="override every picture's evaluations")
    parser.add_argument("--allow-untrained", action="store_true", help="render with random weights (for testing)")
    args = parser.parse_args(argv)
    from ..vgg.network import NetworkSettings, build_model

    model = build_model(NetworkSettings(weights=args.weights, device="cpu"))
    if not model.trained and not args.allow_untrained:
        print("stylelab.course.gallery: the gallery shows a trained network; build one with `python -m stylelab.vgg.convert` "
              "and pass --weights caffe-vgg16 (or --allow-untrained to test).", file=sys.stderr)
        return 2
    folder = Path(args.out) if args.out else images_dir() / "gallery"
    records = []
    for name in args.only or list(PICTURES):  # in the order given
        record = render(PICTURES[name], model, folder, args.size, args.steps)
        print(f"{name}: {record['seconds']:.0f} s, {record['bytes'] // 1024} KB", flush=True)
        records.append(record)
    _readme(records, model, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
