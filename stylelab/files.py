"""Every file stylelab writes, written safely; the files it reads back, read without trust.

**Writing.** Every file the package writes (images, the result cache, the normalisation
cache, the converted network, the nbgrader course, the gallery, downloads) goes through
:func:`write_atomic`:

* *atomic*: the bytes go to a temporary file in the target's folder, are flushed to the
  disk (``fsync``) and only then renamed over the target (``os.replace``), so the target
  holds its old contents or the whole new file, never a part of one;
* *permissions follow the umask*, as for any file a program creates: the temporary file is
  created with mode ``0o666`` and the kernel masks it (``0o644`` under the usual umask
  ``022``), so a cache an instructor builds can be read by the students. A file that is
  replaced keeps its own permission bits. Folders are created the same way (``0o777``
  masked);
* *nothing is left behind*: the temporary file is removed on any failure, a full disk
  and Ctrl-C included. One left by a process that was killed (``SIGKILL``, a power cut)
  is recognisable by its name, ``.<name>.<host>-<pid>.<random>.tmp``
  (:func:`is_temporary`), and the next write into that folder removes it once that
  process is gone (:func:`remove_stale_temporaries`);
* *one sentence*: every failure is a :class:`~stylelab.FileWriteError` (an ``OSError``
  and an :class:`~stylelab.OutputPathError`) that names the problem and the fix: the disk
  is full, the target is a folder, a folder on its path is a file, a name is too long
  for the file system, or there is no permission.

**Reading.** :func:`read_regular` reads a file that stylelab wrote earlier (a cache
entry) without trusting what is there now: it never opens anything but a regular file (a
named pipe would block the reader forever, ``/dev/zero`` would fill the memory; a link to
one is refused before it is opened), and it reads at most a given number of bytes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator, Optional, Union

from .errors import FileReadError, FileWriteError

__all__ = [
    "write_atomic",
    "make_folder",
    "read_regular",
    "is_temporary",
    "temporary_target",
    "remove_stale_temporaries",
    "path_too_long",
    "NAME_MAX",
    "PATH_MAX",
    "STALE_AFTER",
]

#: Longest file name, in bytes, that common file systems allow (ext4, APFS, NTFS, tmpfs).
NAME_MAX = 255
#: Longest path, in bytes, that the system allows (Linux's PATH_MAX; 1024 on macOS).
PATH_MAX = 1024 if sys.platform == "darwin" else 4096
#: Seconds after which a temporary file counts as stale even if its process cannot be checked
#: (it was written on another machine, or in another container, sharing the folder).
STALE_AFTER = 24 * 3600
#: Characters of the target's name kept in its temporary file's name (which must stay below NAME_MAX).
_NAME_KEPT = 40
_TEMPORARY = re.compile(r"^\.(?P<name>.*)\.(?P<host>[0-9a-f]{4})-(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$", re.DOTALL)
_CHUNK = 1 << 20

Data = Union[bytes, bytearray, memoryview, str, Iterable[bytes]]


# --------------------------------------------------------------------------- writing


def write_atomic(path: Union[str, os.PathLike], data: Data, *, what: str = "the file") -> Path:
    """Write ``data`` to ``path`` atomically, with permissions that follow the umask.

    Args:
        path: the target file; missing parent folders are created.
        data: the bytes, a ``str`` (written as UTF-8), or an iterable of ``bytes`` chunks
            (a download, streamed). An exception raised by the iterable is passed on as it
            is, after the temporary file was removed.
        what: how the message of an error calls the file, e.g. ``"the result image"``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        FileWriteError: the disk is full, ``path`` is a folder, a folder on its path is a
            file, a name is too long, or there is no permission. The target is unchanged
            and no temporary file is left.
    """
    target = Path(path)
    too_long = path_too_long(target)
    if too_long:
        raise _error(too_long, errno.ENAMETOOLONG, target)
    with _as_write_error(target, what):
        if target.is_dir():
            raise _translated(IsADirectoryError(errno.EISDIR, "Is a directory"), target, what)
    folder = make_folder(target.parent, what=f"the folder for {what}")
    remove_stale_temporaries(folder)
    temporary = folder / _temporary_name(target.name)
    handle = None
    try:
        with _as_write_error(target, what):
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                             | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0), 0o666)
        try:
            for chunk in _chunks(data):
                with _as_write_error(target, what):
                    _write_all(handle, chunk)
            with _as_write_error(target, what):
                _keep_mode(target, temporary)
                os.fsync(handle)
        finally:
            with _as_write_error(target, what):  # a file system may report a full disk only here
                os.close(handle)
        with _as_write_error(target, what):
            os.replace(temporary, target)
    except BaseException:  # a full disk, an error of the data's source, Ctrl-C: leave nothing behind
        if handle is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise
    _sync_folder(folder)
    return target


def make_folder(folder: Union[str, os.PathLike], *, what: str = "the folder") -> Path:
    """Create ``folder`` and its parents if needed (permissions follow the umask); returns it.

    Raises:
        FileWriteError: a file is in the way of the folder or of one of its parents, a
            name is too long, or there is no permission.
    """
    folder = Path(folder) if str(folder) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = _file_in_the_way(folder)
        raise _error(
            f"Cannot create {what} {_shown(folder)}: {_shown(blocker)} is a file, not a folder; choose another "
            "folder, or move that file away.", errno.ENOTDIR, folder,
        ) from None
    except OSError as exc:
        raise _translated(exc, folder, what) from None
    return folder


def _write_some(handle: int, data: memoryview) -> int:
    """One ``os.write`` call: the single place where the bytes of every file stylelab writes reach the disk."""
    return os.write(handle, data)


def _write_all(handle: int, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        written = _write_some(handle, view[:_CHUNK])
        view = view[written:]


def _chunks(data: Data) -> Iterator[bytes]:
    if isinstance(data, str):
        yield data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        yield bytes(data) if isinstance(data, memoryview) else data
    else:
        for chunk in data:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"write_atomic needs bytes chunks; got a {type(chunk).__name__}.")
            yield chunk


def _keep_mode(target: Path, temporary: Path) -> None:
    """A file that is replaced keeps its permission bits (a new one has the umask's)."""
    try:
        existing = os.stat(target)
    except OSError:
        return
    if stat.S_ISREG(existing.st_mode):
        os.chmod(temporary, stat.S_IMODE(existing.st_mode))


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError, AttributeError):
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


# --------------------------------------------------------------------------- temporary files


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:4]


def _temporary_name(name: str) -> str:
    return f".{name[:_NAME_KEPT]}.{_host_tag()}-{os.getpid()}.{secrets.token_hex(4)}.tmp"


def is_temporary(name: str) -> bool:
    """Whether ``name`` (a file name) is one of :func:`write_atomic`'s temporary files."""
    return _TEMPORARY.match(name) is not None


def temporary_target(name: str) -> Optional[str]:
    """The name (its first 40 characters) of the file that the temporary file ``name`` was
    written for, or ``None`` if ``name`` is not one of :func:`write_atomic`'s temporary files."""
    match = _TEMPORARY.match(name)
    return None if match is None else match["name"]


def remove_stale_temporaries(folder: Union[str, os.PathLike], *, now: Optional[float] = None) -> int:
    """Remove the temporary files that writers killed mid-write left in ``folder``; returns how many.

    A temporary file is stale when this machine wrote it and its process no longer runs,
    or when it is older than :data:`STALE_AFTER` (another machine, or a container with its
    own process numbers, may share the folder: its live writers are never disturbed sooner).
    """
    now = time.time() if now is None else now
    removed = 0
    host = _host_tag()
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        match = _TEMPORARY.match(name)
        if match is None:
            continue
        path = os.path.join(folder, name)
        try:
            age = now - os.lstat(path).st_mtime
        except OSError:
            continue
        gone = match["host"] == host and not _running(int(match["pid"]))
        if gone or age > STALE_AFTER:
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed += 1
    return removed


def _running(pid: int) -> bool:
    """Whether process ``pid`` of this machine may still run (``True`` whenever that cannot be told)."""
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill(pid, 0) would send Ctrl-C, not a probe
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process (or a number we cannot check): leave its files alone
    return True


# --------------------------------------------------------------------------- reading


def read_regular(path: Union[str, os.PathLike], *, limit: int, what: str = "the file",
                 first: Optional[int] = None) -> Optional[bytes]:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes; ``None`` if it is missing.

    Nothing but a regular file is ever opened: the path (and, for a symbolic link, what it
    points to) is checked with ``lstat``/``stat`` first, opened without blocking and
    checked again on the open file. With ``first``, only the first ``first`` bytes are
    read (and ``limit`` is not checked).

    Raises:
        FileReadError: the path is a folder, a named pipe, a device, a socket or a broken
            link; it is larger than ``limit``; or it cannot be opened.
    """
    shown = _shown(Path(path))
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise FileReadError(_sentence(f"{what} {shown} is a link to nothing; delete it.")) from None
        return None
    except NotADirectoryError:
        return None
    except OSError as exc:
        raise FileReadError(f"Cannot read {what} {shown} ({_reason(exc)}).") from None
    _check_regular(info, what, shown)
    if first is None and info.st_size > limit:
        raise FileReadError(_sentence(f"{what} {shown} is {info.st_size} bytes, more than such a file can hold ({limit}); delete it."))
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
                         | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise FileReadError(f"Cannot read {what} {shown} ({_reason(exc)}).") from None
    try:
        _check_regular(os.fstat(handle), what, shown)  # it may have been swapped since the check above
        wanted = first if first is not None else limit + 1
        parts, size = [], 0
        while size < wanted:
            block = os.read(handle, min(_CHUNK, wanted - size))
            if not block:
                break
            parts.append(block)
            size += len(block)
    except OSError as exc:
        raise FileReadError(f"Cannot read {what} {shown} ({_reason(exc)}).") from None
    finally:
        os.close(handle)
    data = b"".join(parts)
    if first is None and len(data) > limit:
        raise FileReadError(_sentence(f"{what} {shown} grew beyond {limit} bytes while it was read; delete it."))
    return data


def _check_regular(info: os.stat_result, what: str, shown: str) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    kind = ("a folder" if stat.S_ISDIR(info.st_mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(info.st_mode)
            else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
    raise FileReadError(_sentence(f"{what} {shown} is {kind}, not a file stylelab wrote; delete it."))


# --------------------------------------------------------------------------- messages


def path_too_long(path: Union[str, os.PathLike]) -> Optional[str]:
    """The sentence that refuses ``path`` when one of its names is longer than :data:`NAME_MAX`
    bytes, or the whole (absolute) path longer than :data:`PATH_MAX`; else ``None``."""
    for part in Path(path).parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            return (f"The name {_shown(Path(part))} is {size} bytes long, more than the {NAME_MAX} that file "
                    "systems allow; choose a shorter name.")
    size = len(os.fsencode(os.path.abspath(path)))
    if size > PATH_MAX:
        return (f"The path {_shown(Path(path))} is {size} bytes long, more than the {PATH_MAX} that this system "
                "allows; choose a shorter path.")
    return None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _shown(path: Path) -> str:
    """``repr`` of the path (one line, whatever it holds), shortened in the middle when very long."""
    text = str(path)
    return repr(text if len(text) <= 120 else f"{text[:60]}...{text[-40:]}")


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).strip().splitlines()[0] if (exc.strerror or "").strip() else type(exc).__name__


def _error(message: str, number: int, path: Path) -> FileWriteError:
    error = FileWriteError(message)
    error.errno, error.filename = number, str(path)
    return error


def _translated(exc: OSError, target: Path, what: str) -> FileWriteError:
    """One sentence, with the fix, for an ``OSError`` met while writing ``target``."""
    number = exc.errno
    folder = _shown(target.parent if str(target.parent) else Path("."))
    if number in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        message = (f"There is no space left on the disk for {what} {_shown(target)}; free some space (or choose "
                   "a folder on another disk) and run again.")
    elif number == errno.EISDIR:
        message = f"{_shown(target)} is a folder, so {what} cannot be written there; give a file name inside it."
    elif number == errno.ENOTDIR:
        message = (f"Cannot write {what} {_shown(target)}: {_shown(_file_in_the_way(target.parent))} is a file, "
                   "not a folder; choose another folder.")
    elif number == errno.ENAMETOOLONG:
        message = path_too_long(target) or (f"The path {_shown(target)} is too long for the file system; choose a "
                                            "shorter name or a folder nearer the root.")
    elif number in (errno.EACCES, errno.EPERM):
        message = f"No permission to write {what} in {folder}; choose a folder you can write to."
    elif number == errno.EROFS:
        message = f"{folder} is on a read-only file system, so {what} cannot be written there; choose another folder."
    else:
        message = f"Could not write {what} {_shown(target)} ({_reason(exc)}); check the disk and the folder."
    return _error(message, number or 0, target)


@contextlib.contextmanager
def _as_write_error(target: Path, what: str) -> Iterator[None]:
    try:
        yield
    except FileWriteError:
        raise
    except OSError as exc:
        raise _translated(exc, target, what) from None


def _file_in_the_way(folder: Path) -> Path:
    """The first path at or above ``folder`` that exists but is not a folder (``folder`` itself if none)."""
    for candidate in [folder, *folder.parents]:
        try:
            if candidate.exists() and not candidate.is_dir():
                return candidate  # everything above a file is a folder
        except OSError:
            continue
    return folder
