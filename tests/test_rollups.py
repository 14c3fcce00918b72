"""Rollups as a contract: after a refresh, every answer served from a rollup equals the live
statement's (buckets hour to year, NULL groups, filters, having, order, pages), late rows
inside the window appear after the next refresh, and a request a rollup cannot answer runs
live (no Rollup header). Registry problems are reported at load."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from analytics_oracle import BUILDS
from conftest import ROOT, Api, Database
from sqlalchemy import text

from crud.app import load
from crud.config.registry import RegistryError
from crud.sql.database import make_engine

AGGREGATE = f"{BUILDS}/aggregate"
METRICS = "count,sum:duration,avg:duration,min:build_submitted_time,max:build_submitted_time"
ROLLUPS = """    rollups:
      by_hour:
        time: build_submitted_time
        grain: hour
        dimensions: [status, chroot, repo_namespace]
        metrics: {count: true, sum: [duration], min: [build_submitted_time],
                  max: [build_submitted_time]}
        refresh: 60s
        late: 2d
      by_week:
        time: build_submitted_time
        grain: week
        dimensions: [status]
        metrics: {count: true}
"""


def demo_registry(rollups: str = ROLLUPS) -> str:
    registry = (ROOT / "registry.yaml").read_text(encoding="utf-8")
    anchor = "    aggregate:                                  # GET /koji-builds/aggregate\n"
    assert anchor in registry
    return registry.replace(anchor, rollups + anchor, 1)


async def refresh_all(api: Api) -> None:
    keeper = api.app.state.rollups
    for item in keeper.kept:
        await keeper.step(item)


@pytest.fixture
async def apis(demo_db: Database, make_api: Callable[..., Any]) -> tuple[Api, Api]:
    """The demo served twice: with rollups (built) and without (every answer live)."""
    rolled: Api = await make_api(demo_registry(), demo_db.url, demo_db.backend)
    live: Api = await make_api(demo_registry(""), demo_db.url, demo_db.backend)
    await refresh_all(rolled)
    return rolled, live


def approximately(body: dict[str, Any]) -> dict[str, Any]:
    # Averages divide in Python, not in SQL (MariaDB rounds AVG to 4 decimals).
    groups = [{key: pytest.approx(value, rel=1e-4) if key == "avg_duration" and value is not None
               else value for key, value in group.items()} for group in body["groups"]]
    return {**body, "groups": groups}


SERVED = [
    pytest.param({"group_by": "status"}, id="status"),
    pytest.param({"group_by": "status,chroot", "metrics": METRICS}, id="two-dimensions"),
    pytest.param({"group_by": "repo_namespace", "metrics": METRICS}, id="joined-with-null"),
    pytest.param({"group_by": "build_submitted_time:hour", "metrics": METRICS}, id="hour"),
    pytest.param({"group_by": "build_submitted_time:day,status"}, id="day"),
    pytest.param({"group_by": "build_submitted_time:week", "metrics": METRICS}, id="week"),
    pytest.param({"group_by": "build_submitted_time:month,repo_namespace",
                  "metrics": METRICS}, id="month"),
    pytest.param({"group_by": "build_submitted_time:year"}, id="year"),
    pytest.param({}, id="no-grouping"),
    pytest.param({"group_by": "status", "status__in": "success,failure"}, id="in-filter"),
    pytest.param({"group_by": "chroot", "status__neq": "success"}, id="neq-filter"),
    pytest.param({"group_by": "chroot", "status__not_in": "success,error"}, id="not-in"),
    pytest.param({"group_by": "status", "repo_namespace": "packit"}, id="joined-filter"),
    pytest.param({"group_by": "build_submitted_time:day",
                  "build_submitted_time__gte": "2024-01-01T00:00:00Z",
                  "build_submitted_time__lt": "2024-03-01T00:00:00Z"}, id="time-bounds"),
    pytest.param({"group_by": "status", "build_submitted_time__isnull": "true"},
                 id="no-time"),
    pytest.param({"group_by": "chroot", "metrics": METRICS, "count__gte": "3",
                  "order_by": "-count"}, id="having-and-order"),
    pytest.param({"group_by": "status,chroot", "metrics": METRICS,
                  "order_by": "-sum_duration,status", "size": "4", "page": "2"},
                 id="order-by-sum-second-page"),
    pytest.param({"group_by": "repo_namespace", "metrics": METRICS,
                  "order_by": "-repo_namespace", "avg_duration__gt": "1"},
                 id="desc-nulls-first-having-avg"),
    pytest.param({"group_by": "status", "size": "2", "page": "50"}, id="past-the-end"),
]


@pytest.mark.parametrize("params", SERVED)
async def test_rollup_answers_are_the_live_answers(apis: tuple[Api, Api],
                                                   params: dict[str, str]) -> None:
    rolled, live = apis
    served = await rolled.get(AGGREGATE, params=params)
    expected = await live.get(AGGREGATE, params=params)
    assert served.status_code == expected.status_code == 200, served.text
    assert served.headers["rollup"] in {"by_hour", "by_week"}
    assert int(served.headers["age"]) >= 0
    assert "last-modified" in served.headers
    assert "rollup" not in expected.headers
    assert served.json() == approximately(expected.json())
    assert served.headers["content-range"] == expected.headers["content-range"]


async def test_the_smallest_covering_rollup_answers(apis: tuple[Api, Api]) -> None:
    rolled, _ = apis
    weekly = await rolled.get(AGGREGATE, params={"group_by": "build_submitted_time:week"})
    monthly = await rolled.get(AGGREGATE, params={"group_by": "build_submitted_time:month"})
    assert weekly.headers["rollup"] == "by_week"
    assert monthly.headers["rollup"] == "by_hour"  # weeks do not add up to months


LIVE = [
    pytest.param({"group_by": "status", "search": "10000"}, id="search"),
    pytest.param({"group_by": "status", "scratch": "true"}, id="filter-off-the-dimensions"),
    pytest.param({"group_by": "status", "chroot__startswith": "fedora"}, id="pattern-filter"),
    pytest.param({"group_by": "status", "build_submitted_time__gte": "2024-01-01T00:30:00Z"},
                 id="bound-inside-a-bucket"),
    pytest.param({"group_by": "status", "or": "(status=error,chroot=fedora-rawhide-x86_64)"},
                 id="boolean-group"),
    pytest.param({"group_by": "status", "metrics": "count,avg:duration", "packit_id__gt": "5"},
                 id="filter-on-a-key"),
]


@pytest.mark.parametrize("params", LIVE)
async def test_what_no_rollup_covers_runs_live(apis: tuple[Api, Api],
                                               params: dict[str, str]) -> None:
    rolled, live = apis
    rolled.log.clear()
    served = await rolled.get(AGGREGATE, params=params)
    assert served.status_code == 200, served.text
    assert "rollup" not in served.headers
    assert "age" not in served.headers
    assert rolled.log.count >= 1  # a statement ran
    assert served.json() == (await live.get(AGGREGATE, params=params)).json()


async def test_rollup_answers_run_no_statement(apis: tuple[Api, Api]) -> None:
    rolled, _ = apis
    rolled.log.clear()
    response = await rolled.get(AGGREGATE, params={"group_by": "build_submitted_time:week"})
    assert response.headers["rollup"] == "by_week"
    assert rolled.log.count == 0


FACETS = [
    pytest.param({"facet": "status,chroot"}, id="two-facets"),
    pytest.param({"facet": "repo_namespace", "facet_size": "2"}, id="cut-with-null"),
    pytest.param({"facet": "chroot", "status": "success"}, id="filtered"),
]


@pytest.mark.parametrize("params", FACETS)
async def test_facets_from_a_rollup_are_the_live_facets(apis: tuple[Api, Api],
                                                        params: dict[str, str]) -> None:
    rolled, live = apis
    served = await rolled.get(BUILDS, params={**params, "size": "3"})
    expected = await live.get(BUILDS, params={**params, "size": "3"})
    assert served.headers["rollup"] == "by_hour"
    assert "rollup" not in expected.headers
    assert served.json() == expected.json()


async def test_a_facet_no_rollup_covers_runs_live(apis: tuple[Api, Api]) -> None:
    rolled, _ = apis
    response = await rolled.get(BUILDS, params={"facet": "status", "scratch": "true"})
    assert response.status_code == 200
    assert "rollup" not in response.headers


async def test_before_the_first_build_requests_run_live(demo_db: Database,
                                                        make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(demo_registry(), demo_db.url, demo_db.backend)
    response = await api.get(AGGREGATE, params={"group_by": "status"})
    assert response.status_code == 200
    assert "rollup" not in response.headers


async def test_openapi_documents_the_rollup_headers(apis: tuple[Api, Api]) -> None:
    rolled, live = apis
    document = (await rolled.get("/openapi.json")).json()
    headers = document["paths"][AGGREGATE]["get"]["responses"]["200"]["headers"]
    assert {"Rollup", "Age", "Last-Modified"} <= set(headers)
    listed = document["paths"][BUILDS]["get"]["responses"]["200"]["headers"]
    assert "Rollup" in listed
    plain = (await live.get("/openapi.json")).json()
    assert "Rollup" not in plain["paths"][AGGREGATE]["get"]["responses"]["200"]["headers"]


async def test_metrics_report_each_rollup(apis: tuple[Api, Api]) -> None:
    rolled, _ = apis
    text_ = (await rolled.get("/metrics")).text
    assert 'crud_rollup_built_ratio{resource="koji-builds",rollup="by_hour"} 1.0' in text_
    assert 'crud_rollup_rows{resource="koji-builds",rollup="by_week"}' in text_
    assert "crud_rollup_full_pass_seconds" in text_


# -- late rows: a table of our own, written to between refreshes ---------------------------

EVENTS = """
resources:
  events:
    table: rl_events
    fields: {id:, at:, kind:, size:}
    filters: {kind: [eq, in], at: [gte, lt]}
    aggregate:
      group_by: [kind, at]
      metrics: {count: true, sum: [size], min: [size], max: [size]}
    rollups:
      hourly:
        time: at
        grain: hour
        dimensions: [kind]
        metrics: {count: true, sum: [size], min: [size], max: [size]}
        late: 1d
"""
NOW = dt.datetime(2024, 5, 10, 12, 0)


async def _write(database: Database, statement: str, rows: list[dict[str, Any]]) -> None:
    writer = make_engine(database.url, read_only=False)
    try:
        async with writer.begin() as connection:
            if rows:
                await connection.execute(text(statement), rows)
            else:
                await connection.execute(text(statement))
    finally:
        await writer.dispose()


def _events(first: int, count: int, start: dt.datetime) -> list[dict[str, Any]]:
    kinds = ["alpha", "beta", None]
    return [{"id": first + index, "at": start + dt.timedelta(minutes=37 * index),
             "kind": kinds[index % 3], "size": None if index % 5 == 0 else index}
            for index in range(count)]


@pytest.mark.parametrize("empty_db", ["sqlite", "postgresql", "mariadb"], indirect=True)
async def test_late_rows_inside_the_window_appear_after_the_next_refresh(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    await _write(empty_db, "CREATE TABLE rl_events (id INTEGER PRIMARY KEY, at TIMESTAMP NULL, "
                           "kind VARCHAR(20) NULL, size INTEGER NULL)", [])
    insert = "INSERT INTO rl_events (id, at, kind, size) VALUES (:id, :at, :kind, :size)"
    await _write(empty_db, insert, [*_events(1, 200, NOW - dt.timedelta(days=5)),
                                    {"id": 999, "at": None, "kind": "beta", "size": 7}])
    api: Api = await make_api(EVENTS, empty_db.url, empty_db.backend)
    live: Api = await make_api(EVENTS.split("    rollups:")[0], empty_db.url, empty_db.backend)
    keeper = api.app.state.rollups
    [item] = keeper.kept
    await keeper.step(item)  # the first build
    assert item.progress.chunks >= 3  # five days of hours, in chunks of time (growing when quick)
    params = {"group_by": "at:day,kind", "metrics": "count,sum:size,min:size,max:size"}
    before = await api.get("/api/v1/events/aggregate", params=params)
    assert before.headers["rollup"] == "hourly"
    assert before.json() == (await live.get("/api/v1/events/aggregate", params=params)).json()

    # Late rows: 12 hours before the newest, inside the one-day window.
    newest = max(row["at"] for row in _events(1, 200, NOW - dt.timedelta(days=5)))
    await _write(empty_db, insert, _events(1000, 30, newest - dt.timedelta(hours=12)))
    stale = await api.get("/api/v1/events/aggregate", params=params)
    assert stale.json() == before.json()  # kept until the next refresh
    await _settled(api, item.token)
    await keeper.step(item)
    assert item.progress.refreshes == 1
    after = await api.get("/api/v1/events/aggregate", params=params)
    expected = await live.get("/api/v1/events/aggregate", params=params)
    assert after.headers["rollup"] == "hourly"
    assert after.json() == expected.json() != before.json()


async def _settled(api: Api, token: Any) -> None:
    # PostgreSQL's statistics reach the change signal within about a second of a commit.
    for _ in range(30):
        if await api.app.state.signals.token("events") != token:
            return
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("empty_db", ["sqlite", "postgresql", "mariadb"], indirect=True)
async def test_a_refresh_with_nothing_changed_reads_only_the_change_signal(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    await _write(empty_db, "CREATE TABLE rl_events (id INTEGER PRIMARY KEY, at TIMESTAMP NULL, "
                           "kind VARCHAR(20) NULL, size INTEGER NULL)", [])
    await _write(empty_db, "INSERT INTO rl_events (id, at, kind, size) VALUES "
                           "(:id, :at, :kind, :size)", _events(1, 50, NOW))
    api: Api = await make_api(EVENTS, empty_db.url, empty_db.backend)
    keeper = api.app.state.rollups
    [item] = keeper.kept
    await keeper.step(item)
    first = item.snapshot
    for _ in range(30):  # until the signal is settled (MariaDB: 2 s after the last commit)
        if item.token is not None and await api.app.state.signals.token(
                "events") == item.token:
            break
        await asyncio.sleep(0.2)
        await keeper.step(item)
    api.log.clear()
    skipped = item.progress.skipped
    await keeper.step(item)
    assert item.progress.skipped == skipped + 1
    assert not any("GROUP BY" in statement.upper() for statement in api.log.statements)
    assert item.snapshot is not None
    assert first is not None
    assert item.snapshot.entries is first.entries or item.snapshot.entries == first.entries
    assert item.snapshot.read_at >= first.read_at


async def test_the_lifespan_builds_in_the_background_and_stops(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(demo_registry(), demo_db.url, demo_db.backend)
    keeper = api.app.state.rollups
    async with api.app.router.lifespan_context(api.app):
        assert len(keeper.tasks) == 2
        for _ in range(100):
            if all(item.snapshot is not None for item in keeper.kept):
                break
            await asyncio.sleep(0.1)
        response = await api.get(AGGREGATE, params={"group_by": "status"})
        assert response.headers["rollup"] in {"by_hour", "by_week"}
        tasks = list(keeper.tasks)
    assert keeper.tasks == []
    assert all(task.done() for task in tasks)


# -- the registry ------------------------------------------------------------------------------

BAD = [
    pytest.param("time: chroot", "'chroot' is not a date-time field", id="time-not-datetime"),
    pytest.param("time: submitted", "unknown field 'submitted'", id="unknown-time"),
    pytest.param("time: build_submitted_time\n        dimensions: [stauts]",
                 "unknown field 'stauts' (did you mean 'status'?)", id="unknown-dimension"),
    pytest.param("time: build_submitted_time\n        metrics: {sum: [chroot]}",
                 "sum does not apply to string field 'chroot'", id="sum-of-text"),
    pytest.param("time: build_submitted_time\n        refresh: soon",
                 "is not a duration (e.g. 500ms, 60s, 5m, 2h, 2d)", id="bad-duration"),
    pytest.param("time: build_submitted_time\n        grain: minute", "grain", id="bad-grain"),
]


@pytest.mark.parametrize(("body", "message"), BAD)
async def test_registry_problems_are_reported_at_load(demo_db: Database, tmp_path: Path,
                                                      body: str, message: str) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(demo_registry(f"    rollups:\n      broken:\n        {body}\n"),
                    encoding="utf-8")
    with pytest.raises(RegistryError) as raised:
        await load(path, demo_db.url)
    assert message in str(raised.value)
    assert "rollups" in str(raised.value)
