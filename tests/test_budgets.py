"""Budgets: a statement over its time budget is a 503 and frees its connection; max_offset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import Database
from readings import READINGS, registry, serve
from sqlalchemy import text

SLOW = "/api/v1/slow-readings"


async def test_slow_list_is_503_and_the_connection_is_reused(
        readings_db: Database, make_api: Callable[..., Any]) -> None:
    # 7 rows x 200 ms against a 300 ms budget (the API default stays 10 s).
    api = await serve(make_api, readings_db,
                      registry("    statement_timeout_ms: 300", slow="slow_200ms"))
    response = await api.get(SLOW)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.pop("request_id") == response.headers["x-request-id"]
    assert body == {
        "type": "about:blank", "title": "Service Unavailable", "status": 503,
        "detail": "The query took longer than this API allows; narrow it with filters or a "
                  "smaller page.",
        "instance": SLOW, "code": "service_unavailable"}
    after = await api.get(READINGS)
    assert after.status_code == 200
    # One connection served both: after the timeout it was kept for the next request.
    reader = api.app.state.reader
    assert len(reader.idle) == api.engine.pool.checkedout() == 1


async def test_resource_budget_does_not_leak_into_the_pool(
        readings_db: Database, make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry("    statement_timeout_ms: 1234"))
    api.log.clear()
    assert (await api.get(READINGS)).status_code == 200
    # No statement of its own: PostgreSQL's driver times the statement, MariaDB prefixes
    # it with SET STATEMENT ... FOR, SQLite arms an interrupt timer.
    assert api.log.count == 1
    if readings_db.backend != "postgresql":
        return
    async with api.engine.connect() as connection:
        shown = (await connection.execute(text("SHOW statement_timeout"))).scalar_one()
    assert shown == "10s"


@pytest.mark.parametrize(("params", "headers", "parameter"), [
    pytest.param({"page": 3}, {}, "page", id="page"),
    pytest.param({}, {"Range": "items=15-19"}, "Range", id="range"),
])
async def test_offset_beyond_max_offset_is_400(
        readings_db: Database, make_api: Callable[..., Any], params: dict[str, Any],
        headers: dict[str, str], parameter: str) -> None:
    api = await serve(make_api, readings_db, registry("    max_offset: 10"))
    response = await api.get(READINGS, params={**params, "name": "a"}, headers=headers)
    assert response.status_code == 400
    reason = ("offset 14 is beyond this list's max_offset 10; go deeper with the cursor: "
              "request the first page and follow 'next'") if parameter == "page" else (
              "offset 15 is beyond this list's max_offset 10; go deeper with the cursor: "
              "request the first page and follow 'next'")
    first = "/api/v1/readings?name=a"
    assert response.json()["errors"] == [{"parameter": parameter, "message": reason,
                                          "first": first}]
    assert response.headers["link"] == f'<{first}>; rel="first"'


async def test_cursor_goes_beyond_max_offset(readings_db: Database,
                                             make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry("    max_offset: 10"))
    response = await api.get(READINGS)
    for _ in range(3):
        response = await api.get(READINGS, params={"cursor": response.json()["next"]})
    assert (response.status_code, response.headers["content-range"]) == (200, "readings 21-27/61")
