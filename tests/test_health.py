"""``/healthz`` and ``/readyz`` over HTTP, with real outages on real database servers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from conftest import Api, Database
from sqlalchemy import text
from sqlalchemy.engine import make_url

from crud.config.settings import Settings
from crud.sql.database import make_engine
from resources.demo import create_schema

REGISTRY = """\
resources:
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    fields: {packit_id: id, status:}
"""
RID = {"X-Request-ID": "probe-1"}


def _problem(detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": "Service Unavailable", "status": 503,
            "detail": detail, "instance": "/readyz", "code": "service_unavailable",
            "request_id": "probe-1"}


async def with_tables(database: Database) -> Database:
    """``database`` with the demo tables (empty): ``/readyz`` looks for the resources' tables."""
    writer = make_engine(database.url, read_only=False)
    try:
        await create_schema(writer)
    finally:
        await writer.dispose()
    return database


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_healthz_answers_without_the_database(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(REGISTRY, f"postgresql+asyncpg://postgres@127.0.0.1:{_unused_port()}/x")
    response = await api.get("/healthz", headers=RID)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert dict(response.headers) == {
        "content-length": "15", "content-type": "application/json",
        "cache-control": "no-store", "x-request-id": "probe-1"}
    assert api.log.count == 0


@pytest.mark.parametrize("empty_db", ["sqlite", "postgresql", "mariadb"], indirect=True)
async def test_readyz_is_200_when_the_database_answers(
        make_api: Callable[..., Any], empty_db: Database) -> None:
    await with_tables(empty_db)
    api: Api = await make_api(REGISTRY, empty_db.url, empty_db.backend)
    response = await api.get("/readyz", headers=RID)
    assert (response.status_code, response.json()) == (200, {"status": "ready"})
    assert api.log.statements[-1] == "SELECT 1"
    assert dict(response.headers) == {
        "content-length": "18", "content-type": "application/json",
        "cache-control": "no-store", "x-request-id": "probe-1"}


async def test_readyz_is_503_when_nothing_listens(make_api: Callable[..., Any]) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{_unused_port()}/x"
    api: Api = await make_api(REGISTRY, url)
    response = await api.get("/readyz", headers=RID)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == _problem(
        "The database is unavailable: SELECT 1 failed or took longer than 2000 ms.")


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never says a word (a hung database)."""
    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


async def test_readyz_gives_up_after_the_readiness_timeout(
        make_api: Callable[..., Any], silent_server: int) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{silent_server}/x"
    api: Api = await make_api(REGISTRY, url, settings=Settings(readiness_timeout_ms=200))
    response = await api.get("/readyz", headers=RID)
    assert response.status_code == 503
    assert response.json() == _problem(
        "The database is unavailable: SELECT 1 failed or took longer than 200 ms.")


async def _kick_connections(database: Database) -> None:
    assert database.admin is not None
    async with database.admin.connect() as connection:
        await connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": database.name})


async def _allow_connections(database: Database, allowed: bool) -> None:
    assert database.admin is not None
    async with database.admin.connect() as connection:
        await connection.execute(text(
            f"ALTER DATABASE {database.name} ALLOW_CONNECTIONS {str(allowed).lower()}"))


@pytest.mark.parametrize("empty_db", ["postgresql"], indirect=True)
async def test_readyz_survives_dropped_connections(
        make_api: Callable[..., Any], empty_db: Database) -> None:
    await with_tables(empty_db)
    api: Api = await make_api(REGISTRY, empty_db.url, empty_db.backend)
    assert (await api.get("/readyz")).status_code == 200
    await _kick_connections(empty_db)
    # The pooled connection is dead; the probe fails on it once and retries on a new one.
    assert (await api.get("/readyz")).status_code == 200


_KICKS = {
    "postgresql": ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE datname = :name AND pid <> pg_backend_pid()"),
    "mariadb": ("SELECT id FROM information_schema.processlist "
                "WHERE db = :name AND id <> CONNECTION_ID()"),
}


async def _kill_sessions(database: Database) -> int:
    """Ends every session on ``database`` from the server's side; how many there were."""
    assert database.admin is not None
    async with database.admin.connect() as connection:
        found = (await connection.execute(text(_KICKS[database.backend]),
                                          {"name": database.name})).scalars().all()
        if database.backend == "mariadb":
            for session in found:
                await connection.execute(text(f"KILL {int(session)}"))
    return len(found)


@pytest.mark.parametrize("empty_db", ["postgresql", "mariadb"], indirect=True)
async def test_api_requests_survive_dropped_connections(
        make_api: Callable[..., Any], empty_db: Database) -> None:
    # docs/operations.md: the pool lends connections without pinging them first; a request
    # on a connection the database dropped fails once, and runs again on a fresh one.
    await with_tables(empty_db)
    api: Api = await make_api(REGISTRY, empty_db.url, empty_db.backend)
    assert (await api.get("/api/v1/koji-builds")).status_code == 200
    assert await _kill_sessions(empty_db) >= 1  # the kept connection was there to kill
    response = await api.get("/api/v1/koji-builds", headers=RID)
    assert (response.status_code, response.json()["items"]) == (200, [])


@pytest.mark.parametrize("empty_db", ["postgresql"], indirect=True)
async def test_readyz_recovers_when_the_database_comes_back(
        make_api: Callable[..., Any], empty_db: Database) -> None:
    await with_tables(empty_db)
    api: Api = await make_api(REGISTRY, empty_db.url, empty_db.backend)
    before = await api.get("/readyz")
    # The database goes away for this API: existing sessions killed, new ones refused.
    await _allow_connections(empty_db, False)
    try:
        await _kick_connections(empty_db)
        during = await api.get("/readyz", headers=RID)
        resource_during = await api.get("/api/v1/koji-builds")
    finally:
        await _allow_connections(empty_db, True)
    after = await api.get("/readyz")
    assert [before.status_code, during.status_code, after.status_code] == [200, 503, 200]
    assert during.json() == _problem(
        "The database is unavailable: SELECT 1 failed or took longer than 2000 ms.")
    assert resource_during.status_code == 503


class StoppableDatabase:
    """A TCP relay in front of a real database server that can be stopped and restarted.

    Stopping closes the listening socket and every relayed connection, which is what the
    API sees when the database server goes down; starting listens on the same port again.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = _unused_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.relay, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        await self.server.wait_closed()

    async def relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers.update((writer, up_writer))
        await asyncio.gather(self.pipe(reader, up_writer), self.pipe(up_reader, writer))

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()


@pytest.mark.parametrize(("empty_db", "server_port"), [("postgresql", 5432), ("mariadb", 3306)],
                         ids=["postgresql", "mariadb"], indirect=["empty_db"])
async def test_readyz_follows_the_database_server_down_and_up(
        make_api: Callable[..., Any], empty_db: Database, server_port: int) -> None:
    await with_tables(empty_db)
    database = StoppableDatabase(server_port)
    await database.start()
    url = make_url(empty_db.url).set(port=database.port).render_as_string(hide_password=False)
    api: Api = await make_api(REGISTRY, url, empty_db.backend)
    seen = [(await api.get("/readyz")).status_code]
    await database.stop()
    seen.append((await api.get("/readyz")).status_code)
    seen.append((await api.get("/readyz")).status_code)
    await database.start()
    seen.append((await api.get("/readyz")).status_code)
    await database.stop()
    assert seen == [200, 503, 503, 200]
