"""JupyterHub and configurable-http-proxy on 127.0.0.1, driven through the hub's REST API.

:class:`Hub` writes a ``jupyterhub_config.py`` (LocalProcessSpawner: each user's server
runs as that Linux user; no login form, the test acts with API tokens the hub issues, as
a browser does after logging in), loads the hub snippet that ``hub-setup`` wrote (as The
Littlest JupyterHub loads ``jupyterhub_config.d``), starts ``python -m jupyterhub`` with the
replica environment, and stops it again by its PID. Every request waits with a generous
limit (a 2-core CI machine starts a server in tens of seconds); nothing sleeps as a check.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import requests

from .environment import Environment

START_TIMEOUT = 300  # seconds for the hub, or one user's server, to come up


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, what: str, timeout: float, interval: float = 0.5) -> Any:
    """Poll ``condition()`` until it returns something true, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(interval)


class Hub:
    """One JupyterHub in ``folder`` (created, private to root) for the replica ``environment``."""

    def __init__(self, folder: Path, environment: Environment, proxy: str, snippet: Path,
                 user_environment: Mapping[str, str]) -> None:
        self.folder = folder
        self.environment = environment
        self.token = secrets.token_hex(32)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Optional[subprocess.Popen] = None
        folder.mkdir(mode=0o700)
        self.config = folder / "jupyterhub_config.py"
        self.config.write_text(self._config_text(proxy, snippet, user_environment), encoding="utf-8")
        self.log = folder / "jupyterhub.log"

    def _config_text(self, proxy: str, snippet: Path, user_environment: Mapping[str, str]) -> str:
        folder = self.folder
        return textwrap.dedent(f"""\
            c = get_config()  # noqa: F821
            c.JupyterHub.bind_url = {self.url!r}
            c.JupyterHub.hub_ip = "127.0.0.1"
            c.JupyterHub.hub_port = {free_port()}
            c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
            c.ConfigurableHTTPProxy.command = [{proxy!r}]
            c.ConfigurableHTTPProxy.pid_file = {str(folder / "proxy.pid")!r}
            c.JupyterHub.pid_file = {str(folder / "jupyterhub.pid")!r}
            c.JupyterHub.db_url = "sqlite:///{folder / 'jupyterhub.sqlite'}"
            c.JupyterHub.cookie_secret_file = {str(folder / "cookie_secret")!r}
            c.JupyterHub.cleanup_servers = True
            c.JupyterHub.authenticator_class = "null"
            c.JupyterHub.spawner_class = "localprocess"
            c.Spawner.cmd = [{str(self.environment.bin / "jupyterhub-singleuser")!r}]
            c.Spawner.ip = "127.0.0.1"
            c.Spawner.default_url = "/lab"
            c.Spawner.start_timeout = {START_TIMEOUT}
            c.Spawner.http_timeout = {START_TIMEOUT}
            c.Spawner.environment = {dict(user_environment)!r}
            c.JupyterHub.services = [{{"name": "term", "api_token": {self.token!r}}}]
            c.JupyterHub.load_roles = [{{
                "name": "term",
                "scopes": ["admin:users", "admin:servers", "tokens", "read:users", "list:users", "access:servers"],
                "services": ["term"],
            }}]
            load_subconfig({str(snippet)!r})  # noqa: F821 - as TLJH loads jupyterhub_config.d
            """)

    # ------------------------------------------------------------------ the process

    def start(self) -> None:
        environment = {**self.environment.variables(), "HOME": str(self.folder), "LANG": "C.UTF-8"}
        with self.log.open("w") as log:
            self.process = subprocess.Popen([str(self.environment.python), "-m", "jupyterhub", "-f", str(self.config)],
                                            cwd=self.folder, env=environment, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._answers, "JupyterHub answering on " + self.url, START_TIMEOUT)

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"JupyterHub exited with {self.process.returncode}:\n{self.tail()}")
        try:
            return self.api("GET", "/")[0] == 200
        except requests.ConnectionError:
            return False

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the hub by its PID (it stops its proxy and the users' servers), then the proxy's
        PID if it outlived it."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        pid_file = self.folder / "proxy.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass

    # ------------------------------------------------------------------ the REST API

    def api(self, method: str, path: str, body: Optional[dict] = None) -> tuple:
        response = requests.request(method, f"{self.url}/hub/api{path}", json=body, timeout=120,
                                    headers={"Authorization": f"token {self.token}"})
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        return response.status_code, (response.json() if is_json and response.content else None)

    def add_user(self, name: str) -> str:
        """Create the hub user ``name`` and return an API token that acts as that user."""
        status, _ = self.api("POST", f"/users/{name}")
        assert status == 201, f"creating hub user {name}: HTTP {status}"
        status, token = self.api("POST", f"/users/{name}/tokens", {"note": "the hub test", "expires_in": 3600})
        assert status == 201, f"token for {name}: HTTP {status} {token}"
        return token["token"]

    def _ready(self, name: str) -> bool:
        status, user = self.api("GET", f"/users/{name}")
        server = (user or {}).get("servers", {}).get("")
        if server and server.get("stopped") is False and server.get("ready"):
            return True
        if not user.get("pending") and not server:
            raise RuntimeError(f"{name}'s server stopped while starting:\n{self.tail()}")
        return False

    def start_server(self, name: str) -> None:
        status, body = self.api("POST", f"/users/{name}/server")
        assert status in (201, 202), f"starting {name}'s server: HTTP {status} {body}\n{self.tail()}"
        wait_for(lambda: self._ready(name), f"{name}'s server starting", START_TIMEOUT)

    def stop_server(self, name: str) -> None:
        status, body = self.api("DELETE", f"/users/{name}/server")
        assert status in (202, 204), f"stopping {name}'s server: HTTP {status} {body}"
        wait_for(lambda: not self.api("GET", f"/users/{name}")[1].get("servers"), f"{name}'s server stopping",
                 START_TIMEOUT)

    def user(self, name: str, token: str) -> "UserSession":
        return UserSession(f"{self.url}/user/{name}", token)


class UserSession:
    """Requests to one user's server through the proxy, with that user's token."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"token {token}"}

    def request(self, method: str, path: str, *, data: Optional[Dict[str, str]] = None, json: Any = None,
                timeout: float = 600) -> requests.Response:
        return requests.request(method, f"{self.base}/{path}", data=data, json=json, headers=self.headers,
                                timeout=timeout)

    def json(self, method: str, path: str, **kwargs) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.ok, f"{method} {path}: HTTP {response.status_code} {response.text[:500]}"
        return response.json()
