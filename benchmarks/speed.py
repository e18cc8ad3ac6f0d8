"""Time to the same loss: stylelab's stylize() against a fair reference implementation.

    python benchmarks/speed.py                 # 256 px x3 and 512 px x1 (about 15 minutes)
    python benchmarks/speed.py --quick         # a 2-minute smoke run

Method (one process, same images, same seeded VGG-19 weights, same layers, same objective):

1. The reference (benchmarks/reference.py, the PyTorch tutorial's algorithm with Gatys
   et al.'s layers) runs N L-BFGS evaluations from the content image; a float32 *judge*
   scores its result: the target loss L*.
2. stylelab's ``stylize()`` runs with the same objective (content conv4_2; style
   conv1_1...conv5_1; content weight 1, style weight 1e6 - stylelab's per-layer 1/N_l^2
   makes this exactly the tutorial's Gram / (C H W) objective) and is stopped as soon as
   the judge, asked every few steps, scores its image <= L*. Judge time is excluded.
3. Runs alternate reference / stylelab; medians and ranges are printed of: time to
   target, seconds per evaluation, evaluations to target, peak memory (resident-set
   growth over the run, sampled every 2 ms), and the fraction of this machine's peak
   FLOP rate reached (peak measured here by a large matrix product in the same precision;
   FLOPs per evaluation from the layer shapes).

The weights are random unless ``--weights`` names ImageNet or a file: the benchmark
compares two implementations of one objective, which does not need trained weights.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import reference  # noqa: E402

import stylelab as sl  # noqa: E402
from stylelab.layers import LAYERS, layer_table  # noqa: E402
from stylelab.weights import load_weights  # noqa: E402

CONTENT, STYLE = "chelsea", "swirls"


# --------------------------------------------------------------------------- measuring


class PeakRSS:
    """Peak growth of this process's resident memory while the block runs (MiB)."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.peak_mib = 0.0

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * 4096

    def __enter__(self) -> "PeakRSS":
        gc.collect()
        self._base = self._rss()
        self._top = self._base
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while self._running:
            self._top = max(self._top, self._rss())
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._running = False
        self._thread.join()
        self._top = max(self._top, self._rss())
        self.peak_mib = (self._top - self._base) / 2**20


def peak_flops(dtype: torch.dtype, n: int = 4096, repeats: int = 5) -> float:
    """Best FLOP/s of an n x n matrix product in ``dtype`` on this machine."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def flops_per_evaluation(height: int, width: int, style_layers: List[str], content_layers: List[str]) -> float:
    """FLOPs of one forward + backward (gradient w.r.t. the image only) of the objective.

    Convolutions: 2 * Cin * Cout * 9 * h * w forward, the same again for the input
    gradient (the frozen weights get none). Gram matrices: 2 * C^2 * h * w forward and
    twice that backward. ReLU, pooling and the losses are negligible.
    """
    rows = {row["name"]: row for row in layer_table(height, width)}
    deepest = max(sl.LAYER_NAMES.index(n) for n in style_layers + content_layers)
    total = 0.0
    for spec in LAYERS[: deepest + 1]:
        if spec.kind == "conv":
            row = rows[spec.name]
            total += 2 * (2 * spec.in_channels * spec.out_channels * 9 * row["height"] * row["width"])
    for name in style_layers:
        row = rows[name]
        total += 3 * (2 * row["channels"] ** 2 * row["height"] * row["width"])
    return total


@dataclass
class Run:
    seconds: float
    evaluations: int
    seconds_per_evaluation: float
    peak_mib: float
    loss: float


def run_reference(features, content, style, judge, evaluations: int) -> Run:
    with PeakRSS() as memory:
        start = time.perf_counter()
        image, _ = reference.run(features, content, style, evaluations=evaluations)
        seconds = time.perf_counter() - start
    return Run(seconds, evaluations, seconds / evaluations, memory.peak_mib, judge(image))


def run_stylelab(model_factory: Callable[[], sl.VGGFeatures], content, style, judge, target: float,
                 max_steps: int, options: Dict, check_every: int) -> Run:
    judged = {"seconds": 0.0, "reached": False, "loss": float("inf"), "fine_evaluations": 0}
    final_shape = tuple(content.shape[-2:])

    def callback(step, image, losses):
        if tuple(image.shape[-2:]) != final_shape:
            return False
        judged["fine_evaluations"] += 1
        if step % check_every:
            return False
        start = time.perf_counter()
        value = judge(image)
        judged["seconds"] += time.perf_counter() - start
        judged["loss"] = value
        if value <= target:
            judged["reached"] = True
            return True
        return False

    model = model_factory()
    with PeakRSS() as memory:
        start = time.perf_counter()
        result = sl.stylize(
            content, style, model=model, content_layers=list(reference.CONTENT_LAYERS),
            style_layers=list(reference.STYLE_LAYERS), content_weight=1.0, style_weight=1e6,
            steps=max_steps, callback=callback, progress=False, **options,
        )
        seconds = time.perf_counter() - start - judged["seconds"]
    if not judged["reached"]:
        print(f"    (stylelab did not reach the target in {max_steps} steps: {judged['loss']:.4g} > {target:.4g})")
    loss = judge(result.image)
    evaluations = result.evaluations
    return Run(seconds, evaluations, seconds / max(evaluations, 1), memory.peak_mib, loss)


def summary(values: List[float], fmt: str = "{:.3g}") -> str:
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


# --------------------------------------------------------------------------- main


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--evaluations", type=int, nargs="+", default=[300, 100],
                        help="reference L-BFGS evaluations per size")
    parser.add_argument("--repeats", type=int, nargs="+", default=[3, 1], help="alternating repetitions per size")
    parser.add_argument("--weights", default="random", help="random (default), imagenet, or a state-dict path")
    parser.add_argument("--check-every", type=int, default=5, help="judge stylelab's image every N steps")
    parser.add_argument("--quick", action="store_true", help="128 px, 60 evaluations, 1 repeat")
    parser.add_argument("--plain", action="store_true", help="also time stylelab's plain float32 path")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.evaluations, args.repeats = [128], [60], [1]

    torch.manual_seed(0)
    weights = load_weights(args.weights)
    features = torchvision.models.vgg19().features
    features.load_state_dict({f"{spec.index}.{p}": weights.state[f"{spec.name}.{p}"]
                              for spec in LAYERS if spec.kind == "conv" for p in ("weight", "bias")})
    features.eval().requires_grad_(False)

    fast_options = dict(FAST_OPTIONS)
    configs = {"stylelab (fast)": (lambda: sl.VGGFeatures(weights, precision=FAST_PRECISION, channels_last=True), fast_options)}
    if args.plain:
        configs["stylelab (plain)"] = (lambda: sl.VGGFeatures(weights), {})

    fp32_peak = peak_flops(torch.float32)
    fast_peak = peak_flops(torch.bfloat16) if FAST_PRECISION == "bfloat16" else fp32_peak
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, weights={weights.source}")
    print(f"peak matmul: float32 {fp32_peak / 1e9:.0f} GFLOP/s, bfloat16 {peak_flops(torch.bfloat16) / 1e9:.0f} GFLOP/s")
    print(f"stylelab fast options: precision={FAST_PRECISION}, channels_last=True, {fast_options}\n")

    for size, evaluations, repeats in zip(args.sizes, args.evaluations, args.repeats):
        content = sl.data.example(CONTENT, size)
        height, width = content.shape[-2:]
        style = sl.data.example(STYLE, (height, width))  # the tutorial needs equal sizes
        judge = reference.Judge(features, content, style)
        flops = flops_per_evaluation(height, width, list(reference.STYLE_LAYERS), list(reference.CONTENT_LAYERS))
        runs: Dict[str, List[Run]] = {"reference": []}
        print(f"== {height}x{width} px: reference runs {evaluations} evaluations; {flops / 1e9:.1f} GFLOP per evaluation")
        for repeat in range(repeats):
            ref = run_reference(features, content, style, judge, evaluations)
            runs["reference"].append(ref)
            print(f"  [{repeat + 1}] reference: {ref.seconds:.1f} s, L* = {ref.loss:.5g}")
            for name, (factory, options) in configs.items():
                mine = run_stylelab(factory, content, style, judge, ref.loss, 4 * evaluations, options, args.check_every)
                runs.setdefault(name, []).append(mine)
                print(f"  [{repeat + 1}] {name}: {mine.seconds:.1f} s, {mine.evaluations} evaluations, loss {mine.loss:.5g}")
        print()
        header = f"{'':18} {'time to L* (s)':>22} {'s / evaluation':>22} {'evaluations':>16} {'peak MiB':>18} {'% of peak FLOP/s':>18}"
        print(header)
        for name, items in runs.items():
            peak = fp32_peak if name != "stylelab (fast)" else fast_peak
            print(
                f"{name:18} {summary([r.seconds for r in items]):>22} "
                f"{summary([r.seconds_per_evaluation for r in items], '{:.3f}'):>22} "
                f"{summary([float(r.evaluations) for r in items], '{:.0f}'):>16} "
                f"{summary([r.peak_mib for r in items], '{:.0f}'):>18} "
                f"{summary([100 * flops / r.seconds_per_evaluation / peak for r in items], '{:.0f}'):>18}"
            )
        base = statistics.median(r.seconds for r in runs["reference"])
        for name in configs:
            print(f"speed-up of {name} (ratio of median times to L*): {base / statistics.median(r.seconds for r in runs[name]):.2f}x")
        print()
    return 0


FAST_PRECISION = "bfloat16"
FAST_OPTIONS: Dict = {}

if __name__ == "__main__":
    sys.exit(main())
