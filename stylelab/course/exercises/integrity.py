"""What a student's kernel changed on disk while nbgrader ran it, and putting back what matters.

``nbgrader autograde`` runs each submission in a Jupyter kernel as the instructor's own user,
so a submission's code can write wherever the instructor can: the gradebook, the course's
config, the installed stylelab, other students' files. Nothing inside the kernel can prevent
that, so the autograder takes a :class:`Snapshot` right before the kernel runs and compares
after it (:meth:`Snapshot.compare`):

* the gradebook (an SQLite file) and ``nbgrader_config.py`` are put back byte for byte
  (an SQLite journal the kernel left is removed), so a score written there is undone;
* stylelab's own files are put back too (a changed checker would grade the next students);
* any other file of the course folder (outside the submission's own folder), any new file
  at the top of a folder Python imports from (a ``.pth``, a ``sitecustomize.py``) and any
  IPython startup file are reported.

Every change is a reason to flag the submission. What this cannot undo is said in
notebooks/INSTRUCTORS.md: the safe way to grade untrusted code is a container or a separate
user for ``nbgrader autograde``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from ...files import write_atomic

__all__ = ["Snapshot", "sqlite_path"]

_Listing = Dict[str, Tuple[int, int]]
_IGNORED = (".nbgrader.log",)
_JOURNALS = ("-journal", "-wal", "-shm")


def sqlite_path(db_url: str) -> Optional[Path]:
    """The file of an ``sqlite:///...`` database URL (nbgrader's default), else None."""
    prefix = "sqlite:///"
    return Path(db_url[len(prefix):]).resolve() if db_url.startswith(prefix) and db_url != prefix else None


def _listing(root: Path, skip: Iterable[Path] = ()) -> _Listing:
    """``{path: (size, mtime in ns)}`` of every file under ``root``, except under ``skip``."""
    skipped = {str(p) for p in skip}
    found: _Listing = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skipped]
        for name in files:
            path = os.path.join(folder, name)
            if path in skipped or name in _IGNORED:
                continue
            try:
                stat = os.lstat(path)
            except OSError:
                continue
            found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def _top_level(folders: Iterable[str], skip: Iterable[Path] = ()) -> _Listing:
    """The files directly inside each folder (where a ``.pth`` or ``sitecustomize.py`` would be dropped)."""
    skipped = {str(p) for p in skip}
    found: _Listing = {}
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.path in skipped or entry.name in _IGNORED:
                continue
            try:
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            found[entry.path] = (stat.st_size, stat.st_mtime_ns)
    return found


def _differences(before: _Listing, after: _Listing) -> List[str]:
    changed = [f"changed {p}" for p in before if p in after and after[p] != before[p]]
    return changed + [f"removed {p}" for p in before if p not in after] + [f"created {p}" for p in after if p not in before]


def _read(path: Path) -> Optional[bytes]:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _put_back(path: Path, data: Optional[bytes]) -> None:
    """Write ``data`` to ``path`` atomically (or remove ``path`` if it did not exist)."""
    if data is None:
        path.unlink(missing_ok=True)
        return
    write_atomic(path, data, what=f"the restored {path.name}")


@dataclass
class Snapshot:
    """The state of what a submission's kernel must not change; take it right before the kernel runs.

    Args:
        course: the course folder (nbgrader's ``CourseDirectory.root``).
        own: the submission's own folder (the kernel's working folder), where writing is fine.
        gradebook: the gradebook's file, if it is SQLite.
        package: the folder of the stylelab package that grades.
    """

    course: Path
    own: Path
    gradebook: Optional[Path]
    package: Path = field(default_factory=lambda: Path(__file__).resolve().parents[2])
    files: Dict[Path, Optional[bytes]] = field(default_factory=dict, init=False)
    listings: Dict[str, _Listing] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        kept = [self.course / "nbgrader_config.py"]
        if self.gradebook is not None:
            kept += [self.gradebook, *(self.gradebook.with_name(self.gradebook.name + j) for j in _JOURNALS)]
        kept += [p for p in self.package.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        self.files = {path: _read(path) for path in kept}
        self.listings = self._listings()

    def _listings(self) -> Dict[str, _Listing]:
        skip = [self.own, *(p for p in self.files)]
        startup = Path.home() / ".ipython" / "profile_default" / "startup"
        return {"course": _listing(self.course, skip), "package": _listing(self.package),
                "import path": _top_level([p for p in sys.path if p and os.path.isdir(p)] + [str(startup)], skip)}

    def compare(self, restore: bool = True) -> List[str]:
        """What changed since the snapshot (``[]``: nothing); with ``restore``, the kept files are put back."""
        found = []
        for path, data in self.files.items():
            if _read(path) != data:
                found.append(f"{'restored' if restore else 'changed'} {path}")
                if restore:
                    _put_back(path, data)
        now = self._listings()
        for name in ("course", "package", "import path"):
            for change in _differences(self.listings[name], now[name]):
                what, path = change.split(" ", 1)
                if name == "package" and "__pycache__" in Path(path).parts:
                    if restore:  # a kernel may compile modules on first import: remove, Python compiles them again
                        Path(path).unlink(missing_ok=True)
                    continue
                if name == "package" and what == "created" and restore:
                    Path(path).unlink(missing_ok=True)
                found.append(change)
        return found
