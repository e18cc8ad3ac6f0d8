"""Are stylize()'s results bit-identical to another revision's? sha256 of nine small runs, both sides.

    STYLELAB_WEIGHTS=random python benchmarks/bit_identity.py --before b44d467

A refactor that should not change behaviour (moving modules, rewriting the objective as terms)
must give the same pixels for the same settings and seed. For each of nine cases (L-BFGS, Adam
from noise, average pooling with a TV term, the paper's layer weighting, luminance-only transfer,
two blended styles, two masked styles, coarse-to-fine, content only) this runs ``stylize`` at
48 px on the seeded random VGG-19, once with the stylelab of ``--before`` (unpacked with
``git archive`` into a temporary folder) and once with this checkout, each in a fresh Python
process, and prints the first 16 hex digits of the sha256 of each result's pixels. Exit status
1 if any case differs. Not run in CI (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Runs in a fresh process with the stylelab under test first on sys.path; prints one JSON object.
CASES = r'''
import hashlib, json
import torch
import stylelab as sl

content = sl.data.example("chelsea", size=48)
style = sl.data.example("swirls", size=48)
other = content.flip(-1)
mask = torch.zeros(1, 1, *content.shape[-2:])
mask[..., :, :24] = 1
cases = {
    "lbfgs": (style, dict(steps=8)),
    "adam from noise": (style, dict(steps=8, optimizer="adam", init="noise", seed=3)),
    "avg pooling + tv": (style, dict(steps=6, tv_weight=1e-3, pooling="avg")),
    "paper weighting": (style, dict(steps=6, layer_weighting="paper")),
    "luminance only": (style, dict(steps=6, preserve_color="luminance")),
    "two blended styles": ([style, other], dict(steps=6, style_blend=[0.3, 0.7])),
    "two masked styles": ([style, other], dict(steps=6, masks=[mask, 1 - mask])),
    "coarse to fine": (style, dict(steps=(4, 3), scales=(32, 48))),
    "content only": (None, dict(steps=6)),
}
digests = {}
for name, (styles, settings) in cases.items():
    try:
        image = sl.stylize(content, styles, size=48, progress=False, **settings).image
        digests[name] = hashlib.sha256(image.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]
    except Exception as error:  # a case that cannot run is itself a difference
        digests[name] = f"{type(error).__name__}: {error}"
print(json.dumps(digests))
'''


def digests(source: Path) -> dict:
    """``{case: sha256 prefix}`` for the stylelab in ``source``, computed in a fresh process."""
    environment = {**os.environ, "PYTHONPATH": str(source), "STYLELAB_WEIGHTS": os.environ.get("STYLELAB_WEIGHTS", "random")}
    done = subprocess.run([sys.executable, "-c", CASES], capture_output=True, text=True, env=environment, cwd=source)
    if done.returncode != 0:
        raise SystemExit(f"the cases failed to run with {source}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="HEAD", help="git revision to compare with (default HEAD)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stylelab-before-") as folder:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.before], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        before = digests(Path(folder))
    now = digests(REPO)
    print(f"| case | {args.before} | this checkout | same |\n|---|---|---|---|")
    for name in before:
        print(f"| {name} | {before[name]} | {now.get(name)} | {'yes' if before[name] == now.get(name) else 'NO'} |")
    return 0 if before == now else 1


if __name__ == "__main__":
    sys.exit(main())
