"""Colab links, from one place: ``[project.urls] Repository`` in ``pyproject.toml``.

stylelab has no public repository yet, so that key is absent and no Colab link or badge is
shown anywhere: a link to an address that does not exist would only send a learner to an
error page. Once the repository is public, set the key, e.g.::

    [project.urls]
    Repository = "https://github.com/OWNER/stylelab"

and run ``python -m stylelab.course.colab --write``: it rewrites the first code cell of every
lesson (the Colab install cell) and the generated blocks in ``README.md`` and
``notebooks/README.md``. ``python -m stylelab.course.colab`` alone only checks them, as
``tests/test_notebooks.py`` does.

Colab opens notebooks straight from GitHub, so links are made only for ``github.com``
addresses, on the ``main`` branch.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import List, Optional, Sequence

from ..files import write_atomic

__all__ = ["repository_url", "repository_from_pyproject", "colab_link", "colab_cell", "readme_block"]

ROOT = Path(__file__).resolve().parents[2]
LESSON_NAME = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BLOCK = re.compile(r"(<!-- colab:start[^>]*-->\n)(.*?)(<!-- colab:end -->)", re.DOTALL)
_GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def repository_url() -> Optional[str]:
    """The ``Repository`` URL of the installed stylelab (``[project.urls]``), or ``None``."""
    try:
        entries = metadata.metadata("stylelab").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in entries:  # "Repository, https://..."
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository" and url.strip():
            return url.strip()
    return None


def repository_from_pyproject(path: Path = ROOT / "pyproject.toml") -> Optional[str]:
    """``[project.urls] Repository`` read from a source checkout's ``pyproject.toml``, or ``None``."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    with open(path, "rb") as handle:
        project = tomllib.load(handle).get("project", {})
    url = project.get("urls", {}).get("Repository")
    return url.strip() if isinstance(url, str) and url.strip() else None


def _github(repository: Optional[str]):
    match = _GITHUB.match(repository or "")
    return match.groups() if match else None


def colab_link(repository: Optional[str], notebook: str) -> Optional[str]:
    """The Colab address of ``notebooks/<notebook>``, or ``None`` without a GitHub repository."""
    parts = _github(repository)
    if parts is None:
        return None
    owner, name = parts
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/main/notebooks/{notebook}"


def colab_cell(repository: Optional[str]) -> str:
    """The first code cell of every lesson. It does something only on Colab."""
    lines = [
        "# On Google Colab, install stylelab first (this cell does nothing anywhere else).",
        "import sys",
        'if "google.colab" in sys.modules:',
        "    import os, subprocess",
    ]
    if repository:
        lines += [
            '    if not os.path.isdir("/content/stylelab"):',
            f'        subprocess.run(["git", "clone", "--depth=1", {json.dumps(repository)}, "/content/stylelab"], check=True)',
        ]
    else:
        lines += [
            "    # stylelab is not published yet: upload your copy of the stylelab folder",
            "    # to /content/stylelab (Files pane) before running this cell.",
        ]
    lines += [
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/stylelab"], check=True)',
        '    sys.path.insert(0, "/content/stylelab")',
        '    os.chdir("/content/stylelab/notebooks")',
    ]
    return "\n".join(lines)


def lessons(folder: Path = ROOT / "notebooks") -> List[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if LESSON_NAME.match(p.name))


def readme_block(repository: Optional[str], readme: str, names: Sequence[str]) -> str:
    """The generated Colab text of ``README.md`` or ``notebooks/README.md`` (``readme``)."""
    if _github(repository) is None:
        if readme == "notebooks/README.md":
            return ("There is no public copy of stylelab yet, so the lessons have no \"Open in Colab\" "
                    "links: run them on your own machine as described below.\n")
        return ""
    if readme == "README.md":
        return f"[![Open in Colab]({BADGE})]({colab_link(repository, names[0])}) (lesson 1 on Google Colab)\n"
    return "".join(f"- `{name[:-6]}`: [![Open in Colab]({BADGE})]({colab_link(repository, name)})\n" for name in names)


def _first_code_cell(notebook: dict) -> dict:
    return next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")


def sync(write: bool = False, root: Path = ROOT) -> List[str]:
    """Compare (or, with ``write``, rewrite) the Colab cells and README blocks; returns what differed."""
    repository = repository_from_pyproject(root / "pyproject.toml")
    names = [p.name for p in lessons(root / "notebooks")]
    stale = []
    for path in lessons(root / "notebooks"):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cell = _first_code_cell(notebook)
        wanted = colab_cell(repository)
        if "".join(cell["source"]).strip() != wanted:
            stale.append(str(path.relative_to(root)))
            if write:
                cell["source"] = wanted.splitlines(keepends=True)
                write_atomic(path, json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n",
                             what="the notebook")
    for readme in ("README.md", "notebooks/README.md"):
        path = root / readme
        text = path.read_text(encoding="utf-8")
        match = BLOCK.search(text)
        if match is None:
            stale.append(f"{readme} (no <!-- colab:start --> ... <!-- colab:end --> block)")
            continue
        wanted = readme_block(repository, readme, names)
        if match.group(2) != wanted:
            stale.append(readme)
            if write:
                write_atomic(path, text[: match.start(2)] + wanted + text[match.end(2):], what="the README")
    return stale


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylelab.course.colab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite what differs instead of only reporting it")
    args = parser.parse_args(argv)
    stale = sync(write=args.write)
    repository = repository_from_pyproject()
    print(f"[project.urls] Repository: {repository or 'not set (no Colab links)'}")
    for item in stale:
        print(("rewrote " if args.write else "out of date: ") + item)
    return 0 if args.write or not stale else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
