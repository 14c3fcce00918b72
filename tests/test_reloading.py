"""Registry hot reload over a real ``crud serve``: no request fails while the registry changes.

Clients hammer the server on keep-alive connections while the registry file is rewritten
and SIGHUP is sent; every answer must be a 200. A request in flight during the swap
finishes on the app that took it (its route is gone from the new one), a new resource
appears, a removed one disappears, and a broken registry leaves the last good one serving.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, Database
from served import Server, serve

from crud.reloading import Generation, Lifespan, Reloadable

BUILDS = """\
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    fields: {packit_id: id, status:}
"""
PROJECTS = """\
  projects:
    model: resources.models:GitProjectModel
    fields: {id:, namespace:}
"""
PULL_REQUESTS = """\
  pull-requests:
    model: resources.models:PullRequestModel
    fields: {id:, pr_id:}
"""
BEFORE = f"routers: ['slow_router:router']\nresources:\n{BUILDS}{PROJECTS}"
AFTER = f"resources:\n{BUILDS}{PULL_REQUESTS}"
BROKEN = AFTER.replace("pr_id:}", "pr_idd:}")  # line 7: no such column
CLIENTS = 6
LOAD_PATHS = ("/api/v1/koji-builds?size=5", "/openapi.json", "/healthz")
WAIT_SECONDS = 30


class Load:
    """Clients that GET ``LOAD_PATHS`` in a loop until stopped; outcomes counted."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.outcomes: Counter[str] = Counter()
        self.stopping = asyncio.Event()

    async def client(self) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as client:
            while not self.stopping.is_set():
                for path in LOAD_PATHS:
                    try:
                        outcome = str((await client.get(path)).status_code)
                    except httpx.HTTPError as error:
                        outcome = f"{type(error).__name__}: {error}"
                    self.outcomes[outcome] += 1


@pytest.fixture
async def load_during() -> AsyncIterator[Callable[[str], Load]]:
    tasks: list[asyncio.Task[None]] = []
    loads: list[Load] = []

    def start(base: str) -> Load:
        load = Load(base)
        loads.append(load)
        tasks.extend(asyncio.create_task(load.client()) for _ in range(CLIENTS))
        return load

    yield start
    for load in loads:
        load.stopping.set()
    await asyncio.gather(*tasks)


async def _status(base: str, path: str) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        return (await client.get(path)).status_code


async def _until(condition: Callable[[], Any], server: Server, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {WAIT_SECONDS}s\n{server.output()}")


def _start(registry: Path, demo_db: Database, *more: str) -> Server:
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    server = serve("--registry", str(registry), "--database-url", demo_db.url, *more,
                   cwd=registry.parent, env=env)
    server.wait_until_up()
    return server


@pytest.mark.slow
@pytest.mark.parametrize("demo_db", ["sqlite", "postgresql", "mariadb"], indirect=True)
async def test_sighup_swaps_the_registry_without_failing_a_request(
        demo_db: Database, tmp_path: Path, load_during: Callable[[str], Load]) -> None:
    registry = tmp_path / "registry.yaml"
    registry.write_text(BEFORE, encoding="utf-8")
    server = _start(registry, demo_db)
    base = server.base
    try:
        load = load_during(base)
        await asyncio.sleep(1)
        release = tmp_path / "release"
        in_flight = asyncio.create_task(_status(
            base, f"/api/v1/slow?seconds={WAIT_SECONDS}&release={release}"))
        await asyncio.sleep(0.5)
        registry.write_text(AFTER, encoding="utf-8")
        server.process.send_signal(signal.SIGHUP)
        await _until(lambda: _is(base, "/api/v1/pull-requests", 200), server, "new resource")
        swapped_while_in_flight = not in_flight.done() and "shut down" not in server.output()
        gone = [await _status(base, path) for path in ("/api/v1/projects", "/api/v1/slow")]
        async with httpx.AsyncClient(base_url=base) as client:
            paths = set((await client.get("/openapi.json")).json()["paths"])
        release.touch()
        slow_answer = await in_flight
        await _until(lambda: _logged(server, "previous registry shut down"), server, "retired")

        registry.write_text(BROKEN, encoding="utf-8")
        server.process.send_signal(signal.SIGHUP)
        await _until(lambda: _logged(server, "registry reload failed"), server, "failure logged")
        kept = [await _status(base, path) for path in ("/api/v1/pull-requests", "/api/v1/koji-builds")]
        await asyncio.sleep(0.5)
        load.stopping.set()
    finally:
        returncode = server.stop()
    output = server.output()
    assert set(load.outcomes) == {"200"}, load.outcomes
    assert load.outcomes["200"] > 100, load.outcomes
    assert swapped_while_in_flight, output
    assert slow_answer == 200
    assert gone == [404, 404]
    assert {"/api/v1/pull-requests", "/api/v1/koji-builds"} <= paths
    assert not {"/api/v1/projects", "/api/v1/slow"} & paths
    assert f"{registry}:7: resources.pull-requests.fields.pr_idd.source: PullRequestModel has no " \
           "column 'pr_idd' (did you mean 'pr_id'?)" in output
    assert kept == [200, 200]
    assert "Traceback" not in output
    assert returncode == -signal.SIGTERM, output


@pytest.mark.slow
@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_reload_registry_follows_the_file(demo_db: Database, tmp_path: Path) -> None:
    registry = tmp_path / "registry.yaml"
    registry.write_text(f"resources:\n{BUILDS}{PROJECTS}", encoding="utf-8")
    server = _start(registry, demo_db, "--reload-registry")
    try:
        registry.write_text(AFTER, encoding="utf-8")
        await _until(lambda: _is(server.base, "/api/v1/projects", 404), server, "removed")
        appeared = await _status(server.base, "/api/v1/pull-requests")
    finally:
        server.stop()
    assert appeared == 200
    assert f"watching {registry}" in server.output()


async def _is(base: str, path: str, status: int) -> bool:
    return await _status(base, path) == status


async def _logged(server: Server, text: str) -> bool:
    return text in server.output()


# -- in process: the pieces ---------------------------------------------------------------


async def _answer(app: Any, path: str = "/") -> tuple[int, bytes]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(path)
    return response.status_code, response.content


class Plain:
    """An ASGI app that answers ``body`` (after ``gate`` opens) and records its lifespan."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.events: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                self.events.append("startup")
                await send({"type": "lifespan.startup.complete"})
            self.events.append("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": self.body})


def _builder(app: Any) -> Any:
    async def build() -> Any:
        return app
    return build


async def test_a_failed_build_keeps_the_current_app() -> None:
    async def broken() -> Any:
        raise ValueError("no such module 'models2'")

    reloadable = Reloadable(Plain(b"old"), broken)
    assert await reloadable.reload() is False
    assert await _answer(reloadable) == (200, b"old")


async def test_the_old_app_shuts_down_only_after_its_last_request() -> None:
    old, new = Plain(b"old"), Plain(b"new")
    reloadable = Reloadable(old, _builder(new))
    await reloadable.current.lifespan.startup()
    old.gate.clear()
    in_flight = asyncio.create_task(_answer(reloadable))
    await asyncio.sleep(0.05)
    assert await reloadable.reload() is True
    assert await _answer(reloadable) == (200, b"new")
    await asyncio.sleep(0.05)
    during = list(old.events)
    old.gate.set()
    assert await in_flight == (200, b"old")
    await reloadable.settled()
    assert (during, old.events, new.events) == (["startup"], ["startup", "shutdown"], ["startup"])


async def test_lifespan_failure_is_an_error() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(RuntimeError, match="no database"):
        await Lifespan(app).startup()


def test_reprs() -> None:
    assert repr(Generation(Plain(b""))) == "Generation(Plain, active=0)"
    assert repr(Reloadable(Plain(b""), _never, watch=Path("r.yaml"))) == (
        "Reloadable(Generation(Plain, active=0), watch=r.yaml)")


async def _never() -> Any:
    raise AssertionError("not built")



def _worker_pids(server: Server) -> list[int]:
    started = re.findall(r"Started server process \[(\d+)\]", server.output())
    finished = set(re.findall(r"Finished server process \[(\d+)\]", server.output()))
    return [int(pid) for pid in started if pid not in finished]


async def _everywhere(base: str, path: str, status: int) -> bool:
    # A fresh connection per request: each may land on either worker.
    return all([await _status(base, path) == status for _ in range(8)])


@pytest.mark.slow
@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_several_workers_reload_in_place_or_by_rolling_restart(
        demo_db: Database, tmp_path: Path, load_during: Callable[[str], Load]) -> None:
    registry = tmp_path / "registry.yaml"
    registry.write_text(f"resources:\n{BUILDS}{PROJECTS}", encoding="utf-8")
    server = _start(registry, demo_db, "--workers", "2")
    base = server.base
    try:
        await _until(lambda: _n_workers(server, 2), server, "two workers")
        load = load_during(base)
        await asyncio.sleep(1)
        # SIGHUP to each worker: each swaps its app in place, without a failed request.
        registry.write_text(AFTER, encoding="utf-8")
        for pid in _worker_pids(server):
            os.kill(pid, signal.SIGHUP)
        await _until(lambda: _everywhere(base, "/api/v1/pull-requests", 200), server, "in place")
        await asyncio.sleep(0.5)
        in_place = Counter(load.outcomes)
        load.stopping.set()
        # SIGHUP to the parent: uvicorn replaces the workers one by one. Not under load: a
        # worker that stops closes its idle keep-alive connections, and a request sent on
        # one at that moment fails (docs/operations.md says so).
        registry.write_text(f"resources:\n{BUILDS}{PROJECTS}", encoding="utf-8")
        os.kill(server.process.pid, signal.SIGHUP)
        await _until(lambda: _finished(server, 2), server, "both old workers replaced")
        rolled = await _everywhere(base, "/api/v1/projects", 200)
        # A broken registry: the first replacement does not start, the old workers stay.
        registry.write_text(BROKEN, encoding="utf-8")
        os.kill(server.process.pid, signal.SIGHUP)
        await _until(lambda: _logged(server, "aborting the restart"), server, "aborted")
        kept = await _everywhere(base, "/api/v1/projects", 200)
    finally:
        server.stop()
    output = server.output()
    assert set(in_place) == {"200"}, in_place
    assert in_place["200"] > 100, in_place
    assert rolled
    assert kept
    assert "this worker does not start" in output
    assert f"{registry}:7: resources.pull-requests.fields.pr_idd.source" in output


async def _finished(server: Server, count: int) -> bool:
    return server.output().count("Finished server process") == count


async def _n_workers(server: Server, count: int) -> bool:
    return len(_worker_pids(server)) == count and server.output().count(
        "Application startup complete.") >= count
