"""PostgreSQL through a real PgBouncer in transaction pooling mode (``?pgbouncer=true``).

Two server connections are shared by every client, so a prepared statement left on one
would clash with (or be missing for) the next client: none is. Budgets and read-only are
set per transaction and hold; JIT is off on both paths.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import PG_SERVER, ROOT, Api, Database
from pooling import Bouncer, start_bouncer
from readings import all_pages

from crud.sql.database import engine_backend
from crud.sql.pgbouncer import PgBouncer

CLIENTS = 6
EXPORT = "/api/v1/koji-builds?format=ndjson&fields=packit_id,status,pr_id"
CHUNK_ROWS = 64
# Reads of the demo registry covering every statement kind: filters, search, sorts, counts,
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
    # The other statement kinds: boolean groups, facets (own statements and budget),
    # aggregates, shapes, embeds (a to-many list's statement), full-text search on an
    # array-filtered resource, and an export's chain of keyset chunks.
    "/api/v1/koji-builds?or=(status=failure,chroot__startswith=epel)&size=6",
    "/api/v1/koji-builds?facet=status&facet=chroot&size=2",
    "/api/v1/koji-builds/aggregate?group_by=status&metrics=count,avg:duration",
    "/api/v1/koji-builds?fields=packit_id,pr_id&embed=runs&size=4",
    "/api/v1/pull-requests?search=fix&labels__overlaps=bug,ci&size=5",
    "/api/v1/projects?embed=pull_requests&fields=id,branches.name&size=3",
    EXPORT,
    "/api/v1/test-runs?format=csv&status=failure",
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
      jit: {source: {expression: "pooling:jit"}}
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
    # Small export chunks: the export below is a chain of several keyset statements.
    registry = (ROOT / "registry.yaml").read_text(encoding="utf-8").replace(
        "\napi:\n", f"\napi:\n  export: {{chunk_rows: {CHUNK_ROWS}}}\n", 1)
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
    # More rows than one chunk: the export's later statements ran on pooled connections too.
    assert expected[EXPORT][1].count("\n") > 3 * CHUNK_ROWS
    statuses = [status for status, _ in expected.values()]
    assert sorted(statuses) == [200] * (len(PATHS) - 2) + [400, 404]


@pytest.mark.parametrize("demo_db", ["postgresql"], indirect=True)
async def test_cursor_walks_through_pgbouncer_match_direct_ones(
        make_api: Callable[..., Any], demo_db: Database, bouncer: Bouncer) -> None:
    registry = (ROOT / "registry.yaml").read_text(encoding="utf-8")
    direct: Api = await make_api(registry, demo_db.url, "postgresql")
    pooled: Api = await make_api(registry, bouncer.url(demo_db.url), "postgresql")
    size = 40
    params = {"size": size, "order_by": "build_submitted_time", "count": "none"}

    async def walk(api: Api) -> list[int]:
        pages = await all_pages(api, "/api/v1/koji-builds", params)
        return [item["packit_id"] for page in pages for item in page.json()["items"]]

    walks = await asyncio.gather(walk(direct), *(walk(pooled) for _ in range(CLIENTS)))
    assert len(set(walks[0])) == len(walks[0]) > 5 * size
    assert all(ids == walks[0] for ids in walks[1:])


async def _answer(api: Api, path: str) -> tuple[int, Any]:
    response = await api.get(path)
    if response.headers["content-type"].split(";")[0] in ("application/x-ndjson", "text/csv"):
        return response.status_code, response.text
    body = response.json()
    if isinstance(body, dict):
        body.pop("request_id", None)  # problems name their request
    return response.status_code, body


@pytest.mark.parametrize("demo_db", ["postgresql"], indirect=True)
@pytest.mark.parametrize("through", ["pgbouncer", "direct"])
async def test_each_statement_is_read_only_under_the_budget_without_jit(
        make_api: Callable[..., Any], demo_db: Database, bouncer: Bouncer, through: str) -> None:
    # JIT off: compiling a plan is not interruptible by statement_timeout, so a JIT-compiled
    # statement could overrun its budget many times over.
    url = bouncer.url(demo_db.url) if through == "pgbouncer" else demo_db.url
    api: Api = await make_api(SESSION, url, "postgresql")
    response = await api.get("/api/v1/settings/1")
    assert (response.status_code, response.json()) == (
        200, {"id": 1, "read_only": "on", "timeout": "150ms", "jit": "off"})

    slow = await api.get("/api/v1/slow?size=2")

    assert slow.status_code == 503
    assert slow.json()["detail"] == ("The query took longer than this API allows; narrow it "
                                     "with filters or a smaller page.")
    # The cancelled transaction was rolled back: the connection serves the next read.
    assert (await api.get("/api/v1/settings/1")).status_code == 200
