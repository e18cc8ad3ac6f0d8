"""What a graded answer may not do: rules read from its source, before any of it runs.

In a lesson the learner may use anything (``sl.gram_matrix`` inside their style loss is a fine
shortcut). An answer handed in for a grade must be the learner's own computation, and must
not reach for what could change the grade. :func:`violations` reads an answer cell's source
(after IPython's standard rewriting of ``%magics``) and lists every rule it breaks:

* ``uses_stylelab``: ``sl``, ``stylelab``, the exercises' machinery (``fill_unfinished``,
  ``solution``, the checkers), or a stylelab function handed in or called;
* ``dynamic_code``: ``exec``, ``eval``, ``compile``, ``__import__``, ``globals()``,
  ``locals()``, ``vars()``, ``getattr``/``setattr``/``delattr``, ``open``, ``breakpoint``;
* ``forbidden_import``: any module but the ones an answer needs (:data:`ALLOWED_MODULES`:
  torch, numpy, math, functools, itertools, ...); ``sys`` only for ``sys.stdout``/``sys.stderr``;
* ``private_name``: a name or attribute that starts with an underscore (``__class__``,
  ``__globals__``, ``torch._C``), or a dunder name in a string (``"__code__"``), other than
  a class's ``__init__``;
* ``introspection``: attributes that reach into the interpreter, files or processes
  (``f_back``, ``tb_frame``, ``modules``, ``settrace``, ``environ``, ``system``, ``load``,
  ``save``, ``utils``, ...);
* ``patches_module``: assigning to or deleting an attribute of a module (``torch.allclose =
  ...``, ``F.mse_loss = ...``, or an alias of one);
* ``magic``: ``%magics`` and ``!shell`` lines, which the grader does not run.

The rules are meant for answers to this course's exercises: imports of torch, numpy and math,
helper functions, lambdas, classes with ``__init__``, comments, ``print`` (also to
``sys.stderr``) and ``warnings`` are all fine. Nothing here runs the code: the grading
process (:mod:`.sandbox`) adds checks while it runs (no stylelab function may be called from
the answer, nothing patched, the answer defined in the answer cell).
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Set

from .checking import FAILED, CheckResult

__all__ = ["ALLOWED_MODULES", "SETUP_MODULES", "Violation", "violations", "describe_violations", "defined_names",
           "check_for_grade"]

#: Top-level modules an answer may import.
ALLOWED_MODULES = frozenset({
    "torch", "numpy", "math", "cmath", "functools", "itertools", "operator", "collections", "typing", "dataclasses",
    "random", "statistics", "numbers", "fractions", "decimal", "string", "re", "copy", "enum", "abc", "heapq",
    "bisect", "warnings", "time", "sys",
})
#: The names the assignments' locked setup cell binds to modules.
SETUP_MODULES = frozenset({"math", "np", "torch", "F", "sl"})
#: The attributes of ``sys`` an answer may read.
_SYS_ALLOWED = frozenset({"stdout", "stderr", "float_info", "maxsize", "version_info", "version", "platform"})
#: Names (variables, functions) an answer may not use.
_FORBIDDEN_NAMES = {
    "sl": "uses_stylelab", "stylelab": "uses_stylelab", "fill_unfinished": "uses_stylelab",
    "solution": "uses_stylelab", "solutions_dir": "uses_stylelab", "exercises": "uses_stylelab",
    "exec": "dynamic_code", "eval": "dynamic_code", "compile": "dynamic_code", "globals": "dynamic_code",
    "locals": "dynamic_code", "vars": "dynamic_code", "getattr": "dynamic_code", "setattr": "dynamic_code",
    "delattr": "dynamic_code", "open": "dynamic_code", "breakpoint": "dynamic_code", "get_ipython": "magic",
}
#: Attribute names an answer may not use, on anything.
_FORBIDDEN_ATTRIBUTES = frozenset({
    # the interpreter's inside: frames, code, modules, tracing
    "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace", "tb_frame", "tb_next", "gi_frame",
    "gi_code", "cr_frame", "ag_frame", "co_consts", "co_code", "modules", "settrace", "setprofile", "gettrace",
    "getprofile", "setrecursionlimit", "addaudithook", "excepthook", "displayhook", "meta_path", "path_hooks",
    # modules that other modules carry as attributes (torch.os, np.sys)
    "os", "sys", "subprocess", "builtins", "shutil", "pathlib", "importlib", "inspect", "gc", "ctypes", "io",
    "pickle", "signal", "threading", "socket",
    # processes, files, environment
    "environ", "system", "popen", "spawn", "fork", "kill", "abort", "load", "save", "loadtxt", "savetxt", "fromfile",
    "tofile", "memmap", "ctypeslib", "f2py", "distutils",
    # torch's doors to compiled code and other processes
    "utils", "library", "ops", "hub", "jit", "classes", "package", "multiprocessing", "distributed", "cpp_extension",
    "overrides", "testing",
    # stylelab's own
    "exercises", "fill_unfinished", "solution", "solutions_dir", "checking", "registry",
})
_DUNDER = re.compile(r"__\w+__")
_REASONS = {
    "uses_stylelab": "a graded answer is your own computation: no stylelab",
    "dynamic_code": "no code, names or attributes chosen at run time, and no files",
    "forbidden_import": "a graded answer imports only torch, numpy, math and standard modules such as functools, "
                        "itertools, collections, typing and warnings",
    "private_name": "underscore names reach into Python's or torch's machinery",
    "introspection": "it reaches into the interpreter, files or processes",
    "patches_module": "a graded answer may not change a module",
    "magic": "the grader runs plain Python, without %magics and !shell lines",
}


@dataclass(frozen=True)
class Violation:
    """One broken rule: its name, the line of the answer cell, and what on that line breaks it."""

    rule: str
    line: int
    what: str

    @property
    def message(self) -> str:
        """What breaks which rule, for the student: ``"line 4: sl (a graded answer is your own computation: ...)"``."""
        return f"line {self.line}: {self.what} ({_REASONS[self.rule]})"

    def __str__(self) -> str:
        return self.message


def _python(source: str) -> str:
    """``source`` as plain Python: IPython's standard rewriting of ``%magics`` and ``!shell`` lines (if IPython is here)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # no IPython: a magic is then a syntax error
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - IPython could not read it: let Python say why
        return source


class _Rules(ast.NodeVisitor):
    """Walks one cell's syntax tree and collects every :class:`Violation`."""

    def __init__(self, modules: Iterable[str]) -> None:
        self.modules: Set[str] = set(modules)
        self.sys_names: Set[str] = set()
        self.found: List[Violation] = []

    def report(self, node: ast.AST, rule: str, what: str) -> None:
        self.found.append(Violation(rule, getattr(node, "lineno", 0), what))

    # imports bind module names
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module_path(node, alias.name)
            bound = alias.asname or alias.name.split(".")[0]
            self.modules.add(bound)
            if alias.name == "sys":
                self.sys_names.add(bound)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.report(node, "forbidden_import", "a relative import")
            return
        self._module_path(node, node.module or "")
        for alias in node.names:
            if alias.name == "*":
                self.report(node, "forbidden_import", f"from {node.module} import *")
            elif alias.name.startswith("_"):
                self.report(node, "private_name", alias.name)
            elif alias.name in _FORBIDDEN_ATTRIBUTES:
                self.report(node, "introspection", f"{node.module}.{alias.name}")
            elif node.module == "sys" and alias.name not in _SYS_ALLOWED:
                self.report(node, "introspection", f"sys.{alias.name}")
            self.modules.add(alias.asname or alias.name)  # it may be a module; treat it as one

    def _module_path(self, node: ast.AST, dotted: str) -> None:
        parts = dotted.split(".")
        if parts[0] in ("stylelab", "sl"):
            self.report(node, "uses_stylelab", f"import {dotted}")
        elif parts[0] not in ALLOWED_MODULES:
            self.report(node, "forbidden_import", dotted)
        for part in parts[1:]:
            if part.startswith("_"):
                self.report(node, "private_name", dotted)
            elif part in _FORBIDDEN_ATTRIBUTES:
                self.report(node, "introspection", dotted)

    # names and attributes
    def visit_Name(self, node: ast.Name) -> None:
        rule = _FORBIDDEN_NAMES.get(node.id)
        if rule:
            self.report(node, rule, node.id)
        elif node.id.startswith("__"):
            self.report(node, "private_name", node.id)
        elif node.id in self.sys_names:
            self.report(node, "introspection", f"{node.id} itself (only sys.stdout and sys.stderr)")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        base = node.value
        if isinstance(base, ast.Name) and base.id in self.sys_names:
            if node.attr not in _SYS_ALLOWED:
                self.report(node, "introspection", f"{base.id}.{node.attr}")
            return  # sys.stderr itself is fine
        if node.attr.startswith("_"):
            self.report(node, "private_name", node.attr)
        elif node.attr in _FORBIDDEN_ATTRIBUTES:
            self.report(node, "uses_stylelab" if node.attr in _STYLELAB_ATTRIBUTES else "introspection", ast.unparse(node))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _DUNDER.search(node.value):
            self.report(node, "private_name", repr(_DUNDER.search(node.value).group(0)))

    # definitions
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name.startswith("__") and node.name != "__init__":
            self.report(node, "private_name", f"def {node.name}")
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for keyword in node.keywords:
            if keyword.arg == "metaclass":
                self.report(node, "private_name", "a metaclass")
        self.generic_visit(node)

    # changing modules
    def _target(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            root = target
            while isinstance(root, (ast.Attribute, ast.Subscript, ast.Call)):
                root = root.func if isinstance(root, ast.Call) else root.value
            if not isinstance(root, ast.Name) or root.id in self.modules:
                self.report(target, "patches_module", ast.unparse(target))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(element)
        elif isinstance(target, ast.Starred):
            self._target(target.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._target(target)
            if isinstance(target, ast.Name) and _rooted_in(node.value, self.modules):
                self.modules.add(target.id)  # an alias of a module or of something in one
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._target(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._target(target)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name in self.modules:
                self.report(node, "patches_module", f"global {name}")


_STYLELAB_ATTRIBUTES = frozenset({"exercises", "fill_unfinished", "solution", "solutions_dir", "checking", "registry"})


def _rooted_in(value: ast.AST, modules: Set[str]) -> bool:
    """True for ``torch``, ``torch.Tensor``, ``np.linalg`` ...: a plain chain of attributes from a module name."""
    while isinstance(value, ast.Attribute):
        value = value.value
    return isinstance(value, ast.Name) and value.id in modules


def violations(source: str, modules: Iterable[str] = SETUP_MODULES) -> List[Violation]:
    """Every rule the answer cell ``source`` breaks, in order of lines (``[]``: none).

    ``modules``: the names already bound to modules when the cell runs (the setup cell's).
    Source that is not valid Python breaks no rule here: running it says what is wrong.
    """
    try:
        tree = ast.parse(_python(source))
    except (SyntaxError, ValueError):
        return []
    rules = _Rules(modules)
    rules.visit(tree)
    found: dict = {}
    for violation in rules.found:  # the first report of each rule on each line
        found.setdefault((violation.line, violation.rule), violation)
    return sorted(found.values(), key=lambda v: v.line)


def defined_names(source: str) -> List[str]:
    """The names a cell binds at its top level (functions, classes, assignments), in order; ``[]`` if it does not parse."""
    try:
        tree = ast.parse(_python(source))
    except (SyntaxError, ValueError):
        return []
    names: List[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return names


def describe_violations(found: List[Violation], most: int = 3) -> str:
    """The first few violations as one message for the student."""
    shown = "; ".join(str(v) for v in found[:most])
    more = f"; and {len(found) - most} more" if len(found) > most else ""
    return f"your answer cell breaks the rules of graded answers: {shown}{more}."


def check_for_grade(name: str, answer: Any) -> Optional[CheckResult]:
    """In the student's own kernel, before the grader: a verdict if ``answer``'s source breaks a rule, else None.

    Only a function whose source Python can find is read (a notebook cell's is); the grader
    reads every answer cell whole, whatever this finds.
    """
    try:
        source = inspect.getsource(answer)
    except Exception:  # noqa: BLE001 - a list of layers, a built-in: nothing to read here
        return None
    found = violations(textwrap.dedent(source))
    if not found:
        return None
    return CheckResult(name, FAILED, describe_violations(found), "not_allowed")
