"""To-many lists through several to-many hops: a pull request's Copr builds, reached through
its polymorphic project events (a viewonly relationship), their pipelines and build groups.

Each list is one statement for the whole page whatever its size, on every backend, and
lists exactly the rows an explicit join of the same tables finds (docs/packit.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import Api, Database
from sqlalchemy import select

from resources.models import (
    CoprBuildGroupModel,
    CoprBuildTargetModel,
    PipelineModel,
    ProjectEventModel,
    ProjectEventType,
)

REGISTRY = """
resources:
  prs:
    model: resources.models:PullRequestModel
    fields:
      id:
      pr_id:
      builds:
        source: project_events.pipelines.copr_build_group.builds
        fields: {build_id:, status:}
      first_build_ids: {source: project_events.pipelines.copr_build_group.builds.build_id,
                        limit: 2}
    filters: {builds.status: [eq]}
    default_sort: [id]
  plain-prs:
    model: resources.models:PullRequestModel
    fields: {id:, pr_id:}
    default_sort: [id]
"""


@pytest.fixture
async def api(demo_db: Database, make_api: Callable[..., Any]) -> Api:
    served: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend)
    return served


async def expected_builds(api: Api) -> dict[int, list[dict[str, Any]]]:
    """Each pull request's builds by an explicit join (type, event_id), in build order."""
    statement = (
        select(ProjectEventModel.event_id, CoprBuildTargetModel.build_id,
               CoprBuildTargetModel.status)
        .join(PipelineModel, PipelineModel.project_event_id == ProjectEventModel.id)
        .join(CoprBuildGroupModel, PipelineModel.copr_build_group_id == CoprBuildGroupModel.id)
        .join(CoprBuildTargetModel,
              CoprBuildTargetModel.copr_build_group_id == CoprBuildGroupModel.id)
        .where(ProjectEventModel.type == ProjectEventType.pull_request)
        .order_by(ProjectEventModel.event_id, CoprBuildTargetModel.id))
    async with api.engine.connect() as connection:
        rows = (await connection.execute(statement)).all()
    found: dict[int, list[dict[str, Any]]] = {}
    for pr, build_id, status in rows:
        found.setdefault(pr, []).append({"build_id": build_id, "status": status.value})
    return found


async def test_lists_the_rows_an_explicit_join_finds(api: Api) -> None:
    expected = await expected_builds(api)
    items = (await api.get("/api/v1/prs?size=100")).json()["items"]
    assert any(item["builds"] for item in items)
    assert any(not item["builds"] for item in items) or len(expected) == len(items)
    for item in items:
        assert item["builds"] == expected.get(item["id"], []), item["id"]
        assert item["first_build_ids"] == [build["build_id"] for build in item["builds"][:2]]


async def test_one_statement_per_list_whatever_the_page_size(api: Api) -> None:
    counts = []
    for size in (2, 20):
        api.log.clear()
        assert (await api.get(f"/api/v1/prs?size={size}")).status_code in (200, 206)
        lists = api.log.count
        api.log.clear()
        assert (await api.get(f"/api/v1/plain-prs?size={size}")).status_code in (200, 206)
        counts.append(lists - api.log.count)
    assert counts == [2, 2]  # one statement per to-many field, none per row


async def test_a_filter_through_the_hops_is_an_exists(api: Api) -> None:
    expected = await expected_builds(api)
    failed = (await api.get("/api/v1/prs?size=100&builds.status=failure")).json()["items"]
    assert [item["id"] for item in failed] == sorted(
        pr for pr, builds in expected.items()
        if any(build["status"] == "failure" for build in builds))
