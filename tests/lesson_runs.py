"""Execute a lesson notebook in a fresh kernel, and count the figures each cell should show.

Shared by the tests that execute lessons (``test_notebooks.py`` on the random network,
``test_lessons_trained.py`` on the trained one). A *figure call* is a call that makes a new
matplotlib figure: ``plt.subplots(...)``/``plt.figure(...)``, or any ``sl.figures`` or
``sl.lesson_figures`` function that returns a ``Figure`` and is not given an ``ax=`` to draw into. Each one must
come back from the kernel as one ``image/png`` output of its cell.
"""

from __future__ import annotations

import ast
import inspect
import os
from functools import lru_cache
from pathlib import Path
from typing import Dict, List

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@lru_cache(maxsize=1)
def figure_functions() -> frozenset:
    """Dotted names (``sl.figures.show_images``, ...) of the functions that return a new ``Figure``."""
    from stylelab.course import figures, lesson_figures

    names = set()
    for module in (figures, lesson_figures):
        for name in module.__all__:
            function = getattr(module, name)
            if callable(function) and "Figure" in str(inspect.signature(function).return_annotation):
                names.add(f"sl.{module.__name__.rpartition('.')[2]}.{name}")
    return frozenset(names)


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def figure_calls(source: str) -> int:
    """How many new figures the code ``source`` makes (see the module docstring)."""
    count = 0
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        draws_into_axes = any(keyword.arg == "ax" for keyword in node.keywords)
        if name in ("plt.subplots", "plt.figure"):
            count += 1
        elif name in figure_functions() and not draws_into_axes:
            count += 1
    return count


def execute(lesson: str, environment: Dict[str, str], monkeypatch, timeout: int = 900, notebook=None):
    """Run ``notebooks/<lesson>`` top to bottom with ``environment`` set; returns the notebook.

    ``notebook``: the lesson already read (its cells receive the outputs, also when a cell
    fails). Raises nbclient's ``CellExecutionError`` when a cell fails. The kernel imports
    this checkout's stylelab, as nbval's kernels do.
    """
    from nbclient import NotebookClient

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    if "STYLELAB_MODE" not in environment:
        monkeypatch.delenv("STYLELAB_MODE", raising=False)  # it would win over STYLELAB_FAST
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(NOTEBOOKS.parent), os.environ.get("PYTHONPATH")])))
    if notebook is None:
        notebook = nbformat.read(NOTEBOOKS / lesson, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    return notebook


def missing_figures(notebook) -> List[str]:
    """``"cell N: made F figures, showed P"`` for each code cell that showed fewer (or more)
    ``image/png`` outputs than it has figure calls."""
    problems = []
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        made = figure_calls(cell.source)
        shown = sum("image/png" in output.get("data", {}) for output in cell.get("outputs", []))
        if made and shown != made:
            first = cell.source.splitlines()[0]
            problems.append(f"cell {number} ({first!r}): made {made} figures, showed {shown}")
    return problems
