"""Linux accounts for the hub test: created with ``useradd``, removed with everything they ran.

Homes live in the test's temporary folder (``useradd --home-dir``), so removing the
folder removes them; each name ends with a random suffix, so a run never meets an account
left by another. Commands run as an account with ``runuser`` and a clean environment
(``env -i``), as that user's terminal on the hub would have it.
"""

from __future__ import annotations

import os
import pwd
import secrets
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Sequence

import psutil


@dataclass(frozen=True)
class Account:
    """A Linux user made for the test."""

    name: str
    home: Path

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.name).pw_uid


def unique_name(role: str) -> str:
    """``role`` and four random hex digits: a valid user name no other run uses."""
    return f"{role}{secrets.token_hex(2)}"


def create(name: str, homes: Path) -> Account:
    """Create the user ``name`` with a private home (``0700``) in ``homes``."""
    home = homes / name
    subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash", "--user-group", name],
                   check=True, capture_output=True, text=True, timeout=60)
    home.chmod(0o700)
    return Account(name, home)


def processes(account: Account) -> list:
    """The processes running as ``account``."""
    uid = account.uid
    found = []
    for process in psutil.process_iter(["uids"]):
        uids = process.info["uids"]
        if uids is not None and uid in (uids.real, uids.effective):
            found.append(process)
    return found


def remove(account: Account) -> list:
    """Stop every process of ``account`` (by PID) and delete it with its home.

    Returns the processes that were still running (a clean run leaves none)."""
    left = processes(account)
    for process in left:
        try:
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    psutil.wait_procs(left, timeout=30)
    subprocess.run(["userdel", "--remove", account.name], capture_output=True, text=True, timeout=60)
    return left


def run_as(account: Account, command: Sequence[str], environment: Mapping[str, str], *, cwd: Path | None = None,
           timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``command`` as ``account`` with only ``environment`` (plus HOME, USER, LOGNAME)."""
    variables: Dict[str, str] = {"HOME": str(account.home), "USER": account.name, "LOGNAME": account.name,
                                 "LANG": "C.UTF-8", **environment}
    full = ["runuser", "-u", account.name, "--", "env", "-i", *[f"{k}={v}" for k, v in variables.items()], *command]
    return subprocess.run(full, cwd=str(cwd or account.home), capture_output=True, text=True, timeout=timeout)
