"""The hub's files (``stylelab.course.hub``): written, checked, and read back as Jupyter reads them.

A real hub runs them in ``tests/course/hub/test_hub.py`` (slow); these tests only check the files.
"""

from __future__ import annotations

import json
import stat
from types import SimpleNamespace

import pytest
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from stylelab.course import classroom, hub


def _setup(tmp_path, **changes):
    settings = dict(exchange=str(tmp_path / "srv" / "exchange"), jupyter_etc=tmp_path / "etc" / "jupyter",
                    hub_config=tmp_path / "tljh" / "jupyterhub_config.d" / "stylelab.py")
    settings.update(changes)
    return hub.setup_hub("nst-2026", ["ada", "grace"], **settings)


def _spawner(name):
    return SimpleNamespace(user=SimpleNamespace(name=name))


def test_setup_creates_a_sticky_exchange_and_the_files_every_user_reads(tmp_path):
    written = _setup(tmp_path)
    exchange = tmp_path / "srv" / "exchange"
    assert written[0] == exchange and stat.S_IMODE(exchange.stat().st_mode) == 0o1777
    etc = tmp_path / "etc" / "jupyter"
    config = PyFileConfigLoader("nbgrader_config.py", str(etc)).load_config()
    assert config.CourseDirectory.course_id == "nst-2026" and config.Exchange.root == str(exchange)
    students = etc / "student"
    page = json.loads((students / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"] == {plugin: True for plugin in hub.INSTRUCTOR_LAB_PLUGINS}
    server = json.loads((students / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"] == {m: False for m in hub.INSTRUCTOR_SERVER_EXTENSIONS}
    lab = PyFileConfigLoader("jupyter_server_config.py", str(students)).load_config()
    assert lab.LabServerApp.user_settings_dir.endswith("/.jupyter/lab/user-settings")
    assert (students / "migrated").is_file()
    for path in written[1:]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_the_hub_snippet_gives_students_the_read_only_folder_and_instructors_their_own(tmp_path):
    _setup(tmp_path)
    c = Config()
    snippet = tmp_path / "tljh" / "jupyterhub_config.d" / "stylelab.py"
    exec(compile(snippet.read_text(), str(snippet), "exec"), {"c": c})  # noqa: S102 - our own file
    environment = c.Spawner.environment.get_value({})
    choose = environment["JUPYTER_CONFIG_DIR"]
    assert choose(_spawner("ben")) == str(tmp_path / "etc" / "jupyter" / "student")
    assert choose(_spawner("ada")) == "" and choose(_spawner("grace")) == ""  # "": the default ~/.jupyter


def test_setup_refuses_a_world_writable_exchange_without_the_sticky_bit_and_writes_nothing(tmp_path):
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    with pytest.raises(ValueError, match="needs 1777 .*chmod 1777"):
        _setup(tmp_path, exchange=str(exchange))
    assert not (tmp_path / "etc").exists() and not (tmp_path / "tljh").exists()
    exchange.chmod(0o1777)
    assert _setup(tmp_path, exchange=str(exchange))[0] != exchange  # an existing good exchange is kept


def test_setup_never_writes_over_without_force_and_checks_its_arguments(tmp_path):
    _setup(tmp_path)
    with pytest.raises(FileExistsError, match="nbgrader_config.py already exists; pass force=True"):
        _setup(tmp_path)
    assert _setup(tmp_path, force=True)
    with pytest.raises(ValueError, match="absolute path"):
        _setup(tmp_path, jupyter_etc="etc")
    with pytest.raises(ValueError, match="instructor name 'a b'"):
        hub.setup_hub("nst", ["a b"], exchange=str(tmp_path / "x"))
    with pytest.raises(ValueError, match="at least one instructor"):
        hub.setup_hub("nst", [], exchange=str(tmp_path / "x"))


def test_command_line_runs_the_setup_and_explains_what_failed(tmp_path, capsys):
    args = ["hub-setup", "--course-id", "nst", "--instructors", "ada", "--exchange", str(tmp_path / "exchange"),
            "--jupyter-etc", str(tmp_path / "etc"), "--hub-config", str(tmp_path / "hub.py")]
    assert classroom.main(args) == 0
    assert f"wrote {tmp_path / 'hub.py'}" in capsys.readouterr().out
    assert classroom.main(args) == 2
    assert "already exists; pass force=True" in capsys.readouterr().err
