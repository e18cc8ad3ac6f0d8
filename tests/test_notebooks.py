"""The lesson notebooks: committed clean, and every lesson follows the house skeleton.

nbval executes the notebooks themselves (``pytest notebooks/``); these tests check their
structure without running them, so they are fast and run everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from stylelab.course.colab import BLOCK, colab_link, colab_cell, readme_block, repository_from_pyproject, sync

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSON_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
MAX_CODE_LINES = 20  # "a code cell longer than ~15 lines means something belongs in stylelab"
ROOT = NOTEBOOKS.parent
#: The one place the project's address is set: [project.urls] Repository (absent: no public repository yet).
REPOSITORY = repository_from_pyproject(ROOT / "pyproject.toml")
#: The first code cell of every lesson, word for word, rendered from REPOSITORY (stylelab/course/colab.py).
COLAB_CELL = colab_cell(REPOSITORY)


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
    call = f'sl.notebook.setup(lesson="{path.name[:2]}")'
    assert "import stylelab as sl" in setup and call in setup, (
        f"{path.name}: the code cell after the Colab cell must import stylelab as sl and call {call}"
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
def test_lesson_has_reference_times(path):
    # setup(lesson=...) estimates the lesson's time from stylelab/course/modes.py's table; every lesson needs a row.
    from stylelab.course.modes import MODES, REFERENCE

    assert set(REFERENCE.get(path.name[:2], {})) == set(MODES), f"stylelab/course/modes.py REFERENCE lacks a mode for {path.name}"


@pytest.mark.parametrize("path", _lessons(), ids=lambda p: p.name)
def test_lesson_is_listed(path):
    index = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    assert f"]({path.name})" in index, f"notebooks/README.md does not link {path.name}"


def test_colab_links_come_from_pyproject():
    # The READMEs' generated blocks and the lessons' Colab cells agree with [project.urls];
    # `python -m stylelab.course.colab --write` brings them back in line after the URL changes.
    stale = sync(write=False, root=ROOT)
    assert not stale, f"out of date with [project.urls] in pyproject.toml: {stale}; run python -m stylelab.course.colab --write"
    for name in ("README.md", "notebooks/README.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        assert BLOCK.search(text).group(2) == readme_block(REPOSITORY, name, [p.name for p in _lessons()])
        if REPOSITORY is not None:
            for path in _lessons():
                link = colab_link(REPOSITORY, path.name)
                assert name == "README.md" or link in text, f"{name} has no Colab link to {path.name}"


def test_colab_links_once_a_repository_is_set():
    # What the cell and the blocks become when [project.urls] Repository is set (not yet the case).
    url = "https://github.com/someone/stylelab"
    link = colab_link(url, "01_cnn_features.ipynb")
    assert link == "https://colab.research.google.com/github/someone/stylelab/blob/main/notebooks/01_cnn_features.ipynb"
    assert colab_link(url + ".git", "01_cnn_features.ipynb") == link
    assert colab_link(None, "01_cnn_features.ipynb") is None and colab_link("https://example.org/x", "a.ipynb") is None
    assert f'"{url}"' in colab_cell(url) and "clone" not in colab_cell(None)
    assert link in readme_block(url, "README.md", ["01_cnn_features.ipynb"])
    assert readme_block(None, "README.md", ["01_cnn_features.ipynb"]) == ""


def test_no_colab_link_without_a_repository():
    # Without a public repository every Colab link or clone address would point nowhere.
    if REPOSITORY is not None:
        pytest.skip(f"[project.urls] Repository is set ({REPOSITORY})")
    texts = {name: (ROOT / name).read_text(encoding="utf-8") for name in ("README.md", "notebooks/README.md")}
    texts.update({path.name: path.read_text(encoding="utf-8") for path in _all_notebooks()})
    for name, text in texts.items():
        for address in ("colab.research.google.com", "colab-badge", "git clone", '"clone"', "github.com/stylelab"):
            assert address not in text, f"{name} mentions {address!r} but no repository is set in pyproject.toml"


def test_readme_lists_lessons_in_order():
    index = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"\]\((\d\d_[a-z0-9_]+\.ipynb)\)", index)
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


@pytest.mark.slow  # executes the lesson (fast mode): tens of seconds on a 2-core CPU
@pytest.mark.parametrize("path", _lessons(), ids=lambda p: p.name)
def test_every_figure_appears_whatever_mplbackend_says(path, monkeypatch):
    # MPLBACKEND=Agg (as this suite sets it) once made every figure of a lesson vanish without
    # an error; each figure call of each cell must come back as one image/png output.
    from lesson_runs import execute, figure_calls, missing_figures

    environment = {"STYLELAB_WEIGHTS": "random", "STYLELAB_MODE": "fast", "MPLBACKEND": "Agg"}
    notebook = execute(path.name, environment, monkeypatch)
    assert sum(figure_calls(cell.source) for cell in notebook.cells if cell.cell_type == "code"), (
        f"{path.name} makes no figure at all"
    )
    assert not missing_figures(notebook), f"{path.name}: {missing_figures(notebook)}"


def test_figure_calls_count_new_figures_only():
    from lesson_runs import figure_calls

    assert figure_calls("fig = sl.figures.show_images([a], ['a'])") == 1
    assert figure_calls("fig, ax = plt.subplots()\nsl.figures.loss_curves(h, ax=ax)") == 1  # draws into ax
    assert figure_calls("sl.tables.table(rows)\nx = sl.figures.to_numpy_image(a)") == 0  # no figure
    assert figure_calls("f = sl.lesson_figures.heatmaps(m, t)\ng = sl.lesson_figures.ablation_grid(i, r, c)") == 2
