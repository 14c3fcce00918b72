"""Packit's usage page from rollups: the old API's URLs and shapes (usage/past-*, usage/
intervals), numbers equal to counting the job lists' rows, no statement per request."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ROOT, Api, Database

EXAMPLE = ROOT / "examples" / "packit" / "registry.yaml"
JOBS = {"srpm_builds", "copr_build_groups", "koji_build_groups", "tft_test_run_groups",
        "log_detective_run_groups"}


@pytest.fixture
async def packit(demo_db: Database, make_api: Callable[..., Any]) -> Api:
    api: Api = await make_api(EXAMPLE.read_text(encoding="utf-8"), demo_db.url, demo_db.backend)
    keeper = api.app.state.rollups
    for item in keeper.kept:
        await keeper.step(item)
    return api


async def _koji_rows(api: Api) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await api.get("/api/koji-builds", params={"page": page, "per_page": 50})
        assert response.status_code in {200, 206}, response.text
        found = response.json()
        rows.extend(found)
        if len(found) < 50:
            return rows
        page += 1


async def test_total_usage_counts_every_job_run(packit: Api) -> None:
    packit.log.clear()
    response = await packit.get("/api/usage/total")
    assert response.status_code == 200, response.text
    assert packit.log.count == 0  # from the rollups: no statement
    assert response.headers["rollup"] == "usage"
    body = response.json()
    assert set(body) == {"active_projects", "jobs", "onboarded_projects_q1_2024"}
    assert set(body["jobs"]) == JOBS
    koji = body["jobs"]["koji_build_groups"]
    rows = await _koji_rows(packit)
    per_project = Counter(row["project_url"] for row in rows if row.get("project_url"))
    assert koji["job_runs"] == sum(per_project.values()) > 0
    assert koji["active_projects"] == len(per_project)
    top = sorted(per_project.items(), key=lambda item: (-item[1], item[0]))[:5]
    assert koji["top_projects_by_job_runs"] == dict(top)
    active = body["active_projects"]
    assert active["project_count"] == len(active["top_projects_by_events_handled"])
    assert sum(active["instances"].values()) == active["project_count"]
    assert body["onboarded_projects_q1_2024"] >= len(per_project)


@pytest.mark.usefixtures("in_2024")
@pytest.mark.parametrize("period", ["past-day", "past-week", "past-month", "past-year"])
async def test_past_periods_count_no_more_than_the_total(packit: Api, period: str) -> None:
    total = (await packit.get("/api/usage/total")).json()
    response = await packit.get(f"/api/usage/{period}")
    assert response.status_code == 200, response.text
    body = response.json()
    for job in JOBS:
        assert 0 <= body["jobs"][job]["job_runs"] <= total["jobs"][job]["job_runs"]
    if period == "past-month":
        assert body["jobs"]["koji_build_groups"]["job_runs"] > 0


@pytest.fixture
def in_2024(monkeypatch: pytest.MonkeyPatch) -> None:
    """"Now" inside the demo data (builds from 2023-03 to 2024-09), so the periods count rows."""
    from resources import packit_usage as usage

    monkeypatch.setattr(usage, "_now", lambda: dt.datetime(2024, 6, 1, 10))


@pytest.mark.usefixtures("in_2024")
async def test_intervals_in_the_old_shape(packit: Api) -> None:
    response = await packit.get("/api/usage/intervals", params={"days": 7, "hours": 0,
                                                                "count": 52})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"jobs", "jobs_project_count", "jobs_project_cumulative_count",
                         "events", "from", "to", "active_projects",
                         "active_projects_cumulative", "onboarded_projects",
                         "onboarded_projects_per_job"}
    series = body["jobs"]["koji_build_groups"]
    assert len(series) == 52
    assert all(set(point) == {"x", "y"} for point in series)
    dt.date.fromisoformat(series[0]["x"])
    # The old API's "from" is the newest interval's end, "to" the oldest's.
    newest, oldest = (dt.datetime.fromisoformat(body[key]) for key in ("from", "to"))
    rollups = packit.app.state.rollups.of("koji-builds")
    counts, _ = rollups.counts("project_url", since=oldest - dt.timedelta(days=7), until=newest)
    assert sum(point["y"] for point in series) == sum(
        count for url, count in counts.items() if url is not None) > 0
    cumulative = [point["y"] for point in body["active_projects_cumulative"]]
    assert cumulative == sorted(cumulative)
    hourly = (await packit.get("/api/usage/intervals",
                               params={"days": 0, "hours": 1, "count": 24})).json()
    assert len(hourly["jobs"]["srpm_builds"]) == 24
    assert ":" in hourly["jobs"]["srpm_builds"][0]["x"]


async def test_usage_before_the_rollups_are_built_says_try_again(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(EXAMPLE.read_text(encoding="utf-8"), demo_db.url, demo_db.backend)
    response = await api.get("/api/usage/past-week")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
