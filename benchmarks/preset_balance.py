"""The effective balance of every preset on one network: what its weights mean there.

    STYLELAB_WEIGHTS=caffe-vgg16 python benchmarks/preset_balance.py --size 256 512

For each preset (stylelab.engine.presets) and each size, the photo images/chelsea.jpg and the
painting images/swirls.jpg at that longest side: the network the preset asks for (the
weights of $STYLELAB_WEIGHTS with the preset's normalisation), the preset's style weight as
written, and presets.effective_balance: the style/content ratio it applies there, in units
of lesson 04's balance point (1 = the photo and the painting cost the same). The last column
is the style weight stylelab's own defaults would need for the same ratio on the same
network (ratio x the stylelab preset's balance point). The network and a layer it lacks come
from presets.on_network (d2l's relu4_4 becomes relu4_3 on VGG-16), and the table says so.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import stylelab as sl  # noqa: E402
from stylelab.engine import presets  # noqa: E402

PHOTO, PAINTING = "images/chelsea.jpg", "images/swirls.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs="+", default=[256], help="longest sides to measure at")
    parser.add_argument("--weights", default=None, help="weights (default $STYLELAB_WEIGHTS)")
    args = parser.parse_args()
    model = sl.VGGFeatures(weights=args.weights, device="cpu")
    root = os.path.join(os.path.dirname(__file__), "..")
    for size in args.size:
        photo = sl.load_image(os.path.join(root, PHOTO), size)
        painting = sl.load_image(os.path.join(root, PAINTING), size)
        reference = presets.effective_balance("stylelab", content=photo, style=painting,
                                              **presets.on_network("stylelab", model))
        balance_point = presets.settings("stylelab").style_weight / reference
        state = "normalised" if model.normalized else "unnormalised"
        print(f"== {model.weights_label}, {PHOTO} and {PAINTING} at {size} px; stylelab's balance "
              f"point beta* = {balance_point:.3g} ({state} network)")
        print(f"{'preset':<20} {'network':<14} {'style weight':>12} {'ratio r':>10} {'stylelab beta':>14}  note")
        for name in presets.names():
            keywords = presets.on_network(name, model)
            changed = [f"{k} {', '.join(v)}" for k, v in keywords.items() if k != "model"]
            note = f"{'; '.join(changed)}: {model.architecture.title} lacks the preset's layer" if changed else ""
            ratio = presets.effective_balance(name, content=photo, style=painting, **keywords)
            state = "normalised" if keywords["model"].normalized else "unnormalised"
            weight = presets.settings(name).style_weight
            print(f"{name:<20} {state:<14} {weight:>12.3g} {ratio:>10.3g} {ratio * balance_point:>14.3g}  {note}")


if __name__ == "__main__":
    main()
