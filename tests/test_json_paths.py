"""JSON path fields: ``source: data.arch`` is a typed field, readable, filterable, sortable."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Api, Database
from test_query_language import fetch_all
from test_registry import problems

BUILDS = "/api/v1/builds"
REGISTRY = """\
resources:
  builds:
    model: resources.models:KojiBuildTargetModel
    fields:
      id:
      data:
      arch: {source: data.arch, description: The build's architecture}
      attempt: {source: data.attempt, type: integer}
      sidetag: data.sidetag
    filters: {arch: [eq, in, startswith, isnull], attempt: [gt, eq], sidetag: [isnull]}
    sort: [id, arch, attempt]
    default_sort: [id]
"""
Row = dict[str, Any]


@pytest.fixture
async def api(demo_db: Database, make_api: Callable[..., Any]) -> Api:
    served: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend)
    return served


def in_data(row: Row, key: str) -> Any:
    return (row["data"] or {}).get(key)


async def test_path_fields_read_the_values_at_their_paths(api: Api) -> None:
    rows = await fetch_all(api, BUILDS)
    assert [(row["arch"], row["attempt"], row["sidetag"]) for row in rows] == \
        [(in_data(row, "arch"), in_data(row, "attempt"), None) for row in rows]
    assert {type(row["attempt"]) for row in rows} == {int, type(None)}
    assert {row["arch"] for row in rows} >= {"x86_64", "aarch64", None}


Oracle = Callable[[Row], bool]
QUERIES: list[tuple[str, dict[str, str], Oracle]] = [
    ("eq", {"arch": "aarch64"}, lambda r: in_data(r, "arch") == "aarch64"),
    ("in", {"arch__in": "ppc64le,s390x"}, lambda r: in_data(r, "arch") in {"ppc64le", "s390x"}),
    ("startswith", {"arch__startswith": "x86"},
     lambda r: (in_data(r, "arch") or "").startswith("x86")),
    ("isnull", {"arch__isnull": "true"}, lambda r: in_data(r, "arch") is None),
    ("json-null-is-null", {"sidetag__isnull": "false"}, lambda r: False),
    ("integer-gt", {"attempt__gt": "1"}, lambda r: (in_data(r, "attempt") or 0) > 1),
    ("in-a-group", {"or": "(arch=aarch64,attempt=3)"},
     lambda r: in_data(r, "arch") == "aarch64" or in_data(r, "attempt") == 3),
]


@pytest.mark.parametrize(("params", "oracle"), [(p, o) for _, p, o in QUERIES],
                         ids=[name for name, _, _ in QUERIES])
async def test_path_filters_match_the_oracle(api: Api, params: dict[str, str],
                                             oracle: Oracle) -> None:
    everything = await fetch_all(api, BUILDS)
    assert await fetch_all(api, BUILDS, params) == [row for row in everything if oracle(row)]


def documented_order(keys: list[tuple[str, bool]]) -> Callable[[Row, Row], int]:
    def compare(a: Row, b: Row) -> int:
        for name, descending in [*keys, ("id", False)]:
            x, y = a[name], b[name]
            if x == y:
                continue
            result = (1 if x is None else -1) if x is None or y is None else (-1 if x < y else 1)
            return -result if descending else result
        return 0
    return compare


@pytest.mark.parametrize("order_by", ["arch", "-attempt,arch", "-arch"])
async def test_path_fields_sort_by_offset_and_by_cursor(api: Api, order_by: str) -> None:
    everything = await fetch_all(api, BUILDS)
    keys = [(key.lstrip("-"), key.startswith("-")) for key in order_by.split(",")]
    expected = [row["id"] for row in
                sorted(everything, key=functools.cmp_to_key(documented_order(keys)))]
    by_offset = await fetch_all(api, BUILDS, {"order_by": order_by})
    assert [row["id"] for row in by_offset] == expected
    seen: list[int] = []
    params = {"order_by": order_by, "size": "40", "cursor": ""}
    while True:
        body = (await api.get(BUILDS, params=params)).json()
        seen.extend(item["id"] for item in body["items"])
        if not body["next"]:
            break
        params["cursor"] = body["next"].rpartition("cursor=")[2].replace("%3D", "=")
    assert seen == expected


async def test_a_path_field_page_is_one_statement(api: Api) -> None:
    api.log.clear()
    response = await api.get(f"{BUILDS}?arch=x86_64&order_by=-attempt&size=5")
    assert response.status_code == 200
    assert api.log.count == 1


@pytest.mark.parametrize(("source", "expected"), [
    ("target.arch", "resources.builds.fields.arch.source: KojiBuildTargetModel.target is "
                    "string, not a JSON column: only a JSON column's values have paths "
                    "(target.arch), and 'target' is no relationship"),
    ("data.arch-name", "resources.builds.fields.arch.source: JSON path key 'arch-name': keys "
                       "are identifiers (letters, digits, _) or array indexes (digits)"),
    ("{source: data.arch, type: boolean}",
     "resources.builds.fields.arch.type: a JSON path field is string, integer, number, not "
     "'boolean'"),
    ("{source: data.arch, json_schema: {type: string}}",
     "resources.builds.fields.arch.json_schema: 'json_schema:' describes a whole JSON column; "
     "a path's value has its 'type:'"),
    ("group.data.arch", "resources.builds.fields.arch.source: KojiBuildGroupModel has no "
                        "relationship 'data' (valid: builds, project_event, runs)"),
], ids=["not-json", "bad-key", "bad-type", "json-schema", "through-a-relationship"])
async def test_path_mistakes_are_located(registry_path: Any, source: str, expected: str) -> None:
    text = REGISTRY.replace("{source: data.arch, description: The build's architecture}",
                            source)
    path = registry_path(text)
    assert [line.replace(str(path), "registry.yaml") for line in await problems(path)] == \
        [f"registry.yaml:7: {expected}"]


async def test_path_fields_read_alike_when_the_database_writes_the_items(
        api: Api, demo_db: Database, make_api: Callable[..., Any]) -> None:
    # Without the JSON column itself the resource's items may be written by the database
    # (PostgreSQL's row_to_json): the path fields must read the same there.
    lean: Api = await make_api(REGISTRY.replace("      data:\n", ""), demo_db.url,
                               demo_db.backend)
    expected = [{key: row[key] for key in ("id", "arch", "attempt", "sidetag")}
                for row in await fetch_all(api, BUILDS)]
    assert await fetch_all(lean, BUILDS) == expected
