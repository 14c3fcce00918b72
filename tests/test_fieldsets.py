"""Sparse fieldsets: ``fields=`` returns exactly the named fields, selecting only what they need."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from conftest import ROOT, Api, Database

from crud.http.dispatch import ReadRoutes
from crud.http.endpoints import Endpoints
from crud.model.shapes import Lru, Shapes
from crud.sql.pages import Pages
from crud.sql.statements import Statements

KOJI = "/api/v1/koji-builds"
DERIVED_JOIN = "LEFT OUTER JOIN (SELECT"  # the koji builds' `event` join, as every backend writes it
Item = dict[str, Any]


def _pick(item: Item, names: list[str]) -> Item:
    """``item`` with only ``names`` (dotted: inside nested objects), in the item's own order."""
    picked: Item = {}
    for key, value in item.items():
        if key in names:
            picked[key] = value
        inner = [name.removeprefix(f"{key}.") for name in names if name.startswith(f"{key}.")]
        if inner and key not in names:
            picked[key] = _pick(value, inner)
    return picked


async def _ok(api: Api, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params) if params else await api.get(path)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize(("path", "query", "fields"), [
    (KOJI, {"size": 7}, ["packit_id", "status"]),
    (KOJI, {"size": 7, "order_by": "-build_submitted_time"}, ["status", "chroot"]),
    (KOJI, {"size": 7, "repo_namespace": "packit"}, ["pr_id", "project_url"]),
    (KOJI, {"size": 7, "order_by": "repo_namespace"}, ["web_url", "repo_name"]),
    ("/api/v1/copr-builds", {"size": 5}, ["project.event_type"]),
    ("/api/v1/copr-builds", {"size": 5}, ["packit_id", "project"]),
    ("/api/v1/projects", {"size": 3}, ["namespace", "branches"]),
    ("/api/v1/projects", {"size": 3, "page": 2}, ["pr_ids"]),
    ("/api/v1/pull-requests", {"size": 4, "search": "a"}, ["title", "repo_namespace"]),
], ids=["base-columns", "sorted-by-unreturned", "join-fields", "join-sort", "nested-leaf",
        "whole-object", "to-many-list", "list-alone", "to-one-path"])
async def test_fields_returns_exactly_the_named_fields_of_the_full_items(
        demo_api: Api, path: str, query: dict[str, Any], fields: list[str]) -> None:
    full = (await _ok(demo_api, path, **query)).json()
    sparse = (await _ok(demo_api, path, **query, fields=",".join(fields))).json()

    assert sparse["items"] == [_pick(item, fields) for item in full["items"]]
    assert {k: v for k, v in sparse.items() if k not in {"items", "next"}} == \
        {k: v for k, v in full.items() if k not in {"items", "next"}}


async def test_fields_on_a_detail_picks_the_same_fields(demo_api: Api) -> None:
    full = (await _ok(demo_api, f"{KOJI}/7")).json()
    sparse = await _ok(demo_api, f"{KOJI}/7", fields="status,pr_id")
    assert sparse.json() == _pick(full, ["status", "pr_id"])
    nested = await _ok(demo_api, "/api/v1/copr-builds/3", fields="project.commit_sha")
    assert nested.json() == {"project": {"commit_sha": (await _ok(
        demo_api, "/api/v1/copr-builds/3")).json()["project"]["commit_sha"]}}


async def test_fields_in_repeated_keys_join(demo_api: Api) -> None:
    joined = (await _ok(demo_api, f"{KOJI}?size=3&fields=status,packit_id")).json()
    repeated = (await _ok(demo_api, f"{KOJI}?size=3&fields=status&fields=packit_id")).json()
    assert repeated == joined
    assert list(joined["items"][0]) == ["packit_id", "status"]  # declaration order


# -- the SQL selects only what the fields need --------------------------------------------


async def _sql(api: Api, path: str, **params: Any) -> list[str]:
    api.log.clear()
    await _ok(api, path, **params)
    return list(api.log.statements)


@pytest.mark.parametrize(("path", "query", "full_joins", "sparse_joins"), [
    (KOJI, {"size": 5}, 1, 0),
    (KOJI, {"size": 5, "order_by": "repo_namespace"}, 2, 1),  # the sort needs it in the cut
    (f"{KOJI}/7", {}, 1, 0),
], ids=["list", "sorted-by-a-join-field", "detail"])
async def test_fields_without_a_join_field_skip_the_derived_join(
        demo_api: Api, path: str, query: dict[str, Any], full_joins: int,
        sparse_joins: int) -> None:
    [full] = await _sql(demo_api, path, **query)
    [sparse] = await _sql(demo_api, path, **query, fields="packit_id,status")
    assert (full.count(DERIVED_JOIN), sparse.count(DERIVED_JOIN)) == (full_joins, sparse_joins)
    assert "web_url" in full
    assert "web_url" not in sparse


async def test_fields_skip_to_one_path_joins(demo_api: Api) -> None:
    [full] = await _sql(demo_api, "/api/v1/pull-requests", size=5)
    [sparse] = await _sql(demo_api, "/api/v1/pull-requests", size=5, fields="id,title")
    assert full.count("JOIN git_projects") == 1
    assert "git_projects" not in sparse


@pytest.mark.parametrize(("fields", "statements"), [
    (None, 3), ("namespace", 1), ("namespace,pr_ids", 2), ("branches", 2),
    ("pr_ids,branches", 3),
])
async def test_fields_skip_the_to_many_statements_no_field_uses(
        demo_api: Api, fields: str | None, statements: int) -> None:
    params: dict[str, Any] = {"size": 5} if fields is None else {"size": 5, "fields": fields}
    assert len(await _sql(demo_api, "/api/v1/projects", **params)) == statements


EXPRESSIONS = """\
resources:
  builds:
    model: resources.models:KojiBuildTargetModel
    fields:
      packit_id: id
      status:
      pr_id: {source: {expression: "resources.expressions:pr_id"}}
      repo_name: {source: {expression: "resources.expressions:repo_name"}}
    sort: [packit_id]
"""


async def test_fields_skip_expression_subqueries(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(EXPRESSIONS, demo_db.url, demo_db.backend)
    [full] = await _sql(api, "/api/v1/builds", size=5)
    [one] = await _sql(api, "/api/v1/builds", size=5, fields="packit_id,pr_id")
    [none] = await _sql(api, "/api/v1/builds", size=5, fields="status")
    # pr_id's subquery reads pull_requests, repo_name's git_projects; status neither.
    assert [("pull_requests" in sql, "git_projects" in sql) for sql in (full, one, none)] == \
        [(True, True), (True, False), (False, False)]


# -- cursors and ETags --------------------------------------------------------------------


async def _walk(api: Api, path: str, params: dict[str, Any]) -> list[Item]:
    items: list[Item] = []
    response = await _ok(api, path, **params)
    while True:
        items.extend(response.json()["items"])
        link = response.headers.get("link")
        if link is None:
            return items
        url = urlsplit(link[1:link.index(">")])
        response = await _ok(api, url.path, **dict(parse_qsl(url.query)))


@pytest.mark.parametrize("order_by", ["-build_submitted_time", "repo_namespace,-status"])
async def test_a_cursor_issued_with_fields_walks_the_same_rows(
        demo_api: Api, order_by: str) -> None:
    base = {"size": 40, "order_by": order_by, "cursor": "", "chroot__like": "fedora%"}
    full = await _walk(demo_api, KOJI, base)
    sparse = await _walk(demo_api, KOJI, {**base, "fields": "packit_id,chroot"})
    assert len(full) > 40
    assert sparse == [_pick(item, ["packit_id", "chroot"]) for item in full]


async def test_the_etag_follows_the_body(demo_api: Api) -> None:
    full = await _ok(demo_api, KOJI, size=5)
    sparse = await _ok(demo_api, KOJI, size=5, fields="status")
    again = await _ok(demo_api, KOJI, size=5, fields="status")
    assert full.headers["etag"] != sparse.headers["etag"] == again.headers["etag"]
    cached = await demo_api.get(KOJI, params={"size": 5, "fields": "status"},
                                headers={"If-None-Match": sparse.headers["etag"]})
    assert cached.status_code == 304
    changed = await demo_api.get(KOJI, params={"size": 5},
                                 headers={"If-None-Match": sparse.headers["etag"]})
    assert changed.status_code == 200


# -- mistakes -----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "query", "status", "errors"), [
    (KOJI, "fields=packit_id,statuz", 400,
     [{"parameter": "fields", "message": "unknown name 'statuz' (did you mean 'status'?)"}]),
    ("/api/v1/copr-builds", "fields=project.event", 400,
     [{"parameter": "fields", "message": "unknown name 'project.event' (did you mean "
                                         "'project.event_type'?)"}]),
    (f"{KOJI}/7", "fields=chroots", 400,
     [{"parameter": "fields", "message": "unknown name 'chroots' (did you mean 'chroot'?)"}]),
    (KOJI, "fields=", 422, [{"parameter": "fields", "message": "name at least one field"}]),
    (KOJI, "fields=status,chroot&fields=status", 422,
     [{"parameter": "fields", "message": "'status' given more than once"}]),
    (f"{KOJI}/7", "status=success", 400,
     [{"parameter": "status", "message": "unknown parameter (valid: embed, fields)"}]),
    (f"{KOJI}/7", "fields=status&size=3", 400,
     [{"parameter": "size", "message": "unknown parameter (valid: embed, fields)"}]),
], ids=["list-typo", "nested-typo", "detail-typo", "empty", "twice", "detail-filter",
        "detail-size"])
async def test_mistakes_in_fields_name_the_parameter(
        demo_api: Api, path: str, query: str, status: int, errors: list[dict[str, str]]) -> None:
    response = await demo_api.get(f"{path}?{query}")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert [{"parameter": entry["parameter"], "message": entry["message"].split("; valid:")[0]}
            for entry in response.json()["errors"]] == errors


# -- documentation and bounds -------------------------------------------------------------


async def test_openapi_documents_fields_as_an_enum_array(demo_api: Api) -> None:
    document = (await demo_api.get("/openapi.json")).json()
    for operation in ("get", ):
        listing = document["paths"][KOJI][operation]
        detail = document["paths"][f"{KOJI}/{{id}}"][operation]
        [fields] = [p for p in listing["parameters"] if p["name"] == "fields"]
        [detail_fields] = [p for p in detail["parameters"] if p["name"] == "fields"]
        assert detail_fields == fields
        assert (fields["in"], fields["style"], fields["explode"]) == ("query", "form", False)
        assert fields["schema"]["type"] == "array"
        assert fields["schema"]["items"]["enum"] == [
            "packit_id", "task_id", "status", "chroot", "scratch", "commit_sha", "web_url",
            "build_submitted_time", "build_start_time", "build_finished_time", "pr_id",
            "branch_name", "release", "project_url", "repo_namespace", "repo_name", "duration"]
    copr = document["paths"]["/api/v1/copr-builds"]["get"]["parameters"]
    [copr_fields] = [p for p in copr if p["name"] == "fields"]
    assert {"project", "project.event_type", "project.commit_sha"} <= set(
        copr_fields["schema"]["items"]["enum"])


def test_the_shape_cache_keeps_the_most_recent_shapes(demo_api: Api) -> None:
    resource = next(r for r in demo_api.app.state.registry.resources if r.name == "koji-builds")
    shapes = Shapes(resource, capacity=3)
    names = shapes.field_names
    made = [shapes.shape([names[0], name]) for name in names[1:]]
    assert len(shapes.cache) == 3
    assert shapes.shape([names[0], names[-1]]) is made[-1]  # kept
    assert shapes.shape([names[0], names[1]]) is not made[0]  # evicted, built again
    assert shapes.shape(None) is shapes.full


def test_an_lru_drops_the_least_recently_used() -> None:
    cache: Lru[str, int] = Lru(2)
    assert [cache.get("a", lambda: 1), cache.get("b", lambda: 2), cache.get("a", lambda: 9)] == \
        [1, 2, 1]
    cache.get("c", lambda: 3)
    assert list(cache.entries) == ["a", "c"]


def _endpoints(api: Api, name: str = "koji-builds") -> Endpoints:
    table = next(m.kwargs["table"] for m in api.app.user_middleware if m.cls is ReadRoutes)
    endpoints: Endpoints = table.lists[name].__self__
    return endpoints


async def test_many_field_subsets_keep_every_cache_bounded(demo_api: Api) -> None:
    endpoints = _endpoints(demo_api)
    names = endpoints.profile.shape.shapes.field_names
    capacity = endpoints.profile.shape.shapes.cache.capacity
    for index in range(capacity + 5):
        subset = [name for bit, name in enumerate(names) if (index + 1) >> bit & 1]
        await _ok(demo_api, KOJI, size=1, fields=",".join(subset))
    statements = endpoints.pages.statements
    assert len(endpoints.profile.shape.shapes.cache) == capacity
    assert len(endpoints.shapers) <= capacity
    assert len(statements.layouts) <= capacity
    assert len(statements.cache.entries) <= statements.cache.capacity


# -- PostgreSQL writes sparse items byte for byte as Python does ---------------------------


@pytest.mark.parametrize("demo_db", ["postgresql"], indirect=True)
@pytest.mark.parametrize("query", [
    "size=9&fields=packit_id,status,chroot",
    "size=9&fields=task_id,scratch&order_by=-build_submitted_time",
    "size=9&fields=status,pr_id,repo_namespace&order_by=repo_namespace",
    "size=9&fields=build_submitted_time&cursor=",
])
async def test_database_written_sparse_items_are_the_python_bytes(
        demo_db: Database, make_api: Callable[..., Any], query: str) -> None:
    registry = (ROOT / "registry.yaml").read_text(encoding="utf-8")
    api: Api = await make_api(registry, demo_db.url, demo_db.backend)
    endpoints = _endpoints(api)
    shape = endpoints.profile.shape.shapes.shape(dict(parse_qsl(query))["fields"].split(","))
    detail_shape = endpoints.profile.shape.shapes.shape(["status", "chroot"])
    assert not endpoints.pages.statements.layout(shape).json  # pages: shaped in Python
    assert endpoints.pages.statements.detail_json(detail_shape)  # a detail: written
    shaped = await api.get(f"{KOJI}?{query}")
    detail_written = await api.get(f"{KOJI}/11?fields=status,chroot")

    # The other way round: pages the database writes (as an NDJSON export embeds them),
    # a detail shaped in Python.
    resource = endpoints.resource
    endpoints.pages = Pages(resource, Statements(resource, endpoints.pages.reader.backend,
                                                 json_rows=True),
                            endpoints.pages.reader, budget_ms=None)
    assert endpoints.pages.statements.layout(shape).json
    assert not endpoints.pages.statements.detail_json(detail_shape)
    written = await api.get(f"{KOJI}?{query}")
    detail_shaped = await api.get(f"{KOJI}/11?fields=status,chroot")

    assert written.status_code == shaped.status_code == 200
    assert written.content == shaped.content
    assert written.headers.get("link") == shaped.headers.get("link")
    assert detail_written.content == detail_shaped.content


@pytest.mark.parametrize("query", ["fields=nope", "fields=statuz"])
async def test_an_unknown_field_lists_the_valid_names_once(demo_api: Api, query: str) -> None:
    response = await demo_api.get(f"{KOJI}?{query}")
    [error] = response.json()["errors"]
    assert error["message"].count("packit_id") == 1
    assert error["message"].endswith("; valid: packit_id, task_id, status, chroot, scratch, "
                                     "commit_sha, web_url, build_submitted_time, "
                                     "build_start_time, build_finished_time, pr_id, branch_name, "
                                     "release, project_url, repo_namespace, repo_name, duration")
