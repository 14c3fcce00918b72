"""The legacy profile reproduces the old Flask API's wire contract, byte for byte.

The fixtures under fixtures/legacy/ are responses of the old app (tests/legacy_flask.py)
over the demo data at scale 300; `CRUD_RECORD_LEGACY=1 pytest tests/test_legacy.py` rewrites
them from that app. The generated legacy profile must send the same bytes on every backend.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import Api, Database

from crud.app import load
from crud.config.registry import RegistryError
from crud.http.profiles.legacy import LegacyEncoder, epoch_seconds, legacy_dumps, legacy_range

FIXTURES = Path(__file__).parent / "fixtures" / "legacy"
RECORD = os.environ.get("CRUD_RECORD_LEGACY") == "1"
COMPARED_HEADERS = ("content-length", "content-range", "content-type")

BUILD_FIELDS = """
      packit_id: id
      task_id:
      scratch:
      status:
      build_submitted_time:
      chroot: target
      web_url:
      pr_id: {source: {expression: "resources.expressions:pr_id"}}
      branch_name: {source: {expression: "resources.expressions:branch_name"}}
      release: {source: {expression: "resources.expressions:release"}}
      project_url: {source: {expression: "resources.expressions:project_url"}}
      repo_namespace: {source: {expression: "resources.expressions:repo_namespace"}}
      repo_name: {source: {expression: "resources.expressions:repo_name"}}
    filters: {scratch: [eq], status: [eq, in]}
    search: [web_url]
    sort: [packit_id, build_submitted_time]
    default_sort: [-packit_id]
"""

REGISTRY = f"""
api:
  prefix: /api/v1
  max_page_size: 50
resources:
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    profile: legacy
    legacy: {{unit: builds, per_page_values: [2, 10, 20, 30, 40, 50]}}
    fields:{BUILD_FIELDS}
  builds:
    model: resources.models:KojiBuildTargetModel
    fields:{BUILD_FIELDS}
"""

WHOLE_API_LEGACY = """
api:
  profile: legacy
  legacy: {unit: items}
resources:
  srpm-builds:
    model: resources.models:SRPMBuildModel
    fields: {packit_id: id, status:, build_submitted_time:}
    default_sort: [packit_id]
"""


@dataclass(frozen=True)
class Recorded:
    """One old-contract exchange: the request (relative to the API root) and the response."""

    target: str
    status: int
    headers: dict[str, str]
    body: bytes

    @classmethod
    def read(cls, path: Path) -> Recorded:
        head, body = path.read_bytes().split(b"\n\n", 1)
        request_line, status_line, *header_lines = head.decode("ascii").splitlines()
        headers = dict(line.split(": ", 1) for line in header_lines)
        return cls(request_line.removeprefix("GET "), int(status_line.split()[0]),
                   {key.lower(): value for key, value in headers.items()}, body)

    def write(self, path: Path) -> None:
        head = [f"GET {self.target}", f"{self.status} {HTTPStatus(self.status).phrase}",
                *(f"{key.title()}: {self.headers[key]}" for key in COMPARED_HEADERS)]
        path.write_bytes("\n".join(head).encode("ascii") + b"\n\n" + self.body)


CASES = {
    "page-2-per-page-20": "/koji-builds?page=2&per_page=20",
    "defaults": "/koji-builds",
    "scratch-page-3-per-page-2": "/koji-builds?scratch=true&page=3&per_page=2",
    "past-the-end": "/koji-builds?page=100&per_page=50",
}


def _sync_url(database: Database) -> str:
    return database.url.replace("sqlite+aiosqlite://", "sqlite://")


def _compared(headers: Any) -> dict[str, str]:
    return {key: headers[key] for key in COMPARED_HEADERS}


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_fixtures_are_what_the_old_flask_app_answers(demo_db: Database, name: str) -> None:
    import legacy_flask

    legacy_flask.app.config["DATABASE_URL"] = _sync_url(demo_db)
    response = legacy_flask.app.test_client().get(CASES[name])
    recorded = Recorded(CASES[name], response.status_code, _compared(response.headers),
                        response.get_data())
    path = FIXTURES / f"{name}.http"
    if RECORD:
        recorded.write(path)
    assert Recorded.read(path) == recorded


@pytest.fixture
async def legacy_api(demo_db: Database, make_api: Callable[..., Any]) -> Api:
    api: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend)
    return api


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
async def test_legacy_profile_sends_the_old_bytes(legacy_api: Api, name: str) -> None:
    recorded = Recorded.read(FIXTURES / f"{name}.http")
    response = await legacy_api.get(f"/api/v1{recorded.target}")
    assert Recorded(recorded.target, response.status_code, _compared(response.headers),
                    response.content) == recorded


async def test_page_2_of_20_is_a_206_bare_array_with_a_one_based_range(legacy_api: Api) -> None:
    response = await legacy_api.get("/api/v1/koji-builds", params={"page": 2, "per_page": 20})
    assert response.status_code == 206
    assert response.headers["content-range"] == "builds 21-40/*"
    body = response.json()
    assert isinstance(body, list)
    assert [item["packit_id"] for item in body] == list(range(280, 260, -1))


async def test_legacy_list_sends_no_count_statement(legacy_api: Api) -> None:
    legacy_api.log.clear()
    response = await legacy_api.get("/api/v1/koji-builds", params={"page": 3, "per_page": 10})
    assert response.status_code == 206
    assert legacy_api.log.count == 1
    assert "count(" not in legacy_api.log.statements[0].lower()


def _as_legacy(item: dict[str, Any]) -> dict[str, Any]:
    time = item["build_submitted_time"]
    if time is not None:
        time = epoch_seconds(dt.datetime.fromisoformat(time))
    return {**item, "build_submitted_time": time}


@pytest.mark.parametrize("query", [
    {"status": "success", "order_by": "build_submitted_time"},
    {"status__in": "failure,error", "order_by": "-build_submitted_time,packit_id"},
    {"search": "koji", "scratch": "false"},
], ids=["filter-and-sort", "list-filter-two-keys", "search"])
async def test_filters_sort_and_search_select_the_standard_profiles_rows(
        legacy_api: Api, query: dict[str, str]) -> None:
    legacy = await legacy_api.get("/api/v1/koji-builds", params={**query, "page": 2,
                                                                 "per_page": 10})
    standard = await legacy_api.get("/api/v1/builds", params={**query, "page": 2, "size": 10})
    assert legacy.status_code == 206
    assert standard.status_code == 200
    assert standard.json()["items"], "the case must select rows"
    assert legacy.json() == [_as_legacy(item) for item in standard.json()["items"]]


async def test_timestamps_are_epoch_seconds_of_naive_utc(legacy_api: Api) -> None:
    response = await legacy_api.get("/api/v1/koji-builds/280")
    standard = (await legacy_api.get("/api/v1/builds/280")).json()
    assert response.status_code == 200
    assert standard["build_submitted_time"].endswith("+00:00")
    expected = int(dt.datetime.fromisoformat(standard["build_submitted_time"]).timestamp())
    assert response.json() == {**standard, "build_submitted_time": expected}
    assert response.content.endswith(b"}\n")


@pytest.mark.parametrize(("query", "status", "errors"), [
    ({"size": "20"}, 400, [{"parameter": "size", "message": "unknown parameter (valid: order_by, "
                                                        "page, per_page, scratch, search, status, "
                                                        "status__in)"}]),
    ({"per_page": "15"}, 422, [{"parameter": "per_page",
                                "message": "must be one of 2, 10, 20, 30, 40, 50"}]),
    ({"per_page": "60"}, 422, [{"parameter": "per_page",
                                "message": "Input should be less than or equal to 50"}]),
    ({"page": "0"}, 422, [{"parameter": "page",
                           "message": "Input should be greater than or equal to 1"}]),
], ids=["size-is-unknown", "per-page-not-allowed", "per-page-over-max", "page-zero"])
async def test_bad_paging_is_a_problem(legacy_api: Api, query: dict[str, str], status: int,
                                       errors: list[dict[str, str]]) -> None:
    response = await legacy_api.get("/api/v1/koji-builds", params=query)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == errors


async def test_head_has_the_status_and_range_without_a_body(legacy_api: Api) -> None:
    response = await legacy_api.client.head("/api/v1/koji-builds", params={"per_page": 2})
    assert response.status_code == 206
    assert response.headers["content-range"] == "builds 1-2/*"
    assert response.content == b""


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_unchanged_page_is_a_304_on_its_etag(legacy_api: Api) -> None:
    first = await legacy_api.get("/api/v1/koji-builds", params={"page": 2})
    again = await legacy_api.get("/api/v1/koji-builds", params={"page": 2},
                                 headers={"If-None-Match": first.headers["etag"]})
    assert first.status_code == 206
    assert again.status_code == 304
    assert again.headers["etag"] == first.headers["etag"]
    assert again.content == b""


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_api_level_profile_applies_to_every_resource(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(WHOLE_API_LEGACY, demo_db.url, demo_db.backend)
    response = await api.get("/api/v1/srpm-builds", params={"per_page": 2})
    assert response.status_code == 206
    assert response.headers["content-range"] == "items 1-2/*"
    assert [item["packit_id"] for item in response.json()] == [1, 2]


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_openapi_documents_the_array_the_206_and_content_range(legacy_api: Api) -> None:
    document = (await legacy_api.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/koji-builds"]["get"]
    assert list(operation["responses"]) == ["206", "304", "400", "404", "422", "500", "503"]
    ok = operation["responses"]["206"]
    assert ok["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/KojiBuildLegacy"},
        "title": "Response List Koji Builds"}
    assert list(ok["headers"]) == ["Content-Range", "ETag", "Cache-Control"]
    names = [parameter["name"] for parameter in operation["parameters"]]
    assert names[:2] == ["page", "per_page"]
    assert "size" not in names
    assert operation["parameters"][1]["schema"] == {
        "type": "integer", "minimum": 1, "maximum": 50, "default": 10,
        "enum": [2, 10, 20, 30, 40, 50]}
    item = document["components"]["schemas"]["KojiBuildLegacy"]["properties"]
    assert item["build_submitted_time"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    standard = document["paths"]["/api/v1/builds"]["get"]["responses"]
    assert set(standard) >= {"200", "206", "304", "400", "404", "416", "422", "503"}


@pytest.mark.parametrize(("page", "per_page", "expected"), [
    (1, 10, "builds 1-10/*"), (2, 20, "builds 21-40/*"), (7, 2, "builds 13-14/*"),
], ids=["first", "second-of-20", "seventh-of-2"])
def test_legacy_range_counts_from_one(page: int, per_page: int, expected: str) -> None:
    assert legacy_range("builds", page, per_page) == expected


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_a_protected_legacy_resource_needs_its_key(
        demo_db: Database, make_api: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUD_API_KEYS", "k-1")
    api: Api = await make_api(REGISTRY.replace("    profile: legacy\n",
                                               "    profile: legacy\n    auth: api_key\n"),
                              demo_db.url, demo_db.backend)
    anonymous = await api.get("/api/v1/koji-builds")
    keyed = await api.get("/api/v1/koji-builds", headers={"X-API-Key": "k-1"})
    assert anonymous.status_code == 401
    assert keyed.status_code == 206


TEXTS = {"non-ascii": "Miroslav Such\u00fd \u2713", "del": "a\x7fb", "controls": "\x00\x1f\t\n\r\x08",
         "escapes": 'a"b\\c/d', "plain": "koji-builds 21-40"}


@pytest.mark.parametrize("text", list(TEXTS.values()), ids=list(TEXTS))
def test_encoder_sends_the_bytes_of_flask_jsonify(text: str) -> None:
    import legacy_flask
    from flask import jsonify

    content = [{"name": text, "when": 1730882641, "none": None, "ids": [3, 1],
                "nested": {"zeta": True, "alpha": text}}]
    with legacy_flask.app.app_context():
        expected = jsonify(content).get_data()
    assert LegacyEncoder([])(content) == expected
    assert legacy_dumps(content) == expected


@pytest.mark.parametrize("number", [0.1, 1e-05, 1e16, 2.5], ids=["tenth", "tiny", "huge", "half"])
def test_floats_are_spelled_as_flask_spells_them(number: float) -> None:
    import legacy_flask
    from flask import jsonify

    with legacy_flask.app.app_context():
        expected = jsonify({"value": number}).get_data()
    encoder = LegacyEncoder([SimpleNamespace(info=SimpleNamespace(kind="number"))])
    assert not encoder.fast
    assert encoder({"value": number}) == expected


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_the_fixture_resource_takes_the_orjson_path(legacy_api: Api) -> None:
    resources = {resource.name: resource for resource in legacy_api.app.state.registry.resources}
    assert repr(LegacyEncoder(resources["koji-builds"].leaves.values())) == (
        "LegacyEncoder(fast=True, naive_utc=True)")


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_max_offset_bounds_legacy_pages_too(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(REGISTRY.replace("    profile: legacy\n",
                                               "    profile: legacy\n    max_offset: 100\n"),
                              demo_db.url, demo_db.backend)
    last = await api.get("/api/v1/koji-builds", params={"page": 11, "per_page": 10})
    beyond = await api.get("/api/v1/koji-builds", params={"page": 12, "per_page": 10})
    assert last.status_code == 206
    assert beyond.status_code == 400
    assert beyond.json()["errors"] == [{
        "parameter": "page",
        "message": "offset 110 is beyond this list's max_offset 100; narrow the list with filters"}]


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_legacy_detail_is_documented_with_the_keys_type(legacy_api: Api) -> None:
    document = (await legacy_api.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/koji-builds/{id}"]["get"]
    standard = document["paths"]["/api/v1/builds/{id}"]["get"]
    # The same key; only the standard profile shapes its items (fields=).
    assert operation["parameters"] == standard["parameters"][:1]
    assert [parameter["name"] for parameter in operation["parameters"]] == ["id"]
    assert [parameter["name"] for parameter in standard["parameters"]] == ["id", "fields"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/KojiBuildLegacy"}


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_a_range_header_is_ignored_as_the_old_api_ignored_it(legacy_api: Api) -> None:
    response = await legacy_api.get("/api/v1/koji-builds", headers={"Range": "koji-builds=0-4"})
    assert response.status_code == 206
    assert response.headers["content-range"] == "builds 1-10/*"
    assert len(response.json()) == 10


@pytest.mark.parametrize("mode", ["positive", "negative"])
async def test_legacy_operations_conform_to_their_spec(legacy_api: Api, mode: str) -> None:
    import httpx
    import schemathesis
    from schemathesis import GenerationMode
    from test_conformance import BASE_URL, draw_cases, failures_of, send

    spec = legacy_api.app.openapi()
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()
                  if result.ok().path.startswith("/api/v1/koji-builds")]
    assert len(operations) == 2
    problems: list[str] = []
    transport = httpx.ASGITransport(app=legacy_api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        for operation in operations:
            strategy = operation.as_strategy(generation_mode=GenerationMode(mode))
            for case in draw_cases(strategy):
                problems.extend(failures_of(spec, case, await send(client, case)))
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} failing cases)"


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_page_sizes_over_max_page_size_are_located_registry_errors(
        demo_db: Database, registry_path: Callable[[str], Path]) -> None:
    text = REGISTRY.replace("per_page_values: [2, 10, 20, 30, 40, 50]",
                            "per_page: 60, per_page_values: [10, 60, 100]")
    path = registry_path(text)
    line = text.splitlines().index("    legacy: {unit: builds, per_page: 60, "
                                   "per_page_values: [10, 60, 100]}") + 1
    with pytest.raises(RegistryError) as caught:
        await load(path, demo_db.url)
    assert [str(issue) for issue in caught.value.issues] == [
        f"{path}:{line}: resources.koji-builds.legacy.per_page: 60 is over the max_page_size "
        "of koji-builds (50): no request could use it",
        f"{path}:{line}: resources.koji-builds.legacy.per_page_values.1: 60 is over the "
        "max_page_size of koji-builds (50): no request could use it",
        f"{path}:{line}: resources.koji-builds.legacy.per_page_values.2: 100 is over the "
        "max_page_size of koji-builds (50): no request could use it",
    ]
