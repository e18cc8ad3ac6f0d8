"""The package's structure: its rooms and its import graph, read from the source.

Every import counts (at the top of a module, inside a function, or under ``if TYPE_CHECKING:``):
the graph has no cycle, and no module imports from a room above its own (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Set

import stylelab

PACKAGE = Path(stylelab.__file__).parent

#: The rooms, bottom to top: a module may import only from its own room and the rooms below.
#: Modules at the top of the package are the primitives every room needs (rank 0), except the
#: package's own ``__init__`` and ``__main__``, which gather everything (the top).
ROOMS = {"imaging": 1, "vgg": 2, "engine": 3, "course": 4}
TOP = 5
#: The most ``.py`` files at the top of ``stylelab/`` (primitives, ``__init__``, ``__main__``).
MAX_TOP_LEVEL_FILES = 6


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> Dict[str, Set[str]]:
    """``{module: the package's modules it imports}``, read from the source (nothing is run)."""
    files = {_module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    graph: Dict[str, Set[str]] = {}
    for name, path in files.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets: Set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                module = base + (node.module.split(".") if node.module else [])
                # "from . import x": the module x when there is one, else (a name) the package
                targets.update(".".join(module + [alias.name]) for alias in node.names)
        graph[name] = {_known(t, files) for t in targets} - {None, name}
    return graph


def _known(target: str, files: Dict[str, Path]) -> Optional[str]:
    """The package module ``target`` names (an attribute import names its module), or None."""
    while target and target not in files:
        target = target.rpartition(".")[0]
    return target or None


def _cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One cycle of ``graph`` as a list of modules, first repeated last, or None."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for after in sorted(graph[node]):
            if state.get(after) == 1:
                return path[path.index(after):] + [after]
            if after not in state:
                found = visit(after)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def rank(module: str) -> int:
    """The room of ``module`` (a dotted name under the package) as a number, 0 at the bottom."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__init__", "__main__"):
        return TOP
    if len(parts) == 2 and parts[1] not in ROOMS:
        return 0
    return ROOMS[parts[1]]


def upward_imports(graph: Dict[str, Set[str]]) -> List[str]:
    """Every edge of ``graph`` from a module into a higher room, as ``"a (room 1) -> b (room 3)"``."""
    return [f"{a} (room {rank(a)}) -> {b} (room {rank(b)})"
            for a in sorted(graph) for b in sorted(graph[a]) if rank(b) > rank(a)]


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert {"stylelab", "stylelab.engine.settings", "stylelab.course.exercises.checking"} <= set(graph)
    assert "stylelab.vgg.network" in graph["stylelab.engine.settings"]  # the graph sees ordinary imports
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_sees_type_only_and_function_level_imports(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n")
    (package / "b.py").write_text("def f():\n    from . import c\n")
    (package / "c.py").write_text("from .a import thing\n")
    graph = import_graph(package)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.c"}, "pkg.c": {"pkg.a"}}
    assert _cycle(graph) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    (package / "c.py").write_text("import os\n")
    assert _cycle(import_graph(package)) is None


def test_no_module_imports_from_a_higher_room():
    graph = import_graph()
    assert {rank(m) for m in graph} == {0, 1, 2, 3, 4, TOP}  # every room is seen
    assert upward_imports(graph) == []


def test_the_room_checker_reports_an_upward_import(tmp_path):
    """A copy of the package with one module of imaging importing from the engine (even only
    inside a function) is reported, naming the edge; the copy without it is clean."""
    copy = tmp_path / "stylelab"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert upward_imports(import_graph(copy)) == []
    (copy / "imaging" / "thumbnails.py").write_text("def make(image):\n    from ..engine.transfer import stylize\n")
    assert upward_imports(import_graph(copy)) == [
        "stylelab.imaging.thumbnails (room 1) -> stylelab.engine.transfer (room 3)"]


def test_the_top_of_the_package_holds_only_the_primitives():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_FILES, top
    rooms = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert rooms == sorted(ROOMS)


def test_each_room_package_holds_only_its_description():
    for room in ROOMS:
        body = ast.parse((PACKAGE / room / "__init__.py").read_text(encoding="utf-8")).body
        assert len(body) == 1 and isinstance(body[0].value, ast.Constant), f"stylelab/{room}/__init__.py"
        assert "Imports only" in body[0].value.value or "May import" in body[0].value.value


def test_no_module_repeats_another_modules_names():
    """One public name per function: a module that imports one of the package's names either uses
    it or is a public face that the lessons read (the package and its exercises and widgets)."""
    faces = {"stylelab", "stylelab.course.exercises", "stylelab.course.widgets"}
    repeated = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path, PACKAGE)
        if name in faces:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
                    and (node.level or (node.module or "").startswith("stylelab")) for alias in node.names}
        used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        repeated += [f"{name}.{n}" for n in sorted(imported - used)]
    assert repeated == [], repeated


def test_the_version_is_written_in_one_module_and_pyproject_agrees():
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == stylelab.__version__
    assert stylelab.__version__ is stylelab.version.__version__
