"""The one safe writer and the untrusting reader (stylelab.files, issue 20)."""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import subprocess
import sys
import time

import pytest

import stylelab as sl
from stylelab import files


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture()
def umask():
    """Set the umask for one test, then put the old one back."""
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


def _mounted(folder, options):
    """Mount a tmpfs at ``folder`` (root only); skip where that is impossible."""
    folder.mkdir()
    if shutil.which("mount") is None or (hasattr(os, "geteuid") and os.geteuid() != 0):
        pytest.skip("mounting a small file system needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")


@pytest.fixture()
def small_disk(tmp_path):
    """A real 64 KiB file system: writes past it fail with ENOSPC."""
    folder = tmp_path / "small"
    _mounted(folder, "size=64k,mode=0777")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)  # lazy: detached even if busy


@pytest.fixture()
def read_only_disk(tmp_path):
    folder = tmp_path / "readonly"
    _mounted(folder, "size=64k,ro")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)  # lazy: detached even if busy


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_files_and_folders_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    path = files.write_atomic(tmp_path / "a" / "b" / "out.bin", b"data")
    assert path.read_bytes() == b"data" and stat.S_IMODE(path.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o777 & ~mask
    assert _names(path.parent) == ["out.bin"]


def test_a_replaced_file_keeps_its_permissions_and_is_never_partial(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    path.chmod(0o640)
    files.write_atomic(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_link_is_replaced_not_written_through(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("mine")
    (tmp_path / "link.txt").symlink_to(precious)
    files.write_atomic(tmp_path / "link.txt", "new")
    assert precious.read_text() == "mine" and not (tmp_path / "link.txt").is_symlink()


def _fail_at_the_write(monkeypatch, error, after=0):
    """Make the writer's single os.write call fail once ``after`` bytes were written."""
    real = files._write_some
    seen = {"bytes": 0}

    def write(handle, data):
        if seen["bytes"] >= after:
            raise error
        seen["bytes"] += len(data)
        return real(handle, data)

    monkeypatch.setattr(files, "_write_some", write)


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   OSError(getattr(errno, "EDQUOT", errno.ENOSPC), "Disk quota exceeded")])
def test_a_full_disk_is_one_sentence_and_leaves_nothing(tmp_path, monkeypatch, error):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old contents")
    _fail_at_the_write(monkeypatch, error, after=1)
    with pytest.raises(sl.FileWriteError) as info:
        files.write_atomic(path, [b"x" * 10, b"y" * 10], what="the result")
    assert isinstance(info.value, OSError) and info.value.errno == error.errno
    assert str(info.value).startswith("There is no space left on the disk for the result") and "\n" not in str(info.value)
    assert path.read_bytes() == b"old contents" and _names(tmp_path) == ["out.bin"]


def test_a_full_disk_for_real(small_disk):
    path = small_disk / "big.bin"
    path.write_bytes(b"old")
    with pytest.raises(sl.FileWriteError, match="no space left on the disk") as info:
        files.write_atomic(path, os.urandom(256 * 1024))
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old" and _names(small_disk) == ["big.bin"]
    files.write_atomic(path, b"small enough")  # the space the failed write took was given back
    assert path.read_bytes() == b"small enough"


def test_a_read_only_disk_for_real(read_only_disk):
    with pytest.raises(sl.FileWriteError, match="is on a read-only file system"):
        files.write_atomic(read_only_disk / "out.bin", b"x")


@pytest.mark.parametrize("interruption", [KeyboardInterrupt(), MemoryError()])
def test_ctrl_c_in_the_middle_leaves_nothing(tmp_path, monkeypatch, interruption):
    _fail_at_the_write(monkeypatch, interruption, after=1)
    with pytest.raises(type(interruption)):
        files.write_atomic(tmp_path / "out.bin", [b"a", b"b"])
    assert _names(tmp_path) == []


def test_an_error_of_the_source_passes_through_and_leaves_nothing(tmp_path):
    def chunks():
        yield b"first"
        raise sl.DownloadError("the checksum did not match")

    with pytest.raises(sl.DownloadError, match="checksum"):
        files.write_atomic(tmp_path / "out.bin", chunks())
    assert _names(tmp_path) == []


def test_no_permission_is_one_sentence(tmp_path, monkeypatch):
    real_open = os.open

    def refuse(path, *args, **kwargs):  # root may write anywhere: the refusal is simulated
        if str(path).startswith(str(tmp_path / "locked")):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, *args, **kwargs)

    (tmp_path / "locked").mkdir()
    monkeypatch.setattr(files.os, "open", refuse)
    with pytest.raises(sl.FileWriteError, match=r"No permission to write the file in '.*locked'; choose a folder"):
        files.write_atomic(tmp_path / "locked" / "out.bin", b"x")


@pytest.mark.parametrize("case, message", [
    ("target_is_a_folder", "is a folder, so the file cannot be written there; give a file name inside it"),
    ("folder_is_a_file", "is a file, not a folder; choose another folder"),
    ("folder_under_a_file", "is a file, not a folder; choose another folder"),
    ("name_300_characters", "is 300 bytes long, more than the 255 that file systems allow"),
    ("path_5000_characters", "bytes long, more than the 4096 that this system allows; choose a shorter path"),
])
def test_odd_targets_are_one_sentence(tmp_path, case, message):
    (tmp_path / "a_file").write_text("mine")
    target = {
        "target_is_a_folder": tmp_path,
        "folder_is_a_file": tmp_path / "a_file" / "out.bin",
        "folder_under_a_file": tmp_path / "a_file" / "deeper" / "out.bin",
        "name_300_characters": tmp_path / ("n" * 296 + ".png"),
        "path_5000_characters": tmp_path.joinpath(*["d" * 200] * 25, "out.bin"),
    }[case]
    with pytest.raises(sl.FileWriteError) as info:
        files.write_atomic(target, b"x")
    assert message in str(info.value) and "\n" not in str(info.value) and len(str(info.value)) < 400
    assert (tmp_path / "a_file").read_text() == "mine"
    assert not [p for p in tmp_path.rglob("*") if files.is_temporary(p.name)]


def test_a_name_of_255_bytes_can_be_written(tmp_path):
    # The temporary file's name must not be longer than the target's allows.
    path = files.write_atomic(tmp_path / ("n" * 251 + ".png"), b"x")
    assert path.read_bytes() == b"x" and _names(tmp_path) == [path.name]


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    # A SIGKILLed convert left a 56 MiB .tmp behind for ever before issue 20.
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(finished.stdout)
    host = files._host_tag()
    stale = tmp_path / f".out.bin.{host}-{dead}.0123abcd.tmp"
    live = tmp_path / f".out.bin.{host}-{os.getpid()}.0123abcd.tmp"  # a write in progress in this process
    elsewhere = tmp_path / f".out.bin.{'0000' if host != '0000' else '1111'}-{dead}.0123abcd.tmp"  # another machine
    old = tmp_path / f".other.bin.{'0000' if host != '0000' else '1111'}-{dead}.89abcdef.tmp"
    yours = tmp_path / ".notes.tmp"
    for path in (stale, live, elsewhere, old, yours):
        path.write_bytes(b"partial")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    files.write_atomic(tmp_path / "out.bin", b"whole")
    assert _names(tmp_path) == sorted([live.name, elsewhere.name, yours.name, "out.bin"])


# --------------------------------------------------------------------------- reading


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX named pipes and devices")
def test_only_regular_files_are_ever_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "nothing").symlink_to(tmp_path / "missing")
    (tmp_path / "folder").mkdir()
    (tmp_path / "big").write_bytes(b"x" * 100)
    expected = {"pipe": "is a named pipe (FIFO)", "zero": "is a device", "nothing": "is a link to nothing",
                "folder": "is a folder", "big": "is 100 bytes, more than such a file can hold (99)"}
    for name, message in expected.items():
        with pytest.raises(sl.FileReadError, match=re.escape(message)):
            files.read_regular(tmp_path / name, limit=99, what="the cache entry")
    assert files.read_regular(tmp_path / "missing", limit=99) is None
    assert files.read_regular(tmp_path / "a_file" / "below", limit=99) is None
    assert files.read_regular(tmp_path / "big", limit=100) == b"x" * 100
    assert files.read_regular(tmp_path / "big", limit=0, first=3) == b"xxx"


# --------------------------------------------------------------------------- one writer for the whole package

_BYPASSES = re.compile(
    r"\.write_text\(|\.write_bytes\(|\bos\.(replace|rename)\(|\.replace\(folder|mkstemp\(|NamedTemporaryFile\("
    r"|json\.dump\(|\bopen\([^)]*,\s*[\"'][wax]|torch\.save\((?![^,()]+,\s*buffer\))|np\.save\((?!buffer,)"
)
#: Writes that are not files of the package's own: a command to the kernel.
_ALLOWED = {("measure.py", 'with open(clear_refs, "w") as handle:')}


def test_every_file_the_package_writes_goes_through_the_safe_writer():
    package = os.path.dirname(sl.__file__)
    found = []
    for folder, _, names in os.walk(package):
        for name in names:
            if not name.endswith(".py") or name == "files.py":
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as source:
                lines = source.read().splitlines()
            for number, line in enumerate(lines, 1):
                code = line.split("#")[0]
                if _BYPASSES.search(code) and (name, code.strip()) not in _ALLOWED:
                    found.append(f"{os.path.relpath(path, package)}:{number}: {line.strip()}")
    assert found == [], "write these through stylelab.files.write_atomic:\n" + "\n".join(found)


_KILLED_MID_WRITE = """
import os, signal, sys
from stylelab import files
real = files._write_some
def write_then_die(handle, data):
    real(handle, data[:10])
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup can run: what a power cut or the OOM killer does
files._write_some = write_then_die
files.write_atomic(sys.argv[1], b"x" * 1000)
"""


@pytest.mark.slow  # starts a Python process that imports stylelab
@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGKILL"), reason="POSIX signals")
def test_a_writer_killed_mid_write_leaves_a_recognisable_file_that_the_next_write_removes(tmp_path):
    target = tmp_path / "vgg16-imagenet-caffe.pth"
    done = subprocess.run([sys.executable, "-c", _KILLED_MID_WRITE, str(target)], capture_output=True,
                          env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(sl.__file__))})
    assert done.returncode == -9
    (left,) = tmp_path.iterdir()
    assert files.is_temporary(left.name) and left.read_bytes() == b"x" * 10 and not target.exists()
    files.write_atomic(target, b"whole")
    assert _names(tmp_path) == [target.name] and target.read_bytes() == b"whole"
