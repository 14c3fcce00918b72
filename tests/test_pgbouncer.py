"""PostgreSQL through a real PgBouncer in transaction pooling mode (``?pgbouncer=true``).

Two server connections are shared by every client, so a prepared statement left on one
would clash with (or be missing for) the next client: none is. Budgets and read-only are
set per transaction and hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import PG_SERVER, ROOT, Api, Database
from pooling import Bouncer, start_bouncer

from crud.sql.database import engine_backend
from crud.sql.pgbouncer import PgBouncer

CLIENTS = 6
# Representative reads of the demo registry: filters, search, sorts, cursors, counts,
# derived joins, nested objects, to-many lists, details, an error.
PATHS = [
    "/api/v1/koji-builds?size=5",
    "/api/v1/koji-builds?status__in=success,failure&order_by=-build_submitted_time&size=7",
    "/api/v1/koji-builds?search=koji&status=success&size=3",
    "/api/v1/koji-builds?chroot__like=fedora&order_by=build_submitted_time&size=4",
    "/api/v1/koji-builds?page=3&size=10",
    "/api/v1/koji-builds/42",
    "/api/v1/pull-requests?size=5",
    "/api/v1/projects?size=4",
    "/api/v1/koji-builds?statuz=success",
    "/api/v1/koji-builds/999999",
]
SESSION = """\
api:
  statement_timeout_ms: 150
resources:
  settings:
    model: resources.models:GitProjectModel
    fields:
      id:
      read_only: {source: {expression: "pooling:read_only"}}
      timeout: {source: {expression: "pooling:statement_timeout"}}
  slow:
    model: resources.models:GitProjectModel
    fields:
      id:
      one: {source: {expression: "pooling:sleep_then_one"}}
"""


@pytest.fixture(scope="module")
def bouncer() -> Iterator[Bouncer]:
    started = start_bouncer(PG_SERVER)
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.parametrize("demo_db", ["postgresql"], indirect=True)
async def test_the_demo_reads_through_pgbouncer_as_directly_under_concurrency(
        make_api: Callable[..., Any], demo_db: Database, bouncer: Bouncer) -> None:
    registry = (ROOT / "registry.yaml").read_text(encoding="utf-8")
    direct: Api = await make_api(registry, demo_db.url, "postgresql")
    pooled: Api = await make_api(registry, bouncer.url(demo_db.url), "postgresql")
    assert isinstance(engine_backend(pooled.engine), PgBouncer)
    expected = {path: await _answer(direct, path) for path in PATHS}

    async def client(offset: int) -> list[tuple[str, tuple[int, Any]]]:
        paths = PATHS[offset:] + PATHS[:offset]
        return [(path, await _answer(pooled, path)) for path in paths * 3]

    answers = await asyncio.gather(*(client(offset) for offset in range(CLIENTS)))
    for path, answer in (pair for each in answers for pair in each):
        assert answer == expected[path], path
    statuses = sorted({status for status, _ in expected.values()})
    assert statuses == [200, 400, 404]


async def _answer(api: Api, path: str) -> tuple[int, Any]:
    response = await api.get(path)
    body = response.json()
    if isinstance(body, dict):
        body.pop("request_id", None)  # problems name their request
    return response.status_code, body


@pytest.mark.parametrize("demo_db", ["postgresql"], indirect=True)
async def test_each_statement_is_read_only_under_the_budget_through_pgbouncer(
        make_api: Callable[..., Any], demo_db: Database, bouncer: Bouncer) -> None:
    api: Api = await make_api(SESSION, bouncer.url(demo_db.url), "postgresql")
    response = await api.get("/api/v1/settings/1")
    assert (response.status_code, response.json()) == (
        200, {"id": 1, "read_only": "on", "timeout": "150ms"})

    slow = await api.get("/api/v1/slow?size=2")

    assert slow.status_code == 503
    assert slow.json()["detail"] == ("The query took longer than this API allows; narrow it "
                                     "with filters or a smaller page.")
    # The cancelled transaction was rolled back: the connection serves the next read.
    assert (await api.get("/api/v1/settings/1")).status_code == 200
