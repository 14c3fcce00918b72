"""A list page whose statement is reused by shape answers exactly like a freshly built one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import ROOT, Api, Database
from starlette.datastructures import QueryParams

from crud.http.routing import ResourceEndpoints

# Each pair: the same shape (filters, search, order) with different values and offsets.
SAME_SHAPE = [
    pytest.param("status=success&size=5", "status=failure&size=7&page=2", id="filter-eq"),
    pytest.param("status__in=success,error&size=5", "status__in=pending,running,failure&size=5",
                 id="filter-in-list-lengths"),
    pytest.param("search=abc&size=5", "search=50%25_a&size=5", id="search"),
    pytest.param("order_by=-build_submitted_time&size=5",
                 "order_by=-build_submitted_time&size=9&page=3", id="sort"),
    pytest.param("chroot__like=fedora%25&task_id__isnull=false&size=4",
                 "chroot__like=epel%25&task_id__isnull=true&size=4", id="two-filters"),
]


async def _serve(demo_db: Database, make_api: Callable[..., Any]) -> Api:
    api: Api = await make_api((ROOT / "registry.yaml").read_text(encoding="utf-8"),
                              demo_db.url, demo_db.backend)
    return api


@pytest.mark.parametrize(("first", "second"), SAME_SHAPE)
async def test_a_reused_page_statement_answers_like_a_fresh_one(
        demo_db: Database, make_api: Callable[..., Any], first: str, second: str) -> None:
    warmed = await _serve(demo_db, make_api)
    fresh = await _serve(demo_db, make_api)
    assert (await warmed.get(f"/api/v1/koji-builds?{first}")).status_code == 200

    reused = await warmed.get(f"/api/v1/koji-builds?{second}")
    built = await fresh.get(f"/api/v1/koji-builds?{second}")

    assert reused.status_code == built.status_code == 200
    assert reused.json() == built.json()
    assert reused.headers["content-range"] == built.headers["content-range"]


async def test_a_plan_of_a_known_shape_gets_the_same_statement_with_its_own_values(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api = await _serve(demo_db, make_api)
    loaded = api.app.state.registry
    resource = next(r for r in loaded.resources if r.name == "koji-builds")
    endpoints = ResourceEndpoints(resource, api.engine, loaded.registry.api)
    first, second = (endpoints.plan(endpoints.parser.parse(QueryParams(query), query))
                     for query in ("status=success&size=5", "status=failure&size=7&page=2"))

    statement, _ = endpoints.builder.page_with_params(first)
    reused, params = endpoints.builder.page_with_params(second)

    assert reused is statement
    async with api.engine.connect() as connection:
        rows = (await connection.execute(reused, params)).all()
        fresh = (await connection.execute(endpoints.builder.page(second))).all()
    assert rows == fresh
    assert len(rows) == 7
    assert {str(getattr(row[2], "value", row[2])) for row in rows} == {"failure"}
