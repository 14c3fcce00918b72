"""A real ``crud serve`` process on a free port, for tests that need a socket: a browser, a
generated TypeScript client."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

STARTUP_SECONDS = 60


@dataclass(frozen=True)
class Server:
    port: int
    log: Path

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def served(registry: Path, database_url: str, workdir: Path,
           env: dict[str, str] | None = None) -> Iterator[Server]:
    """``crud serve`` over ``database_url``; stopped (and its log kept) on exit."""
    server = Server(port=free_port(), log=workdir / "server.log")
    command = [sys.executable, "-c", "from crud.cli import main; main()", "serve",
               "--registry", str(registry), "--database-url", database_url,
               "--port", str(server.port)]
    environment = {**os.environ, "CRUD_CURSOR_SECRET": "served-test", **(env or {})}
    with server.log.open("wb") as output:
        process = subprocess.Popen(command, cwd=workdir, env=environment, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_ready(process, server)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only this server
            process.wait(timeout=30)


def _wait_until_ready(process: subprocess.Popen[bytes], server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"crud serve exited:\n{server.log.read_text()}"
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(server.url() + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"crud serve not ready in {STARTUP_SECONDS}s:\n{server.log.read_text()}")
