"""The lesson notebooks: committed clean, and every lesson follows the house skeleton.

nbval executes the notebooks themselves (``pytest notebooks/``); these tests check their
structure without running them, so they are fast and run everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSON_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
COLAB_URL = "https://colab.research.google.com/github/stylelab/stylelab/blob/main/notebooks/{name}"
MAX_CODE_LINES = 20  # "a code cell longer than ~15 lines means something belongs in stylelab"

#: The first code cell of every lesson, word for word (see helper notes / DESIGN.md).
COLAB_CELL = """\
# On Google Colab, fetch and install stylelab first (skipped everywhere else).
import sys
if "google.colab" in sys.modules:
    import os, subprocess
    subprocess.run(["git", "clone", "--depth=1", "https://github.com/stylelab/stylelab", "/content/stylelab"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/stylelab"], check=True)
    sys.path.insert(0, "/content/stylelab")
    os.chdir("/content/stylelab/notebooks")"""


def _all_notebooks() -> list:
    return sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _lessons() -> list:
    return sorted(p for p in NOTEBOOKS.glob("*.ipynb") if LESSON_NAME.match(p.name))


def _read(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return notebook


def _headings(notebook) -> list:
    found = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            found += [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")]
    return found


def _position(headings: list, wanted: str, path: Path) -> int:
    for index, heading in enumerate(headings):
        if heading.lower().startswith(wanted.lower()):
            return index
    raise AssertionError(f"{path.name} has no '## {wanted}' heading")


def test_there_are_lessons():
    # Without this, every test below would be skipped and the suite would pass vacuously.
    assert _lessons(), f"no lesson notebooks (NN_name.ipynb) in {NOTEBOOKS}"


@pytest.mark.parametrize("path", _all_notebooks(), ids=lambda p: p.name)
def test_committed_without_outputs(path):
    notebook = _read(path)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} hold outputs or execution counts; clear them "
        "(Jupyter: Edit > Clear Outputs of All Cells) before committing"
    )


@pytest.mark.parametrize("path", _lessons(), ids=lambda p: p.name)
def test_lesson_skeleton(path):
    notebook = _read(path)
    cells = notebook.cells
    assert cells and cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), (
        f"{path.name}: the first cell must be a markdown title ('# ...')"
    )
    headings = _headings(notebook)
    order = [_position(headings, name, path) for name in ("What you will learn", "Summary", "Exercises")]
    assert order == sorted(order), f"{path.name}: expected What you will learn, then Summary, then Exercises"

    code = [cell for cell in cells if cell.cell_type == "code"]
    assert len(code) >= 2, f"{path.name}: a lesson needs the Colab cell, a setup cell and a body"
    assert code[0].source.strip() == COLAB_CELL, f"{path.name}: the first code cell must be the standard Colab cell"
    assert "nbval-skip" in code[0].metadata.get("tags", []), f"{path.name}: tag the Colab cell 'nbval-skip'"
    setup = code[1].source
    assert "import stylelab as sl" in setup and "sl.notebook.setup(" in setup, (
        f"{path.name}: the code cell after the Colab cell must import stylelab as sl and call sl.notebook.setup()"
    )
    skipped = [i for i, cell in enumerate(code[1:], 1) if "nbval-skip" in cell.metadata.get("tags", [])]
    assert not skipped, f"{path.name}: only the Colab cell may be skipped by nbval; code cells {skipped} are too"


@pytest.mark.parametrize("path", _lessons(), ids=lambda p: p.name)
def test_prose_before_code_and_short_cells(path):
    cells = _read(path).cells
    for index, (before, cell) in enumerate(zip(cells, cells[1:]), 1):
        if cell.cell_type != "code":
            continue
        assert before.cell_type == "markdown", f"{path.name}: cell {index} is code right after code; explain it first"
        lines = [line for line in cell.source.splitlines() if line.strip()]
        assert len(lines) <= MAX_CODE_LINES, (
            f"{path.name}: cell {index} has {len(lines)} lines of code; move the plumbing into stylelab"
        )


@pytest.mark.parametrize("path", _lessons(), ids=lambda p: p.name)
def test_lesson_is_listed_with_a_colab_link(path):
    index = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    assert COLAB_URL.format(name=path.name) in index, f"notebooks/README.md has no Colab link to {path.name}"


def test_readme_lists_lessons_in_order():
    index = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"notebooks/(\d\d_[a-z0-9_]+\.ipynb)", index)
    assert listed, "notebooks/README.md links no lessons"
    unique = list(dict.fromkeys(listed))
    assert unique == sorted(unique), f"notebooks/README.md lists the lessons out of order: {unique}"


IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def _markdown_images(text: str, folder: Path) -> list:
    return [(link, (folder / link).resolve()) for link in IMAGE_LINK.findall(text) if "://" not in link]


@pytest.mark.parametrize("path", _lessons(), ids=lambda p: p.name)
def test_pictures_in_lessons_exist(path):
    text = "\n".join(cell.source for cell in _read(path).cells if cell.cell_type == "markdown")
    missing = [link for link, target in _markdown_images(text, path.parent) if not target.is_file()]
    assert not missing, f"{path.name} shows pictures that are not in the repository: {missing}"


def test_readme_pictures_exist_and_the_gallery_is_small():
    root = NOTEBOOKS.parent
    for readme in (root / "README.md", root / "images" / "gallery" / "README.md"):
        if readme.is_file():
            missing = [link for link, target in _markdown_images(readme.read_text(encoding="utf-8"), readme.parent)
                       if not target.is_file()]
            assert not missing, f"{readme.relative_to(root)} links pictures that do not exist: {missing}"
    total = sum(p.stat().st_size for p in (root / "images" / "gallery").glob("*.jpg"))
    assert total <= 3 * 2**20, f"the gallery's JPEGs take {total / 2**20:.1f} MB; keep them under 3 MB in all"
