"""Returning a kernel's freed memory after each cell: when it is on, that it frees, that it runs once per cell."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from stylelab.course import free_memory
from stylelab.errors import ParameterError

GLIBC = free_memory._malloc_trim() is not None


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, False),
        ({"JUPYTERHUB_USER": "amy"}, True),
        ({"JUPYTERHUB_USER": "amy", "STYLELAB_TRIM": "0"}, False),
        ({"STYLELAB_TRIM": "1"}, True),
        ({"STYLELAB_TRIM": " On "}, True),
        ({"STYLELAB_TRIM": "", "JUPYTERHUB_USER": "amy"}, True),  # empty counts as unset
    ],
)
def test_trimming_is_on_on_a_hub_unless_the_variable_says_otherwise(environ, expected):
    assert free_memory.trim_wanted(environ) is expected


def test_a_bad_trim_value_is_one_sentence_naming_the_variable_and_the_fix():
    with pytest.raises(ParameterError, match=r"STYLELAB_TRIM must be 1 .* or 0, not 'sometimes'; unset it"):
        free_memory.trim_wanted({"STYLELAB_TRIM": "sometimes"})


# A fresh process: the test must not depend on this process's heap. It fills 200 MiB of the
# heap with 64 KiB blocks (below glibc's mmap threshold, so they come from the heap), keeps
# only the last one (which pins the heap's top, so glibc cannot shrink it by itself) and
# frees the rest: that memory stays in the process until released.
_FRAGMENTED = textwrap.dedent("""
    import sys
    from pathlib import Path
    from stylelab.course.free_memory import release_free_memory

    def private_mib():
        fields = dict(line.split(":", 1) for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:])
        return sum(float(fields[key].split()[0]) for key in ("Private_Dirty", "Shared_Dirty")) / 1024

    blocks = [bytearray(64 * 1024) for _ in range(3200)]
    pin = blocks[-1]
    del blocks[:-1]
    before = private_mib()
    released = release_free_memory()
    print(before, private_mib(), released)
""")


@pytest.mark.skipif(not GLIBC or not sys.platform.startswith("linux"), reason="glibc's malloc_trim (Linux)")
def test_release_hands_freed_heap_pages_back():
    out = subprocess.run([sys.executable, "-c", _FRAGMENTED], capture_output=True, text=True, check=True).stdout
    before, after, released = out.split()
    assert released == "True"
    assert float(before) - float(after) > 150, out  # of the 200 MiB freed


def test_release_runs_once_after_every_cell_however_often_it_is_registered(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell()
    calls = []
    monkeypatch.setattr(free_memory, "release_free_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(free_memory, "_malloc_trim", lambda: print)  # any callable: "this C library can"
    assert free_memory.trim_after_each_cell(shell) and free_memory.trim_after_each_cell(shell)
    shell.run_cell("x = 1")
    shell.run_cell("y = 2")
    assert len(calls) == 2
    monkeypatch.setattr(free_memory, "_malloc_trim", lambda: None)
    assert not free_memory.trim_after_each_cell(InteractiveShell())  # nothing to call: nothing registered


def test_setup_says_when_it_returns_memory(monkeypatch, capsys):
    import stylelab as sl

    registered = []
    monkeypatch.setattr("stylelab.course.notebook.trim_after_each_cell", lambda: registered.append(1) or True)
    monkeypatch.setenv("STYLELAB_TRIM", "1")
    sl.notebook.setup(weights="random", device="cpu")
    assert registered and "freed memory goes back to the server after each cell (STYLELAB_TRIM=0" in capsys.readouterr().out
    monkeypatch.setenv("STYLELAB_TRIM", "0")
    sl.notebook.setup(weights="random", device="cpu")
    assert len(registered) == 1 and "freed memory" not in capsys.readouterr().out
