"""Memory and CPU of each lesson's kernel, before and after a change, in one run.

    python benchmarks/capacity_before_after.py --before main --lessons 03 --weights caffe-vgg16

For each lesson, in turn: the lesson at ``--before`` (a git revision, unpacked with
``git archive`` into a temporary folder; its kernel imports that stylelab and runs that
notebook, with PyTorch's default threads) and then the lesson in this checkout (as on a
hub: ``JUPYTERHUB_USER`` set, so one thread unless ``STYLELAB_THREADS`` says otherwise),
each in a fresh kernel measured by :func:`stylelab.capacity.measure_lesson`. Alternating
the two keeps them under the same machine load; compare CPU-seconds and memory, which do
not depend on the load, rather than seconds, which do. Not run in CI.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone without installing

from stylelab.capacity import lesson_paths, measure_lesson  # noqa: E402


def _unpack(revision: str, folder: Path) -> None:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="main", help="git revision to compare with (default main)")
    parser.add_argument("--lessons", nargs="+", default=None, help="lessons (default: all)")
    parser.add_argument("--mode", default="laptop", help="STYLELAB_MODE (default laptop)")
    parser.add_argument("--weights", default="caffe-vgg16", help="STYLELAB_WEIGHTS (default caffe-vgg16)")
    args = parser.parse_args()
    common = {"STYLELAB_MODE": args.mode, "STYLELAB_WEIGHTS": args.weights}
    print(f"mode {args.mode}, weights {args.weights}, empty result cache; before = {args.before} "
          "(PyTorch's default threads), after = this checkout on a hub (one thread per kernel)\n")
    print("| lesson | peak RSS before → after (MiB) | private before → after (MiB) | "
          "CPU-seconds before → after | errors |")
    print("|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="stylelab-before-") as before:
        _unpack(args.before, Path(before))
        old = {path.name: path for path in lesson_paths(args.lessons, Path(before) / "notebooks")}
        for path in lesson_paths(args.lessons, REPO / "notebooks"):
            print(f"{path.name}: before ({args.before}) ...", file=sys.stderr, flush=True)
            was = measure_lesson(old[path.name], {**common, "PYTHONPATH": before})
            print(f"{path.name}: after (this checkout) ...", file=sys.stderr, flush=True)
            now = measure_lesson(path, {**common, "PYTHONPATH": str(REPO), "JUPYTERHUB_USER": "benchmark"})
            errors = "; ".join(f"{label}: {usage.error}" for label, usage in (("before", was), ("after", now))
                               if usage.error)
            print(f"| {path.name} | {was.peak_rss_mib:,.0f} → {now.peak_rss_mib:,.0f} | "
                  f"{was.peak_private_mib:,.0f} → {now.peak_private_mib:,.0f} | "
                  f"{was.cpu_seconds:,.0f} → {now.cpu_seconds:,.0f} | {errors} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
