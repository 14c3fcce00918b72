"""Packit's usage page, in the old API's shapes, from rollups (docs/rollups.md).

The old Flask API (packit_service/service/api/usage.py) computed these in a Celery task and
made the dashboard wait up to 15 s. Here every number comes from the jobs' ``usage`` rollups
(rows per project and hour, kept fresh in the background): no statement runs per request.

* ``GET /usage/past-day|past-week|past-month|past-year|total``: ``get_past_usage_data``'s
  shape: ``active_projects``, ``jobs`` (runs, top 5 projects, active projects per job),
  ``onboarded_projects_q1_2024``.
* ``GET /usage/intervals?days&hours&count``: ``get_usage_interval_data``'s chart series.

Where the demo database has no counterpart of the old numbers, the nearest one is used
(docs/packit.md): a job's runs are its targets' rows; a project is active in a period when a
job ran for it, and the events it handled are its job runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse

from crud.http.errors import ServiceUnavailable
from crud.http.rollups import rollup_headers
from crud.sql.rollupkeeper import Kept, RollupKeeper

__all__ = ["router"]

router = APIRouter(prefix="/usage", tags=["usage"])

# The old API's job names and the resources (with a ``usage`` rollup) counting them.
JOBS = {
    "srpm_builds": "srpm-builds",
    "copr_build_groups": "copr-builds",
    "koji_build_groups": "koji-builds",
    "tft_test_run_groups": "testing-farm",
    "log_detective_run_groups": "log-detective",
}
ONBOARDED_BY = ("koji-builds", "bodhi-updates")  # a Koji build or a Bodhi update
TOP = 5
PERIODS = {"past-day": 1, "past-week": 7, "past-month": 30, "past-year": 365, "total": None}


class _Counts:
    """Rows per project of each job in a period, read from the rollups."""

    def __init__(self, request: Request) -> None:
        self.keeper: RollupKeeper = request.app.state.rollups
        self.kept: list[Kept] = []

    def per_project(self, resource: str, since: dt.datetime | None,
                    until: dt.datetime | None) -> dict[str, int]:
        rollups = self.keeper.of(resource)
        found = rollups.counts("project_url", since=since, until=until) if rollups else None
        if found is None:
            raise ServiceUnavailable("The usage numbers are still being computed; try again "
                                     "shortly.", headers={"Retry-After": "5"})
        counts, kept = found
        self.kept.append(kept)
        return {url: count for url, count in counts.items() if url is not None}

    def spans(self, resource: str, edges: list[dt.datetime]) -> list[dict[str, int]]:
        rollups = self.keeper.of(resource)
        found = rollups.spans("project_url", edges) if rollups else None
        if found is None:
            raise ServiceUnavailable("The usage numbers are still being computed; try again "
                                     "shortly.", headers={"Retry-After": "5"})
        spans, kept = found
        self.kept.append(kept)
        return [{url: count for url, count in span.items() if url is not None}
                for span in spans]

    def headers(self) -> dict[str, str]:
        oldest = min(self.kept, key=lambda kept: kept.read_at, default=None)
        return rollup_headers(oldest) if oldest is not None else {}


def _ranked(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _now() -> dt.datetime:
    """The old API's USAGE_CURRENT_DATE: this hour (UTC here; the old one used local time)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)


def _instances(projects: set[str]) -> dict[str, int]:
    hosts: dict[str, int] = {}
    for url in projects:
        host = urlparse(url).netloc
        hosts[host] = hosts.get(host, 0) + 1
    return dict(sorted(hosts.items()))


def past_usage(counts: _Counts, since: dt.datetime | None) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    events: dict[str, Any] = {}
    for job, resource in JOBS.items():
        per_project = counts.per_project(resource, since, None)
        ranked = _ranked(per_project)
        jobs[job] = {"job_runs": sum(per_project.values()),
                     "top_projects_by_job_runs": dict(list(ranked.items())[:TOP]),
                     "active_projects": len(per_project)}
        for url, count in per_project.items():
            events[url] = events.get(url, 0) + count
    onboarded = set().union(*(counts.per_project(resource, None, None)
                              for resource in ONBOARDED_BY))
    return {"active_projects": {"project_count": len(events),
                                "top_projects_by_events_handled": _ranked(events),
                                "instances": _instances(set(events))},
            "jobs": jobs, "onboarded_projects_q1_2024": len(onboarded)}


def _past(days: int | None) -> Any:
    async def usage_past(request: Request) -> JSONResponse:
        counts = _Counts(request)
        # The old API's USAGE_PAST_*_DATE_STR: the date that many days ago, from midnight.
        since = None if days is None else (_now() - dt.timedelta(days=days)).replace(hour=0)
        return JSONResponse(past_usage(counts, since), headers=counts.headers())

    return usage_past


for _name, _days in PERIODS.items():
    router.add_api_route(f"/{_name}", _past(_days), methods=["GET"],
                         operation_id=f"usage_{_name.replace('-', '_')}",
                         summary=f"Packit usage, {_name} (old API shape)")


def interval_usage(counts: _Counts, delta: dt.timedelta, count: int) -> dict[str, Any]:
    ends = [_now() - delta * index for index in range(count)]
    hourly = delta < dt.timedelta(days=1)
    first = ends[-1]
    runs: dict[str, list[dict[str, Any]]] = {}
    projects: dict[str, list[dict[str, Any]]] = {}
    cumulative: dict[str, list[dict[str, Any]]] = {}
    before = {job: set(counts.per_project(resource, None, first - delta))
              for job, resource in JOBS.items()}
    seen = {job: set(projects_) for job, projects_ in before.items()}
    active: list[dict[str, Any]] = []
    active_cumulative: list[dict[str, Any]] = []
    all_before = set().union(*before.values())
    all_seen = set(all_before)
    edges = [first - delta, *reversed(ends)]
    spans = {job: counts.spans(resource, edges) for job, resource in JOBS.items()}
    for index, end in enumerate(reversed(ends)):
        legend = end.strftime("%H:%M" if hourly else "%Y-%m-%d")
        in_interval: set[str] = set()
        for job in JOBS:
            per_project = spans[job][index]
            runs.setdefault(job, []).append({"x": legend, "y": sum(per_project.values())})
            projects.setdefault(job, []).append({"x": legend, "y": len(per_project)})
            seen[job] |= per_project.keys()
            cumulative.setdefault(job, []).append({"x": legend, "y": len(seen[job])})
            in_interval |= per_project.keys()
        all_seen |= in_interval
        active.append({"x": legend, "y": len(in_interval)})
        active_cumulative.append({"x": legend, "y": len(all_seen)})
    return {"jobs": runs, "jobs_project_count": projects,
            "jobs_project_cumulative_count": cumulative, "events": {},
            "from": ends[0].isoformat(), "to": ends[-1].isoformat(),
            "active_projects": active, "active_projects_cumulative": active_cumulative,
            "onboarded_projects": sorted(all_seen - all_before),
            "onboarded_projects_per_job": {job: sorted(seen[job] - before[job])
                                           for job in JOBS}}


@router.get("/intervals", summary="Packit usage per interval, for the trend charts "
                                  "(old API shape)")
async def usage_intervals(request: Request, days: int = Query(0, ge=0, le=366),
                          hours: int = Query(0, ge=0, le=24 * 366),
                          count: int = Query(10, ge=1, le=400)) -> JSONResponse:
    delta = dt.timedelta(days=days, hours=hours)
    if delta <= dt.timedelta(0):
        delta = dt.timedelta(days=1)  # the old API looped forever on an empty interval
    counts = _Counts(request)
    body = interval_usage(counts, delta, count)
    return JSONResponse(body, headers=counts.headers())
