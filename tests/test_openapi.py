"""The OpenAPI document: every parameter, model and response typed precisely enough to
generate a client from. The repository's registry.yaml is the subject; building the spec
touches no table, so one SQLite app serves the whole module.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from conftest import ROOT

from crud.app import create_app, load
from crud.http.groups import group_pattern
from crud.model.values import MAX_PAGE
from crud.sql.database import make_engine

Spec = dict[str, Any]

KOJI = "/api/v1/koji-builds"
STATUSES = ["pending", "running", "success", "failure", "error"]
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def spec(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Spec]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('spec') / 'empty.db'}"
    loaded = await load(ROOT / "registry.yaml", url)
    engine = make_engine(url)
    yield create_app(loaded, engine).openapi()
    await engine.dispose()


def parameters(spec: Spec, path: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}


def schema_of(spec: Spec, name: str) -> dict[str, Any]:
    component: dict[str, Any] = spec["components"]["schemas"][name]
    return component


def test_in_lists_are_typed_arrays_sent_comma_separated(spec: Spec) -> None:
    assert parameters(spec, KOJI)["status__in"] == {
        "name": "status__in", "in": "query", "required": False,
        "style": "form", "explode": False,
        "schema": {"type": "array", "items": {"type": "string", "enum": STATUSES},
                   "minItems": 1, "maxItems": 100},
        "description": "Filter: status one of the comma-separated values.",
    }
    assert parameters(spec, KOJI)["packit_id__in"]["schema"]["items"] == INT32


@pytest.mark.parametrize(("kind", "joined"), [("or", "any"), ("and", "all")])
def test_boolean_groups_are_repeatable_strings_with_their_grammar(spec: Spec, kind: str,
                                                                 joined: str) -> None:
    assert parameters(spec, KOJI)[kind] == {
        "name": kind, "in": "query", "required": False, "style": "form", "explode": True,
        # The grammar itself, to the registry's depth (tests/test_groups.py checks it).
        "schema": {"type": "array", "items": {"type": "string", "pattern": group_pattern(3)}},
        "description": f"Rows matching {joined} of the terms. A boolean group of filters: "
                       "`(term,term,...)`, each term a filter written as its own parameter "
                       "(`status=failure`, `chroot__like=rawhide`, `packit_id__in=\"1,2\"`) or "
                       "a nested group (`and=(...)`, `or=(...)`). Values holding `,` `(` `)` "
                       "or `\"` go in double quotes, with `\\\"` and `\\\\` escaped. Several "
                       "groups are ANDed with each other and the plain filters. At most 3 "
                       "levels deep and 20 terms per request. Example: `or=(status=failure,"
                       "and=(scratch=true,chroot__like=rawhide))`.",
    }


def test_array_operators_take_their_elements_comma_separated(spec: Spec) -> None:
    assert parameters(spec, "/api/v1/pull-requests")["labels__overlaps"] == {
        "name": "labels__overlaps", "in": "query", "required": False,
        "style": "form", "explode": False,
        "schema": {"type": "array", "items": {"type": "string", "pattern": "^[^\\u0000]*$"},
                   "minItems": 1, "maxItems": 100},
        "description": "Filter: labels the array holds at least one of the comma-separated "
                       "values.",
    }


def test_order_by_is_an_array_of_allowed_keys_in_both_directions(spec: Spec) -> None:
    order_by = parameters(spec, KOJI)["order_by"]
    assert (order_by["style"], order_by["explode"]) == ("form", False)
    # Nullable keys may also say where NULLs go (-build_submitted_time:nulls_last).
    nullable = ["build_submitted_time", "repo_namespace"]
    spellings = {key: [f"{sign}{key}{suffix}" for sign in ("", "-") for suffix in
                       ("", *((":nulls_first", ":nulls_last") if key in nullable else ()))]
                 for key in ["packit_id", "build_submitted_time", "status", "chroot",
                             "repo_namespace"]}
    assert spellings["build_submitted_time"] == [
        "build_submitted_time", "build_submitted_time:nulls_first",
        "build_submitted_time:nulls_last", "-build_submitted_time",
        "-build_submitted_time:nulls_first", "-build_submitted_time:nulls_last"]
    assert order_by["schema"] == {
        "type": "array", "minItems": 1, "maxItems": 5, "uniqueItems": True,
        "items": {"type": "string", "enum": [item for items in spellings.values()
                                             for item in items]},
        # A key twice (x,-x; x,x:nulls_last) is refused, and the schema says so too.
        "not": {"anyOf": [{"allOf": [{"contains": {"const": one}}, {"contains": {"const": other}}]}
                          for items in spellings.values() for index, one in enumerate(items)
                          for other in items[index + 1:]]},
    }
    assert "Default: -packit_id." in order_by["description"]


@pytest.mark.parametrize(("name", "schema"), [
    ("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}),
    ("size", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
    ("search", {"type": "string", "pattern": "^[^\\u0000]*$", "maxLength": 200}),
    ("status", {"type": "string", "enum": STATUSES}),
    ("scratch", {"type": "boolean"}),
    ("task_id__isnull", {"type": "boolean"}),
    ("chroot", {"type": "string", "pattern": "^[^\\u0000]*$"}),
    ("chroot__like", {"type": "string", "pattern": "^[^\\u0000]*$"}),
    ("packit_id__gt", INT32),
    ("pr_id", INT32),
    ("build_submitted_time__gte", {"type": "string", "format": "date-time"}),
], ids=lambda value: value if isinstance(value, str) else "")
def test_scalar_parameters_are_typed(spec: Spec, name: str, schema: dict[str, Any]) -> None:
    assert parameters(spec, KOJI)[name]["schema"] == schema


def test_filter_descriptions_come_from_the_registry_plus_the_operator(spec: Spec) -> None:
    assert parameters(spec, KOJI)["chroot"]["description"] == "Build target. Filter: chroot equal to."


def test_operations_are_named_for_generated_clients(spec: Spec) -> None:
    assert spec["paths"][KOJI]["get"]["operationId"] == "list_koji_builds"
    assert spec["paths"][f"{KOJI}/{{id}}"]["get"]["operationId"] == "get_koji_build"


def test_detail_id_is_typed_as_the_primary_key(spec: Spec) -> None:
    assert spec["paths"][f"{KOJI}/{{id}}"]["get"]["parameters"][0] == {
        "name": "id", "in": "path", "required": True, "schema": INT32,
        "description": "The packit_id of the row",
    }


def test_head_routes_stay_out_of_the_spec(spec: Spec) -> None:
    assert {method for path in spec["paths"].values() for method in path} == {"get"}


def test_the_page_model_has_items_and_position(spec: Spec) -> None:
    page = schema_of(spec, "KojiBuildPage")
    assert page["required"] == ["items", "total", "page", "size", "pages"]
    assert page["properties"]["items"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/KojiBuild"}, "title": "Items"}
    for nullable in ("total", "page", "pages"):  # not counted; a Range between two pages
        assert page["properties"][nullable]["anyOf"] == [{"type": "integer"}, {"type": "null"}]


@pytest.mark.parametrize(("model", "field", "schema"), [
    ("KojiBuild", "packit_id", {"type": "integer"}),
    ("KojiBuild", "scratch", {"type": "boolean"}),
    ("KojiBuild", "status", {"type": "string", "enum": STATUSES}),
    ("KojiBuild", "task_id", {"anyOf": [{"type": "string"}, {"type": "null"}]}),
    ("KojiBuild", "build_submitted_time",
     {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}),
    ("KojiBuild", "pr_id", {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    ("CoprBuild", "project", {"anyOf": [{"$ref": "#/components/schemas/CoprBuildProject"},
                                        {"type": "null"}]}),  # null: no event links
    ("CoprBuildProject", "event_type", {"anyOf": [
        {"type": "string", "enum": ["pull_request", "branch_push", "release"]}, {"type": "null"}]}),
    ("Project", "pr_ids", {"type": "array", "items": {"type": "integer"}}),
    ("Project", "branches", {"type": "array", "items": {"$ref": "#/components/schemas/ProjectBranches"}}),
    ("ProjectBranches", "name", {"type": "string"}),
    ("Project", "created_at", {"type": "string", "format": "date-time"}),
    # A JSON column: the registry's json_schema, nullable as the column is.
    ("CoprBuild", "built_packages", {"anyOf": [{"type": "array", "items": {
        "type": "object", "required": ["name", "epoch", "version", "release", "arch"],
        "properties": {"name": {"type": "string"}, "epoch": {"type": "integer"},
                       "version": {"type": "string"}, "release": {"type": "string"},
                       "arch": {"type": "string"}}}}, {"type": "null"}]}),
], ids=lambda value: value if isinstance(value, str) else "")
def test_response_fields_are_typed(spec: Spec, model: str, field: str, schema: dict[str, Any]) -> None:
    properties = schema_of(spec, model)["properties"]
    described = {key: value for key, value in properties[field].items()
                 if key not in ("title", "description")}
    assert described == schema
    # An item may leave any field out (fields=), a to-many list's objects too (fields=branches.name).
    assert field not in schema_of(spec, model).get("required", [])


LIST_STATUSES = ["200", "206", "304", "400", "404", "416", "422", "500", "503"]
DETAIL_STATUSES = ["200", "304", "400", "404", "422", "500", "503"]
AGGREGATE_STATUSES = ["200", "304", "400", "422", "500", "503"]


def test_errors_are_problem_json_on_every_resource_operation(spec: Spec) -> None:
    for path, item in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        responses = item["get"]["responses"]
        expected = (DETAIL_STATUSES if path.endswith("{id}") else AGGREGATE_STATUSES
                    if path.endswith("/aggregate") else LIST_STATUSES)
        assert sorted(responses) == expected
        for status in sorted(set(responses) & {"400", "404", "416", "422", "500", "503"}):
            assert responses[status]["content"] == PROBLEM, (path, status)
    problem = schema_of(spec, "Problem")
    assert problem["required"] == ["type", "title", "status", "detail"]
    assert problem["properties"]["errors"]["items"]["required"] == ["parameter", "message"]


def test_no_problem_schema_is_inlined(spec: Spec) -> None:
    assert json.dumps(spec).count('"RFC 9457 problem details"') == 1


def test_content_range_is_documented_on_list_responses(spec: Spec) -> None:
    responses = spec["paths"][KOJI]["get"]["responses"]
    pattern = "^(koji-builds|items) ([0-9]+-[0-9]+|\\*)/([0-9]+|\\*)$"
    for status in ("200", "206"):
        headers = responses[status]["headers"]
        assert headers["Content-Range"]["schema"] == {"type": "string", "pattern": pattern}
        assert headers["Total-Count-Kind"]["schema"]["enum"] == [
            "exact", "estimated", "lower-bound", "none"]
        assert {"Accept-Ranges", "Link"} <= set(headers)
    assert {"ETag", "Cache-Control"} <= set(responses["200"]["headers"])
    assert "Range-Truncated" in responses["206"]["headers"]
    assert "Content-Range" not in spec["paths"][f"{KOJI}/{{id}}"]["get"]["responses"]["200"]["headers"]


def test_cursor_count_and_range_are_documented(spec: Spec) -> None:
    given = parameters(spec, KOJI)
    assert given["cursor"]["schema"] == {"type": "string"}
    assert given["count"]["schema"] == {"type": "string", "enum": ["none", "estimated", "auto"]}
    assert given["Range"]["in"] == "header"


@pytest.mark.parametrize("column", ["webhook_secret", "logs", '"data"', "build_logs_url"])
def test_unlisted_columns_appear_nowhere_in_the_spec(spec: Spec, column: str) -> None:
    assert column not in json.dumps(spec)


async def test_the_spec_is_identical_on_every_build(spec: Spec, tmp_path: Path) -> None:
    # Generated clients are diffed in review: a rebuild must give the same document, byte
    # for byte (no set-ordered enums, no per-process names).
    url = f"sqlite+aiosqlite:///{tmp_path / 'again.db'}"
    engine = make_engine(url)
    again = create_app(await load(ROOT / "registry.yaml", url), engine).openapi()
    await engine.dispose()
    assert json.dumps(again) == json.dumps(spec)
