"""A real ``crud serve`` process on a free port, for tests that need a socket: uvicorn and
signals, a browser, a generated TypeScript client."""

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
STOP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path
    port: int = 0

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited:\n{self.output()}"
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"not up within {STARTUP_SECONDS}s:\n{self.output()}")

    def stop(self) -> int:
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # our own session: server and workers
            self.process.wait(timeout=STOP_SECONDS)
            raise


def serve(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Server:
    """``crud serve ARGS --port <free>``, its output in ``cwd/server.log``; not yet up."""
    port = free_port()
    log = cwd / "server.log"
    clean = {key: value for key, value in os.environ.items()
             if not key.startswith("CRUD_") and key != "DATABASE_URL"}
    command = [sys.executable, "-m", "crud.cli", "serve", *args, "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=cwd, env={**clean, **(env or {})},
                                   stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return Server(process, f"http://127.0.0.1:{port}", log, port)


@contextlib.contextmanager
def served(registry: Path, database_url: str, workdir: Path,
           env: dict[str, str] | None = None) -> Iterator[Server]:
    """``crud serve`` over ``database_url``, up; stopped (and its log kept) on exit."""
    server = serve("--registry", str(registry), "--database-url", database_url, cwd=workdir,
                   env={"CRUD_CURSOR_SECRET": "served-test", **(env or {})})
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()
