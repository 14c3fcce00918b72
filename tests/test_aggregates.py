"""``/aggregate`` as a contract: grouped metrics equal the Python oracle's on every backend
(filters first, NULL groups, ISO week buckets from Monday), one statement per page of
groups, having filters and ordering by metrics, and problems for undeclared names."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from analytics_oracle import BUILDS, all_builds, groups, ordered
from conftest import Api

AGGREGATE = f"{BUILDS}/aggregate"
METRICS = "count,sum:duration,avg:duration,min:build_submitted_time,max:build_submitted_time"


async def all_groups(api: Api, params: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await api.get(AGGREGATE, params={**params, "size": 100, "page": page})
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body["groups"])
        if page >= (body["pages"] or 0):
            return found, body["total_groups"]
        page += 1


def approximately(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: pytest.approx(value) if key == "avg_duration" and value is not None else value
             for key, value in group.items()} for group in found]


CASES = [
    pytest.param("status", {}, id="status"),
    pytest.param("status,chroot", {"status__in": "success,failure"}, id="two-fields-filtered"),
    pytest.param("repo_namespace", {}, id="joined-field-with-null-group"),
    pytest.param("build_submitted_time:week", {}, id="week-with-null-bucket"),
    pytest.param("build_submitted_time:month,status", {"chroot__startswith": "fedora-"},
                 id="month-and-status"),
    pytest.param("build_submitted_time:day", {"repo_namespace": "packit"}, id="day-joined-filter"),
    pytest.param("build_submitted_time:hour", {"search": "10000"}, id="hour-search"),
    pytest.param("build_submitted_time:year", {}, id="year"),
    pytest.param("", {"status": "error"}, id="no-grouping"),
    pytest.param("status,chroot", {"or": "(chroot__startswith=epel-,and=(scratch=true,"
                                          "repo_namespace=packit))"}, id="boolean-group"),
]


@pytest.mark.parametrize(("group_by", "filters"), CASES)
async def test_groups_are_the_oracles(demo_api: Api, group_by: str,
                                      filters: dict[str, str]) -> None:
    rows = await all_builds(demo_api, filters)
    keys = group_by.split(",") if group_by else []
    params = {**filters, "metrics": METRICS, **({"group_by": group_by} if group_by else {})}
    found, total = await all_groups(demo_api, params)
    names = [key.split(":")[0] for key in keys]
    expected = ordered(groups(rows, keys), [(name, False) for name in names])
    assert total == len(expected)
    assert found == approximately(expected)


async def test_weeks_start_on_monday_in_utc(demo_api: Api) -> None:
    found, _ = await all_groups(demo_api, {"group_by": "build_submitted_time:week"})
    starts = [group["build_submitted_time"] for group in found if group["build_submitted_time"]]
    assert starts
    assert all(start.endswith("T00:00:00+00:00") for start in starts)
    assert {dt.datetime.fromisoformat(start).weekday() for start in starts} == {0}


async def test_one_statement_per_page_of_groups(demo_api: Api) -> None:
    demo_api.log.clear()
    response = await demo_api.get(AGGREGATE, params={
        "group_by": "status,repo_namespace", "metrics": METRICS, "size": 5})
    assert response.status_code == 200
    assert demo_api.log.count == 1
    body = response.json()
    assert response.headers["content-range"] == f"groups 0-4/{body['total_groups']}"
    assert (body["page"], body["size"], len(body["groups"])) == (1, 5, 5)


async def test_a_page_past_the_last_group_still_counts_them(demo_api: Api) -> None:
    response = await demo_api.get(AGGREGATE, params={"group_by": "status", "page": 9})
    body = response.json()
    assert body == {"groups": [], "total_groups": 5, "page": 9, "size": 20, "pages": 1}
    assert response.headers["content-range"] == "groups */5"


async def test_order_by_metrics_and_having(demo_api: Api) -> None:
    rows = await all_builds(demo_api, {"status__in": "success,failure"})
    expected = [group for group in groups(rows, ["status", "chroot"]) if group["count"] >= 10
                and group["sum_duration"] is not None and group["sum_duration"] > 20000]
    expected = ordered(expected, [("count", True), ("avg_duration", False), ("status", False),
                                  ("chroot", False)])
    found, total = await all_groups(demo_api, {
        "group_by": "status,chroot", "metrics": METRICS, "status__in": "success,failure",
        "order_by": "-count,avg_duration", "count__gte": "10", "sum_duration__gt": "20000"})
    assert total == len(expected) > 0
    assert found == approximately(expected)


async def test_having_on_a_metric_not_asked_for(demo_api: Api) -> None:
    rows = await all_builds(demo_api, {})
    expected = [{"chroot": group["chroot"]} for group in groups(rows, ["chroot"])
                if group["max_build_submitted_time"] is not None
                and group["max_build_submitted_time"] < "2024-09-01"]
    found, _ = await all_groups(demo_api, {
        "group_by": "chroot", "metrics": "count",
        "max_build_submitted_time__lt": "2024-09-01T00:00:00"})
    assert [{"chroot": group["chroot"]} for group in found] == sorted(
        expected, key=lambda group: group["chroot"])


@pytest.mark.parametrize(("params", "status", "errors"), [
    pytest.param({"group_by": "stauts"}, 422, [{
        "parameter": "group_by", "message": "cannot group by 'stauts' (did you mean 'status'?)"}],
        id="unknown-group"),
    pytest.param({"group_by": "status:week"}, 422, [{
        "parameter": "group_by", "message": "cannot group by 'status:week' (did you mean "
                                            "'status'?)"}], id="bucket-on-text"),
    pytest.param({"group_by": "build_submitted_time:fortnight"}, 422, [{
        "parameter": "group_by", "message": "cannot group by 'build_submitted_time:fortnight' "
                                            "(did you mean 'build_submitted_time:month'?)"}],
        id="unknown-bucket"),
    pytest.param({"metrics": "sum:chroot"}, 422, [{
        "parameter": "metrics", "message": "cannot compute 'sum:chroot' (valid: avg:duration, "
                                           "count, max:build_submitted_time, "
                                           "min:build_submitted_time, sum:duration)"}],
        id="undeclared-metric"),
    pytest.param({"group_by": "status", "order_by": "chroot"}, 422, [{
        "parameter": "order_by", "message": "cannot sort by 'chroot'; group by it first"}],
        id="order-by-ungrouped"),
    pytest.param({"count__gte": "many"}, 422, [{
        "parameter": "count__gte",
        "message": "Input should be a whole number in decimal digits"}],
        id="bad-having-value"),
    pytest.param({"count__neq": "-62754144566764748800"}, 422, [{
        "parameter": "count__neq",
        "message": "Input should be greater than or equal to -9223372036854775808"}],
        id="count-beyond-64-bits"),
    pytest.param({"avg_duration": "nan"}, 422, [{
        "parameter": "avg_duration", "message": "Input should be a finite number"}],
        id="nan"),
    pytest.param({"group_by": ""}, 422, [{
        "parameter": "group_by", "message": "cannot group by '' (valid: build_submitted_time, "
        "build_submitted_time:day, build_submitted_time:hour, build_submitted_time:month, "
        "build_submitted_time:week, build_submitted_time:year, chroot, repo_namespace, status)"}],
        id="empty-group"),
    pytest.param({"size": "101"}, 422, [{
        "parameter": "size", "message": "expected a whole number from 1 to 100, got '101'"}],
        id="size-over-cap"),
    pytest.param({"count__between": "1"}, 400, None, id="unknown-operator"),
    pytest.param({"cursor": "x"}, 400, None, id="no-cursor-here"),
])
async def test_bad_aggregate_parameters(demo_api: Api, params: dict[str, str], status: int,
                                        errors: list[dict[str, str]] | None) -> None:
    response = await demo_api.get(AGGREGATE, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if errors is not None:
        assert response.json()["errors"] == errors


async def test_test_runs_aggregate_too(demo_api: Api) -> None:
    response = await demo_api.get("/api/v1/test-runs/aggregate", params={
        "group_by": "status", "metrics": "count,max:submitted_time", "order_by": "-count"})
    assert response.status_code == 200
    body = response.json()
    counts = [group["count"] for group in body["groups"]]
    assert counts == sorted(counts, reverse=True)
    assert set(body["groups"][0]) == {"status", "count", "max_submitted_time"}


async def test_a_resource_without_aggregate_has_no_such_route(demo_api: Api) -> None:
    # "aggregate" is then just an id that is not one
    response = await demo_api.get("/api/v1/projects/aggregate")
    assert response.status_code == 422
