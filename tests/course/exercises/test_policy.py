"""The rules of graded answers (issue 19): read from the source, strict on cheats, never on honest answers."""

from __future__ import annotations

import pytest

from stylelab.course import exercises
from stylelab.course.exercises.policy import check_for_grade, defined_names, describe_violations, violations

from .helpers import SOLUTIONS

HONEST = [
    # what learners write: imports of torch/numpy/math, helpers, comments, prints (also to stderr), warnings
    "import torch, math\nimport numpy as np\nimport torch.nn.functional as F\n"
    "def helper(x):\n    return x.reshape(x.shape[0], x.shape[1], -1)\n",
    "def gram_matrix(features):\n    \"\"\"F F^T / (H W).\"\"\"\n    b, c, h, w = features.shape  # sizes\n"
    "    flat = features.flatten(2)\n    import sys\n    print('debug', flat.shape, file=sys.stderr)\n"
    "    sys.stdout.write('x')\n    return flat @ flat.transpose(1, 2) / (h * w)\n",
    "import warnings\ndef content_loss(input, target):\n    warnings.warn('checking')\n"
    "    return F.mse_loss(input, target)\n",
    "def optimization_step(image, optimizer, loss_fn):\n    optimizer.zero_grad()\n    loss = loss_fn(image)\n"
    "    loss.backward()\n    optimizer.step()\n    with torch.no_grad():\n        image.data.clamp_(0, 1)\n"
    "    image.grad = None\n    return float(loss)\n",
    "fine_texture_layers = ['relu1_1', 'relu2_1']\nfine_texture_layers.remove('relu2_1')\n",
    "from functools import reduce\nfrom collections import OrderedDict\nimport itertools, operator, typing\n"
    "class Box:\n    def __init__(self, value):\n        self.value = value\n"
    "tv_loss = lambda image: (image.diff(dim=-1) ** 2).mean() + (image.diff(dim=-2) ** 2).mean()\n",
    "def f(x):\n    if not isinstance(x, torch.Tensor):\n        raise TypeError('a tensor, please')\n    return x\n",
]


@pytest.mark.parametrize("source", HONEST)
def test_honest_answers_break_no_rule(source):
    assert violations(source) == []


def test_every_reference_solution_breaks_no_rule():
    for path in SOLUTIONS.glob("*.py"):
        assert violations(path.read_text()) == [], path.name


CHEATS = {
    # the cheats, and more: each breaks the named rule
    "replace the checker": ("sl.exercises.check = lambda name, answer, **k: None", "patches_module"),
    "rebind sl": ("class Fake:\n    pass\nsl = Fake()", "uses_stylelab"),
    "fake CheckResult": ("sl.exercises.CheckResult.passed = True", "patches_module"),
    "call stylelab's function": ("def gram_matrix(f):\n    return sl.gram_matrix(f)", "uses_stylelab"),
    "hand in stylelab's function": ("style_loss = sl.style_loss", "uses_stylelab"),
    "import stylelab's function": ("from stylelab.engine.losses import gram_matrix", "uses_stylelab"),
    "load the solution": ("exec(sl.exercises.solution('gram_matrix', show=False))", "dynamic_code"),
    "fill in the reference": ("sl.exercises.fill_unfinished(globals(), ['gram_matrix'])", "uses_stylelab"),
    "fill_unfinished by itself": ("from stylelab.course.exercises import fill_unfinished", "uses_stylelab"),
    "input transformer": ("get_ipython().input_transformers_post.append(lambda lines: [])", "magic"),
    "ast transformer": ("ip = get_ipython()\nip.ast_transformers.append(None)", "magic"),
    "patch builtins": ("import builtins\nbuiltins.AssertionError = Warning", "forbidden_import"),
    "patch __builtins__": ("__builtins__.print = None", "private_name"),
    "patch torch.allclose": ("torch.allclose = lambda *a, **k: True", "patches_module"),
    "patch through an alias": ("T = torch.Tensor\nT.double = lambda self: self", "patches_module"),
    "delete from a module": ("del torch.allclose", "patches_module"),
    "patch the reference": ("sl.losses.gram_matrix = lambda f: f", "patches_module"),
    "reach the reference's globals": ("g = F.mse_loss.__globals__", "private_name"),
    "dunder in a string": ("name = '__glo' 'bals__'", "private_name"),
    "getattr": ("allclose = getattr(torch, 'allclose')", "dynamic_code"),
    "eval": ("eval('1')", "dynamic_code"),
    "compile": ("code = compile('1', 'x', 'eval')", "dynamic_code"),
    "__import__": ("m = __import__('os')", "private_name"),
    "importlib": ("import importlib", "forbidden_import"),
    "sys.modules": ("import sys\nsys.modules['stylelab'].exercises", "introspection"),
    "sys itself": ("import sys\nmodules = sys", "introspection"),
    "gc": ("import gc", "forbidden_import"),
    "inspect": ("import inspect", "forbidden_import"),
    "frames": ("def f(e):\n    return e.tb_frame.f_back", "introspection"),
    "os through torch": ("torch.os.system('true')", "introspection"),
    "private torch": ("torch._C._set_grad_enabled(True)", "private_name"),
    "write the gradebook": ("import sqlite3", "forbidden_import"),
    "open a file": ("open('../../../gradebook.db', 'wb')", "dynamic_code"),
    "torch.save": ("torch.save(1, 'x')", "introspection"),
    "os._exit": ("import os\nos._exit(0)", "forbidden_import"),
    "globals()": ("globals()['gram_matrix'] = None", "dynamic_code"),
    "shell": ("!rm -rf ~", "magic"),
    "magic": ("%env STYLELAB_SOLUTIONS=/x", "magic"),
    "dunder method": ("class T(torch.Tensor):\n    def __eq__(self, other):\n        return True", "private_name"),
    "metaclass": ("class M(type):\n    pass\nclass T(metaclass=M):\n    pass", "private_name"),
}


@pytest.mark.parametrize("cheat", list(CHEATS))
def test_each_cheat_breaks_a_rule(cheat):
    source, rule = CHEATS[cheat]
    found = violations(source)
    assert rule in [v.rule for v in found], (cheat, found)
    assert describe_violations(found).startswith("your answer cell breaks the rules of graded answers: line ")


def test_a_violation_names_the_line_and_the_thing():
    (found,) = violations("x = 1\n\ny = sl.gram_matrix(x)")
    assert found.line == 3 and found.message == "line 3: sl (a graded answer is your own computation: no stylelab)"


def test_defined_names_are_the_top_level_bindings():
    assert defined_names("import torch\ndef a(): pass\nb = c = 1\nd += 1\nclass E: pass\nif x:\n    f = 1") == [
        "a", "b", "c", "d", "E"]
    assert defined_names("def (") == []


def test_in_the_students_kernel_a_graded_check_refuses_stylelab_before_the_grader_does():
    import stylelab as sl

    def style_loss(generated_features, target_gram):
        return ((sl.gram_matrix(generated_features) - target_gram) ** 2).mean()

    assert exercises.check("style_loss", style_loss, quiet=True).passed  # in a lesson it is a fine shortcut
    result = exercises.check("style_loss", style_loss, quiet=True, for_grade=True)
    assert result.mistake == "not_allowed" and "sl (a graded answer is your own computation" in result.message
    assert check_for_grade("fine_texture_layers", ["relu1_1"]) is None  # data: nothing to read


def test_a_graded_check_never_points_to_stylelabs_functions():
    def gram_matrix(features):
        raise NotImplementedError

    def style_loss(generated_features, target_gram):
        return ((gram_matrix(generated_features) - target_gram) ** 2).mean()

    lesson = exercises.check("style_loss", style_loss, quiet=True)
    graded = exercises.check("style_loss", style_loss, quiet=True, for_grade=True)
    assert lesson.mistake == graded.mistake == "unfinished_dependency"
    assert "sl.gram_matrix" in lesson.message and "sl." not in graded.message


def test_a_graded_check_sends_the_answers_stderr_to_stdout(capsys):
    import sys

    def content_loss(generated, target):
        print("debugging", file=sys.stderr)
        return ((generated - target) ** 2).mean()

    assert exercises.check("content_loss", content_loss, for_grade=True).passed
    printed = capsys.readouterr()
    assert printed.err == "" and "debugging" in printed.out and "correct!" in printed.out
