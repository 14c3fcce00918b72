"""Statements compiled once per shape answer exactly like freshly built ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import ROOT, Api, Database

from crud.model.resource import Resource
from crud.sql.requests import Filter, PageRequest, Selection
from crud.sql.statements import Statements

# Each pair: the same shape (filters, search, order) with different values and offsets.
SAME_SHAPE = [
    pytest.param("status=success&size=5", "status=failure&size=7&page=2", id="filter-eq"),
    pytest.param("status__in=success,error&size=5", "status__in=pending,running,failure&size=5",
                 id="filter-in-list-lengths"),
    pytest.param("search=abc&size=5", "search=50%25_a&size=5", id="search"),
    pytest.param("order_by=-build_submitted_time&size=5",
                 "order_by=-build_submitted_time&size=9&page=3", id="sort"),
    pytest.param("chroot__like=fedora%25&task_id__isnull=false&size=4",
                 "chroot__like=epel%25&task_id__isnull=false&size=4", id="two-filters"),
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


def _request(resource: Resource, status: str, limit: int) -> PageRequest:
    param = resource.filters["status"]
    value = param.leaf.sql_type.enum_class(status)  # type: ignore[attr-defined]
    order = ((resource.sort["packit_id"], True),)
    return PageRequest(Selection((Filter(param, value),)), order, limit)


async def test_one_compiled_statement_serves_every_value_of_a_shape(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api = await _serve(demo_db, make_api)
    resource = next(r for r in api.app.state.registry.resources if r.name == "koji-builds")
    statements = Statements(resource, api.app.state.reader.backend)

    first, _ = statements.page(_request(resource, "success", 5))
    second, values = statements.page(_request(resource, "failure", 7))

    assert second is first
    assert values == {"f0": resource.filters["status"].leaf.sql_type.enum_class("failure"),  # type: ignore[attr-defined]
                      "limit": 7, "offset": 0}
    rows = await api.app.state.reader.fetch(second, values)
    assert len(rows) == 7
    status = resource.row_leaves.index(resource.leaves["status"])
    assert {str(getattr(row[status], "value", row[status])) for row in rows} == {"failure"}
