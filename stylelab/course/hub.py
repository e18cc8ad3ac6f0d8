"""The JupyterHub side of a stylelab class: what an administrator installs once.

``python -m stylelab.course.classroom hub-setup --course-id nst-2026 --instructors ada`` (as root,
in the environment the users' servers run in) writes:

* the **exchange**, ``/srv/nbgrader/exchange``: writable by every user, with the sticky
  bit (mode ``1777``), so that nobody can rename or delete another user's files in it
  (without it a student could rename the instructor's released course);
* ``/etc/jupyter/nbgrader_config.py``: the course id and the exchange, read by every
  user's server (the students' Assignments tab) and every nbgrader command;
* ``/etc/jupyter/student/``: the Jupyter configuration of the students' servers, a folder
  the students cannot write. It turns off nbgrader's instructor tools (the formgrader, the
  course list, create-assignment), keeps JupyterLab's settings and workspaces in the
  student's home, and holds the marker that stops Jupyter from migrating old IPython
  settings into it;
* the hub's configuration snippet (by default The Littlest JupyterHub's
  ``/opt/tljh/config/jupyterhub_config.d/stylelab.py``): it points a student's server at
  that folder with ``JUPYTER_CONFIG_DIR``, so that nothing the student writes into
  ``~/.jupyter`` can turn the instructor tools on; the instructors keep the per-user
  folder and nbgrader's defaults (every tool on).

Why not nbgrader's documented per-level switches: with JupyterLab 4.1 and later the first
``jupyter labextension disable --level=sys_prefix`` *locks* the plugin it disables, after
which ``jupyter labextension enable --level=user`` answers "Extension locked at a higher
level" for the instructor too; and ``jupyter server extension enable --user`` refuses any
extension that the user's own folder does not list yet ("The module ... could not be
found"). Both were seen with nbgrader 0.9.6 and JupyterLab 4.6 (tests/course/hub/test_hub.py runs
this set-up on a real hub).

This hides tools; it is not what keeps grades safe. A student's formgrader could only read
what the student can read: the course folder stays private by its permissions
(``chmod 700``), not by a switched-off extension.
"""

from __future__ import annotations

import errno
import json
import re
import stat
import textwrap
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from ..files import write_atomic

__all__ = [
    "INSTRUCTOR_LAB_PLUGINS",
    "INSTRUCTOR_SERVER_EXTENSIONS",
    "DEFAULT_JUPYTER_ETC",
    "DEFAULT_HUB_CONFIG",
    "check_course_id",
    "nbgrader_config_text",
    "student_config_files",
    "hub_config_text",
    "setup_hub",
]

#: nbgrader's JupyterLab plugins that only instructors use.
INSTRUCTOR_LAB_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                          "@jupyter/nbgrader:course-list")
#: nbgrader's server extensions that only instructors use.
INSTRUCTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")
#: The system-wide Jupyter configuration folder (read by every user's server).
DEFAULT_JUPYTER_ETC = "/etc/jupyter"
#: Where The Littlest JupyterHub loads extra hub configuration from.
DEFAULT_HUB_CONFIG = "/opt/tljh/config/jupyterhub_config.d/stylelab.py"
#: The students' Jupyter configuration folder, inside the system-wide one.
STUDENT_FOLDER = "student"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
_COURSE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_course_id(course_id: object) -> str:
    """``course_id`` if nbgrader can use it as the name of a folder in its exchange, else one sentence.

    It must start with a letter or a digit and hold only letters, digits, ``_``, ``.`` and
    ``-`` (at most 64): ``.``, ``..``, ``../x`` or ``-rf`` would make nbgrader release
    outside the exchange folder or read as an option.
    """
    if not isinstance(course_id, str) or not _COURSE_ID.fullmatch(course_id):
        raise ValueError(
            f"The course id {course_id!r} must start with a letter or a digit and hold only letters, digits, "
            "'_', '.' and '-' (at most 64), e.g. 'nst-2026'."
        )
    return course_id


def nbgrader_config_text(course_id: str, exchange: str) -> str:
    """``/etc/jupyter/nbgrader_config.py``: the course and the exchange, for every user."""
    return textwrap.dedent(f"""\
        # Written by python -m stylelab.course.classroom hub-setup: read by every user's Jupyter server
        # (the students' Assignments tab) and by every nbgrader command on this hub.
        c = get_config()  # noqa: F821 - nbgrader provides get_config
        c.CourseDirectory.course_id = {course_id!r}
        c.Exchange.root = {exchange!r}
        """)


def student_config_files() -> Dict[str, str]:
    """The students' Jupyter configuration folder: ``{relative path: text}``."""
    page_config = {"disabledExtensions": {plugin: True for plugin in INSTRUCTOR_LAB_PLUGINS}}
    server = {"ServerApp": {"jpserver_extensions": {module: False for module in INSTRUCTOR_SERVER_EXTENSIONS}}}
    settings = textwrap.dedent("""\
        # Written by python -m stylelab.course.classroom hub-setup. This folder is the students' Jupyter
        # configuration (JUPYTER_CONFIG_DIR) and they cannot write it, so JupyterLab's own settings
        # and workspaces go to their home, as usual.
        import os

        c = get_config()  # noqa: F821 - Jupyter provides get_config
        c.LabServerApp.user_settings_dir = os.path.expanduser("~/.jupyter/lab/user-settings")
        c.LabServerApp.workspaces_dir = os.path.expanduser("~/.jupyter/lab/workspaces")
        """)
    return {
        "labconfig/page_config.json": json.dumps(page_config, indent=2) + "\n",
        "jupyter_server_config.json": json.dumps(server, indent=2) + "\n",
        "jupyter_server_config.py": settings,
        # Jupyter migrates ~/.ipython into the configuration folder unless this marker is there
        # (and, if it may not write the folder, fails to start).
        "migrated": "written by python -m stylelab.course.classroom hub-setup\n",
    }


def hub_config_text(instructors: Iterable[str], student_config: str) -> str:
    """The JupyterHub configuration snippet (a ``jupyterhub_config.d`` file)."""
    names = sorted(set(instructors))
    return textwrap.dedent(f"""\
        # Written by python -m stylelab.course.classroom hub-setup (see stylelab's notebooks/INSTRUCTORS.md).
        # A student's server reads its Jupyter configuration from {student_config}, which
        # students cannot write: nbgrader's formgrader, course list and create-assignment stay off
        # for them whatever they put into ~/.jupyter. Instructors and graders, listed here by their
        # hub user names, keep their own ~/.jupyter and nbgrader's defaults: every tool on.
        INSTRUCTORS = {set(names)!r}
        STUDENT_CONFIG = {student_config!r}


        def _jupyter_config_dir(spawner):
            # "" means the default, ~/.jupyter
            return "" if spawner.user.name in INSTRUCTORS else STUDENT_CONFIG


        c.Spawner.environment.update({{"JUPYTER_CONFIG_DIR": _jupyter_config_dir}})  # noqa: F821
        # Each student's kernels use one CPU thread on a hub (stylelab's default when
        # JUPYTERHUB_USER is set); to give them more, e.g.:
        # c.Spawner.environment.update({{"STYLELAB_THREADS": "2"}})
        # They also hand freed memory back to the server after each cell (STYLELAB_TRIM=0 stops it).
        # Less memory per kernel for more CPU (measured in INSTRUCTORS.md, "How many students one
        # server holds"): glibc returns every block of 1 MiB or more as soon as it is freed.
        # c.Spawner.environment.update({{"MALLOC_MMAP_THRESHOLD_": "1048576", "MALLOC_TRIM_THRESHOLD_": "1048576"}})
        """)


def _check_name(kind: str, value: str) -> None:
    if not (isinstance(value, str) and _NAME.fullmatch(value)):
        raise ValueError(f"The {kind} {value!r} may hold only letters, digits, '.', '_', '@' and '-'.")


def _check_exchange(path: Path) -> Optional[str]:
    """What is wrong with an existing exchange folder, or None."""
    if not path.is_dir():
        return f"{path} exists but is not a folder; remove it or choose another --exchange."
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o1777 != 0o1777:
        return (f"The exchange {path} has mode {mode:o}; it needs 1777 (every user may write, with the sticky "
                f"bit so that no one can rename another user's files): chmod 1777 {path}")
    return None


def setup_hub(course_id: str, instructors: Sequence[str], *, exchange: str,
              jupyter_etc: str | Path = DEFAULT_JUPYTER_ETC, hub_config: str | Path = DEFAULT_HUB_CONFIG,
              force: bool = False) -> List[Path]:
    """Create the exchange and write the hub's files (see the module docstring).

    Args:
        course_id: nbgrader's course id (as in the course's ``nbgrader_config.py``).
        instructors: the hub user names that keep nbgrader's instructor tools.
        exchange: the exchange folder (absolute); created with mode 1777 if missing.
        jupyter_etc: the system-wide Jupyter configuration folder; the students' folder
            is its ``student/`` subfolder.
        hub_config: the JupyterHub configuration snippet to write.
        force: replace files that exist (without it, an existing file is an error and
            nothing is written).

    Returns:
        The paths created or written, the exchange first.
    """
    check_course_id(course_id)
    if not instructors:
        raise ValueError("Name at least one instructor (--instructors), the hub user who grades.")
    for name in instructors:
        _check_name("instructor name", name)
    exchange_path, etc, snippet = Path(exchange), Path(jupyter_etc), Path(hub_config)
    for what, path in (("exchange", exchange_path), ("jupyter_etc", etc), ("hub_config", snippet)):
        if not path.is_absolute():
            raise ValueError(f"{what} must be an absolute path, not {str(path)!r}.")
    if exchange_path.exists():
        problem = _check_exchange(exchange_path)
        if problem:
            raise ValueError(problem)
    students = etc / STUDENT_FOLDER
    files = {etc / "nbgrader_config.py": nbgrader_config_text(course_id, str(exchange_path)),
             snippet: hub_config_text(instructors, str(students))}
    files.update({students / name: text for name, text in student_config_files().items()})
    existing = [path for path in files if path.exists()]
    if existing and not force:
        raise FileExistsError(f"{existing[0]} already exists; pass force=True (--force) to replace it.")
    written = []
    try:
        if not exchange_path.exists():
            exchange_path.mkdir(parents=True)
            exchange_path.chmod(0o1777)
            written.append(exchange_path)
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            write_atomic(path, text, what="the hub's configuration")
            path.chmod(0o644)  # every user's server reads it, whatever root's umask
            written.append(path)
    except OSError as exc:  # FileWriteError from write_atomic is an OSError with its errno
        if exc.errno not in (errno.EACCES, errno.EPERM):
            raise
        raise PermissionError(
            f"Could not write {exc.filename}: permission denied; run hub-setup as root (sudo -E), "
            "in the environment the users' servers run in."
        ) from None
    return written
