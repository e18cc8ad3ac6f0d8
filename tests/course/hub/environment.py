"""A copy of this test run's Python environment that every Linux user can run.

The hub's users run as Linux accounts that the test creates, and those accounts must run
the same Python, JupyterHub, nbgrader and PyTorch as the test. The environment that runs
the tests is often out of their reach: here the virtual environment's interpreter is a
link into ``/root/.pyenv`` (``/root`` is ``drwx------``), and a CI checkout may sit under a
private home too. A ``--system-site-packages`` venv would not help, since the packages
live in the virtual environment itself.

So the test builds a replica in its temporary folder, of hard links where it can (same
file system: no bytes are copied, and the files keep their own, world-readable, modes;
copies elsewhere):

* the base interpreter (``sys.base_prefix`` without its own ``site-packages``), when other
  users cannot reach it: the venv's ``bin/python`` points into it and its ``libpython``
  lives there (``/usr``, as on a CI machine's Debian Python, is used as it is);
* the virtual environment (``sys.prefix``) with ``bin/python`` pointing at that base,
  its scripts' ``#!`` lines and ``pyvenv.cfg`` rewritten, and ``etc/`` copied rather than
  linked (the test enables and disables Jupyter extensions there, as an administrator
  does in a shared environment, and a write through a hard link would change the
  original);
* stylelab installed from this checkout as a plain package (what ``pip install .``
  puts into a student's environment: the package, without the repository's
  ``notebooks/solutions``), in place of the editable install.

Nothing outside the target folder is written; files are never written through a link
(a rewritten file is unlinked first).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Environment:
    """The replica: ``prefix`` (the venv), its ``python`` and the variables it needs."""

    prefix: Path
    base: Path
    base_copied: bool

    @property
    def python(self) -> Path:
        return self.prefix / "bin" / "python"

    @property
    def bin(self) -> Path:
        return self.prefix / "bin"

    @property
    def site_packages(self) -> Path:
        return self.prefix / Path(sysconfig.get_path("purelib")).relative_to(sys.prefix)

    def variables(self) -> Dict[str, str]:
        """What a process needs to run the replica: its ``bin`` first on ``PATH`` and, for a
        copied base, its ``lib`` (the interpreter's RUNPATH names the original's ``libpython``)."""
        variables = {"PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin"}
        if self.base_copied:
            variables["LD_LIBRARY_PATH"] = str(self.base / "lib")
        return variables


def reachable_by_all(path: Path) -> bool:
    """Whether every user can reach ``path``: each folder above it searchable by others, and
    the path itself readable by them."""
    path = path.resolve()
    if not path.stat().st_mode & stat.S_IROTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(source, target)


def _replicate(source: Path, target: Path, *, skip: set, copy: set, old: str, new: str) -> None:
    """``target`` becomes ``source`` made of hard links; ``skip``ped and ``copy``'d paths are
    relative to ``source``; absolute symbolic links into ``old`` are pointed into ``new``."""
    for folder, dirs, files in os.walk(source):
        here = Path(folder)
        relative = here.relative_to(source)
        dirs[:] = [d for d in dirs if str(relative / d) not in skip]
        destination = target / relative
        destination.mkdir(mode=0o755, exist_ok=True)
        copying = bool(relative.parts) and relative.parts[0] in copy
        for name in files + [d for d in dirs if (here / d).is_symlink()]:
            path, out = here / name, destination / name
            if str(relative / name) in skip:
                continue
            if path.is_symlink():
                link = os.readlink(path)
                os.symlink(new + link[len(old):] if link.startswith(old + os.sep) else link, out)
            elif copying:
                shutil.copy2(path, out)
            else:
                _link_or_copy(path, out)
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]


def _rewrite(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` without touching the file it may be a hard link of."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    path.unlink(missing_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def build(target: Path) -> Environment:
    """Replicate the running virtual environment into ``target`` (a new folder in a
    world-readable one), and its base interpreter too unless every user can reach it."""
    target.mkdir(mode=0o755)
    prefix, base = Path(sys.prefix), Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = Path(sysconfig.get_paths(vars={"installed_base": str(base), "base": str(base)})["stdlib"])
    copy_base = not (reachable_by_all(Path(sys.executable)) and reachable_by_all(stdlib / "os.py"))
    new_base, new_prefix = (target / "base" if copy_base else base), target / "venv"
    if copy_base:
        _replicate(base, new_base, skip={f"lib/{version}/site-packages", "include", "share"}, copy=set(),
                   old=str(base), new=str(new_base))
    _replicate(prefix, new_prefix, skip=set(), copy={"etc"}, old=str(prefix), new=str(new_prefix))
    for name in os.listdir(new_prefix / "bin"):
        path = new_prefix / "bin" / name
        if path.is_symlink() and copy_base and os.readlink(path).startswith(str(base) + os.sep):
            path.unlink()
            path.symlink_to(str(new_base) + os.readlink(prefix / "bin" / name)[len(str(base)):])
        elif path.is_file() and not path.is_symlink():
            head = path.read_bytes()[:200]
            if head.startswith(b"#!" + str(prefix).encode()):
                _rewrite(path, path.read_text(encoding="utf-8").replace(str(prefix), str(new_prefix), 1))
    config = (prefix / "pyvenv.cfg").read_text(encoding="utf-8")
    _rewrite(new_prefix / "pyvenv.cfg", config.replace(str(base), str(new_base)).replace(str(prefix), str(new_prefix)))
    environment = Environment(new_prefix, new_base, copy_base)
    site = environment.site_packages
    for leftover in list(site.glob("__editable__*stylelab*")) + list(site.glob("stylelab")):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    shutil.copytree(REPO / "stylelab", site / "stylelab", ignore=shutil.ignore_patterns("__pycache__"))
    for folder, dirs, files in os.walk(site / "stylelab"):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    return environment
