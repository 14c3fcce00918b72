"""Read replicas for real: a PostgreSQL primary and its streaming replica (tests/replication.py).

Each row carries ``inet_server_port()`` as a field, so every response says which server
read it. The replica is stopped and started again under a bounded load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import Api
from replication import Pair, start_pair
from sqlalchemy import text
from sqlalchemy.exc import ArgumentError

from crud.config.settings import Settings
from crud.sql.backends import PostgreSQL
from crud.sql.database import make_engine
from crud.sql.reader import Reader
from crud.sql.replicas import ReplicaReader, read_path

REGISTRY = """\
resources:
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    fields:
      packit_id: id
      status:
      served_by: {source: {expression: "replication:server_port"}}
    sort: [packit_id]
    default_sort: [packit_id]
"""
CLIENTS = 4
RETURN_SECONDS = 15


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    started = start_pair()
    try:
        yield started
    finally:
        started.remove()


async def _api(make_api: Callable[..., Any], pair: Pair, **settings: Any) -> Api:
    api: Api = await make_api(REGISTRY, pair.primary.url, "postgresql", settings=Settings(
        replica_urls=(pair.replica.url,), access_log=False, **settings))
    return api


async def _served_by(api: Api, path: str = "/api/v1/koji-builds?size=3") -> set[int]:
    response = await api.get(path)
    assert response.status_code == 200, response.text
    return {item["served_by"] for item in response.json()["items"]}


async def _load(api: Api, stop: asyncio.Event, seen: list[tuple[float, int, int | None]]) -> None:
    """One client's bounded loop: (start time, status, serving port) per request."""
    for _ in range(2000):
        if stop.is_set():
            return
        began = time.monotonic()
        response = await api.get("/api/v1/koji-builds?size=2")
        port = response.json()["items"][0]["served_by"] if response.status_code == 200 else None
        seen.append((began, response.status_code, port))
        await asyncio.sleep(0.005)


async def _until(condition: Callable[[], Any], seconds: float) -> float:
    """Seconds until ``condition()`` holds; fails after ``seconds``."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if await condition():
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {seconds}s")


async def test_reads_go_to_the_replica_fall_back_while_it_is_down_and_return(
        make_api: Callable[..., Any], pair: Pair) -> None:
    api = await _api(make_api, pair)
    assert await _served_by(api) == {pair.replica.port}
    first = await api.get("/api/v1/koji-builds?size=3")
    cursor = first.json()["next"]

    seen: list[tuple[float, int, int | None]] = []
    stop = asyncio.Event()
    clients = [asyncio.create_task(_load(api, stop, seen)) for _ in range(CLIENTS)]
    await asyncio.sleep(0.3)
    stopped_at = time.monotonic()
    await asyncio.to_thread(pair.replica.stop, "fast")
    down_at = time.monotonic()
    fell_back = await _until(lambda: _last_port_is(seen, pair.primary.port), 10)
    # A cursor issued by a page the replica read pages on the primary.
    follow = await api.get("/api/v1/koji-builds", params={"size": 3, "cursor": cursor})
    assert follow.status_code == 200
    assert [item["packit_id"] for item in follow.json()["items"]] == [4, 5, 6]
    assert {item["served_by"] for item in follow.json()["items"]} == {pair.primary.port}
    started_at = time.monotonic()
    await asyncio.to_thread(pair.replica.start)
    up_at = time.monotonic()
    returned = await _until(lambda: _last_port_is(seen, pair.replica.port), RETURN_SECONDS)
    stop.set()
    await asyncio.gather(*clients)

    statuses = {status for _, status, _ in seen}
    assert statuses == {200}, f"{len(seen)} requests: {sorted(statuses)}"
    # Every request that began while the replica was down was read on the primary.
    assert {port for began, _, port in seen if down_at < began < started_at} == {
        pair.primary.port}
    first_on_primary = min(began for began, _, port in seen if port == pair.primary.port)
    print(f"\n{len(seen)} requests, 0 errors; first read on the primary "
          f"{first_on_primary - stopped_at:.2f}s after the stop began (pg_ctl stop took "
          f"{down_at - stopped_at:.2f}s), back on the replica {returned:.2f}s after it "
          f"accepted connections ({fell_back:.2f}s, {up_at - started_at:.2f}s to start)")


async def _last_port_is(seen: list[tuple[float, int, int | None]], port: int) -> bool:
    return bool(seen) and seen[-1][2] == port


async def test_readyz_reports_each_database(make_api: Callable[..., Any], pair: Pair) -> None:
    api = await _api(make_api, pair)
    replica = pair.replica.url
    response = await api.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready", "databases": [
        {"name": "primary", "role": "primary", "status": "ok"},
        {"name": replica, "role": "replica", "status": "ok", "lag_ms": 0}]})
    pair.replica.stop("fast")
    try:
        response = await api.get("/readyz")
        # Still ready: reads fall back to the primary.
        assert (response.status_code, response.json()) == (200, {"status": "ready", "databases": [
            {"name": "primary", "role": "primary", "status": "ok"},
            {"name": replica, "role": "replica", "status": "down", "lag_ms": 0}]})
        assert await _served_by(api) == {pair.primary.port}
    finally:
        pair.replica.start()
    await _until(lambda: _is_served_by(api, pair.replica.port), RETURN_SECONDS)


async def _is_served_by(api: Api, port: int) -> bool:
    return await _served_by(api) == {port}


async def test_a_replica_lagging_past_the_maximum_is_skipped_until_it_catches_up(
        make_api: Callable[..., Any], pair: Pair) -> None:
    api = await _api(make_api, pair, replica_max_lag_ms=300)
    await _until(lambda: _is_served_by(api, pair.replica.port), RETURN_SECONDS)
    replica = make_engine(pair.replica.url, read_only=False)
    primary = make_engine(pair.primary.url, read_only=False)
    try:
        async with primary.begin() as connection:
            await connection.execute(text("CREATE TABLE lag_marker (id int)"))
        async with replica.connect() as connection:
            await connection.execute(text("SELECT pg_wal_replay_pause()"))
            await connection.commit()
        async with primary.begin() as connection:
            await connection.execute(text("INSERT INTO lag_marker VALUES (1)"))
        # Replay stands still while the primary moves on: the lag grows past 300 ms.
        await _until(lambda: _is_served_by(api, pair.primary.port), 10)
        async with replica.connect() as connection:
            await connection.execute(text("SELECT pg_wal_replay_resume()"))
            await connection.commit()
        await _until(lambda: _is_served_by(api, pair.replica.port), RETURN_SECONDS)
    finally:
        async with primary.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS lag_marker"))
        await replica.dispose()
        await primary.dispose()


@pytest.mark.parametrize("variable", ["CRUD_REPLICA_URLS", "DATABASE_REPLICA_URLS"])
def test_replica_urls_come_from_either_variable(monkeypatch: pytest.MonkeyPatch,
                                                variable: str) -> None:
    monkeypatch.setenv(variable, " postgresql+asyncpg://r1/db, postgresql+asyncpg://r2/db,")
    assert Settings().replica_urls == ("postgresql+asyncpg://r1/db", "postgresql+asyncpg://r2/db")


async def test_a_replica_reader_names_its_replicas_without_passwords() -> None:
    primary = Reader(make_engine("postgresql+asyncpg://api:secret@127.0.0.1:1/db"),
                     PostgreSQL(make_engine("postgresql+asyncpg://x@h/d").dialect))
    reader = read_path(primary, ["postgresql+asyncpg://api:secret@127.0.0.1:2/db"],
                       connect=make_engine, max_lag_ms=100)
    try:
        assert isinstance(reader, ReplicaReader)
        assert repr(reader) == ("ReplicaReader(PostgreSQL(), replicas=0/1 healthy, "
                                "max_lag_ms=100)")
        assert [replica.report() for replica in reader.replicas] == [
            {"name": "postgresql+asyncpg://api:***@127.0.0.1:2/db", "role": "replica",
             "status": "down"}]
    finally:
        await reader.close()
        await primary.engine.dispose()


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///x.db?pgbouncer=true",
                                 "mysql+aiomysql://root@h/db?pgbouncer=true"])
def test_pgbouncer_applies_to_postgresql_urls_only(url: str) -> None:
    with pytest.raises(ArgumentError, match="pgbouncer=true applies to postgresql"):
        make_engine(url)
