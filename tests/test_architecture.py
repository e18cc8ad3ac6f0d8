"""The package's structure: its import graph has no cycle, counting every import (at the top
of a module, inside a function, or under ``if TYPE_CHECKING:``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Optional, Set

import stylelab

PACKAGE = Path(stylelab.__file__).parent


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


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert {"stylelab", "stylelab.settings", "stylelab.exercises.checking"} <= set(graph)
    assert "stylelab.network" in graph["stylelab.settings"]  # the graph sees ordinary imports
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


def test_the_version_is_written_in_one_module_and_pyproject_agrees():
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == stylelab.__version__
    assert stylelab.__version__ is stylelab.version.__version__
