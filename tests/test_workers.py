"""`crud serve --workers N`: a real server with several worker processes, started and stopped."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ROOT

from crud.sql.database import make_engine
from resources.demo import load_demo_data

STARTUP_SECONDS = 60
STOP_SECONDS = 30
CURSOR_REQUESTS = 12


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _demo_database(path: Path) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    engine = make_engine(url, read_only=False)
    try:
        await load_demo_data(engine, scale=300)
    finally:
        await engine.dispose()
    return url


def _serve(url: str, port: int, log: Path, cwd: Path, *, workers: int = 2,
           registry: Path = ROOT / "registry.yaml") -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from crud.cli import main; main()", "serve",
               "--workers", str(workers), "--port", str(port), "--registry", str(registry),
               "--database-url", url]
    # Workers are spawned, not forked: they import crud from PYTHONPATH, i.e. this checkout
    # (and the tests' own modules, for mounted apps).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True)


async def _wait_until_ready(process: subprocess.Popen[bytes], base: str, log: Path,
                            workers: int = 2) -> None:
    """Every worker started and answering; fails with the server's log otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_SECONDS
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while loop.time() < deadline:
            assert process.poll() is None, f"the server exited:\n{log.read_text()}"
            if log.read_text().count("Application startup complete.") == workers:
                try:
                    if (await client.get("/openapi.json")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"not ready within {STARTUP_SECONDS}s:\n{log.read_text()}")


async def _get_once(base: str, params: dict[str, object]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        return await client.get("/api/v1/koji-builds", params=params)


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # our own session: the server and its workers
        process.wait(timeout=STOP_SECONDS)
        raise


@pytest.mark.slow
async def test_serve_with_two_workers_answers_and_stops_cleanly(tmp_path: Path) -> None:
    url = await _demo_database(tmp_path / "demo.db")
    port = _free_port()
    log = tmp_path / "server.log"
    process = _serve(url, port, log, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_ready(process, base, log)
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            response = await client.get("/api/v1/koji-builds", params={"size": 3})
        # One fresh connection per request, so both workers verify the cursor one issued.
        followed = [await _get_once(base, {"size": 3, "cursor": response.json()["next"]})
                    for _ in range(CURSOR_REQUESTS)]
    finally:
        returncode = _stop(process)
    assert response.status_code == 200
    assert response.headers["content-range"] == "koji-builds 0-2/300"
    assert [item["packit_id"] for item in response.json()["items"]] == [300, 299, 298]
    assert {(answer.status_code, answer.headers.get("content-range")) for answer in followed} == {
        (200, "koji-builds 3-5/300")}
    output = log.read_text()
    workers = set(re.findall(r"Started server process \[(\d+)\]", output))
    assert len(workers) == 2, output
    assert returncode == 0, output
    assert output.count("Finished server process") == 2, output


@pytest.mark.slow
async def test_one_served_process_answers_flask_at_api_and_generated_routes_at_api_v1(
        tmp_path: Path) -> None:
    url = await _demo_database(tmp_path / "demo.db")
    registry = tmp_path / "registry.yaml"
    registry.write_text((ROOT / "registry.yaml").read_text()
                        + '\nmounts:\n  - {path: /api, wsgi: "legacy_flask:app"}\n')
    port = _free_port()
    log = tmp_path / "server.log"
    process = _serve(url, port, log, tmp_path, workers=1, registry=registry)
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_ready(process, base, log, workers=1)
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            old = await client.get("/api/usage/builds")
            shadowed = await client.get("/api/v1/koji-builds", params={"size": 1})
    finally:
        returncode = _stop(process)
    assert old.json() == {"served_by": "flask", "what": "builds", "script_root": "/api",
                          "path": "/usage/builds", "query": ""}
    assert shadowed.headers["content-range"] == "koji-builds 0-0/300"
    # A single uvicorn server shuts down gracefully, then re-raises the signal it caught.
    assert returncode == -signal.SIGTERM, log.read_text()
    assert "Finished server process" in log.read_text()
