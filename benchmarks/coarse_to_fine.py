"""Time and peak memory of a large coarse-to-fine run next to a single-scale run.

    python benchmarks/coarse_to_fine.py                       # 1024 px, random weights, CPU
    python benchmarks/coarse_to_fine.py --scales 256 512 1024 --steps 100 30 10 --device cuda

Three runs: coarse-to-fine; single-scale with the same number of steps at the final size
(the last of --steps); and single-scale with the same compute as coarse-to-fine, counted
in evaluations x pixels (``--only`` picks some of them). Each run happens in
its own fresh Python process (``stylelab.course.measure.measure_stylize``), so its peak resident
memory is its own: on Linux the kernel's high-water mark is reset just before ``stylize``
starts. Compute is also reported as evaluations x pixels, in full-size evaluations, which
does not depend on the machine's load; seconds do. Not run in CI.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone without installing

import torch  # noqa: E402

import stylelab as sl  # noqa: E402
from stylelab.course.measure import measure_stylize  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--content", default="chelsea", help="example name or image path (default chelsea)")
    parser.add_argument("--style", default="swirls", help="example name or image path (default swirls)")
    parser.add_argument("--scales", type=int, nargs="+", default=[256, 512, 1024], help="coarse-to-fine sizes (default 256 512 1024)")
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 30, 10], help="steps per scale (default 100 30 10)")
    parser.add_argument("--weights", default="random", help="VGG-19 weights (default random)")
    parser.add_argument("--device", default="cpu", help="device (default cpu)")
    parser.add_argument("--timeout", type=float, default=3600, help="give up on a run after this many seconds (default 3600)")
    parser.add_argument("--only", nargs="+", choices=["coarse-to-fine", "same-final-steps", "same-cost"],
                        help="run only these (default: all three)")
    args = parser.parse_args()
    if len(args.steps) != len(args.scales):
        parser.error("give one --steps value per --scales value")

    def source(name):
        return str(sl.data.example_path(name)) if name in sl.data.names() else name

    content, style = source(args.content), source(args.style)
    final = args.scales[-1]
    print(f"stylelab coarse-to-fine benchmark | torch {torch.__version__} | {platform.processor() or platform.machine()} "
          f"| {os.cpu_count()} CPUs | torch threads {torch.get_num_threads()} | weights {args.weights} | device {args.device}")
    print(f"load average before the runs: {os.getloadavg()[0]:.1f} (other jobs on this machine slow both runs)")
    shape = sl.load_image(content, final).shape[-2:]
    stage_pixels = [h * w for h, w in sl.pyramid.stage_sizes(shape, args.scales)]
    same_cost = round(sum(n * p for n, p in zip(args.steps, stage_pixels)) / stage_pixels[-1])
    runs = {
        "coarse-to-fine": dict(scales=args.scales, steps=args.steps),
        "same-final-steps": dict(size=final, steps=args.steps[-1]),
        "same-cost": dict(size=final, steps=same_cost),
    }
    runs = {name: options for name, options in runs.items() if not args.only or name in args.only}
    rows = []
    for name, options in runs.items():
        print(f"running {name}: {options} ...", flush=True)
        try:
            report = measure_stylize(content, style, weights=args.weights, device=args.device, timeout=args.timeout, **options)
        except (RuntimeError, TimeoutError) as exc:  # e.g. out of memory, or too slow
            rows.append((name, options, None, str(exc)))
            print(f"  {name} could not finish: {exc}")
            continue
        height, width = report.image.shape[-2:]
        cost = sl.analysis.pixel_cost(report) / (height * width)
        rows.append((name, options, report, cost))
        print(f"  {report}")
        for stage in report.config["stages"]:
            h, w = stage["size"]
            print(f"    {h}x{w}: {stage['evaluations']} evaluations in {stage['seconds']:.1f} s "
                  f"({stage['seconds'] / max(stage['evaluations'], 1) / (h * w) * 1e6:.2f} s per evaluation per megapixel)")
    print()
    print(f"{'run':16s} {'steps':>14s} {'evals':>6s} {'cost':>7s} {'seconds':>8s} {'peak MiB':>9s} {'added MiB':>10s} {'best loss':>10s}")
    for name, options, report, cost in rows:
        steps = "/".join(str(s) for s in options["steps"]) if isinstance(options["steps"], list) else str(options["steps"])
        if report is None:
            print(f"{name:16s} {steps:>14s}   did not finish: {cost}")
            continue
        added = report.peak_rss_mib - report.start_rss_mib
        print(f"{name:16s} {steps:>14s} {report.evaluations:6d} {cost:7.2f} {report.seconds:8.1f} "
              f"{report.peak_rss_mib:9.0f} {added:10.0f} {report.best_loss:10.4g}")
    print(f"\ncost = evaluations x pixels in full-size ({final} px) evaluations; peak = resident memory of the "
          f"run's own process ({next((r[2].peak_method for r in rows if r[2]), 'n/a')}); added = peak minus memory before the run; "
          f"best loss = lowest total loss evaluated at {final} px.")
    print(f"load average after the runs: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
