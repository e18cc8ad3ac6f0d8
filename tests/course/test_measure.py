"""stylelab.course.measure: time and peak memory of a run, in a fresh process."""

from __future__ import annotations

import sys

import pytest
import torch

import stylelab as sl


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_measure_stylize_runs_in_a_fresh_process():
    report = sl.measure.measure_stylize(
        sl.data.example("chelsea", 32), sl.data.example("swirls", 32), steps=2, weights="random", device="cpu",
        timeout=300,
    )
    assert report.image.shape == (1, 3, 21, 32) and report.evaluations == 2
    assert report.seconds > 0 and report.peak_rss_mib >= report.start_rss_mib > 50
    assert "MiB" in str(report) and report.status == "completed"
    with pytest.raises(ValueError, match="cannot take model="):
        sl.measure.measure_stylize(None, None, model=object())
    with pytest.raises(RuntimeError, match="stylize needs a content image"):
        sl.measure.measure_stylize(None, None, weights="random", device="cpu", timeout=300)
    assert torch.isfinite(report.image).all()


def test_peak_rss_reset_and_reading_on_injected_proc_files(tmp_path):
    # The logic alone, on files standing in for /proc: no dependence on the heap's history.
    status, clear_refs = tmp_path / "status", tmp_path / "clear_refs"
    status.write_text("Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n")
    clear_refs.write_text("")
    assert sl.measure.reset_peak_rss(str(clear_refs), str(status))
    assert clear_refs.read_text() == "5"  # the kernel's code for "reset VmHWM"
    assert sl.measure.peak_rss_mib(str(status)) == 200.0
    assert not sl.measure.reset_peak_rss(str(tmp_path / "no" / "clear_refs"), str(status))
    status.write_text("Name:\tpython\n")
    assert sl.measure.peak_rss_mib(str(status)) > 0  # falls back to ru_maxrss


_PEAK_IN_A_FRESH_PROCESS = """
import numpy, stylelab.course.measure as m
assert m.reset_peak_rss()
before = m.peak_rss_mib()
block = numpy.ones(64 * 2**20 // 8)  # 64 MiB, touched: above glibc's largest mmap threshold (32 MiB), so fresh pages
print(m.peak_rss_mib() - before)
"""


@pytest.mark.slow  # more than half a second on a 2-core CPU
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_peak_rss_follows_an_allocation_after_a_reset():
    # Measured in a fresh process (before issue 12: in pytest's own, where freed pages were
    # still resident and reused, so the test saw "grown 0.0 MiB" now and then).
    import subprocess

    out = subprocess.run([sys.executable, "-c", _PEAK_IN_A_FRESH_PROCESS], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert 48 < float(out) < 200
