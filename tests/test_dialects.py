"""The client dialects over HTTP: ``profile: react-admin`` and ``profile: json-server``.

Each dialect request is checked against the standard profile's answer to the same question
over the same data (the demo registry, on SQLite, PostgreSQL and MariaDB): the same rows,
each with its ``id``, the same total; errors are the one problem+json envelope.
tests/test_data_providers.py drives the real npm providers against a running server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from conftest import ROOT, Api, Database
from test_data_providers import dialect_registry

from crud.app import load
from crud.config.registry import RegistryError
from crud.config.settings import Settings
from crud.http.cursors import CursorCodec
from crud.http.profiles import profile_for
from crud.http.profiles.records import RecordRenderer
from crud.ops.cors import allowed_headers, exposed_headers

BUILDS = "/api/v1/koji-builds"
STANDARD = (ROOT / "registry.yaml").read_text(encoding="utf-8")
Params = dict[str, Any]


async def apis(make_api: Callable[..., Any], demo_db: Database,
               profile: str) -> tuple[Api, Api]:
    dialect: Api = await make_api(dialect_registry(profile), demo_db.url, demo_db.backend)
    standard: Api = await make_api(STANDARD, demo_db.url, demo_db.backend)
    return dialect, standard


def ra(filter_: Params | None = None, *, sort: list[str] | None = None,
       range_: list[int] | None = None) -> Params:
    params = {"sort": json.dumps(sort or ["id", "DESC"]), "range": json.dumps(range_ or [0, 99])}
    if filter_ is not None:
        params["filter"] = json.dumps(filter_)
    return params


def records(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The standard profile's items as a dialect sends them: ``id`` first."""
    return [{"id": item["packit_id"], **item} for item in items]


def total_of(content_range: str) -> int:
    return int(content_range.rsplit("/", 1)[1])


# (react-admin filter, json-server query, the standard profile's query)
FILTERS = [
    pytest.param({"status": "success"}, "status=success", "status=success", id="eq"),
    pytest.param({"status": ["success", "failure"]}, "status=success&status=failure",
                 "status__in=success,failure", id="in"),
    pytest.param({"packit_id_gt": 10, "packit_id_lt": 50}, "packit_id_gt=10&packit_id_lt=50",
                 "packit_id__gt=10&packit_id__lt=50", id="suffixes"),
    pytest.param({"status_neq": "success"}, "status_ne=success", "status__neq=success",
                 id="neq"),
    pytest.param({"repo_namespace_like": "CONT"}, "repo_namespace_like=CONT",
                 "repo_namespace__ilike=CONT", id="like-is-ilike-when-declared"),
    pytest.param({"chroot_like": "41"}, "chroot_like=41", "chroot__like=41", id="like"),
    pytest.param({"task_id__isnull": True}, "task_id__isnull=true", "task_id__isnull=true",
                 id="registry-names"),
    pytest.param({"status__not_in": ["success", "failure"]}, "status__not_in=success,failure",
                 None, id="registry-list-names"),
    pytest.param({"id": [5, 3, 9]}, "id=5&id=3&id=9", "packit_id__in=5,3,9", id="id-list"),
    pytest.param({"id": 7}, "id=7", "packit_id__in=7", id="id"),
    pytest.param({"q": "task_50%"}, "q=task_50%25", "search=task_50%25", id="q"),
    pytest.param({"scratch": False, "chroot": ["fedora-41-x86_64"]},
                 "scratch=false&chroot=fedora-41-x86_64", "scratch=false&chroot=fedora-41-x86_64",
                 id="bool-and-one-item-list"),
    pytest.param({}, "chroot=fedora-41-x86_64,epel-8-x86_64",
                 "chroot=fedora-41-x86_64,epel-8-x86_64", id="a-comma-is-part-of-one-value"),
]


@pytest.mark.parametrize(("ra_filter", "js_query", "standard_query"), FILTERS)
async def test_filters_select_what_the_standard_profile_selects(
        demo_db: Database, make_api: Callable[..., Any], ra_filter: Params, js_query: str,
        standard_query: str | None) -> None:
    react_admin, standard = await apis(make_api, demo_db, "react-admin")
    json_server: Api = await make_api(dialect_registry("json-server"), demo_db.url)
    if standard_query is None:  # the standard's own spelling, as is
        standard_query = js_query
    expected = await standard.get(f"{BUILDS}?{standard_query}&order_by=-packit_id&size=100")
    assert expected.status_code == 200
    items, total = expected.json()["items"], expected.json()["total"]
    if ra_filter:
        answer = await react_admin.get(BUILDS, params=ra(ra_filter))
        assert (answer.status_code, answer.json()) == (200, records(items))
        assert total_of(answer.headers["content-range"]) == total
    answer = await json_server.get(f"{BUILDS}?{js_query}&_sort=id&_order=DESC")
    assert (answer.status_code, answer.json()) == (200, records(items))
    assert answer.headers["x-total-count"] == str(total)


# (react-admin params and Range header, json-server query, the standard's query)
PAGES = [
    pytest.param(ra(sort=["build_submitted_time", "ASC"], range_=[5, 9]), None,
                 "_sort=build_submitted_time&_order=asc&_start=5&_end=10",
                 "order_by=build_submitted_time&page=2&size=5", "5-9", id="range"),
    pytest.param({"sort": '["status","DESC"]'}, "koji-builds=5-9",
                 "_sort=-status&_page=2&_limit=5", "order_by=-status&page=2&size=5", "5-9",
                 id="range-header"),
    pytest.param(ra(sort=["chroot", "ASC"], range_=[10, 14]), "koji-builds=10-14",
                 "_sort=chroot&_start=10&_limit=5", "order_by=chroot&page=3&size=5", "10-14",
                 id="both-agree"),
    pytest.param({}, None, "", "order_by=-packit_id&size=100", "0-99", id="no-range"),
    pytest.param(ra(range_=[0, 499]), None, "_sort=id&_order=desc&_start=0&_end=500",
                 "order_by=-packit_id&size=100", "0-99", id="cut-to-max-page-size"),
]


@pytest.mark.parametrize(("ra_params", "range_header", "js_query", "standard_query", "rows"),
                         PAGES)
async def test_sorts_and_pages_as_the_standard_profile(
        demo_db: Database, make_api: Callable[..., Any], ra_params: Params,
        range_header: str | None, js_query: str, standard_query: str, rows: str) -> None:
    react_admin, standard = await apis(make_api, demo_db, "react-admin")
    json_server: Api = await make_api(dialect_registry("json-server"), demo_db.url)
    expected = (await standard.get(f"{BUILDS}?{standard_query}")).json()
    headers = {"Range": range_header} if range_header else {}
    answer = await react_admin.get(BUILDS, params=ra_params, headers=headers)
    assert (answer.status_code, answer.json()) == (200, records(expected["items"]))
    assert answer.headers["content-range"] == f"koji-builds {rows}/{expected['total']}"
    answer = await json_server.get(f"{BUILDS}?{js_query}")
    assert (answer.status_code, answer.json()) == (200, records(expected["items"]))
    assert answer.headers["x-total-count"] == str(expected["total"])


async def test_a_range_after_the_last_row_is_an_empty_array(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    react_admin, _ = await apis(make_api, demo_db, "react-admin")
    answer = await react_admin.get(BUILDS, params=ra(range_=[1000, 1009]))
    assert (answer.status_code, answer.json(), answer.headers["content-range"]) == (
        200, [], "koji-builds */300")


@pytest.mark.parametrize("profile", ["react-admin", "json-server"])
async def test_details_carry_the_id(demo_db: Database, make_api: Callable[..., Any],
                                    profile: str) -> None:
    dialect, standard = await apis(make_api, demo_db, profile)
    build = (await standard.get(f"{BUILDS}/42")).json()
    answer = await dialect.get(f"{BUILDS}/42")
    assert (answer.status_code, answer.json()) == (200, {"id": 42, **build})
    # A key already called id is the record's id as it is.
    pull = (await standard.get("/api/v1/pull-requests/3")).json()
    assert (await dialect.get("/api/v1/pull-requests/3")).json() == pull


ERRORS = [
    pytest.param("react-admin", {"filter": '{"stauts": "x"}'}, {}, 400,
                 [{"parameter": "filter", "message": "stauts: unknown filter (did you mean "
                                                     "'status'?)"}], id="ra-unknown-key"),
    pytest.param("react-admin", {"filter": '{"q": "x"}'}, {}, None, None, id="ra-q-is-search"),
    pytest.param("react-admin", {"filter": "[1]"}, {}, 400,
                 [{"parameter": "filter", "message": "expected a JSON object"}],
                 id="ra-not-an-object"),
    pytest.param("react-admin", {"filter": "{bad"}, {}, 400,
                 [{"parameter": "filter", "message": 'not JSON; expected an object such as '
                                                     '{"status": "success"}'}],
                 id="ra-not-json"),
    pytest.param("react-admin", {"filter": '{"packit_id_gt": "x"}'}, {}, 422,
                 [{"parameter": "filter", "message": "packit_id_gt: Input should be a whole "
                   "number in decimal digits"}], id="ra-bad-value"),
    pytest.param("react-admin", {"filter": '{"status": {"a": 1}}'}, {}, 422,
                 [{"parameter": "filter", "message": 'status: expected a value or an array '
                                                     'of values, got {"a":1}'}],
                 id="ra-object-value"),
    pytest.param("react-admin", {"filter": '{"scratch": [true, false]}'}, {}, 422,
                 [{"parameter": "filter", "message": "scratch: takes one value here (its `in` "
                                                     "operator is not declared)"}],
                 id="ra-list-without-in"),
    pytest.param("react-admin", {"sort": '["web_url", "ASC"]'}, {}, 422,
                 [{"parameter": "sort", "message": "cannot sort by 'web_url' (valid: "
                   "build_submitted_time, chroot, packit_id, repo_namespace, status); allowed: "
                   "packit_id, -packit_id, build_submitted_time, -build_submitted_time, "
                   "status, -status, chroot, -chroot, repo_namespace, -repo_namespace"}],
                 id="ra-undeclared-sort"),
    pytest.param("react-admin", {"sort": '["id", "UP"]'}, {}, 422,
                 [{"parameter": "sort", "message": "order 'UP': expected ASC or DESC"}],
                 id="ra-bad-order"),
    pytest.param("react-admin", {"range": "[5, 1]"}, {}, 422,
                 [{"parameter": "range", "message": "expected [first, last]: row numbers "
                                                    "from 0, first <= last <= "
                                                    "999999999999999999"}], id="ra-bad-range"),
    pytest.param("react-admin", {"range": "[0, 9]"}, {"Range": "koji-builds=0-4"}, 400,
                 [{"parameter": "Range", "message": "disagrees with range"}],
                 id="ra-range-disagrees"),
    pytest.param("react-admin", {"page": "1"}, {}, 400,
                 [{"parameter": "page", "message": "unknown parameter (did you mean "
                                                   "'range'?)"}], id="ra-standard-names"),
    pytest.param("json-server", {"stauts": "x"}, {}, 400,
                 [{"parameter": "stauts", "message": "unknown parameter (did you mean "
                                                     "'status'?)"}], id="js-unknown"),
    pytest.param("json-server", {"_embed": "x"}, {}, 400,
                 [{"parameter": "_embed", "message": "unknown parameter (did you mean "
                                                     "'_end'?)"}], id="js-embed"),
    pytest.param("json-server", [("scratch", "true"), ("scratch", "false")], {}, 400,
                 [{"parameter": "scratch", "message": "given more than once"}],
                 id="js-repeated-without-in"),
    pytest.param("json-server", {"_page": "1", "_start": "0"}, {}, 400,
                 [{"parameter": "_page", "message": "not with _start or _end"}],
                 id="js-page-and-start"),
    pytest.param("json-server", {"_start": "5", "_end": "5"}, {}, 422,
                 [{"parameter": "_end", "message": "must be after _start (5)"}],
                 id="js-empty-slice"),
    pytest.param("json-server", {"_limit": "-1"}, {}, 422,
                 [{"parameter": "_limit", "message": "expected a whole number from 1 to "
                                                     "999999999999999999, got '-1'"}],
                 id="js-bad-number"),
    pytest.param("json-server", {"_sort": "id", "_order": "sideways"}, {}, 422,
                 [{"parameter": "_order", "message": "expected asc or desc, once or once per "
                                                     "_sort field"}], id="js-bad-order"),
    pytest.param("json-server", {"_sort": "id,status"}, {}, 422,
                 [{"parameter": "_sort", "message": "id (the primary key) sorts alone"}],
                 id="js-id-with-others"),
    pytest.param("json-server", {"packit_id_gt": "x"}, {}, 422,
                 [{"parameter": "packit_id_gt", "message": "Input should be a whole number in "
                   "decimal digits"}], id="js-bad-value"),
    pytest.param("json-server", {"q": "x\x00"}, {}, 422,
                 [{"parameter": "q", "message": "NUL characters (\\x00) are not allowed"}],
                 id="js-nul-search"),
]


@pytest.mark.parametrize(("profile", "params", "headers", "status", "errors"), ERRORS)
async def test_bad_requests_are_problems_naming_the_key(
        demo_db: Database, make_api: Callable[..., Any], profile: str,
        params: Params | list[tuple[str, str]], headers: dict[str, str], status: int | None,
        errors: list[dict[str, str]] | None) -> None:
    api: Api = await make_api(dialect_registry(profile), demo_db.url, demo_db.backend)
    answer = await api.get(BUILDS, params=httpx.QueryParams(params), headers=headers)
    if status is None:
        assert answer.status_code == 200
        return
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"] == errors


@pytest.mark.parametrize("profile", ["react-admin", "json-server"])
async def test_a_list_sends_the_statements_the_standard_one_does(
        demo_db: Database, make_api: Callable[..., Any], profile: str) -> None:
    dialect, standard = await apis(make_api, demo_db, profile)
    query = (ra({"status": ["success", "failure"]}, range_=[20, 29]) if profile == "react-admin"
             else httpx.QueryParams([("status", "success"), ("status", "failure"),
                                     ("_start", "20"), ("_end", "30"), ("_sort", "id"),
                                     ("_order", "desc")]))
    counts = []
    for api, params in ((dialect, query), (standard, {"status__in": "success,failure",
                                                       "page": 3, "size": 10})):
        for path in ("/api/v1/projects", BUILDS):  # projects: a to-many list per page
            await api.get(path, params=params if path == BUILDS else {})
            api.log.clear()
            assert (await api.get(path, params=params if path == BUILDS else {})).status_code == 200
            counts.append(api.log.count)
    assert counts[:2] == counts[2:]


SRPM_RECORDS = """  srpm-records:
    model: resources.models:SRPMBuildModel
    profile: json-server
    fields: {packit_id: id, status:, commit_sha:, url:, build_submitted_time:,
             build_start_time:, build_finished_time:}
    default_sort: [-packit_id]
"""


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_one_resource_may_speak_a_dialect_beside_standard_ones(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    text = STANDARD.replace("  srpm-builds:\n", SRPM_RECORDS + "  srpm-builds:\n")
    api: Api = await make_api(text, demo_db.url)
    dialect = await api.get("/api/v1/srpm-records", params={"_start": 0, "_end": 2})
    standard = await api.get("/api/v1/srpm-builds", params={"size": 2})
    assert dialect.json() == records(standard.json()["items"])
    assert dialect.headers["x-total-count"] == str(standard.json()["total"])


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("profile", "parameters", "header"), [
    pytest.param("react-admin", ["range", "Range", "sort", "filter"], "Content-Range",
                 id="react-admin"),
    pytest.param("json-server", [
        "_start", "_end", "_page", "_limit", "_sort", "_order", "q", "status", "status_ne",
        "chroot", "chroot_like", "scratch", "task_id", "task_id_like", "packit_id",
        "packit_id_gt", "packit_id_lt", "build_submitted_time_gte", "build_submitted_time_lt",
        "pr_id", "repo_namespace", "repo_namespace_like", "status__not_in",
        "chroot__startswith", "task_id__startswith", "task_id__isnull",
        "build_submitted_time__isnull", "id"],
                 "X-Total-Count", id="json-server"),
])
async def test_openapi_documents_the_dialect_and_cors_follows(
        demo_db: Database, make_api: Callable[..., Any], profile: str,
        parameters: list[str], header: str) -> None:
    api: Api = await make_api(dialect_registry(profile), demo_db.url)
    document = api.app.openapi()
    operation = document["paths"][BUILDS]["get"]
    assert [parameter["name"] for parameter in operation["parameters"]] == parameters
    assert operation["summary"] == f"List koji-builds ({profile} profile)"
    ok = operation["responses"]["200"]
    assert header in ok["headers"]
    schema = ok["content"]["application/json"]["schema"]
    assert schema == {"type": "array", "title": "Response List Koji Builds",
                      "items": {"$ref": "#/components/schemas/KojiBuildRecord"}}
    record = document["components"]["schemas"]["KojiBuildRecord"]
    key = record["properties"]["packit_id"]
    assert record["properties"]["id"] == {
        **key, "title": "Id", "description": "The primary key (packit_id), as react-admin "
                                             "wants it"}
    assert key["type"] == "integer"
    assert "id" in record["required"]
    assert header in exposed_headers(document)
    assert ("Range" in allowed_headers(document)) == (profile == "react-admin")


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("profile", "params", "requested", "header"), [
    # simple-rest sends a Range header (a preflight); json-server's provider sends none.
    pytest.param("react-admin", ra(range_=[0, 4]), "range", "content-range", id="react-admin"),
    pytest.param("json-server", {"_start": 0, "_end": 5}, "authorization", "x-total-count",
                 id="json-server"),
])
async def test_a_dashboard_on_another_origin_reads_the_total(
        demo_db: Database, make_api: Callable[..., Any], profile: str, params: Params,
        requested: str, header: str) -> None:
    origin = "https://dashboard.example"
    api: Api = await make_api(dialect_registry(profile), demo_db.url,
                              settings=Settings(cors_origins=origin))
    preflight = await api.client.options(BUILDS, headers={
        "Origin": origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": requested})
    assert preflight.status_code == 200
    answer = await api.get(BUILDS, params=params, headers={
        "Origin": origin, "Range": "koji-builds=0-4"} if profile == "react-admin" else {
        "Origin": origin})
    exposed = answer.headers["access-control-expose-headers"].lower().split(", ")
    assert (answer.status_code, header in exposed, len(answer.json())) == (200, True, 5)


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("change", "message"), [
    pytest.param(("      packit_id: {source: id, description: Packit's id of the build}\n",
                  "      packit_id: {source: id, description: Packit's id of the build}\n"
                  "      id: task_id\n"),
                 "resources.koji-builds.fields.id: the react-admin profile gives every record an "
                 "'id' (the primary key); rename this field", id="id-not-the-key"),
    pytest.param(("  max_page_size: 100\n", "  max_page_size: 100\n  count: none\n"),
                 "resources.koji-builds.count: the react-admin profile sends the total "
                 "(react-admin pages by it): use a count policy that counts", id="no-count"),
])
async def test_what_a_dialect_cannot_serve_is_a_registry_error(
        demo_db: Database, make_api: Callable[..., Any], change: tuple[str, str],
        message: str) -> None:
    text = dialect_registry("react-admin").replace(*change)
    with pytest.raises(RegistryError) as raised:
        await make_api(text, demo_db.url)
    assert message in str(raised.value)


@pytest.mark.parametrize(("paths", "item", "record"), [
    pytest.param([("id",)], {"id": 1, "a": 2}, {"id": 1, "a": 2}, id="already-id"),
    pytest.param([("packit_id",)], {"packit_id": 7}, {"id": 7, "packit_id": 7}, id="alias"),
    pytest.param([("tenant",), ("ref", "code")], {"tenant": 1, "ref": {"code": "x"}},
                 {"id": "1,x", "tenant": 1, "ref": {"code": "x"}}, id="composite"),
])
def test_records_carry_the_key_as_id(paths: list[tuple[str, ...]], item: dict[str, Any],
                                     record: dict[str, Any]) -> None:
    resource = SimpleNamespace(primary_key=[SimpleNamespace(api_path=path) for path in paths],
                               naive_utc=True)
    renderer = RecordRenderer(resource)  # type: ignore[arg-type]
    assert renderer.record(item) == record
    assert list(renderer.record(item)) == list(record)


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("profile", "steps"), [
    pytest.param("react-admin", [
        "RaFilterStep(Vocabulary('react-admin', keys=21))", "RaSearchStep()",
        "RaSortStep(SortStep(['packit_id', 'build_submitted_time', 'status', 'chroot', "
        "'repo_namespace']))", "FixedCount(CountPolicy(kind='auto', cap=None, timeout_ms=None))",
        "RaPageStep('koji-builds', max_offset=None)"], id="react-admin"),
    pytest.param("json-server", [
        "JsFilterStep(Vocabulary('json-server', keys=21))", "JsSearchStep(enabled=True)",
        "JsSortStep(SortStep(['packit_id', 'build_submitted_time', 'status', 'chroot', "
        "'repo_namespace']))", "FixedCount(CountPolicy(kind='auto', cap=None, timeout_ms=None))",
        "JsPageStep(max_offset=None)"], id="json-server"),
])
async def test_dialect_profiles_repr(demo_db: Database, registry_path: Callable[[str], Path],
                                     profile: str, steps: list[str]) -> None:
    loaded = await load(registry_path(dialect_registry(profile)), demo_db.url)
    builds = next(resource for resource in loaded.resources if resource.name == "koji-builds")
    made = profile_for(builds, loaded.registry.api, CursorCodec(b"repr", []))
    assert [repr(step) for step in made.steps] == steps
    assert repr(made.renderer) == "RecordRenderer(aliased=True)"


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("profile", ["react-admin", "json-server"])
async def test_a_dialect_resource_serves_its_aggregate_route(
        demo_db: Database, make_api: Callable[..., Any], profile: str) -> None:
    # A dashboard in a dialect still charts: the aggregate's body is its own, the same JSON
    # and the same query language as in the standard profile.
    dialect, standard = await apis(make_api, demo_db, profile)
    params = {"group_by": "status", "metrics": "count,avg:duration", "status__neq": "error",
              "order_by": "-count"}
    grouped = await dialect.get(f"{BUILDS}/aggregate", params=params)
    assert grouped.status_code == 200, grouped.text
    assert grouped.json() == (await standard.get(f"{BUILDS}/aggregate", params=params)).json()
    assert grouped.json()["groups"]
    assert f"{BUILDS}/aggregate" in (await dialect.get("/openapi.json")).json()["paths"]


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("profile", ["react-admin", "json-server"])
@pytest.mark.parametrize("key", ["fields", "embed", "or", "format", "facet"])
async def test_the_standard_profiles_own_parameters_are_400_in_a_dialect(
        demo_db: Database, make_api: Callable[..., Any], profile: str, key: str) -> None:
    dialect: Api = await make_api(dialect_registry(profile), demo_db.url, demo_db.backend)
    value = {"or": "(status=success)", "format": "csv", "facet": "status",
             "embed": "runs", "fields": "status"}[key]
    refused = await dialect.get(BUILDS, params={key: value})
    assert refused.status_code == 400, refused.text
    assert [error["parameter"] for error in refused.json()["errors"]] == [key]
