"""Grouped items: one item per value of ``group_by:``, its fields gathered from the group's
rows (tests/grouped_models.py: Copr-like build rows per chroot, grouped by build id)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Api, Database
from grouped_models import BUILD_IDS, logs, rows
from readings import all_pages
from test_registry import problems

GROUPS = "/api/v1/copr-groups"
REGISTRY = """\
api:
  page_size: 5
resources:
  copr-groups:
    model: grouped_models:Build
    group_by: build_id
    fields:
      build_id:
      owner:
      chroots: {collect: chroot}
      status_per_chroot: {collect: status, key: chroot}
      packit_id_per_chroot: {collect: id, key: chroot}
      srpms: {collect: srpm, fields: {id:, status:}}
      srpm: {source: srpm, fields: {id:, status:}}
    filters: {owner: [eq], status_per_chroot: [eq], chroots: [eq]}
    sort: [build_id]
    default_sort: [-build_id]
"""
# A to-many list of a grouped resource gathers the related rows of all the group's rows.
WITH_LOGS = REGISTRY.replace("      srpm: {source: srpm, fields: {id:, status:}}\n",
                             "      srpm: {source: srpm, fields: {id:, status:}}\n"
                             "      log_lines: {source: logs.line}\n")
Item = dict[str, Any]


def _reference(*, with_logs: bool = False,
               where: Callable[[dict[str, Any]], bool] = lambda _row: True) -> list[Item]:
    """Every item, by build id descending, computed from the rows in Python."""
    srpms = {srpm["id"]: {"id": srpm["id"], "status": srpm["status"]} for srpm in rows()[0]}
    builds = rows()[1]
    lines: dict[int, list[str]] = {}
    for log in logs(builds):
        lines.setdefault(log["build_row_id"], []).append(log["line"])
    matching = {build["build_id"] for build in builds if where(build)}
    items = []
    for build_id in sorted(matching - {None}, reverse=True):
        group = [build for build in builds if build["build_id"] == build_id]  # by id
        first = group[0]
        keyed = [build for build in group if build["chroot"] is not None]
        item: Item = {
            "build_id": build_id, "owner": first["owner"],
            "chroots": [build["chroot"] for build in keyed],
            "status_per_chroot": {build["chroot"]: build["status"] for build in keyed},
            "packit_id_per_chroot": {build["chroot"]: build["id"] for build in keyed},
            "srpms": list({build["srpm_id"]: srpms[build["srpm_id"]] for build in group
                           if build["srpm_id"] is not None}.values()),
            "srpm": srpms.get(first["srpm_id"]),
        }
        if with_logs:
            item["log_lines"] = [line for build in group for line in lines.get(build["id"], [])]
        items.append(item)
    return items


async def _serve(make_api: Callable[..., Any], database: Database, text: str = REGISTRY) -> Api:
    api: Api = await make_api(text, database.url, database.backend)
    return api


async def _body(api: Api, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_items_gather_their_groups_rows(grouped_db: Database,
                                              make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, grouped_db)
    expected = _reference()
    assert len(expected) == 12
    api.log.clear()
    body = await _body(api, GROUPS, size=12)
    assert body["items"] == expected
    assert (body["total"], body["pages"]) == (12, 1)
    assert api.log.count == 1  # the groups, their rows and the total in one statement
    # A NULL chroot has no place in the objects keyed by chroot, nor in the list.
    [b05] = [item for item in body["items"] if item["build_id"] == "b05"]
    assert b05["chroots"] == ["fedora-40-x86_64", "epel-9-x86_64"]
    assert list(b05["status_per_chroot"]) == b05["chroots"]


@pytest.mark.parametrize("size", [2, 5, 12])
async def test_statements_per_page_do_not_depend_on_its_items(
        grouped_db: Database, make_api: Callable[..., Any], size: int) -> None:
    api = await _serve(make_api, grouped_db, WITH_LOGS)
    api.log.clear()
    body = await _body(api, GROUPS, size=size, page=2)
    assert body["items"] == _reference(with_logs=True)[size:2 * size]
    assert api.log.count == 2  # the page (with its total), the to-many list
    assert body["total"] == 12


async def test_pages_and_totals_count_groups(grouped_db: Database,
                                             make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, grouped_db)
    expected = _reference()
    pages = [await _body(api, GROUPS, page=number) for number in (1, 2, 3)]
    assert [page["items"] for page in pages] == [expected[:5], expected[5:10], expected[10:]]
    assert [(page["total"], page["pages"]) for page in pages] == [(12, 3)] * 3
    past = await _body(api, GROUPS, page=9)  # empty: the total comes from its own count
    assert (past["items"], past["total"]) == ([], 12)
    uncounted = await _body(api, GROUPS, count="none")
    assert (len(uncounted["items"]), uncounted["total"]) == (5, None)


@pytest.mark.parametrize("order", ["build_id", "-build_id"])
async def test_a_cursor_walks_the_groups(grouped_db: Database, make_api: Callable[..., Any],
                                         order: str) -> None:
    api = await _serve(make_api, grouped_db)
    responses = await all_pages(api, GROUPS, {"size": 5, "order_by": order, "cursor": ""})
    walked = [item for response in responses for item in response.json()["items"]]
    expected = _reference()
    assert walked == (expected if order.startswith("-") else expected[::-1])
    assert len(responses) == 3


@pytest.mark.parametrize(("params", "where"), [
    ({"owner": "packit"}, lambda row: row["owner"] == "packit"),
    # A group is listed when any of its rows matches; its item holds all of its rows.
    ({"status_per_chroot": "failure"}, lambda row: row["status"] == "failure"),
    ({"chroots": "epel-9-x86_64"}, lambda row: row["chroot"] == "epel-9-x86_64"),
], ids=["owner", "status", "chroot"])
async def test_filters_select_groups_by_their_rows(
        grouped_db: Database, make_api: Callable[..., Any], params: dict[str, str],
        where: Callable[[dict[str, Any]], bool]) -> None:
    api = await _serve(make_api, grouped_db)
    body = await _body(api, GROUPS, size=12, **params)
    expected = _reference(where=where)
    assert 0 < len(expected) < 12
    assert body["items"] == expected
    assert body["total"] == len(expected)
    small = await _body(api, GROUPS, size=2, **params)
    assert small["total"] == len(expected)  # counted over groups, not rows


async def test_rows_without_a_group_key_are_no_item(grouped_db: Database,
                                                    make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, grouped_db)
    body = await _body(api, GROUPS, size=20, order_by="build_id")
    assert None not in [item["build_id"] for item in body["items"]]
    assert body["total"] == 12


async def test_a_detail_is_one_group(grouped_db: Database,
                                     make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, grouped_db, WITH_LOGS)
    expected = {item["build_id"]: item for item in _reference(with_logs=True)}
    for build_id in ("b02", "b04", "b05"):
        api.log.clear()
        assert await _body(api, f"{GROUPS}/{build_id}") == expected[build_id]
        assert api.log.count == 2  # the group's rows, its to-many list
    missing = await api.get(f"{GROUPS}/b99")
    assert missing.status_code == 404


async def test_fields_picks_collected_fields(grouped_db: Database,
                                             make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, grouped_db)
    body = await _body(api, GROUPS, fields="status_per_chroot,build_id", size=3)
    assert body["items"] == [{"build_id": item["build_id"],
                              "status_per_chroot": item["status_per_chroot"]}
                             for item in _reference()[:3]]


async def test_openapi_describes_collected_fields(grouped_db: Database,
                                                  make_api: Callable[..., Any]) -> None:
    api = await _serve(make_api, grouped_db)
    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]
    properties = {name: {key: value for key, value in schema.items() if key != "title"}
                  for name, schema in schemas["CoprGroup"]["properties"].items()}
    assert properties["chroots"] == {"type": "array", "items": {"type": "string"}}
    assert properties["status_per_chroot"] == {
        "type": "object", "additionalProperties": {"type": "string"}}
    assert properties["packit_id_per_chroot"] == {
        "type": "object", "additionalProperties": {"type": "integer"}}
    assert properties["srpms"] == {"type": "array",
                                   "items": {"$ref": "#/components/schemas/CoprGroupSrpms"}}
    assert properties["srpm"] == {"anyOf": [{"$ref": "#/components/schemas/CoprGroupSrpm"},
                                            {"type": "null"}]}
    parameters = (await api.get("/openapi.json")).json()["paths"][f"{GROUPS}/{{id}}"]["get"]
    assert parameters["parameters"][0]["name"] == "id"


WHERE = "registry.yaml:{line}: resources.copr-groups.{key}: "


@pytest.mark.parametrize(("change", "expected"), [
    (("group_by: build_id", "group_by: build"),
     [WHERE.format(line=6, key="group_by") + "unknown field 'build' (did you mean 'build_id'?)"]),
    (("      owner:\n", "      owner:\n      srpm_status: srpm.status\n"),
     []),  # a to-one path is a field like any other (from the group's first row)
    (("group_by: build_id\n    fields:\n", "group_by: srpm_status\n    fields:\n"
      "      srpm_status: srpm.status\n"),
     [WHERE.format(line=6, key="group_by") + "group by a column of the resource's own table "
                                             "(or an expression over it); 'srpm_status' is "
                                             "not one"]),
    (("sort: [build_id]", "sort: [build_id, owner]"),
     [WHERE.format(line=16, key="sort.1") + "a grouped resource sorts by 'build_id' only (the "
                                            "group key, the first row's key), not 'owner'"]),
    (("filters: {owner: [eq],", "filters: {srpms: [eq], owner: [eq],"),
     [WHERE.format(line=15, key="filters.srpms") + "'srpms' collects objects: filter and "
      "search by a field, or by a collected column"]),
    (("    group_by: build_id\n", ""),
     [*(WHERE.format(line=line, key=f"fields.{name}.collect") + "'collect:' gathers the rows "
        "of a group: give the resource 'group_by:' and collect at the top level of 'fields:'"
        for line, name in enumerate(("chroots", "status_per_chroot", "packit_id_per_chroot",
                                     "srpms"), start=9)),
      WHERE.format(line=6, key="fields") + "primary key column 'id' must be exposed as a "
                                           "field (it identifies rows in URLs and cursors)"]),
    (("{collect: chroot}", "{collect: logs.line}"),
     [WHERE.format(line=10, key="fields.chroots.collect") + "collect a column or a to-one "
      "object of each row, not a to-many list"]),
    (("    sort: [build_id]\n", "    facets: [owner]\n    sort: [build_id]\n"),
     [WHERE.format(line=16, key="facets") + "a grouped resource has no facets (they count "
      "rows, not groups)"]),
], ids=["unknown", "path-field", "path-key", "sort", "filter-collected", "no-group-by",
        "to-many", "facets"])
async def test_registry_problems(registry_path: Callable[[str], Path],
                                 change: tuple[str, str], expected: list[str]) -> None:
    text = REGISTRY.replace(*change)
    assert text != REGISTRY
    if not expected:
        from crud.app import load
        await load(registry_path(text), "sqlite+aiosqlite:///:memory:")
        return
    found = await problems(registry_path(text))
    assert [problem[problem.index("registry.yaml:"):] for problem in found] == expected


async def test_the_docs_example_serves_the_demo_data(demo_db: Database,
                                                      make_api: Callable[..., Any]) -> None:
    docs = (Path(__file__).parent.parent / "docs" / "grouped.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- grouped-example[^>]*-->\n```yaml\n(.*?)```", docs, re.S)
    assert match, "docs/grouped.md lost its example"
    api = await _serve(make_api, demo_db, "resources:\n" + match.group(1))
    path = "/api/v1/copr-builds-per-build"
    api.log.clear()
    body = await _body(api, path, size=10)
    assert api.log.count == 2  # the page with its total, the to-many list
    assert len(body["items"]) == 10
    for item in body["items"]:
        assert list(item["status_per_chroot"]) == item["chroots"]
        assert sorted(item["packit_id_per_chroot"]) == sorted(item["chroots"])
    first = body["items"][0]
    assert await _body(api, f"{path}/{first['build_id']}") == first
    failed = await _body(api, path, status_per_chroot="failure", size=3)
    assert all("failure" in item["status_per_chroot"].values() for item in failed["items"])
    assert failed["total"] < body["total"]


async def test_an_expression_can_be_the_group_key(grouped_db: Database,
                                                  make_api: Callable[..., Any]) -> None:
    # Rows without a build id are one group of their own under the expression's value.
    text = REGISTRY.replace("      build_id:\n", "      build_id:\n      batch: {source: {"
                            "expression: \"grouped_models:batch\"}}\n")
    text = text.replace("group_by: build_id", "group_by: batch")
    text = text.replace("sort: [build_id]", "sort: [batch]")
    text = text.replace("default_sort: [-build_id]", "default_sort: [batch]")
    api = await _serve(make_api, grouped_db, text)
    body = await _body(api, GROUPS, size=20)
    assert body["total"] == 13
    assert [item["batch"] for item in body["items"]] == [*BUILD_IDS, "unbatched"]
    last = body["items"][-1]
    assert (last["build_id"], last["chroots"]) == (None, ["fedora-40-x86_64",
                                                          "fedora-41-x86_64"])
    assert await _body(api, f"{GROUPS}/unbatched") == last


@pytest.mark.parametrize("profile", ["legacy", "react-admin", "json-server"])
async def test_every_profile_serves_groups(grouped_db: Database, make_api: Callable[..., Any],
                                           profile: str) -> None:
    text = REGISTRY.replace("    group_by: build_id\n",
                            f"    group_by: build_id\n    profile: {profile}\n")
    api = await _serve(make_api, grouped_db, text)
    api.log.clear()
    response = await api.get(GROUPS)
    assert response.status_code in (200, 206), response.text
    assert api.log.count == 1
    body = response.json()
    items = body if isinstance(body, list) else body.get("data", body.get("items"))
    expected = _reference()
    if profile != "legacy":  # these clients address records by "id": the group key
        expected = [{"id": item["build_id"], **item} for item in expected]
    assert items == expected[:len(items)]
    assert len(items) >= 5
    unit_range = response.headers.get("content-range", "")
    if profile == "react-admin":  # the range counts items (groups), the total too
        assert unit_range.endswith(f"0-{len(items) - 1}/12"), unit_range
    if profile == "json-server":
        assert response.headers["x-total-count"] == "12"
    detail = await api.get(f"{GROUPS}/b05")
    assert detail.json() == next(item for item in expected if item["build_id"] == "b05")


async def test_the_tables_a_grouped_resource_reads(registry_path: Callable[[str], Path]) -> None:
    from crud.app import load
    from crud.model.dependencies import tables_read

    loaded = await load(registry_path(WITH_LOGS), "sqlite+aiosqlite:///:memory:")
    [resource] = loaded.resources
    # Collected objects' and to-many lists' tables change the answers too.
    assert [table.name for table in tables_read(resource)] == ["gr_builds", "gr_srpms",
                                                               "gr_logs"]


BY_FIRST_ROW = REGISTRY.replace("      build_id:\n", "      build_id:\n      packit_id: id\n") \
    .replace("sort: [build_id]", "sort: [build_id, packit_id]") \
    .replace("default_sort: [-build_id]", "default_sort: [-packit_id]")


@pytest.mark.parametrize("order", ["-packit_id", "packit_id"])
async def test_groups_sort_by_their_first_rows_key(
        grouped_db: Database, make_api: Callable[..., Any], order: str) -> None:
    # Packit lists merged Copr builds newest first: by the lowest row id of each build.
    api = await _serve(make_api, grouped_db, BY_FIRST_ROW)
    first_ids = {build["build_id"]: build["id"] for build in reversed(rows()[1])}
    expected = sorted(({"packit_id": first_ids[item["build_id"]], **item}
                       for item in _reference()), key=lambda item: item["packit_id"],
                      reverse=order.startswith("-"))
    api.log.clear()
    body = await _body(api, GROUPS, order_by=order, size=5, page=2)
    assert api.log.count == 1
    assert body["items"] == expected[5:10]
    assert body["total"] == 12
    responses = await all_pages(api, GROUPS, {"size": 5, "order_by": order, "cursor": ""})
    assert [item for response in responses for item in response.json()["items"]] == expected
    packit = [item for item in expected if item["owner"] == "packit"]
    responses = await all_pages(api, GROUPS, {"size": 2, "owner": "packit", "cursor": "",
                                              "order_by": order})
    assert [item for response in responses for item in response.json()["items"]] == packit
    assert len(responses) == 3
