"""Derived fields through relationships and expressions, without N+1, on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api, Database
from sqlalchemy import text
from test_query_language import fetch_all

DERIVED = ("pr_id", "branch_name", "release", "project_url", "repo_namespace", "repo_name")


async def reference_derived(database: Database, build_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The derived fields computed the way the old Flask API did: one object at a time."""
    from crud.sql.database import make_engine

    engine = make_engine(database.url)
    result: dict[int, dict[str, Any]] = {}
    tables = {"pull_request": ("pull_requests", "pr_id"), "branch_push": ("git_branches", "name"),
              "release": ("project_releases", "tag_name")}
    try:
        async with engine.connect() as connection:
            for build_id in build_ids:
                row = (await connection.execute(text(
                    "SELECT e.type, e.event_id FROM koji_build_targets b "
                    "JOIN koji_build_groups g ON g.id = b.koji_build_group_id "
                    "JOIN project_events e ON e.id = g.project_event_id WHERE b.id = :id"),
                    {"id": build_id})).first()
                fields: dict[str, Any] = dict.fromkeys(DERIVED)
                if row is not None:
                    kind = str(row[0]).rsplit(".", 1)[-1]
                    table, column = tables[kind]
                    value, project_id = (await connection.execute(text(
                        f"SELECT {column}, project_id FROM {table} WHERE id = :id"),
                        {"id": row[1]})).one()
                    key = {"pull_request": "pr_id", "branch_push": "branch_name", "release": "release"}[kind]
                    fields[key] = value
                    url, namespace, name = (await connection.execute(text(
                        "SELECT project_url, namespace, repo_name FROM git_projects WHERE id = :id"),
                        {"id": project_id})).one()
                    fields.update(project_url=url, repo_namespace=namespace, repo_name=name)
                result[build_id] = fields
    finally:
        await engine.dispose()
    return result


async def test_a_50_row_page_with_all_derived_fields_costs_one_statement(
    demo_api: Api, demo_db: Database
) -> None:
    demo_api.log.clear()
    response = await demo_api.get("/api/v1/koji-builds", params={"size": 50, "page": 2})
    assert response.status_code == 200
    assert demo_api.log.count == 1  # the page with its count, whatever the page size
    items = response.json()["items"]
    assert len(items) == 50
    expected = await reference_derived(demo_db, [item["packit_id"] for item in items])
    assert {item["packit_id"]: {k: item[k] for k in DERIVED} for item in items} == expected
    # The data must exercise every branch of the polymorphic link and the missing link.
    assert all(any(item[k] is not None for item in items) for k in ("pr_id", "branch_name", "release"))


async def test_missing_links_give_null(demo_api: Api, demo_db: Database) -> None:
    unlinked = await fetch_all(demo_api, "/api/v1/koji-builds", {"repo_namespace__ilike": "%"})
    everything = await fetch_all(demo_api, "/api/v1/koji-builds")
    orphans = [row for row in everything if row["packit_id"] not in {r["packit_id"] for r in unlinked}]
    assert orphans, "the demo data has builds without a group"
    assert all(all(row[k] is None for k in DERIVED) for row in orphans)


@pytest.mark.parametrize("field", ["repo_namespace", "pr_id"])
async def test_derived_filters_match_the_derived_values(demo_api: Api, field: str) -> None:
    everything = await fetch_all(demo_api, "/api/v1/koji-builds")
    value = next(row[field] for row in everything if row[field] is not None)
    got = await fetch_all(demo_api, "/api/v1/koji-builds", {field: str(value)})
    assert got == [row for row in everything if row[field] == value]
    response = await demo_api.get("/api/v1/koji-builds", params={field: str(value), "size": 3})
    assert response.json()["total"] == len(got)


async def test_sorting_by_a_derived_field_pages_without_overlap(demo_api: Api) -> None:
    got = await fetch_all(demo_api, "/api/v1/koji-builds", {"order_by": "-repo_namespace"})
    ids = [row["packit_id"] for row in got]
    assert len(ids) == len(set(ids))
    namespaces = [row["repo_namespace"] for row in got]
    present = [n for n in namespaces if n is not None]
    assert namespaces[: namespaces.count(None)] == [None] * namespaces.count(None)  # NULLs first desc
    assert present == sorted(present, reverse=True)


async def test_detail_shows_the_same_derived_fields_in_one_statement(demo_api: Api) -> None:
    listed = (await demo_api.get("/api/v1/koji-builds", params={"size": 5})).json()["items"]
    for item in listed:
        demo_api.log.clear()
        detail = await demo_api.get(f"/api/v1/koji-builds/{item['packit_id']}")
        assert detail.json() == item
        assert demo_api.log.count == 1


async def test_to_many_lists_cost_one_statement_per_field_per_page(demo_api: Api) -> None:
    demo_api.log.clear()
    response = await demo_api.get("/api/v1/projects", params={"size": 50})
    assert response.status_code == 200
    # page + pr_ids + branches; the first page is short, so no count.
    assert demo_api.log.count == 3
    for project in response.json()["items"]:
        prs = await fetch_all(demo_api, "/api/v1/pull-requests", {"repo_name": project["repo_name"],
                                                                  "repo_namespace": project["namespace"]})
        mine = [pr["pr_id"] for pr in prs if pr["project_url"] == project["project_url"]]
        assert sorted(project["pr_ids"]) == sorted(mine)
        assert all(set(branch) == {"name"} for branch in project["branches"])


async def test_to_many_filter_uses_exists_no_duplicates_full_pages(demo_api: Api) -> None:
    everything = await fetch_all(demo_api, "/api/v1/projects")
    some_pr = everything[0]["pr_ids"][0]
    got = await fetch_all(demo_api, "/api/v1/projects", {"pr_ids": str(some_pr)})
    assert got == [row for row in everything if some_pr in row["pr_ids"]]
    several = ",".join(str(row["pr_ids"][0]) for row in everything[:3])
    response = await demo_api.get("/api/v1/projects", params={"pr_ids__in": several, "size": 2})
    expected = [row for row in everything if set(row["pr_ids"]) & {int(v) for v in several.split(",")}]
    body = response.json()
    assert body["total"] == len(expected)
    assert body["items"] == expected[:2]


async def test_nested_objects_follow_to_one_paths(demo_api: Api) -> None:
    builds = await fetch_all(demo_api, "/api/v1/copr-builds")
    linked = [row for row in builds if row["project"] is not None]  # null: no event links
    assert {"event_type", "commit_sha"} == set(linked[0]["project"])
    kinds = {row["project"]["event_type"] for row in linked}
    assert kinds >= {"pull_request", "branch_push", "release"}
    got = await fetch_all(demo_api, "/api/v1/copr-builds", {"project.event_type": "release"})
    assert got == [row for row in linked if row["project"]["event_type"] == "release"]


async def test_openapi_types_nested_objects_and_lists(demo_api: Api) -> None:
    spec = (await demo_api.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    project = schemas["CoprBuildProject"]["properties"]
    assert set(project) == {"event_type", "commit_sha"}
    projects = schemas["Project"]["properties"]
    assert projects["pr_ids"] == {"items": {"type": "integer"}, "type": "array", "title": "Pr Ids"}
    assert projects["branches"]["items"] == {"$ref": "#/components/schemas/ProjectBranches"}
