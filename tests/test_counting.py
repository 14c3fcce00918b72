"""Count policies: each says how exact its total is, and a client may only ask for less."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from bigtables_models import ROWS
from conftest import Database
from readings import READINGS, registry, serve

from crud.config.registry import RegistryError, parse_registry

# (count policy in the registry, expected total, kind, Content-Range) for ?size=5.
POLICIES = [
    pytest.param("count: exact", ROWS, "exact", f"readings 0-4/{ROWS}", id="exact"),
    pytest.param("count: {capped: 10}", 10, "lower-bound", "readings 0-4/10", id="capped-below"),
    pytest.param("count: {capped: 100}", ROWS, "exact", f"readings 0-4/{ROWS}", id="capped-above"),
    pytest.param("count: none", None, "none", "readings 0-4/*", id="none"),
]


@pytest.mark.parametrize(("policy", "total", "kind", "content_range"), POLICIES)
async def test_count_policy_sets_total_and_kind(
        readings_db: Database, make_api: Callable[..., Any], policy: str, total: int | None,
        kind: str, content_range: str) -> None:
    api = await serve(make_api, readings_db, registry(f"    {policy}"))
    response = await api.get(READINGS, params={"size": 5})
    assert response.status_code == 200
    assert (response.json()["total"], response.headers["total-count-kind"]) == (total, kind)
    assert response.headers["content-range"] == content_range


async def test_policy_from_api_default(readings_db: Database,
                                       make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry(api="  count: none"))
    response = await api.get(READINGS)
    assert (response.json()["total"], response.headers["total-count-kind"]) == (None, "none")


async def test_estimated_count_uses_the_planner_on_postgresql(
        readings_db: Database, make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry("    count: estimated"))
    api.log.clear()
    response = await api.get(READINGS, params={"size": 5})
    body, kind = response.json(), response.headers["total-count-kind"]
    if readings_db.backend == "postgresql":
        assert kind == "estimated"
        assert isinstance(body["total"], int)
        assert api.log.statements[-1].startswith("EXPLAIN (FORMAT JSON) SELECT 1")
        assert api.log.count == 2  # the page, then EXPLAIN
    else:  # exact up to a cap of 10,000 rows, counted inside the page statement
        assert (body["total"], kind) == (ROWS, "exact")
        assert api.log.count == 1


async def test_short_first_page_needs_no_count(readings_db: Database,
                                               make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry("    count: estimated"))
    api.log.clear()
    response = await api.get(READINGS, params={"name": "b", "size": 20, "page": 2})
    assert api.log.count == 1
    assert (response.json()["total"], response.headers["total-count-kind"]) == (21, "exact")


CHEAPER = [
    pytest.param("count: exact", "none", 200, "none", id="exact-asks-none"),
    pytest.param("count: exact", "exact", 200, "exact", id="exact-asks-exact"),
    pytest.param("count: {capped: 10}", "none", 200, "none", id="capped-asks-none"),
    pytest.param("count: {capped: 10}", "exact", 422, None, id="capped-asks-exact"),
    pytest.param("count: none", "estimated", 422, None, id="none-asks-estimated"),
    pytest.param("count: exact", "all", 422, None, id="unknown-kind"),
]


@pytest.mark.parametrize(("policy", "asked", "status", "kind"), CHEAPER)
async def test_client_may_ask_for_a_cheaper_count_only(
        readings_db: Database, make_api: Callable[..., Any], policy: str, asked: str,
        status: int, kind: str | None) -> None:
    api = await serve(make_api, readings_db, registry(f"    {policy}"))
    response = await api.get(READINGS, params={"size": 5, "count": asked})
    assert response.status_code == status
    if kind is None:
        assert response.json()["errors"][0]["parameter"] == "count"
    else:
        assert response.headers["total-count-kind"] == kind


async def test_exact_count_over_its_time_budget_falls_back(
        readings_db: Database, make_api: Callable[..., Any]) -> None:
    policy = "    count: {kind: exact, timeout_ms: 300}"
    api = await serve(make_api, readings_db, registry(policy, slow="slow_20ms"))
    # 61 rows x 20 ms to count; the 7-row page takes ~140 ms.
    response = await api.get("/api/v1/slow-readings", params={"slow": 1})
    assert response.status_code == 200
    assert len(response.json()["items"]) == 7
    expected = "estimated" if readings_db.backend == "postgresql" else "none"
    assert response.headers["total-count-kind"] == expected
    again = await api.get("/api/v1/slow-readings", params={"size": 3})
    assert (again.status_code, again.headers["total-count-kind"]) == (200, "exact")


TIMEOUT_ON_EXACT_ONLY = ("timeout_ms applies to exact counts only "
                         "(e.g. count: {kind: exact, timeout_ms: 500})")


@pytest.mark.parametrize(("policy", "key", "message"), [
    pytest.param("{kind: estimated, timeout_ms: 100}", "count", TIMEOUT_ON_EXACT_ONLY,
                 id="timeout-on-estimate"),
    pytest.param("{capped: 10, timeout_ms: 100}", "count", TIMEOUT_ON_EXACT_ONLY,
                 id="timeout-on-capped"),
    pytest.param("{kind: none, cap: 5}", "count",
                 "a count of kind 'none' has no cap; use {capped: N} or drop cap",
                 id="cap-on-none"),
    pytest.param("sometimes", "count.kind", "Input should be 'auto', 'exact', 'estimated' or 'none'",
                 id="unknown"),
])
def test_meaningless_count_policy_is_a_registry_error(policy: str, key: str,
                                                      message: str) -> None:
    with pytest.raises(RegistryError) as raised:
        parse_registry(registry(f"    count: {policy}"))
    [issue] = raised.value.issues
    assert (issue.key, issue.message) == (f"resources.readings.{key}", message)
