"""The default total never costs more than the page: over views, joins and filtered lists.

A table ``tt_builds`` (3,000 rows) and a view ``tt_builds_api`` deriving a field through a
join, served in reflection mode with ``count: {kind: auto, cap: 50}``: 3,000 rows are "many",
and a filter matching more than 1,000 (``PLANNER_FROM``) is more than a page's worth.
The planner answers (``EXPLAIN``, no rows read) for a view on PostgreSQL and MariaDB, and
for a filtered big table on PostgreSQL; an exact count runs only where the planner expects
fewer rows than the cap. Elsewhere the count stops at the cap (``lower-bound``); SQLite has
no plan estimate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from conftest import BACKENDS, Api, Database, create_database, drop_database
from sqlalchemy import text

from crud.sql.database import make_engine

ROWS = 3000
SCHEMA = [
    "CREATE TABLE tt_projects (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL)",
    "CREATE TABLE tt_builds (id INTEGER NOT NULL PRIMARY KEY, project_id INTEGER NOT NULL, "
    "status VARCHAR(20) NOT NULL, FOREIGN KEY (project_id) REFERENCES tt_projects (id))",
    "CREATE INDEX tt_builds_status ON tt_builds (status)",
    "CREATE VIEW tt_builds_api AS SELECT b.id, b.status, p.name AS project "
    "FROM tt_builds b LEFT JOIN tt_projects p ON p.id = b.project_id",
]
REGISTRY = """\
api: {page_size: 10, count: {kind: auto, cap: 50}}
resources:
  builds:
    table: tt_builds
    fields: {id:, status:, project: project_id}
    filters: {status: [eq]}
  view-builds:
    table: tt_builds_api
    primary_key: id
    fields: {id:, status:, project:}
    filters: {status: [eq], project: [eq]}
"""


def _status(number: int) -> str:
    return "rare" if number % 500 == 0 else ("ok" if number % 3 else "failed")


@pytest_asyncio.fixture(scope="module", params=BACKENDS, loop_scope="session")
async def builds_db(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    database = await create_database(request.param, tmp_path_factory.mktemp("totals"))
    writer = make_engine(database.url, read_only=False)
    try:
        async with writer.begin() as connection:
            for statement in SCHEMA:
                await connection.execute(text(statement))
            await connection.execute(text("INSERT INTO tt_projects VALUES (:id, :name)"),
                                     [{"id": n, "name": f"p{n}"} for n in range(1, 6)])
            await connection.execute(
                text("INSERT INTO tt_builds VALUES (:id, :project, :status)"),
                [{"id": n, "project": n % 5 + 1, "status": _status(n)}
                 for n in range(1, ROWS + 1)])
        if database.backend == "postgresql":
            async with writer.connect() as connection:
                await connection.execute(text("ANALYZE tt_builds, tt_projects"))
                await connection.commit()
    finally:
        await writer.dispose()
    yield database
    await drop_database(database)


@pytest_asyncio.fixture(loop_scope="session")
async def builds_api(builds_db: Database, make_api: Callable[..., Any]) -> Api:
    api: Api = await make_api(REGISTRY, builds_db.url, builds_db.backend)
    return api


def _total(response: Any) -> tuple[Any, str]:
    assert response.status_code == 200, response.text
    return response.json()["total"], response.headers["total-count-kind"]


async def test_a_view_is_totalled_by_the_planner(builds_api: Api) -> None:
    builds_api.log.clear()
    total, kind = _total(await builds_api.get("/api/v1/view-builds"))
    if builds_api.backend != "sqlite":
        assert kind == "estimated"
        assert total == pytest.approx(ROWS, rel=0.2)
        # The page (no count inside), then EXPLAIN: no statement reads the view's rows to count.
        assert builds_api.log.count == 2
        assert builds_api.log.statements[-1].startswith(("EXPLAIN (FORMAT JSON) SELECT 1",
                                                          "EXPLAIN FORMAT=JSON SELECT 1"))
        assert "count(" not in builds_api.log.statements[0].lower()
    else:
        assert (total, kind) == (50, "lower-bound")
        assert builds_api.log.count == 1


@pytest.mark.parametrize("path", ["/api/v1/builds", "/api/v1/view-builds"])
async def test_a_filtered_big_list_is_estimated(builds_api: Api, path: str) -> None:
    total, kind = _total(await builds_api.get(path, params={"status": "ok"}))
    planned = builds_api.backend == "postgresql" or (
        builds_api.backend == "mariadb" and path.endswith("view-builds"))
    if planned:
        assert kind == "estimated"
        assert total == pytest.approx(1996, rel=0.5)
    else:
        assert (total, kind) == (50, "lower-bound")


async def test_a_filter_of_a_big_table_under_the_cap_is_counted_in_the_page(
        builds_api: Api) -> None:
    builds_api.log.clear()
    total, kind = _total(await builds_api.get("/api/v1/builds",
                                              params={"status": "rare", "size": 2}))
    assert (total, kind, builds_api.log.count) == (6, "exact", 1)


@pytest.mark.parametrize("path", ["/api/v1/builds", "/api/v1/view-builds"])
async def test_few_expected_rows_are_counted_exactly(builds_api: Api, path: str) -> None:
    # 6 'rare' rows, pages of 2: the page is full, and the planner expects fewer than the cap.
    total, kind = _total(await builds_api.get(path, params={"status": "rare", "size": 2}))
    assert (total, kind) == (6, "exact")


async def test_a_short_page_is_its_own_total_over_a_view(builds_api: Api) -> None:
    builds_api.log.clear()
    total, kind = _total(await builds_api.get("/api/v1/view-builds", params={"status": "rare"}))
    assert (total, kind) == (6, "exact")
    assert builds_api.log.count == 1


async def test_an_unfiltered_table_keeps_the_table_estimate(builds_api: Api) -> None:
    builds_api.log.clear()
    total, kind = _total(await builds_api.get("/api/v1/builds"))
    if builds_api.backend == "postgresql":
        assert (total, kind, builds_api.log.count) == (ROWS, "estimated", 1)
    else:
        assert (total, kind) == (50, "lower-bound")


async def test_count_exact_is_still_refused_above_auto(builds_api: Api) -> None:
    response = await builds_api.get("/api/v1/view-builds", params={"count": "exact"})
    assert response.status_code == 422
