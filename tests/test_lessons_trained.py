"""Every lesson, executed top to bottom on the ImageNet-trained VGG-16 (Caffe weights).

nbval runs the lessons on the seeded random network (the README's test command sets
``STYLELAB_WEIGHTS=random``); this module runs each of them again, in fast mode, on a
trained network, so that every assert holds for the learner's case too. A failing cell is
reported with its first line and the error. Without the package index the trained network
cannot be built and these tests skip (under ``CI=true`` they fail).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSONS = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))

pytestmark = [pytest.mark.slow, pytest.mark.trained]


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_holds_on_the_trained_network(lesson, caffe_vgg16, monkeypatch):
    from nbclient.exceptions import CellExecutionError

    from lesson_runs import execute, missing_figures

    environment = {"STYLELAB_WEIGHTS": "caffe-vgg16", "STYLELAB_FAST": "1", "MPLBACKEND": "Agg"}
    notebook = nbformat.read(NOTEBOOKS / lesson, as_version=4)
    try:
        notebook = execute(lesson, environment, monkeypatch, timeout=600, notebook=notebook)
    except CellExecutionError as exc:
        pytest.fail(f"{lesson} fails on the trained VGG-16: {_first_error(notebook) or exc.ename}", pytrace=False)
    assert not missing_figures(notebook), f"{lesson} on the trained VGG-16: {missing_figures(notebook)}"


def _first_error(notebook) -> str:
    """``cell N ('first line'): Error: message`` for the first cell that raised, else ``""``."""
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                first = cell.source.splitlines()[0] if cell.source else ""
                return f"cell {number} ({first!r}): {output['ename']}: {output['evalue']}"
    return ""
