"""Run analysis: numbers read off a run's history and configuration, without figures."""

from __future__ import annotations

import pytest

import sys
from types import SimpleNamespace

import stylelab as sl
from stylelab import analysis


def test_first_reach_counts_evaluations_from_one_and_reads_the_time():
    fast = {"total": [4.0, 1.0, 0.5], "time": [0.5, 1.0, 1.5]}
    slow = {"total": [4.0, 3.0, 2.0, 0.9], "time": [0.1, 0.2, 0.3, 0.4]}
    assert analysis.first_reach(fast, 1.0) == (2, 1.0)  # "<= level" counts as reached
    assert analysis.first_reach(slow, 1.0) == (4, 0.4)
    assert analysis.first_reach(slow, 0.1) is None
    assert analysis.first_reach({"style": [3.0, 0.2], "time": [1, 2]}, 0.5, term="style") == (2, 2.0)


def test_final_scale_losses_keep_only_the_largest_scale():
    history = {"total": [9.0, 8.0, 3.0, 2.0], "content": [1, 1, 0.5, 0.4], "scale": [16, 16, 32, 32]}
    assert analysis.final_scale_losses(history) == [3.0, 2.0]
    assert analysis.final_scale_losses(history, key="content") == [0.5, 0.4]
    plain = {"total": [1.0, 0.5]}
    result = analysis.final_scale_losses(plain)
    assert result == [1.0, 0.5] and result is not plain["total"]  # a new list
    assert analysis.final_scale_losses({"total": [1.0], "scale": []}) == [1.0]


def test_pixel_cost_sums_evaluations_times_pixels_over_the_stages():
    run = SimpleNamespace(config={"stages": [{"size": (16, 24), "evaluations": 3, "steps": 3},
                                             {"size": (32, 48), "evaluations": 2, "steps": 5}]})
    assert analysis.pixel_cost(run) == 3 * 16 * 24 + 2 * 32 * 48


def test_the_old_homes_still_give_the_same_functions():
    assert sl.scales.final_scale_losses is analysis.final_scale_losses
    assert sl.scales.pixel_cost is analysis.pixel_cost
    assert sl.plotting.first_reach is analysis.first_reach


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_analysis_needs_no_matplotlib():
    import subprocess

    code = "import sys, stylelab.analysis\nassert 'matplotlib' not in sys.modules, 'analysis imported matplotlib'\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
