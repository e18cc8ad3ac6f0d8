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
   target, evaluations to target, seconds per evaluation in steady state, peak memory
   (measured apart, in 3 fresh processes each for the reference and both stylelab paths,
   two at a time: the memory 5 evaluations add at their peak, from Linux's VmHWM
   high-water mark), and the fraction of this machine's peak
   FLOP rate reached (peak measured here by a large matrix product in the same precision;
   FLOPs per evaluation from the layer shapes).
4. A strong target (at 256 px by default): the loss the reference *with* a line search
   reaches in 200 evaluations, which both stylelab paths must reach too.

The weights are random unless ``--weights`` names ImageNet or a file: the benchmark
compares two implementations of one objective, which does not need trained weights.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import reference  # noqa: E402

import stylelab as sl  # noqa: E402
from stylelab.course import measure  # noqa: E402
from stylelab.vgg.layers import LAYERS, layer_table  # noqa: E402
from stylelab.vgg.weights import load_weights  # noqa: E402

CONTENT, STYLE = "chelsea", "swirls"


# --------------------------------------------------------------------------- measuring


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
    loss: float
    reached: bool = True
    steady: float = float("nan")  # seconds per evaluation in steady state


class TargetWatch:
    """A callback that asks the judge every few evaluations whether the target is reached.

    The judge's own time is measured and subtracted from the run's time.
    """

    def __init__(self, judge: reference.Judge, target: float, shape, every: int) -> None:
        self.judge, self.target, self.shape, self.every = judge, target, tuple(shape), every
        self.judge_seconds, self.reached, self.loss = 0.0, False, float("inf")

    def __call__(self, evaluation: int, image: torch.Tensor, *_ignored) -> bool:
        if tuple(image.shape[-2:]) != self.shape or evaluation % self.every:
            return False
        start = time.perf_counter()
        self.loss = self.judge(image)
        self.judge_seconds += time.perf_counter() - start
        self.reached = self.loss <= self.target
        return self.reached


def run_reference(features, content, style, judge, evaluations: int) -> Run:
    start = time.perf_counter()
    image, history = reference.run(features, content, style, evaluations=evaluations)
    seconds = time.perf_counter() - start
    run = Run(seconds, evaluations, judge(image))
    run.start_loss = history["total"][0]
    return run


def run_to_target(label: str, go: Callable[[TargetWatch], int], judge, target: float, shape, every: int) -> Run:
    """Time ``go(watch)`` (which returns its evaluation count) until the judge says <= target."""
    watch = TargetWatch(judge, target, shape, every)
    start = time.perf_counter()
    evaluations = go(watch)
    seconds = time.perf_counter() - start - watch.judge_seconds
    if not watch.reached:
        print(f"    ({label} did not reach the target: {watch.loss:.4g} > {target:.4g})")
    return Run(seconds, evaluations, watch.loss, watch.reached)


def stylelab_runner(model: sl.VGGFeatures, content, style, max_steps: int) -> Callable[[TargetWatch], int]:
    def go(watch: TargetWatch) -> int:
        result = sl.stylize(
            content, style, model=model, content_layers=list(reference.CONTENT_LAYERS),
            style_layers=list(reference.STYLE_LAYERS), content_weight=1.0, style_weight=1e6,
            steps=max_steps, callback=watch, progress=False,
        )
        return result.evaluations
    return go


def reference_line_search_runner(features, content, style, max_steps: int) -> Callable[[TargetWatch], int]:
    def go(watch: TargetWatch) -> int:
        _, history = reference.run(features, content, style, evaluations=max_steps, line_search=True, callback=watch)
        return len(history["total"])
    return go


def steady_seconds_per_evaluation(times: List[float]) -> float:
    """Median time between consecutive evaluations (setup and the first call excluded)."""
    gaps = [b - a for a, b in zip(times[1:], times[2:])]
    return statistics.median(gaps)


def steady_state(features, content, style, plain_model, fast_model, evaluations: int = 8) -> Dict[str, float]:
    """Seconds per evaluation of each implementation, from its own per-evaluation clock."""
    _, ref_history = reference.run(features, content, style, evaluations=evaluations)
    _, ref_ls_history = reference.run(features, content, style, evaluations=evaluations, line_search=True)
    common = dict(content_layers=list(reference.CONTENT_LAYERS), style_layers=list(reference.STYLE_LAYERS),
                  content_weight=1.0, style_weight=1e6, steps=evaluations, progress=False)
    plain = sl.stylize(content, style, model=plain_model, **common)
    fast = sl.stylize(content, style, model=fast_model, **common)
    return {
        REF: steady_seconds_per_evaluation(ref_history["time"]),
        REF_LS: steady_seconds_per_evaluation(ref_ls_history["time"]),
        PLAIN: steady_seconds_per_evaluation(plain.history["time"]),
        FAST: steady_seconds_per_evaluation(fast.history["time"]),
    }


def memory_probe(name: str, size: int, weights_choice: str, evaluations: int) -> float:
    """In this (fresh) process: MiB that ``evaluations`` evaluations of ``name`` add at peak."""
    weights = load_weights(weights_choice)
    features = _features(weights)
    content = sl.data.example(CONTENT, size)
    style = sl.data.example(STYLE, tuple(content.shape[-2:]))
    models = {PLAIN: lambda: sl.VGGFeatures(weights),
              FAST: lambda: sl.VGGFeatures(weights, precision=FAST_PRECISION, channels_last=True)}
    model = models[name]() if name in models else None
    if not measure.reset_peak_rss():
        raise RuntimeError("peak memory needs Linux's /proc/self/clear_refs")
    start = measure.current_rss_mib()
    if name == REF:
        reference.run(features, content, style, evaluations=evaluations)
    elif name == REF_LS:
        reference.run(features, content, style, evaluations=evaluations, line_search=True)
    else:
        sl.stylize(content, style, model=model, content_layers=list(reference.CONTENT_LAYERS),
                   style_layers=list(reference.STYLE_LAYERS), content_weight=1.0, style_weight=1e6,
                   steps=evaluations, progress=False)
    return measure.peak_rss_mib() - start


def memory_table(size: int, weights_choice: str, probes: int = 3) -> Dict[str, List[float]]:
    """Peak memory of the reference and both stylelab paths, ``probes`` fresh processes each.

    Two probes run at a time: each is its own process with its own high-water mark, so
    running them side by side changes their speed, not the memory they measure.
    """
    jobs = [name for _ in range(probes) for name in MEMORY_ROWS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        values = list(pool.map(lambda name: peak_memory(name, size, weights_choice), jobs))
    table: Dict[str, List[float]] = {name: [] for name in MEMORY_ROWS}
    for name, value in zip(jobs, values):
        table[name].append(value)
    return table


def peak_memory(name: str, size: int, weights_choice: str, evaluations: int = 5) -> float:
    """Run :func:`memory_probe` in a fresh Python process, so no earlier run's memory counts."""
    command = [sys.executable, __file__, "--memory-probe", name, "--probe-size", str(size),
               "--weights", weights_choice, "--evaluations", str(evaluations)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def _features(weights) -> torch.nn.Sequential:
    features = torchvision.models.vgg19().features
    features.load_state_dict({f"{spec.index}.{p}": weights.state[f"{spec.name}.{p}"]
                              for spec in LAYERS if spec.kind == "conv" for p in ("weight", "bias")})
    return features.eval().requires_grad_(False)


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
    parser.add_argument("--check-every", type=int, default=2, help="ask the judge every N evaluations")
    parser.add_argument("--strong-sizes", type=int, nargs="*", default=[256],
                        help="sizes at which to also time the strong target (default 256)")
    parser.add_argument("--strong-evaluations", type=int, default=200,
                        help="evaluations of the reference + line search that set the strong target")
    parser.add_argument("--quick", action="store_true", help="128 px, 60 evaluations, 1 repeat")
    parser.add_argument("--memory-only", action="store_true", help="only the peak-memory table")
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    parser.add_argument("--probe-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.evaluations, args.repeats, args.strong_sizes = [128], [60], [1], [128]
        args.strong_evaluations = 60

    if args.memory_probe:
        print(memory_probe(args.memory_probe, args.probe_size, args.weights, args.evaluations[0]))
        return 0
    if args.memory_only:
        for size in args.sizes:
            print(f"== {size} px: peak MiB added by 5 evaluations (3 fresh processes each)")
            for name, values in memory_table(size, args.weights).items():
                print(f"{name:34} {summary(values, '{:.0f}'):>16}")
        return 0
    torch.manual_seed(0)
    weights = load_weights(args.weights)
    features = _features(weights)

    plain_model = sl.VGGFeatures(weights)
    fast_model = sl.VGGFeatures(weights, precision=FAST_PRECISION, channels_last=True)
    fp32_peak, bf16_peak = peak_flops(torch.float32), peak_flops(torch.bfloat16)
    fast_peak = bf16_peak if FAST_PRECISION == "bfloat16" else fp32_peak
    peaks = {REF: fp32_peak, REF_LS: fp32_peak, PLAIN: fp32_peak, FAST: fast_peak}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, weights={weights.source}")
    print(f"peak matmul: float32 {fp32_peak / 1e9:.0f} GFLOP/s, bfloat16 {bf16_peak / 1e9:.0f} GFLOP/s\n")

    for size, evaluations, repeats in zip(args.sizes, args.evaluations, args.repeats):
        content = sl.data.example(CONTENT, size)
        height, width = content.shape[-2:]
        style = sl.data.example(STYLE, (height, width))  # the tutorial needs equal sizes
        judge = reference.Judge(features, content, style)
        flops = flops_per_evaluation(height, width, list(reference.STYLE_LAYERS), list(reference.CONTENT_LAYERS))
        runs: Dict[str, List[Run]] = {REF: [], REF_LS: [], PLAIN: [], FAST: []}
        print(f"== {height}x{width} px: the reference runs {evaluations} evaluations; {flops / 1e9:.1f} GFLOP per evaluation")
        for repeat in range(repeats):
            ref = run_reference(features, content, style, judge, evaluations)
            runs[REF].append(ref)
            print(f"  [{repeat + 1}] {REF}: {ref.seconds:.1f} s, loss {ref.start_loss:.5g} -> L* = {ref.loss:.5g}")
            budget = 4 * evaluations
            contenders = {
                REF_LS: reference_line_search_runner(features, content, style, budget),
                PLAIN: stylelab_runner(plain_model, content, style, budget),
                FAST: stylelab_runner(fast_model, content, style, budget),
            }
            for name, go in contenders.items():
                mine = run_to_target(name, go, judge, ref.loss, (height, width), args.check_every)
                runs[name].append(mine)
                print(f"  [{repeat + 1}] {name}: {mine.seconds:.1f} s, {mine.evaluations} evaluations, judged loss {mine.loss:.5g}")
            for name, value in steady_state(features, content, style, plain_model, fast_model).items():
                runs[name][-1].steady = value
        memory = memory_table(size, args.weights)
        print()
        print(f"{'':34} {'time to L* (s)':>20} {'evaluations':>12} {'s / evaluation':>22} {'peak MiB':>12} {'% peak FLOP/s':>15}")
        for name, items in runs.items():
            print(
                f"{name:34} {summary([r.seconds for r in items]):>20} "
                f"{summary([float(r.evaluations) for r in items], '{:.0f}'):>12} "
                f"{summary([r.steady for r in items], '{:.3f}'):>22} "
                f"{summary(memory[name], '{:.0f}') if name in memory else 'as reference':>12} "
                f"{summary([100 * flops / r.steady / peaks[name] for r in items], '{:.0f}'):>15}"
            )
        print("(s / evaluation: steady state, from each run's own clock. % peak: of the float32 peak, or of the")
        print(" bfloat16 peak for the bfloat16 row. peak MiB: memory added at the peak of 5 evaluations,")
        print(" targets included, 3 fresh processes each: the high-water mark VmHWM after a reset)")
        base = statistics.median(r.seconds for r in runs[REF])
        for name in (REF_LS, PLAIN, FAST):
            ratio = base / statistics.median(r.seconds for r in runs[name])
            print(f"time-to-L* speed-up of {name} over the reference (ratio of medians): {ratio:.1f}x")
        per_eval = statistics.median(r.steady for r in runs[PLAIN]) / statistics.median(r.steady for r in runs[FAST])
        print(f"per-evaluation speed-up of bfloat16 + channels-last over float32: {per_eval:.2f}x\n")
        if size in args.strong_sizes:
            strong_target(features, content, style, judge, args.strong_evaluations, plain_model, fast_model, args.check_every)
    return 0


def strong_target(features, content, style, judge, evaluations, plain_model, fast_model, every) -> None:
    """A demanding target: where the reference *with* a line search gets in N evaluations.

    Both stylelab paths must reach it, timed as above; this shows that bfloat16 reaches
    a float32 judge's target deep into the optimisation, not only early.
    """
    height, width = content.shape[-2:]
    start = time.perf_counter()
    image, _ = reference.run(features, content, style, evaluations=evaluations, line_search=True)
    ref_seconds = time.perf_counter() - start
    target = judge(image)
    print(f"-- strong target: the reference + line search reaches L** = {target:.5g} in {evaluations} "
          f"evaluations, {ref_seconds:.1f} s")
    for name, model in ((PLAIN, plain_model), (FAST, fast_model)):
        run = run_to_target(name, stylelab_runner(model, content, style, 4 * evaluations), judge, target,
                            (height, width), every)
        status = "reached" if run.reached else "NOT reached"
        print(f"   {name}: {status} in {run.seconds:.1f} s and {run.evaluations} evaluations "
              f"(judged {run.loss:.5g}); {ref_seconds / run.seconds:.2f}x the reference + line search")
    print()


REF = "reference (tutorial)"
REF_LS = "reference + line search (ablation)"
PLAIN = "stylelab float32"
FAST = "stylelab bfloat16 + channels-last"
MEMORY_ROWS = (REF, PLAIN, FAST)  # the ablation row's memory is the reference's plus a line search
FAST_PRECISION = "bfloat16"

if __name__ == "__main__":
    sys.exit(main())
