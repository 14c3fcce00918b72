"""The result cache over real databases and their change signals (``cache: {results: true}``).

A table ``rc_builds`` served in reflection mode with facets and an aggregate. Totals,
facets and aggregates are computed once and served again while the change signal stands
still; a write from another connection changes the next answer (on PostgreSQL within the
statistics' flush interval, so the test polls; on MariaDB a table written in the last two
seconds has no token yet, so the test waits for one before expecting hits).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from conftest import BACKENDS, Api, Database, create_database, drop_database
from redis_server import redis_url  # noqa: F401  (the fixture)
from sqlalchemy import text

from crud.config.settings import Settings
from crud.sql.database import make_engine

ROWS = 40
LIST = "/api/v1/builds"
SCHEMA = [
    "CREATE TABLE rc_builds (id INTEGER NOT NULL PRIMARY KEY, status VARCHAR(20) NOT NULL, "
    "chroot VARCHAR(20) NOT NULL, submitted DATE NOT NULL)",
]
REGISTRY = """\
api: {page_size: 5}
resources:
  builds:
    table: rc_builds
    fields: {id:, status:, chroot:, submitted:}
    filters: {status: [eq]}
    count: exact
    facets: [status, chroot]
    aggregate: {group_by: [status, submitted]}
    cache: {results: true}
"""
PROTECTED = REGISTRY.replace("    cache: {results: true}", "    cache: {results: true}\n"
                             "    auth: api_key")
STATUSES = ("ok", "failed", "running")


def _row(number: int, status: str | None = None) -> dict[str, Any]:
    return {"id": number, "status": status or STATUSES[number % 3],
            "chroot": f"f{number % 2}", "submitted": dt.date(2026, 11, number % 28 + 1)}


@pytest_asyncio.fixture(params=BACKENDS, loop_scope="session")
async def builds_db(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """A fresh database per test: each test writes to it."""
    database = await create_database(request.param, tmp_path_factory.mktemp("results"))
    writer = make_engine(database.url, read_only=False)
    try:
        async with writer.begin() as connection:
            for statement in SCHEMA:
                await connection.execute(text(statement))
            await connection.execute(
                text("INSERT INTO rc_builds VALUES (:id, :status, :chroot, :submitted)"),
                [_row(n) for n in range(1, ROWS + 1)])
    finally:
        await writer.dispose()
    yield database
    await drop_database(database)


async def _insert(database: Database, number: int, status: str | None = None) -> None:
    """A write from a connection of its own (not the API's)."""
    writer = make_engine(database.url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.execute(
                text("INSERT INTO rc_builds VALUES (:id, :status, :chroot, :submitted)"),
                _row(number, status))
    finally:
        await writer.dispose()


async def _serve(make_api: Callable[..., Any], database: Database, registry: str = REGISTRY,
                 **settings: Any) -> Api:
    api: Api = await make_api(registry, database.url, database.backend,
                              settings=Settings(database_url=database.url, **settings))
    await _signal_settled(api)
    return api


async def _signal_settled(api: Api) -> None:
    # MariaDB gives no token for a table written in the last seconds: wait until it does.
    deadline = time.monotonic() + 10
    while await api.app.state.signals.token("builds") is None:
        assert time.monotonic() < deadline, "no change-signal token after 10 s"
        await asyncio.sleep(0.2)


def _counts(api: Api) -> list[str]:
    """The statements that count or group rows (the answers the cache keeps)."""
    return [sql for sql in api.log.statements
            if "count(" in sql.lower() and "rc_builds" in sql.lower()]


async def _eventually(ask: Callable[[], Awaitable[Any]], expected: Any) -> Any:
    # PostgreSQL's statistics reach the counters within about a second of a commit.
    deadline = time.monotonic() + 8
    while (found := await ask()) != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return found


async def _total(api: Api, **params: Any) -> Any:
    response = await api.get(LIST, params={"size": 5, **params})
    assert response.status_code == 200, response.text
    return response.json()["total"]


async def _facets(api: Api) -> Any:
    response = await api.get(LIST, params={"size": 5, "facet": "status,chroot"})
    assert response.status_code == 200, response.text
    return response.json()["facets"]["status"]


async def _groups(api: Api) -> Any:
    response = await api.get(f"{LIST}/aggregate", params={"group_by": "status"})
    assert response.status_code == 200, response.text
    return {group["status"]: group["count"] for group in response.json()["groups"]}


async def test_a_kept_total_is_served_without_counting_again(
        builds_db: Database, make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, builds_db)
    assert await _total(api) == ROWS
    api.log.clear()
    assert [await _total(api) for _ in range(3)] == [ROWS] * 3
    assert _counts(api) == []
    assert await _total(api, status="ok") == 13  # another query: computed
    assert len(_counts(api)) == 1


async def test_a_write_from_another_connection_changes_the_next_total(
        builds_db: Database, make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, builds_db)
    assert await _total(api) == ROWS
    await _insert(builds_db, ROWS + 1)
    assert await _eventually(lambda: _total(api), ROWS + 1) == ROWS + 1


async def test_a_write_changes_the_next_facets(builds_db: Database,
                                               make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, builds_db)
    before = await _facets(api)
    assert {"value": "queued", "count": 1} not in before
    api.log.clear()
    assert await _facets(api) == before
    assert _counts(api) == []  # neither the total nor the two facets counted again
    await _insert(builds_db, ROWS + 1, "queued")
    after = await _eventually(lambda: _facets(api), [*before, {"value": "queued", "count": 1}])
    assert after[-1] == {"value": "queued", "count": 1}


async def test_a_write_changes_the_next_aggregate(builds_db: Database,
                                                  make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, builds_db)
    before = await _groups(api)
    assert before == {"ok": 13, "failed": 14, "running": 13}
    api.log.clear()
    assert await _groups(api) == before
    assert _counts(api) == []
    await _insert(builds_db, ROWS + 1, "failed")
    assert await _eventually(lambda: _groups(api), {**before, "failed": 15}) == {
        **before, "failed": 15}


async def test_concurrent_identical_requests_compute_once(
        builds_db: Database, make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, builds_db)
    api.log.clear()
    totals = await asyncio.gather(*(_total(api) for _ in range(8)))
    assert totals == [ROWS] * 8
    assert len(_counts(api)) == 1
    api.log.clear()
    groups = await asyncio.gather(*(_groups(api) for _ in range(8)))
    assert len({tuple(sorted(found.items())) for found in groups}) == 1
    assert len(_counts(api)) == 1


async def test_the_auth_scope_separates_kept_answers(builds_db: Database,
                                                     make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, builds_db, PROTECTED, api_keys="key-a,key-b")

    async def total(key: str) -> Any:
        response = await api.get(LIST, params={"size": 5}, headers={"X-API-Key": key})
        assert response.status_code == 200, response.text
        return response.json()["total"]

    api.log.clear()
    assert [await total("key-a"), await total("key-a"), await total("key-b")] == [ROWS] * 3
    assert len(_counts(api)) == 2  # once per caller


async def test_a_write_is_seen_when_the_cache_is_off(builds_db: Database,
                                                     make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, builds_db, cache_max_mb=0)
    assert api.app.state.results is None
    api.log.clear()
    assert [await _total(api) for _ in range(2)] == [ROWS] * 2
    assert len(_counts(api)) == 2


async def test_two_instances_share_the_redis_cache(
        builds_db: Database, make_api: Callable[..., Any], redis_url: str) -> None:  # noqa: F811
    first = await _serve(make_api, builds_db, cache_url=redis_url)
    second = await _serve(make_api, builds_db, cache_url=redis_url)
    assert await _total(first, status="failed") == 14
    second.log.clear()
    assert await _total(second, status="failed") == 14
    if builds_db.backend == "sqlite":
        # data_version is per connection: SQLite's tokens never match across instances.
        assert len(_counts(second)) == 1
    else:
        assert _counts(second) == []
    await _insert(builds_db, ROWS + 1, "failed")
    assert await _eventually(lambda: _total(second, status="failed"), 15) == 15
    assert await _eventually(lambda: _total(first, status="failed"), 15) == 15


async def test_metrics_count_hits_and_misses(builds_db: Database,
                                             make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, builds_db)
    for _ in range(3):
        await _total(api)
    body = (await api.get("/metrics")).text
    assert 'crud_result_cache_answers_total{kind="total",outcome="miss",resource="builds"} 1.0' in body
    assert 'crud_result_cache_answers_total{kind="total",outcome="hit",resource="builds"} 2.0' in body
