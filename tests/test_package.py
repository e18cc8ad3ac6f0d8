"""The package as a whole: public API, and no side effects on import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import stylelab as sl


def test_public_api_exists():
    for name in ("load_image", "save_image", "to_pil", "resize", "VGGFeatures", "gram_matrix", "content_loss",
                 "style_loss", "tv_loss", "stylize", "StyleTransferResult", "LAYER_NAMES", "data"):
        assert hasattr(sl, name), name
    # the module namespaces the lessons read as sl.<name>, each at its home in a room (some load on first use)
    rooms = {"imaging": ("data", "patterns"), "engine": ("color", "masks", "presets", "pyramid", "scales", "tables"),
             "course": ("analysis", "cache", "exercises", "figures", "lesson_figures", "measure", "notebook", "widgets")}
    for room, modules in rooms.items():
        for module in modules:
            assert getattr(sl, module).__name__ == f"stylelab.{room}.{module}"
    assert sl.vgg.__name__ == "stylelab.vgg" and sl.vgg.features.IMAGENET_MEAN == (0.485, 0.456, 0.406)


@pytest.mark.slow  # more than half a second on a 2-core CPU
def test_import_has_no_side_effects():
    code = (
        "import matplotlib, torch, sys\n"
        "before = dict(matplotlib.rcParams)\n"
        "state = torch.get_rng_state()\n"
        "import stylelab\n"
        "assert dict(matplotlib.rcParams) == before\n"
        "assert torch.equal(torch.get_rng_state(), state)\n"
        "assert 'matplotlib.pyplot' not in sys.modules and 'ipywidgets' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""


def test_notebook_helpers(monkeypatch, capsys):
    monkeypatch.delenv("STYLELAB_MODE", raising=False)
    monkeypatch.setenv("STYLELAB_FAST", "1")
    assert sl.notebook.fast_mode() and sl.notebook.choose(full=512, fast=64) == 64
    monkeypatch.setenv("STYLELAB_FAST", "0")
    monkeypatch.setenv("STYLELAB_MODE", "full")
    assert not sl.notebook.fast_mode()
    assert sl.notebook.image_size(full=512, fast=64) == 512
    monkeypatch.setenv("STYLELAB_SIZE", "200")
    monkeypatch.setenv("STYLELAB_STEPS", "7")
    assert sl.notebook.image_size(full=512, fast=64) == 200 and sl.notebook.step_count(300, 10) == 7
    monkeypatch.setenv("STYLELAB_STEPS", "many")
    with pytest.raises(ValueError, match="STYLELAB_STEPS must be a whole number"):
        sl.notebook.step_count(300, 10)
    monkeypatch.delenv("STYLELAB_SIZE")
    monkeypatch.delenv("STYLELAB_STEPS")
    model = sl.notebook.setup(weights="random", device="cpu")
    out = capsys.readouterr().out
    assert "network: untrained VGG-19 (seeded random weights)" in out and "mode: full" in out
    assert "Untrained network" in sl.notebook.weights_banner(model)


def _module_imports(path, depth):
    """The top-level stylelab modules that ``path`` imports at module level (not inside functions);
    ``depth`` is 0 for a module of stylelab, 1 for a module of one of its subpackages."""
    import ast

    names = set()
    for node in ast.parse(path.read_text()).body:
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == depth + 1:  # from . import x (a module) or from .x import y (depth 0); from .. (depth 1)
            names.update([node.module.split(".")[0]] if node.module else [alias.name for alias in node.names])
        elif node.level == 0 and (node.module or "").startswith("stylelab."):
            names.add(node.module.split(".")[1])
    return names


def test_no_import_circle_between_stylelab_modules():
    from pathlib import Path

    package = Path(sl.__file__).parent
    graph = {p.stem: _module_imports(p, 0) for p in package.glob("*.py") if p.stem != "__init__"}
    for folder in (p for p in package.iterdir() if (p / "__init__.py").exists()):
        graph[folder.name] = set().union(*(_module_imports(f, 1) for f in folder.glob("*.py")))
    graph = {name: imports & set(graph) for name, imports in graph.items()}

    def visit(name, trail):
        assert name not in trail, f"import circle: {' -> '.join(trail + [name])}"
        for other in graph[name]:
            visit(other, trail + [name])

    for name in graph:
        visit(name, [])


def _code_lines(node, lines):
    """Lines of code in a function: its body without the docstring, blank lines and comments."""
    import ast

    first = node.body[0]
    start = first.lineno
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        start = first.end_lineno + 1
    return sum(1 for line in lines[start - 1:node.end_lineno] if line.strip() and not line.strip().startswith("#"))


def test_every_function_and_module_stays_readable():
    import ast
    from pathlib import Path

    package = Path(sl.__file__).parent
    too_long = []
    for path in sorted(package.rglob("*.py")):
        lines = path.read_text().splitlines()
        if len(lines) > 600:
            too_long.append(f"{path.relative_to(package)}: {len(lines)} lines (at most 600)")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _code_lines(node, lines) > 60:
                too_long.append(f"{path.relative_to(package)}: {node.name} has {_code_lines(node, lines)} lines of code (at most 60)")
    assert not too_long, "\n".join(too_long)
