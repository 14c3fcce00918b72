"""Derived joins: declared once in the registry, joined by every statement that needs them."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Api, Database
from readings import all_pages
from sqlalchemy import func, select, text
from sqlalchemy.sql import Subquery
from test_query_language import fetch_all
from test_registry import problems
from test_relations import DERIVED, reference_derived

from crud.app import load
from crud.model.joins import DerivedJoin
from crud.model.sources import model_entity
from crud.sql.aliases import Joins
from resources.expressions import build_events

KOJI = "/api/v1/koji-builds"
EVENTS = "/api/v1/events"
Row = dict[str, Any]

BUILDS = """\
resources:
  builds:
    model: resources.models:KojiBuildTargetModel
    joins:
      event:
        select: "resources.expressions:build_events"
        on: {koji_build_group_id: group_id}
    fields:
      packit_id: id
      pr_id: event.pr_id
      namespace: event.repo_namespace
    filters: {namespace: [eq]}
    sort: [namespace]
"""
SELECT = 'select: "resources.expressions:build_events"'
ON = "on: {koji_build_group_id: group_id}"
WHERE = "registry.yaml:{line}: resources.builds.{key}: "


def _problem(line: int, key: str, message: str) -> str:
    return WHERE.format(line=line, key=key) + message


@pytest.mark.parametrize(("text", "expected"), [
    (BUILDS.replace("build_events", "build_event"),
     [_problem(6, "joins.event.select", "module 'resources.expressions' has no 'build_event' "
                                        "(did you mean 'build_events'?)")]),
    (BUILDS.replace(SELECT, 'select: "resources.expression:build_events"'),
     [_problem(6, "joins.event.select", "cannot import module 'resources.expression': No module "
                                        "named 'resources.expression'")]),
    (BUILDS.replace(SELECT, 'select: "derived_selects:scalar"'),
     [_problem(6, "joins.event.select", "returned ScalarSelect, expected a SQLAlchemy select(...) "
                                        "of whole rows (a column expression belongs in an "
                                        "expression field)")]),
    (BUILDS.replace(SELECT, 'select: "derived_selects:subquery"'),
     [_problem(6, "joins.event.select", "returned Subquery, expected a SQLAlchemy select(...) "
                                        "(return the select itself: each statement makes its own "
                                        "subquery of it)")]),
    (BUILDS.replace(SELECT, 'select: "derived_selects:broken"'),
     [_problem(6, "joins.event.select", "'derived_selects:broken' raised RuntimeError: the "
                                        "events table moved")]),
    (BUILDS.replace(SELECT, 'select: "derived_selects:unnamed"'),
     [_problem(6, "joins.event.select", "column 2 of the select is unnamed; name it with "
                                        ".label('...')"),
      _problem(6, "joins.event.select", "column 4 of the select is a second column named 'id'; "
                                        "name it with .label('...')")]),
    (BUILDS.replace(ON, "on: {koji_build_group: group_id}"),
     [_problem(7, "joins.event.on.koji_build_group", "KojiBuildTargetModel has no column "
                                                     "'koji_build_group' (did you mean "
                                                     "'koji_build_group_id'?)")]),
    (BUILDS.replace(ON, "on: {koji_build_group_id: groupid}"),
     [_problem(7, "joins.event.on.koji_build_group_id", "the select has no column 'groupid' "
                                                        "(did you mean 'group_id'?)")]),
    (BUILDS.replace(SELECT, 'select: "derived_selects:text_key"'),
     [_problem(7, "joins.event.on.koji_build_group_id", "'koji_build_group_id' is integer but the "
                                                        "select's 'group_id' is string: the join "
                                                        "compares them (cast one, e.g. "
                                                        "sqlalchemy.cast(column, Integer))")]),
    (BUILDS.replace("event", "group"),
     [_problem(5, "joins.group", "'group' is a relationship of KojiBuildTargetModel already; name "
                                 "the join differently (paths through the relationship need no "
                                 "join)")]),
    (BUILDS.replace("      event:", "      event__x:"),
     [_problem(4, "joins", "join name 'event__x' must be a letters/digits/_ identifier without "
                           "'__'")]),
    (BUILDS.replace(ON, "on: {}"),
     [_problem(7, "joins.event.on", "name the key: {resource_column: select_column}")]),
    (BUILDS.replace("event.pr_id", "event.pr_idd"),
     [_problem(10, "fields.pr_id.source", "join 'event' has no column 'pr_idd' (did you mean "
                                          "'pr_id'?)")]),
    (BUILDS.replace("event.pr_id", "event.project.url"),
     [_problem(10, "fields.pr_id.source", "join 'event' has columns only, no relationship "
                                          "'project' to follow (did you mean 'project_url'?)")]),
    (BUILDS.replace("event.pr_id", "evnt.pr_id"),
     [_problem(10, "fields.pr_id.source", "KojiBuildTargetModel has no relationship or join "
                                          "'evnt' (did you mean 'event'?)")]),
    (BUILDS.replace("event.pr_id", "event"),
     [_problem(10, "fields.pr_id.source", "join 'event' is a row, not a value: name one of its "
                                          "columns (event.group_id, event.pr_id, "
                                          "event.branch_name, event.release, event.project_url, "
                                          "event.repo_namespace, event.repo_name)")]),
], ids=["unknown-function", "unknown-module", "scalar-subquery", "subquery", "function-raises",
        "unnamed-columns", "unknown-own-column", "unknown-select-column", "key-types-differ",
        "relationship-name", "bad-name", "no-key", "unknown-join-column", "path-past-join",
        "misspelt-join", "join-as-value"])
async def test_join_mistakes_are_located_with_hints(registry_path: Any, text: str,
                                                    expected: list[str]) -> None:
    path = registry_path(text)
    assert [line.replace(str(path), "registry.yaml") for line in await problems(path)] == expected


async def test_every_join_problem_is_reported_at_once(registry_path: Any) -> None:
    text = (BUILDS.replace(ON, "on: {koji_build_group: groupid}")
            .replace("    joins:\n", "    joins:\n      bad: {select: 'derived_selects:broken', "
                                     "on: {id: id}}\n")
            .replace("event.repo_namespace", "event.namespace"))
    path = registry_path(text)
    found = [line.replace(str(path), "registry.yaml") for line in await problems(path)]
    assert found == [
        _problem(5, "joins.bad.select", "'derived_selects:broken' raised RuntimeError: the events "
                                        "table moved"),
        _problem(8, "joins.event.on.koji_build_group", "KojiBuildTargetModel has no column "
                                                       "'koji_build_group' (did you mean "
                                                       "'koji_build_group_id'?)"),
        _problem(8, "joins.event.on.koji_build_group", "the select has no column 'groupid' "
                                                       "(did you mean 'group_id'?)"),
    ]  # fields through a join that failed are not reported a second time


# -- statements ---------------------------------------------------------------------------


async def _bound(registry_path: Callable[[str], Path], text: str) -> Any:
    loaded = await load(registry_path(text), "sqlite+aiosqlite:///:memory:")
    return loaded.resources[0]


async def test_each_statement_role_joins_its_own_subquery(registry_path: Any) -> None:
    resource = await _bound(registry_path, BUILDS)
    join = resource.leaves["pr_id"].hops[0]
    assert repr(join) == "DerivedJoin('event', on=(koji_build_group_id=group_id))"
    filters, display = Joins(resource, resource.leaves.values()), Joins(resource, resource.row_leaves)
    first, second = filters.aliases[("event",)], display.aliases[("event",)]
    assert isinstance(first, Subquery)
    assert isinstance(second, Subquery)
    assert first is not second
    assert first.element is second.element is join.select  # one select, instantiated per role


@pytest.mark.parametrize(("leaves", "joins"), [
    ((), 0), (("packit_id",), 0), (("pr_id",), 1), (("pr_id", "namespace"), 1),
], ids=["none", "base-column", "join-column", "two-join-columns"])
async def test_a_statement_joins_the_select_once_and_only_when_needed(
        registry_path: Any, leaves: tuple[str, ...], joins: int) -> None:
    resource = await _bound(registry_path, BUILDS)
    role = Joins(resource, resource.leaves.values())
    statement = role.apply(select(func.count()).select_from(resource.entity.selectable),
                           [resource.leaves[name] for name in leaves])
    sql = str(statement.compile())
    assert sql.count("LEFT OUTER JOIN (SELECT") == joins
    assert sql.count("AS j0 ON koji_build_targets.koji_build_group_id = j0.group_id") == joins


def test_a_join_is_a_to_one_step_that_leads_to_itself() -> None:
    entity = model_entity("resources.models:KojiBuildTargetModel")
    join = DerivedJoin(name="event", owner=entity, select=build_events(),
                       on=(("koji_build_group_id", "group_id"),))
    assert (join.to_many, join.target, join.label) == (False, join, "join 'event'")
    subquery = join.subquery("j3")
    assert str(join.onclause(subquery)) == "koji_build_targets.koji_build_group_id = j3.group_id"
    assert join.attribute("pr_id", subquery).table is subquery
    assert join.nullable("group_id")  # a build without a match reads NULL


# -- the demo's koji builds over HTTP, on every backend -----------------------------------


async def _statements(api: Api, path: str, params: dict[str, str]) -> list[str]:
    api.log.clear()
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return list(api.log.statements)


async def test_a_join_adds_no_statement_and_matches_the_row_by_row_walk(
        demo_api: Api, demo_db: Database) -> None:
    plain = await _statements(demo_api, "/api/v1/srpm-builds", {"size": "50"})
    joined = await _statements(demo_api, KOJI, {"size": "50", "repo_namespace": "packit"})
    assert len(joined) == len(plain)  # as many as for a resource without derived fields
    items = (await demo_api.get(KOJI, params={"size": 50, "repo_namespace": "packit"})).json()["items"]
    assert items
    assert all(item["repo_namespace"] == "packit" for item in items)
    expected = await reference_derived(demo_db, [item["packit_id"] for item in items])
    assert {item["packit_id"]: {key: item[key] for key in DERIVED} for item in items} == expected


@pytest.mark.parametrize(("params", "reads_join"), [
    ({"status": "success"}, False),
    ({"repo_namespace": "packit"}, True),
    ({"order_by": "repo_namespace"}, True),
    ({"repo_namespace__ilike": "PACK%", "order_by": "-repo_namespace"}, True),
], ids=["base-filter", "join-filter", "join-sort", "join-filter-and-sort"])
async def test_filters_and_sorts_join_the_select_only_when_they_read_it(
        demo_api: Api, params: dict[str, str], reads_join: bool) -> None:
    def joins(statements: list[str]) -> int:
        return sum(sql.count("FROM koji_build_groups") for sql in statements)

    plain = joins(await _statements(demo_api, KOJI, {"size": "5"}))
    assert plain == 1  # the page's rows join it once for all six fields
    extra = joins(await _statements(demo_api, KOJI, {**params, "size": "5"})) - plain
    assert (extra > 0) == reads_join  # the filter/sort role (and the count) join their own


def _by(rows: list[Row], key: str, descending: bool) -> list[Row]:
    """The documented order: NULLs last ascending and first descending, ties by packit_id."""

    def compare(a: Row, b: Row) -> int:
        x, y = a[key], b[key]
        if x == y:
            return a["packit_id"] - b["packit_id"]
        result = (1 if x is None else -1) if x is None or y is None else (-1 if x < y else 1)
        return -result if descending else result

    return sorted(rows, key=functools.cmp_to_key(compare))


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
async def test_sorting_by_a_join_column_places_nulls_as_documented(demo_api: Api,
                                                                   descending: bool) -> None:
    everything = await fetch_all(demo_api, KOJI)
    order_by = f"{'-' if descending else ''}repo_namespace"
    got = await fetch_all(demo_api, KOJI, {"order_by": order_by})
    assert [row["packit_id"] for row in got] == [
        row["packit_id"] for row in _by(everything, "repo_namespace", descending)]
    assert any(row["repo_namespace"] is None for row in got)


async def test_cursor_pages_seek_on_a_join_column(demo_api: Api) -> None:
    params = {"order_by": "-repo_namespace", "size": 100, "count": "none"}
    pages = await all_pages(demo_api, KOJI, params)
    walked = [item["packit_id"] for page in pages for item in page.json()["items"]]
    expected = await fetch_all(demo_api, KOJI, {"order_by": "-repo_namespace"})
    assert walked == [row["packit_id"] for row in expected]


# -- a composite key over a union, a nested object, search: the events resource ----------

EVENTS_REGISTRY = """\
resources:
  events:
    model: resources.models:ProjectEventModel
    joins:
      target:
        select: "derived_selects:event_targets"
        on: {type: type, event_id: id}
    fields:
      id:
      type:
      label: target.label
      project_id: target.project_id
      named: {source: target, fields: {label:, project: project_id}}
    filters: {label: [eq, ilike], project_id: [eq, in]}
    search: [label]
    sort: [id, label]
"""
LABELS = {"pull_request": ("pull_requests", "title"), "branch_push": ("git_branches", "name"),
          "release": ("project_releases", "tag_name")}


async def _reference_events(database: Database) -> dict[int, tuple[str | None, int | None]]:
    """(label, project_id) of each event, looked up one event at a time."""
    from crud.sql.database import make_engine

    engine = make_engine(database.url)
    result: dict[int, tuple[str | None, int | None]] = {}
    try:
        async with engine.connect() as connection:
            events = (await connection.execute(text(
                "SELECT id, type, event_id FROM project_events"))).all()
            for event_id, kind, target_id in events:
                table, column = LABELS[str(kind).rsplit(".", 1)[-1]]
                found = (await connection.execute(text(
                    f"SELECT {column}, project_id FROM {table} WHERE id = :id"),
                    {"id": target_id})).first()
                result[event_id] = (found[0], found[1]) if found else (None, None)
    finally:
        await engine.dispose()
    return result


async def test_a_composite_key_over_a_union_matches_each_event(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(EVENTS_REGISTRY, demo_db.url, demo_db.backend)
    rows = await fetch_all(api, EVENTS)
    reference = await _reference_events(demo_db)
    assert {row["id"]: (row["label"], row["project_id"]) for row in rows} == reference
    assert all(row["named"] == {"label": row["label"], "project": row["project_id"]}
               for row in rows)
    detail = (await api.get(f"{EVENTS}/{rows[0]['id']}")).json()
    assert detail == rows[0]


Oracle = Callable[[Row], bool]


def _queries(rows: list[Row]) -> list[tuple[dict[str, str], Oracle]]:
    label = next(row["label"] for row in rows if row["label"])
    projects = sorted({row["project_id"] for row in rows})[:2]
    return [
        ({"label": label}, lambda row: row["label"] == label),
        ({"label__ilike": "%V%"}, lambda row: "v" in (row["label"] or "").lower()),
        ({"project_id__in": ",".join(map(str, projects))}, lambda row: row["project_id"] in projects),
        ({"search": "A"}, lambda row: "a" in (row["label"] or "").lower()),
    ]


async def test_join_columns_filter_and_search_like_columns(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(EVENTS_REGISTRY, demo_db.url, demo_db.backend)
    rows = await fetch_all(api, EVENTS)
    for params, oracle in _queries(rows):
        got = await fetch_all(api, EVENTS, params)
        expected = [row for row in rows if oracle(row)]
        assert got == expected, params
        assert 0 < len(got) < len(rows), params  # each query must select something, not all
        total = (await api.get(EVENTS, params={**params, "size": 1})).json()["total"]
        assert total == len(expected), params


# -- reflection mode: the select reaches other tables through the base table's MetaData ---

REFLECTED = """\
resources:
  builds:
    table: koji_build_targets
    joins:
      grp:
        select: "derived_selects:reflected_groups"
        on: {koji_build_group_id: group_id}
    fields:
      id:
      group_submitted: grp.submitted
    filters: {group_submitted: [isnull]}
    sort: [group_submitted]
"""


async def test_a_reflected_table_joins_a_select_over_its_neighbours(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(REFLECTED, demo_db.url, demo_db.backend)
    rows = await fetch_all(api, "/api/v1/builds", {"order_by": "group_submitted"})
    orphans = await fetch_all(api, "/api/v1/builds", {"group_submitted__isnull": "true"})
    assert orphans
    assert all(row["group_submitted"] is None for row in orphans)
    assert rows[-len(orphans):] == sorted(orphans, key=lambda row: row["id"])
    dated = [row["group_submitted"] for row in rows[:-len(orphans)]]
    assert None not in dated
    assert dated == sorted(dated)


GROUP_SIZES = """\
resources:
  builds:
    model: resources.models:KojiBuildTargetModel
    joins:
      siblings:
        select: "derived_selects:group_sizes"
        on: {koji_build_group_id: group_id}
    fields:
      packit_id: id
      group: koji_build_group_id
      group_size: siblings.builds
    filters: {group_size: [gte]}
    sort: [group_size]
"""


async def test_a_join_may_aggregate_the_resources_own_table(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(GROUP_SIZES, demo_db.url, demo_db.backend)
    rows = await fetch_all(api, "/api/v1/builds")
    sizes = Counter(row["group"] for row in rows if row["group"] is not None)
    assert all(row["group_size"] == sizes.get(row["group"]) for row in rows)
    big = await fetch_all(api, "/api/v1/builds", {"group_size__gte": "2", "order_by": "-group_size"})
    assert [row["packit_id"] for row in big] == [
        row["packit_id"] for row in _by([row for row in rows if sizes[row["group"]] >= 2],
                                         "group_size", descending=True)]
