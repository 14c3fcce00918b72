"""Routes by path (``routes:``): lists and details at templates bound to fields."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from conftest import BACKENDS, Api, Database, create_database, drop_database

from crud.app import load
from crud.config.registry import RegistryError
from crud.config.settings import Settings
from crud.sql.database import make_engine

PROJECTS = """
  projects:
    model: pathroute_models:Project
    fields: {id:, forge:, namespace:, repo_name:}
    filters: {forge: [eq], namespace: [eq]}
    sort: [id]
    default_sort: [id]
    routes:
      - {path: /projects, kind: list}
      - {path: "/projects/{forge}", kind: list}
      - {path: "/projects/{forge}/{namespace:path}", kind: list}
      - {path: "/projects/{forge}/{namespace:path}/{repo}", kind: detail,
         bind: {repo: repo_name}}
  pull-requests:
    model: pathroute_models:PullRequest
    fields:
      id:
      pr_id:
      title:
      project: {source: project, fields: {forge:, namespace:, repo_name:}}
    filters: {pr_id: [eq, gte]}
    default_sort: [id]
    routes:
      - {path: /pull-requests, kind: list}
      - {path: "/projects/{forge}/{namespace:path}/{repo}/prs", kind: list,
         bind: {forge: project.forge, namespace: project.namespace, repo: project.repo_name}}
"""

RUNS = """
  tf-runs:
    model: pathroute_models:TestRun
    fields: {packit_id: id, status:}
    filters: {status: [eq]}
    default_sort: [packit_id]
    routes:
      - {path: /testing-farm/results, kind: list}
      - {path: "/testing-farm/{id}", kind: detail, bind: {id: packit_id}}
      - {path: /testing-farm/passed, kind: list, where: {status: passed}}
      - {path: "/testing-farm/passed/{id}", kind: detail, bind: {id: packit_id},
         where: {status: passed}}
  runs:
    model: pathroute_models:TestRun
    fields: {id:, status:}
    routes:
      - {path: /runs, kind: list}
      - {path: "/runs/{id}", kind: detail}
      - {path: "/runs/merged/{id}", kind: detail}
"""

REGISTRY = f"api:\n  prefix: /api\nresources:{PROJECTS}{RUNS}"


@pytest_asyncio.fixture(scope="module", params=BACKENDS, loop_scope="session")
async def routes_db(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    from pathroute_models import Base, rows

    database = await create_database(request.param, tmp_path_factory.mktemp("routes"))
    writer = make_engine(database.url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
            for model, values in rows().items():
                await connection.execute(model.__table__.insert(), values)
    finally:
        await writer.dispose()
    yield database
    await drop_database(database)


@pytest.fixture
async def api(routes_db: Database, make_api: Callable[..., Any]) -> Api:
    made: Api = await make_api(REGISTRY, routes_db.url, routes_db.backend)
    return made


def _ids(response: Any) -> list[int]:
    return [item["id"] for item in response.json()["items"]]


async def _counted(api: Api, target: str) -> tuple[Any, int]:
    api.log.clear()
    response = await api.get(target)
    return response, api.log.count


async def test_a_path_list_is_the_query_filtered_list_with_as_many_statements(api: Api) -> None:
    by_path, at_path = await _counted(api, "/api/projects/github.com")
    by_query, in_query = await _counted(api, "/api/projects?forge=github.com")
    assert by_path.status_code == 200
    assert _ids(by_path) == [1, 2, 5]
    assert by_path.json() == by_query.json()
    assert at_path == in_query


async def test_the_query_language_applies_on_top_of_a_path_list(api: Api) -> None:
    response = await api.get("/api/projects/github.com?order_by=-id&size=2")
    assert _ids(response) == [5, 2]
    assert response.json()["total"] == 3


@pytest.mark.parametrize(("target", "ids"), [
    ("/api/projects/gitlab.com/redhat", [4]),
    ("/api/projects/github.com/packit", [1, 2, 5]),
], ids=["one-level", "packit"])
async def test_a_namespace_list_filters_forge_and_namespace(api: Api, target: str,
                                                           ids: list[int]) -> None:
    assert _ids(await api.get(target)) == ids


@pytest.mark.parametrize(("target", "project"), [
    ("/api/projects/github.com/packit/ogr", 1),
    ("/api/projects/gitlab.com/redhat/centos-stream/rpms/python3", 3),  # three levels
    ("/api/projects/github.com/packit/prs", 5),  # too short for the prs list
], ids=["one-level", "multi-level", "repo-named-prs"])
async def test_a_detail_is_found_by_its_key_fields(api: Api, target: str, project: int) -> None:
    response = await api.get(target)
    assert response.status_code == 200
    assert response.json()["id"] == project


async def test_a_path_detail_reads_one_statement_as_the_id_detail(api: Api) -> None:
    by_path, at_path = await _counted(api, "/api/projects/github.com/packit/ogr")
    assert by_path.status_code == 200
    _, by_id = await _counted(api, "/api/runs/1")
    assert at_path == by_id == 1


async def test_an_unknown_key_is_a_404_naming_the_path_values(api: Api) -> None:
    response = await api.get("/api/projects/github.com/packit/nope")
    assert response.status_code == 404
    assert response.json()["detail"] == ("No project with forge 'github.com', namespace "
                                         "'packit', repo 'nope'.")


async def test_a_sub_resource_list_is_filtered_by_its_parents_key(api: Api) -> None:
    response, statements = await _counted(api, "/api/projects/github.com/packit/ogr/prs")
    assert response.status_code == 200
    assert _ids(response) == [1, 2, 3]
    assert response.json()["items"][0]["project"] == {
        "forge": "github.com", "namespace": "packit", "repo_name": "ogr"}
    _, plain = await _counted(api, "/api/pull-requests?pr_id__gte=101")
    assert statements == plain
    deep = await api.get("/api/projects/gitlab.com/redhat/centos-stream/rpms/python3/prs"
                         "?pr_id__gte=105")
    assert _ids(deep) == [5]


async def test_a_literal_segment_wins_over_a_parameter(api: Api) -> None:
    listed = await api.get("/api/testing-farm/results?status=passed")
    assert [item["packit_id"] for item in listed.json()["items"]] == [1, 3, 5, 7]
    one = await api.get("/api/testing-farm/4")
    assert one.json() == {"packit_id": 4, "status": "failed"}


async def test_where_serves_only_the_rows_of_its_fixed_values(api: Api) -> None:
    listed, statements = await _counted(api, "/api/testing-farm/passed")
    assert [item["packit_id"] for item in listed.json()["items"]] == [1, 3, 5, 7]
    _, in_query = await _counted(api, "/api/testing-farm/results?status=passed")
    assert statements == in_query
    assert (await api.get("/api/testing-farm/passed/3")).json() == {"packit_id": 3,
                                                                    "status": "passed"}
    other = await api.get("/api/testing-farm/passed/2")  # a failed run: not on this route
    assert other.status_code == 404
    assert other.json()["detail"] == "No tf run with id '2'."


async def test_a_path_value_that_does_not_fit_its_field_is_a_422(api: Api) -> None:
    response = await api.get("/api/testing-farm/abc")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"parameter": "id", "message": "Input should be a whole number in decimal digits"}]


async def test_merged_and_plain_details_live_beside_each_other(api: Api) -> None:
    assert (await api.get("/api/runs/merged/2")).json() == {"id": 2, "status": "failed"}
    assert (await api.get("/api/runs/2")).json() == {"id": 2, "status": "failed"}
    assert (await api.get("/api/runs")).json()["total"] == 7


async def test_declared_routes_replace_the_default_ones(api: Api) -> None:
    assert (await api.get("/api/tf-runs")).status_code == 404
    assert (await api.get("/api/tf-runs/1")).status_code == 404


async def test_a_path_detail_takes_fields_but_no_filters(api: Api) -> None:
    shaped = await api.get("/api/testing-farm/4?fields=status")
    assert shaped.json() == {"status": "failed"}
    refused = await api.get("/api/testing-farm/4?status=passed")
    assert refused.status_code == 400


async def test_head_and_other_methods_of_a_path_route(api: Api) -> None:
    head = await api.client.head("/api/projects/github.com/packit/ogr")
    assert head.status_code == 200
    assert head.content == b""
    post = await api.client.post("/api/projects/github.com/packit/ogr")
    assert post.status_code == 405


# -- every profile ---------------------------------------------------------------------------


LEGACY_ERRORS = """
  legacy: {error_body: {"error": "{detail}"}}"""


@pytest.mark.parametrize("routes_db", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize(("profile", "status", "body", "header"), [
    ("standard", 200, lambda body: body["items"], "content-range"),
    ("legacy", 206, lambda body: body, "content-range"),
    ("react-admin", 200, lambda body: body, "content-range"),
    ("json-server", 200, lambda body: body, "x-total-count"),
], ids=["standard", "legacy", "react-admin", "json-server"])
async def test_path_routes_speak_every_profile(
        routes_db: Database, make_api: Callable[..., Any], profile: str, status: int,
        body: Callable[[Any], list[dict[str, Any]]], header: str) -> None:
    extra = LEGACY_ERRORS if profile == "legacy" else ""
    registry = f"api:\n  prefix: /api\n  profile: {profile}{extra}\nresources:{RUNS}"
    api: Api = await make_api(registry, routes_db.url, routes_db.backend)
    listed = await api.get("/api/testing-farm/results")
    assert listed.status_code == status
    assert [item["packit_id"] for item in body(listed.json())][:3] == [1, 2, 3]
    assert header in listed.headers
    one = await api.get("/api/testing-farm/4")
    assert one.status_code == 200
    assert one.json()["packit_id"] == 4
    if profile in {"react-admin", "json-server"}:
        assert one.json()["id"] == 4  # the record's id, as on /{id}
    missing = await api.get("/api/testing-farm/99")
    assert missing.status_code == 404
    if profile == "legacy":
        assert missing.json() == {"error": "No tf run with id '99'."}


# -- startup checks ----------------------------------------------------------------------------


def _registry(tmp_path: Path, resources: str) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(f"resources:{resources}", encoding="utf-8")
    return path


async def _problems(tmp_path: Path, resources: str) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        await load(_registry(tmp_path, resources), "sqlite+aiosqlite:///:memory:")
    return [str(issue) for issue in caught.value.issues]


async def test_a_template_of_another_routes_shape_is_refused_with_both_lines(
        tmp_path: Path) -> None:
    problems = await _problems(tmp_path, """
  projects:
    model: pathroute_models:Project
    fields: {id:, forge:}
  forges:
    model: pathroute_models:Project
    fields: {id:, forge:}
    routes:
      - {path: /forges, kind: list}
      - {path: "/projects/{forge}", kind: list}
""")
    path = tmp_path / "registry.yaml"
    assert problems == [
        f"{path}:10: resources.forges.routes.1.path: '/projects/{{forge}}' (the list of forges) "
        "has the shape of '/projects/{id}' (the detail of projects): a request could mean "
        "either; give one a literal segment (e.g. /projects/by-<field>/...) or drop one"]


async def test_two_declared_templates_of_one_shape_name_the_first_ones_line(
        tmp_path: Path) -> None:
    problems = await _problems(tmp_path, """
  projects:
    model: pathroute_models:Project
    fields: {id:, forge:, namespace:}
    routes:
      - {path: "/p/{forge}", kind: list}
      - {path: "/p/{namespace}", kind: list}
""")
    assert problems == [
        f"{tmp_path / 'registry.yaml'}:7: resources.projects.routes.1.path: '/p/{{namespace}}' "
        "(the list of projects) has the shape of '/p/{forge}' (the list of projects, line 6): a request "
        "could mean either; give one a literal segment (e.g. /p/by-<field>/...) or drop one"]


@pytest.mark.parametrize(("route", "message"), [
    ('{path: "/p/{nope}", kind: list}',
     "path parameter {nope} binds to 'nope', which is not a field of projects; bind it to "
     "one of: forge, id, namespace (bind: {nope: <field>})"),
    ('{path: "/p/{id:path}", kind: list}',
     "path parameter {id:path}: 'id' is not text; only a text field takes several segments"),
    ('{path: "/p", kind: list, where: {nope: 1}}',
     "where: 'nope' is not a single-valued field of projects; one of: forge, id, namespace"),
    ('{path: "/p", kind: list, where: {id: abc}}',
     "where: id: 'abc': Input should be a whole number in decimal digits"),
], ids=["unknown-field", "greedy-number", "where-unknown-field", "where-bad-value"])
async def test_a_parameter_without_a_fitting_field_is_refused(tmp_path: Path, route: str,
                                                              message: str) -> None:
    problems = await _problems(tmp_path, f"""
  projects:
    model: pathroute_models:Project
    fields: {{id:, forge:, namespace:}}
    routes:
      - {route}
""")
    assert problems == [f"{tmp_path / 'registry.yaml'}:6: resources.projects.routes.0.path: "
                        f"{message}"]


@pytest.mark.parametrize(("path", "message"), [
    ("/{forge}/x", "the first segment must be a literal"),
    ("/p/{a:path}/{b:path}", "at most one {name:path} parameter per path"),
    ("/p/", "a path starts with '/', has no empty segment and does not end with '/'"),
    ("/p/{a}/{a}", "a parameter appears twice"),
    ("/p/a b", "is neither a literal"),
], ids=["param-first", "two-greedy", "trailing-slash", "twice", "space"])
async def test_a_malformed_template_is_refused(tmp_path: Path, path: str, message: str) -> None:
    problems = await _problems(tmp_path, f"""
  projects:
    model: pathroute_models:Project
    fields: {{id:, forge:}}
    routes:
      - {{path: "{path}", kind: list}}
""")
    assert len(problems) == 1
    assert message in problems[0]
    assert "resources.projects.routes.0.path" in problems[0]


# -- OpenAPI -------------------------------------------------------------------------------------


@pytest.mark.parametrize("routes_db", ["sqlite"], indirect=True)
async def test_openapi_types_the_path_parameters_by_their_fields(api: Api) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    detail = paths["/api/testing-farm/{id}"]["get"]
    assert detail["operationId"] == "get_tf_run_at_testing_farm_by_id"
    assert [(p["name"], p["in"], p["schema"]["type"]) for p in detail["parameters"]
            if p["in"] == "path"] == [("id", "path", "integer")]
    prs = paths["/api/projects/{forge}/{namespace}/{repo}/prs"]["get"]
    path_params = [p for p in prs["parameters"] if p["in"] == "path"]
    assert [(p["name"], p["schema"]["type"]) for p in path_params] == [
        ("forge", "string"), ("namespace", "string"), ("repo", "string")]
    assert "pr_id" in {p["name"] for p in prs["parameters"]}  # the query language too
    assert "/api/tf-runs" not in paths


# -- auth and caching, as on the default routes ----------------------------------------------------


GUARDED = """
api:
  prefix: /api
resources:
  tf-runs:
    model: pathroute_models:TestRun
    fields: {packit_id: id, status:}
    auth: api_key
    cache: {max_age: 60}
    routes:
      - {path: /testing-farm/results, kind: list}
      - {path: "/testing-farm/{id}", kind: detail, bind: {id: packit_id}}
"""


@pytest.mark.parametrize("routes_db", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("target", ["/api/testing-farm/results", "/api/testing-farm/3"],
                         ids=["list", "detail"])
async def test_path_routes_are_guarded_and_cached_as_their_resource(
        routes_db: Database, make_api: Callable[..., Any], target: str) -> None:
    api: Api = await make_api(GUARDED, routes_db.url, routes_db.backend,
                              settings=Settings(api_keys="k1", database_url=routes_db.url))
    refused = await api.get(target)
    assert refused.status_code == 401
    key = {"X-API-Key": "k1"}
    first = await api.get(target, headers=key)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "private, max-age=60"
    again = await api.get(target, headers={**key, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
