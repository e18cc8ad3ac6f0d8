"""Capacity (``stylelab.course.capacity``): the measurements, the rule, the report."""

from __future__ import annotations

import os

import nbformat
import psutil
import pytest

from stylelab.course import capacity, classroom
from stylelab.course.capacity import Usage


def _usage(name, rss, private, shared, cpu=10.0, held=()):
    return Usage(name, rss, private, shared, cpu, 20.0, held=held)


def test_the_littlest_jupyterhubs_rule_with_and_without_sharing():
    lessons = [_usage("01", 1000, 500, 400, cpu=30), _usage("03", 1200, 700, 450, cpu=90, held=((5, 300.0), (9, 480.4)))]
    server = _usage("server", 200, 150, 20)
    advice = capacity.recommend(lessons, server, students=30)
    assert advice.per_user_rss_mib == 1400 and advice.per_user_private_mib == 850 and advice.shared_mib == 470
    assert advice.memory_by_rule_gib == pytest.approx((30 * 1400 + 128) / 1024)
    assert advice.memory_shared_once_gib == pytest.approx((30 * 850 + 470 + 128) / 1024)
    assert advice.cores == pytest.approx(30.2) and advice.cpu_seconds == 90
    text = capacity.format_report(lessons, server, advice, mode="laptop", threads="1 thread", weights="random")
    assert "| 03 | 1,200 | 700 | 480 | 450 | 90.0 |" in text and "| 01 | 1,000 | 500 |  | 400 |" in text and "41.1 GiB" in text and "25.5 GiB" in text
    with pytest.raises(ValueError, match="students must be at least 1"):
        capacity.recommend(lessons, server, students=0)


def test_lessons_are_found_by_number_and_a_missing_one_is_named(tmp_path):
    for name in ("01_a.ipynb", "03_c.ipynb", "README.md"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in capacity.lesson_paths(None, tmp_path)] == ["01_a.ipynb", "03_c.ipynb"]
    assert [p.name for p in capacity.lesson_paths(["03"], tmp_path)] == ["03_c.ipynb"]
    with pytest.raises(ValueError, match="no lesson 02 .* choose from 01, 03"):
        capacity.lesson_paths(["02"], tmp_path)


def test_private_memory_is_the_dirty_part_of_the_resident_set():
    rss, private = capacity._memory(psutil.Process(os.getpid()))
    assert 0 < private < rss


def test_the_command_checks_its_arguments_before_running_anything(capsys):
    assert classroom.main(["capacity", "--lessons", "99"]) == 2
    assert "no lesson 99" in capsys.readouterr().err
    assert classroom.main(["capacity", "--mode", "quick"]) == 2
    assert "mode must be one of fast, laptop, full" in capsys.readouterr().err


@pytest.mark.slow
def test_a_lesson_in_a_fresh_kernel_shows_its_memory_cpu_and_peak_cell(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np, os\nassert os.environ['STYLELAB_MODE'] == 'fast'"),
        nbformat.v4.new_code_cell("big = np.ones(300 * 2**20 // 8)  # 300 MiB, written: private pages"),
        nbformat.v4.new_code_cell("del big\nx = sum(i * i for i in range(3_000_000))"),
        nbformat.v4.new_code_cell("raise ValueError('the lesson broke here')"),
    ])
    path = tmp_path / "01_probe.ipynb"
    nbformat.write(notebook, str(path))
    before = {child.pid for child in psutil.Process().children()}
    usage = capacity.measure_lesson(path, {"STYLELAB_MODE": "fast"}, interval=0.05)
    left = [child for child in psutil.Process().children() if child.pid not in before and child.is_running()
            and child.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"the lesson's kernel is still running: {left}"
    assert usage.peak_private_mib > 300 and usage.peak_rss_mib > usage.peak_private_mib
    assert usage.peak_cell in (1, 2)  # the array's cell (or the next, if it ended between two samples)
    assert usage.cpu_seconds > 0.1
    assert usage.error == "cell 3: ValueError: the lesson broke here"
    (first, after_array, after_del) = usage.held  # the failing cell records nothing
    assert after_array[1] - first[1] > 250 and after_del[1] < after_array[1]  # the array was held, then let go
    assert "cell 1: " in capacity.format_cells(usage, at_least=250)
