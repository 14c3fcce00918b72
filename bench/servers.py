"""The two servers under test, each one uvicorn process with one worker on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

__all__ = ["ROOT", "Server", "baseline_server", "generated_server", "peak_rss_kib"]

ROOT = Path(__file__).resolve().parent.parent
READY_PATH = "/api/v1/koji-builds/1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def peak_rss_kib(pid: int) -> int | None:
    """Peak resident set size (VmHWM) of a live process, in KiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


@dataclass
class Server:
    name: str
    factory: str
    env: dict[str, str]
    log: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self, timeout: float = 60) -> None:
        self.port = _free_port()
        command = [sys.executable, "-m", "uvicorn", self.factory, "--factory",
                   "--host", "127.0.0.1", "--port", str(self.port),
                   "--log-level", "warning", "--no-access-log"]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log,
                                            env={**os.environ, **self.env})
        await self._wait_ready(timeout)

    async def _wait_ready(self, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} server exited with {self.process.returncode};"
                                       f" see {self.log}")
                try:
                    if (await client.get(READY_PATH)).status_code < 500:
                        return
                except httpx.TransportError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"{self.name} server not ready in {timeout} s; see {self.log}")
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        # Wait off the event loop: a server shutting down closes its database connections
        # through the wire proxy, which runs on this loop.
        try:
            await asyncio.to_thread(self.process.wait, 10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            await asyncio.to_thread(self.process.wait)


def generated_server(database_url: str, out: Path) -> Server:
    """The API generated from the repository's registry.yaml (plus bench/fulltext.py's
    resource: the file ``bench.run`` writes into ``out``)."""
    # A fixed cursor secret: a cursor found in the timing phase must still be valid for the
    # server started again to count statements (a random per-process key would refuse it).
    return Server("generated", "crud.app:app_from_environment",
                  {"DATABASE_URL": database_url, "CRUD_REGISTRY": str(out / "registry.yaml"),
                   "CRUD_CURSOR_SECRET": "bench-cursor-secret"},
                  out / "generated.log")


def baseline_server(database_url: str, out: Path) -> Server:
    """bench/baseline.py over the same database (asyncpg takes a libpq-style URL)."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    return Server("baseline", "bench.baseline:app_from_environment",
                  {"BENCH_DATABASE_URL": dsn}, out / "baseline.log")
