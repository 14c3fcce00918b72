"""Facets beside a list: counts over every selected row, the oracle's on every backend; a
facet over its time budget is left out with a marker while the page answers 200."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from analytics_oracle import BUILDS, all_builds, facet_counts
from conftest import Api, Database
from readings import READINGS, serve

FILTERS = [
    pytest.param({}, id="everything"),
    pytest.param({"status": "success"}, id="status"),
    pytest.param({"chroot__startswith": "epel-", "status__in": "failure,error"}, id="two-filters"),
    pytest.param({"repo_namespace": "packit"}, id="joined-field"),
    pytest.param({"search": "10000"}, id="search"),
]


@pytest.mark.parametrize("filters", FILTERS)
async def test_facet_counts_are_the_oracles(demo_api: Api, filters: dict[str, str]) -> None:
    rows = await all_builds(demo_api, filters)
    demo_api.log.clear()
    response = await demo_api.get(BUILDS, params={
        **filters, "facet": "status,chroot", "facet_size": "100", "size": "5"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert demo_api.log.count == 3  # the page with its count, then one per facet
    assert body["total"] == len(rows)
    assert body["facets"] == {"status": facet_counts(rows, "status"),
                              "chroot": facet_counts(rows, "chroot")}
    assert body["facets_truncated"] == body["facets_timed_out"] == []


async def test_null_is_a_value_of_its_own(demo_api: Api) -> None:
    rows = await all_builds(demo_api, {})
    response = await demo_api.get(BUILDS, params={"facet": "repo_namespace", "facet_size": 100})
    expected = facet_counts(rows, "repo_namespace")
    assert any(entry["value"] is None for entry in expected)
    assert response.json()["facets"] == {"repo_namespace": expected}


async def test_facet_size_cuts_and_says_so(demo_api: Api) -> None:
    rows = await all_builds(demo_api, {"status": "success"})
    response = await demo_api.get(BUILDS, params=[("status", "success"), ("facet", "chroot"),
                                                  ("facet", "status"), ("facet_size", "2")])
    body = response.json()
    assert body["facets"] == {"chroot": facet_counts(rows, "chroot")[:2],
                              "status": [{"value": "success", "count": len(rows)}]}
    assert body["facets_truncated"] == ["chroot"]
    assert body["facets_timed_out"] == []


async def test_a_list_without_facets_keeps_its_envelope(demo_api: Api) -> None:
    body = (await demo_api.get(BUILDS, params={"size": 1})).json()
    assert set(body) == {"items", "total", "page", "size", "pages", "next"}


@pytest.mark.parametrize(("params", "status", "errors"), [
    pytest.param({"facet": "chrot"}, 422, [{"parameter": "facet", "message": "no facet 'chrot' "
                  "(did you mean 'chroot'?)"}], id="unknown-facet"),
    pytest.param({"facet": "web_url"}, 422, [{"parameter": "facet", "message": "no facet "
                  "'web_url' (valid: chroot, repo_namespace, status)"}], id="undeclared"),
    pytest.param({"facet": "chroot,status,chroot"}, 422, [{
        "parameter": "facet", "message": "'chroot' given more than once"}], id="repeated"),
    pytest.param({"facet": ""}, 422, [{
        "parameter": "facet", "message": "no facet '' (valid: chroot, repo_namespace, status)"}],
        id="empty"),
    pytest.param({"facet": "status", "facet_size": "101"}, 422, [{
        "parameter": "facet_size", "message": "expected a whole number from 1 to 100, got "
                                              "'101'"}], id="size-over-cap"),
    pytest.param({"facet_size": "0"}, 422, [{
        "parameter": "facet_size", "message": "expected a whole number from 1 to 100, got "
                                              "'0'"}], id="size-zero"),
])
async def test_bad_facet_parameters(demo_api: Api, params: dict[str, str], status: int,
                                    errors: list[dict[str, str]]) -> None:
    response = await demo_api.get(BUILDS, params=params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == errors


async def test_a_resource_without_facets_has_no_facet_parameter(demo_api: Api) -> None:
    response = await demo_api.get("/api/v1/projects", params={"facet": "namespace"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("unknown parameter")


_SLOW = """\
api:
  page_size: 7
resources:
  readings:
    model: bigtables_models:Reading
    fields:
      id:
      name:
      slow: {source: {expression: "bigtables_models:slow_20ms"}}
    facets: [name, slow]
    facet_timeout_ms: 300
"""


async def test_a_facet_over_its_budget_is_left_out_and_the_page_answers(
        readings_db: Database, make_api: Callable[..., Any]) -> None:
    # 61 rows x 20 ms for the slow facet against its 300 ms budget; the page reads 7 rows.
    api = await serve(make_api, readings_db, _SLOW)
    response = await api.get(READINGS, params={"facet": "slow,name", "size": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["facets"] == {"name": [{"value": "b", "count": 21}, {"value": "a", "count": 20},
                                       {"value": "c", "count": 20}]}
    assert body["facets_timed_out"] == ["slow"]
    assert body["facets_truncated"] == []
    assert [item["id"] for item in body["items"]] == [1, 2]
    # The connection outlived the cancelled statement and serves the next request.
    again = await api.get(READINGS, params={"facet": "name"})
    assert again.status_code == 200
    assert again.json()["facets_timed_out"] == []
