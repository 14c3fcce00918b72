"""Embedding on request: ``embed=`` adds declared relations, one statement per to-many one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Api, Database
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from test_registry import problems

from resources.models import GitProjectModel, KojiBuildTargetModel, PullRequestModel

Item = dict[str, Any]

# The same relation twice: embeddable on `builds`, always there on `builds-with-runs`.
REGISTRY = """\
resources:
  builds:
    model: resources.models:KojiBuildTargetModel
    fields:
      packit_id: id
      status:
    filters: {status: [eq]}
    sort: [packit_id]
    embed:
      runs:
        source: group.runs
        fields: {id:, datetime:}
        limit: {limit}
      pipeline_ids: {source: group.runs.id, limit: {limit}}
      group:
        source: group
        fields: {id:, submitted_time:}
  builds-with-runs:
    model: resources.models:KojiBuildTargetModel
    fields:
      packit_id: id
      status:
      runs: {source: group.runs, fields: {id:, datetime:}, limit: {limit}}
    sort: [packit_id]
  projects:
    model: resources.models:GitProjectModel
    fields: {id:, namespace:}
    embed:
      pull_requests: {source: pull_requests, fields: {id:, pr_id:}, limit: {limit}}
      pr_numbers: {source: pull_requests.pr_id, limit: {limit}}
"""


async def _api(demo_db: Database, make_api: Callable[..., Any], limit: int = 20) -> Api:
    api: Api = await make_api(REGISTRY.replace("{limit}", str(limit)), demo_db.url,
                              demo_db.backend)
    return api


async def _get(api: Api, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_embedded_list_is_the_declared_to_many_field(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api = await _api(demo_db, make_api)
    embedded = await _get(api, "/api/v1/builds", size=50, embed="runs")
    declared = await _get(api, "/api/v1/builds-with-runs", size=50)
    assert embedded["items"] == declared["items"]
    assert any(item["runs"] for item in embedded["items"])


async def test_an_embed_is_absent_unless_asked(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api = await _api(demo_db, make_api)
    plain = await _get(api, "/api/v1/builds", size=3)
    assert [list(item) for item in plain["items"]] == [["packit_id", "status"]] * 3
    both = await _get(api, "/api/v1/builds", size=3, embed="group,runs", fields="status")
    assert [list(item) for item in both["items"]] == [["status", "runs", "group"]] * 3


def _only(items: list[Item], name: str, keys: list[str]) -> list[Item]:
    """Each item's list ``name``, its objects cut to ``keys``."""
    return [{name: [{key: one[key] for key in keys} for one in item[name]]} for item in items]


@pytest.mark.parametrize(("path", "params", "name", "keys"), [
    ("/api/v1/builds-with-runs", {"fields": "runs.id"}, "runs", ["id"]),
    ("/api/v1/builds-with-runs", {"fields": "runs.datetime,runs.id"}, "runs", ["id", "datetime"]),
    ("/api/v1/builds", {"embed": "runs.datetime", "fields": "status"}, "runs", ["datetime"]),
    ("/api/v1/projects", {"embed": "pull_requests.pr_id", "fields": "id"}, "pull_requests",
     ["pr_id"]),
], ids=["field-of-a-list", "all-but-listed-in-any-order", "field-of-an-embed", "embed-on-projects"])
async def test_a_lists_objects_keep_only_the_named_fields(
        demo_db: Database, make_api: Callable[..., Any], path: str, params: dict[str, str],
        name: str, keys: list[str]) -> None:
    api = await _api(demo_db, make_api)
    whole = {"embed": name} if "embed" in params else {}
    full = await _get(api, path, size=30, **whole)
    api.log.clear()
    sparse = await _get(api, path, size=30, **params)
    assert any(item[name] for item in full["items"])
    assert [{name: item[name]} for item in sparse["items"]] == _only(full["items"], name, keys)
    others = [field for field in params["fields"].split(",") if "." not in field]
    assert [[key for key in item if key != name] for item in sparse["items"]] == \
        [others] * len(sparse["items"])
    # The list's own statement: one for the page, not one per row; a dropped column (other
    # than the keys every list selects) is not read at all.
    _page, listed = api.log.statements
    if keys == ["id"]:
        assert "datetime" not in listed.lower()


async def test_an_unknown_field_of_an_embed_is_a_400(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api = await _api(demo_db, make_api)
    response = await api.get("/api/v1/builds", params={"embed": "runs.dattime"})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"parameter": "embed", "message": (
        "unknown name 'runs.dattime' (did you mean 'runs.datetime'?); valid: runs, runs.id, "
        "runs.datetime, pipeline_ids, group, group.id, group.submitted_time")}]


async def _reference_pulls(engine: AsyncEngine, limit: int) -> dict[int, list[Item]]:
    """Each project's first pull requests by id, straight from the tables."""
    statement = (select(GitProjectModel.id, PullRequestModel.id, PullRequestModel.pr_id)
                 .join(PullRequestModel, PullRequestModel.project_id == GitProjectModel.id,
                       isouter=True)
                 .order_by(GitProjectModel.id, PullRequestModel.id))
    pulls: dict[int, list[Item]] = {}
    async with engine.connect() as connection:
        for project, pull, number in await connection.execute(statement):
            found = pulls.setdefault(project, [])
            if pull is not None and len(found) < limit:
                found.append({"id": pull, "pr_id": number})
    return pulls


@pytest.mark.parametrize("limit", [1, 2, 20])
async def test_the_per_row_limit_keeps_the_first_related_rows(
        demo_db: Database, make_api: Callable[..., Any], limit: int) -> None:
    api = await _api(demo_db, make_api, limit)
    page = await _get(api, "/api/v1/projects", size=100, embed="pull_requests,pr_numbers")
    expected = await _reference_pulls(api.engine, limit)
    assert {item["id"]: item["pull_requests"] for item in page["items"]} == expected
    assert {item["id"]: item["pr_numbers"] for item in page["items"]} == \
        {project: [pull["pr_id"] for pull in pulls] for project, pulls in expected.items()}
    longest = max(len(pulls) for pulls in (await _reference_pulls(api.engine, 1000)).values())
    assert max(len(pulls) for pulls in expected.values()) == min(limit, longest)
    assert longest > 2  # the small limits cut lists


@pytest.mark.parametrize(("embed", "extra"), [
    (None, 0), ("group", 0), ("runs", 1), ("runs,pipeline_ids", 2), ("group,runs,pipeline_ids", 2),
])
async def test_an_embed_costs_the_same_statements_for_5_or_50_rows(
        demo_db: Database, make_api: Callable[..., Any], embed: str | None, extra: int) -> None:
    api = await _api(demo_db, make_api)
    counts = []
    for size in (5, 50):
        params: dict[str, Any] = {"size": size} if embed is None else {"size": size, "embed": embed}
        api.log.clear()
        page = await _get(api, "/api/v1/builds", **params)
        assert len(page["items"]) == size
        counts.append(api.log.count)
    assert counts == [1 + extra, 1 + extra]  # and never one per row


async def test_an_embedded_to_one_relation_is_one_join_of_the_page(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api = await _api(demo_db, make_api)
    api.log.clear()
    page = await _get(api, "/api/v1/builds", size=20, embed="group", status="success")
    [sql] = api.log.statements
    assert sql.count("koji_build_groups") == 1
    async with api.engine.connect() as connection:
        groups = dict((await connection.execute(select(
            KojiBuildTargetModel.id, KojiBuildTargetModel.koji_build_group_id))).all())
    # A build without a group embeds null (not {"id": null, ...}).
    assert [item["group"] and item["group"]["id"] for item in page["items"]] == \
        [groups[item["packit_id"]] for item in page["items"]]


async def test_a_detail_embeds_too(demo_db: Database, make_api: Callable[..., Any]) -> None:
    api = await _api(demo_db, make_api)
    api.log.clear()
    detail = await _get(api, "/api/v1/builds/7", embed="runs,group")
    assert api.log.count == 2
    assert detail["runs"] == (await _get(api, "/api/v1/builds-with-runs/7"))["runs"]
    assert list(detail) == ["packit_id", "status", "runs", "group"]


async def test_a_cursor_walk_with_an_embed_keeps_its_lists(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api = await _api(demo_db, make_api)
    first = await api.get("/api/v1/builds", params={"size": 4, "cursor": "", "embed": "runs"})
    link = first.headers["link"]
    second = await api.get(link[1:link.index(">")])
    assert second.status_code == 200
    declared = await _get(api, "/api/v1/builds-with-runs", size=4, page=2)
    assert second.json()["items"] == declared["items"]


# -- mistakes -----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "query", "status", "errors"), [
    ("/api/v1/builds", "embed=run", 400,
     [{"parameter": "embed", "message": "unknown name 'run' (did you mean 'runs'?)"}]),
    ("/api/v1/builds/7", "embed=grup", 400,
     [{"parameter": "embed", "message": "unknown name 'grup' (did you mean 'group'?)"}]),
    ("/api/v1/builds", "embed=", 422,
     [{"parameter": "embed", "message": "name at least one relation"}]),
    ("/api/v1/builds-with-runs", "embed=runs", 400,
     [{"parameter": "embed",
       "message": "unknown parameter (valid: count, cursor, fields, format, order_by, page, size)"}]),
], ids=["list", "detail", "empty", "resource-without-embeds"])
async def test_mistakes_in_embed_name_the_parameter(
        demo_db: Database, make_api: Callable[..., Any], path: str, query: str, status: int,
        errors: list[dict[str, str]]) -> None:
    api = await _api(demo_db, make_api)
    response = await api.get(f"{path}?{query}")
    assert response.status_code == status
    assert [{"parameter": entry["parameter"], "message": entry["message"].split("; valid:")[0]}
            for entry in response.json()["errors"]] == errors


# -- the registry and the OpenAPI document ------------------------------------------------


BASE = """\
resources:
  builds:
    model: resources.models:KojiBuildTargetModel
    fields:
      packit_id: id
      status:
    embed:
"""
WHERE = "registry.yaml:{line}: resources.builds.embed."


@pytest.mark.parametrize(("embed", "expected"), [
    ("      runs: {source: group.runz, fields: {id:}}",
     "8: resources.builds.embed.runs.source: KojiBuildGroupModel has no relationship 'runz' "
     "(did you mean 'runs'?)"),
    ("      runs: {source: group.runs, fields: {idd:}}",
     "8: resources.builds.embed.runs.fields.idd: PipelineModel has no column 'idd' "
     "(did you mean 'id'?)"),
    ("      status: {source: group, fields: {id:}}",
     "8: resources.builds.embed.status: 'status' is already a field; an embedded relation "
     "needs a name of its own"),
    ("      runs: {fields: {id:}}",
     "8: resources.builds.embed.runs: an embed follows a relationship: give 'source:' "
     "(e.g. source: group.runs) and 'fields:'"),
    ("      target: {source: target}",
     "8: resources.builds.embed.target.source: an embed is a relation: a to-many path, or a "
     "to-one path with 'fields:' (a single column belongs in 'fields:')"),
    ("      runs: {source: group.runs, fields: {id:}, limit: 0}",
     "8: resources.builds.embed.runs.limit: Input should be greater than or equal to 1"),
    ("      bad__name: {source: group, fields: {id:}}",
     "1: resources: builds: field name 'bad__name' must be a letters/digits/_ "
     "identifier without '__' (the operator separator)"),
], ids=["relationship", "column", "clash", "no-source", "a-column", "limit", "name"])
async def test_embed_problems_are_located_at_load(
        registry_path: Callable[[str], Path], embed: str, expected: str) -> None:
    found = await problems(registry_path(BASE + embed + "\n"))
    assert [line.split("registry.yaml:", 1)[1] for line in found] == [expected]


async def test_openapi_documents_embed_and_the_optional_keys(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api = await _api(demo_db, make_api)
    document = (await api.get("/openapi.json")).json()
    listing = document["paths"]["/api/v1/builds"]["get"]
    [embed] = [p for p in listing["parameters"] if p["name"] == "embed"]
    assert embed["schema"]["items"]["enum"] == ["runs", "runs.id", "runs.datetime",
                                                "pipeline_ids", "group", "group.id",
                                                "group.submitted_time"]
    assert (embed["style"], embed["explode"]) == ("form", False)
    detail = document["paths"]["/api/v1/builds/{id}"]["get"]
    assert [p["name"] for p in detail["parameters"]] == ["id", "fields", "embed"]
    schema = document["components"]["schemas"]["Build"]
    assert "required" not in schema  # fields= may leave any key out
    assert list(schema["properties"]) == ["packit_id", "status", "runs", "pipeline_ids", "group"]
    assert schema["properties"]["pipeline_ids"]["type"] == "array"
    # A list's objects may lose keys too (embed=runs.id, fields=runs.id).
    run = document["components"]["schemas"][schema["properties"]["runs"]["items"]["$ref"]
                                            .rsplit("/", 1)[1]]
    assert "required" not in run
    plain = document["paths"]["/api/v1/builds-with-runs"]["get"]
    assert "embed" not in [p["name"] for p in plain["parameters"]]
