"""Memory and CPU of each lesson's kernel, before and after a change, in one run.

    python benchmarks/capacity_before_after.py --before main --lessons 03 --weights caffe-vgg16

For each lesson, in turn: the lesson at ``--before`` (a git revision, unpacked with
``git archive`` into a temporary folder; its kernel imports that stylelab and runs that
notebook, with PyTorch's default threads) and then the lesson in this checkout (as on a
hub: ``JUPYTERHUB_USER`` set, so one thread unless ``STYLELAB_THREADS`` says otherwise),
each in a fresh kernel measured by :func:`stylelab.course.capacity.measure_lesson`. Alternating
the two keeps them under the same machine load; compare CPU-seconds and memory, which do
not depend on the load, rather than seconds, which do. The single-user server is measured
once for each side first (before: nbgrader's defaults; after: a student's server as
``hub-setup`` configures it), and each row ends with the server ``--students`` students in
that lesson need by The Littlest JupyterHub's rule, with the shared pages counted once
(:func:`stylelab.course.capacity.recommend`). Not run in CI.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a clone without installing

from stylelab.course.capacity import (lesson_paths, measure_lesson, measure_server, measure_student_server,  # noqa: E402
                               recommend)


def _unpack(revision: str, folder: Path) -> None:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="main", help="git revision to compare with (default main)")
    parser.add_argument("--lessons", nargs="+", default=None, help="lessons (default: all)")
    parser.add_argument("--mode", default="laptop", help="STYLELAB_MODE (default laptop)")
    parser.add_argument("--weights", default="caffe-vgg16", help="STYLELAB_WEIGHTS (default caffe-vgg16)")
    parser.add_argument("--students", type=int, default=30, help="class size for the server column (default 30)")
    parser.add_argument("--before-threads", type=int, default=None,
                        help="OMP_NUM_THREADS of the before kernel (default: PyTorch's default, one per core); 1 "
                             "compares everything but the threads, and keeps a run on a busy machine short")
    args = parser.parse_args()
    common = {"STYLELAB_MODE": args.mode, "STYLELAB_WEIGHTS": args.weights}
    threads = {} if args.before_threads is None else {"OMP_NUM_THREADS": str(args.before_threads)}
    before_threads = "PyTorch's default threads" if args.before_threads is None else f"{args.before_threads} thread(s)"
    print(f"mode {args.mode}, weights {args.weights}, empty result cache; before = {args.before} ({before_threads}), "
          "after = this checkout on a hub (one thread per kernel)\n")
    with tempfile.TemporaryDirectory(prefix="stylelab-before-") as before:
        _unpack(args.before, Path(before))
        print("servers ...", file=sys.stderr, flush=True)
        server_was = measure_server({"PYTHONPATH": before})
        server_now = measure_student_server()
        for label, usage in (("before", server_was), ("after", server_now)):
            print(f"single-user server {label}: peak RSS {usage.peak_rss_mib:,.0f} MiB, private "
                  f"{usage.peak_private_mib:,.0f} MiB, shared {usage.shared_mib:,.0f} MiB {usage.error}")
        print(f"\n| lesson | peak RSS before → after (MiB) | private before → after (MiB) | "
              f"CPU-seconds before → after | server for {args.students} (GiB, shared pages once) "
              "before → after | errors |")
        print("|---|---|---|---|---|---|", flush=True)
        old = {path.name: path for path in lesson_paths(args.lessons, Path(before) / "notebooks")}
        for path in lesson_paths(args.lessons, REPO / "notebooks"):
            print(f"{path.name}: before ({args.before}) ...", file=sys.stderr, flush=True)
            was = measure_lesson(old[path.name], {**common, **threads, "PYTHONPATH": before})
            print(f"{path.name}: after (this checkout) ...", file=sys.stderr, flush=True)
            now = measure_lesson(path, {**common, "PYTHONPATH": str(REPO), "JUPYTERHUB_USER": "benchmark"})
            errors = "; ".join(f"{label}: {usage.error}" for label, usage in (("before", was), ("after", now))
                               if usage.error)
            need = [recommend([usage], server, args.students).memory_shared_once_gib
                    for usage, server in ((was, server_was), (now, server_now))]
            print(f"| {path.name} | {was.peak_rss_mib:,.0f} → {now.peak_rss_mib:,.0f} | "
                  f"{was.peak_private_mib:,.0f} → {now.peak_private_mib:,.0f} | "
                  f"{was.cpu_seconds:,.0f} → {now.cpu_seconds:,.0f} | {need[0]:.1f} → {need[1]:.1f} | {errors} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
