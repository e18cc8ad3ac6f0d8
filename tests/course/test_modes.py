"""The run modes: which one the environment selects, the laptop rule, and the time estimates.

No test here times anything: the seconds per evaluation are passed in.
"""

from __future__ import annotations

import pytest

import stylelab as sl
from stylelab.course import modes

REF = modes.REFERENCE_SECONDS_PER_EVALUATION


@pytest.mark.parametrize(
    "environ, device, expected",
    [
        ({}, "cpu", "laptop"),
        ({}, "cuda", "full"),
        ({}, "mps", "full"),
        ({"STYLELAB_FAST": "1"}, "cpu", "fast"),
        ({"STYLELAB_FAST": "yes"}, "cuda", "fast"),
        ({"STYLELAB_FAST": "0"}, "cpu", "laptop"),
        ({"STYLELAB_MODE": "full"}, "cpu", "full"),
        ({"STYLELAB_MODE": " Laptop "}, "cuda", "laptop"),
        ({"STYLELAB_MODE": "fast"}, "cuda", "fast"),
        ({"STYLELAB_MODE": "full", "STYLELAB_FAST": "1"}, "cpu", "full"),  # the explicit mode wins
        ({"STYLELAB_MODE": "", "STYLELAB_FAST": "1"}, "cpu", "fast"),  # empty counts as unset
    ],
)
def test_mode_from_environment(environ, device, expected):
    assert modes.current_mode(environ, device_type=device) == expected


@pytest.mark.parametrize("value", ["quick", "1", "laptops"])
def test_bad_mode_names_the_choices(value):
    with pytest.raises(ValueError, match="STYLELAB_MODE must be fast, laptop or full, not"):
        modes.current_mode({"STYLELAB_MODE": value}, device_type="cpu")


def test_laptop_size_is_a_quarter_more_than_fast_within_full():
    assert modes.laptop_size(full=512, fast=64) == 80
    assert modes.laptop_size(full=512, fast=96) == 128  # 120, rounded to a multiple of 16
    assert modes.laptop_size(full=512, fast=128) == 160
    assert modes.laptop_size(full=128, fast=128) == 128  # never above the full value
    assert modes.laptop_size(full=512, fast=4) == 16  # never below 16 px


def test_laptop_steps_are_half_again_fast_within_full():
    assert modes.laptop_steps(full=300, fast=30) == 45
    assert modes.laptop_steps(full=300, fast=7) == 11  # rounded up
    assert modes.laptop_steps(full=50, fast=40) == 50  # never above the full value
    assert modes.laptop_steps(full=1, fast=1) == 1


def test_notebook_helpers_in_each_mode(monkeypatch):
    for variable in ("STYLELAB_FAST", "STYLELAB_SIZE", "STYLELAB_STEPS"):
        monkeypatch.delenv(variable, raising=False)
    expected = {"fast": (64, 10, "f", "f"), "laptop": (80, 15, "f", "l"), "full": (512, 300, "F", "F")}
    for mode, (size, steps, chosen, chosen_with_laptop) in expected.items():
        monkeypatch.setenv("STYLELAB_MODE", mode)
        assert sl.notebook.mode() == mode and sl.notebook.fast_mode() == (mode == "fast")
        assert sl.notebook.image_size(full=512, fast=64) == size
        assert sl.notebook.step_count(full=300, fast=10) == steps
        assert sl.notebook.choose(full="F", fast="f") == chosen
        assert sl.notebook.choose(full="F", fast="f", laptop="l") == chosen_with_laptop
    monkeypatch.setenv("STYLELAB_MODE", "laptop")
    assert sl.notebook.image_size(full=512, fast=64, laptop=80) == 80
    assert sl.notebook.step_count(300, 10, laptop=45) == 45
    monkeypatch.setenv("STYLELAB_SIZE", "200")  # the overrides still beat every mode
    assert sl.notebook.image_size(full=512, fast=64, laptop=96) == 200


def test_every_lesson_has_a_time_in_every_mode():
    assert sorted(modes.REFERENCE) == ["01", "02", "03", "04", "05", "06", "07"]
    for lesson, times in modes.REFERENCE.items():
        assert set(times) == set(modes.MODES), lesson
        assert times["fast"].seconds < times["laptop"].seconds < times["full"].seconds, lesson
    # every fast and laptop time is measured; full mode on a CPU is measured for lesson 01 only
    assert all(times["fast"].measured and times["laptop"].measured for times in modes.REFERENCE.values())
    assert [lesson for lesson, times in modes.REFERENCE.items() if times["full"].measured] == ["01"]


def test_laptop_mode_fits_the_course_in_30_minutes_here():
    assert sum(times["laptop"].seconds for times in modes.REFERENCE.values()) <= 30 * 60


def test_estimate_scales_with_the_device_speed():
    reference = modes.REFERENCE["04"]["laptop"].seconds
    assert modes.expected_seconds("04", "laptop", REF) == pytest.approx(reference)
    assert modes.expected_seconds("04", "laptop", REF / 10) == pytest.approx(reference / 10)
    assert modes.expected_times("02", 2 * REF) == {
        mode: pytest.approx(2 * modes.REFERENCE["02"][mode].seconds) for mode in modes.MODES
    }


def test_estimate_refuses_unknown_lessons_and_modes():
    with pytest.raises(ValueError, match="No reference times for lesson '99'"):
        modes.expected_seconds("99", "fast", REF)
    with pytest.raises(ValueError, match="mode must be fast, laptop or full"):
        modes.expected_seconds("01", "slow", REF)


def test_description_marks_this_run_and_rough_estimates():
    text = modes.describe_times("05", "laptop", REF)
    assert text.startswith("lesson 05 expected: fast ~")
    assert "<- this run" in text.split("laptop")[1].split(",")[0]
    assert "(rough)" in text.split("full")[1]  # lesson 05's full time is estimated, not measured


def test_full_mode_on_a_cpu_warns_and_names_the_fix():
    warning = modes.full_mode_warning("04", "full", "cpu", REF)
    assert warning is not None and "STYLELAB_MODE=laptop" in warning


@pytest.mark.parametrize(
    "mode, device, seconds",
    [
        ("laptop", "cpu", REF),  # not full mode
        ("full", "cuda", REF),  # a GPU
        ("full", "cpu", 1e-6),  # a CPU fast enough that the lesson takes seconds
    ],
)
def test_no_warning_when_the_wait_is_short(mode, device, seconds):
    assert modes.full_mode_warning("04", mode, device, seconds) is None


def test_setup_prints_the_estimate_and_warns(monkeypatch, capsys):
    monkeypatch.setenv("STYLELAB_MODE", "full")
    monkeypatch.setattr(modes, "time_one_evaluation", lambda model: REF)
    with pytest.warns(UserWarning, match="STYLELAB_MODE=laptop"):
        sl.notebook.setup(lesson="04", weights="random", device="cpu")
    out = capsys.readouterr().out
    assert "mode: full" in out and "lesson 04 expected:" in out


def test_setup_reports_the_mode_the_lesson_sizes_use(monkeypatch, capsys):
    # On a GPU machine (faked) with the lesson's network put on the CPU: the sizes follow the
    # machine's default mode (full), so setup must say full, and warn that this is slow on a CPU.
    import stylelab.vgg.device

    monkeypatch.delenv("STYLELAB_MODE", raising=False)
    monkeypatch.delenv("STYLELAB_FAST", raising=False)
    monkeypatch.delenv("STYLELAB_DEVICE", raising=False)
    monkeypatch.setattr(stylelab.vgg.device, "pick_device", lambda requested=None: __import__("torch").device("cuda"))
    monkeypatch.setattr(modes, "time_one_evaluation", lambda model: REF)
    with pytest.warns(UserWarning, match="Full mode on a CPU"):
        sl.notebook.setup(lesson="02", weights="random", device="cpu")
    assert "mode: full" in capsys.readouterr().out
    assert sl.notebook.image_size(full=512, fast=96, laptop=192) == 512


def test_the_documented_timing_tables_match_the_reference():
    # notebooks/README.md and INSTRUCTORS.md print the table that modes.REFERENCE holds; they must not drift.
    import re
    from pathlib import Path

    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    for document in ("README.md", "INSTRUCTORS.md"):
        rows = {}
        for line in (notebooks / document).read_text(encoding="utf-8").splitlines():
            match = re.match(r"\| (0[1-9]) [^|]+\| ([\d.]+) s \| ([\d.]+) s \|", line)
            if match:
                rows[match.group(1)] = (float(match.group(2)), float(match.group(3)))
        # the tables print the measured fast and laptop times of every lesson
        expected = {lesson: (t["fast"].seconds, t["laptop"].seconds) for lesson, t in modes.REFERENCE.items()
                    if t["fast"].measured}
        assert rows == expected, document


def test_the_evaluation_time_is_the_median_of_several_passes(monkeypatch):
    # One pass slowed by another program must not decide the estimate (a single timing once said 48 min for 14).
    ticks = iter([0.0, 9.0, 10.0, 10.1, 20.0, 20.1, 30.0, 35.0, 40.0, 40.1, 50.0, 50.1])  # warm-up 9 s, then 0.1, 0.1, 5, 0.1, 0.1
    monkeypatch.setattr(modes.time, "perf_counter", lambda: next(ticks))
    model = sl.VGGFeatures(weights="random", device="cpu")
    assert modes.time_one_evaluation(model, size=32, repeats=5) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        modes.time_one_evaluation(model, repeats=0)


def test_the_estimate_says_it_comes_from_this_moments_speed():
    assert "this machine's speed right now" in modes.describe_times("02", "laptop", REF)


class _FakeKernelShell:
    kernel = object()  # what a Jupyter kernel's shell has and a terminal's lacks

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line):
        self.magics.append((name, line))


def test_a_kernel_with_a_file_backend_is_switched_to_inline(monkeypatch):
    # MPLBACKEND=Agg in a notebook used to make every figure vanish silently.
    import IPython
    import matplotlib

    shell = _FakeKernelShell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "agg")
    assert sl.notebook.show_figures_inline() == "agg" and shell.magics == [("matplotlib", "inline")]
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "module://matplotlib_inline.backend_inline")
    assert sl.notebook.show_figures_inline() is None and len(shell.magics) == 1  # already shows figures
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "agg")
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)  # a script: leave its backend alone
    assert sl.notebook.show_figures_inline() is None and len(shell.magics) == 1
