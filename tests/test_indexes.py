"""``crud check`` index advice: sort and filter columns that no index leads, on big tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bigtables_models import ROWS
from conftest import Database, assert_sqlite_plans_use
from readings import registry
from sqlalchemy import text
from typer.testing import CliRunner

from crud.app import load
from crud.cli import cli
from crud.config.registry import load_registry
from crud.sql.database import make_engine
from crud.sql.indexes import index_advice


async def test_unindexed_sort_and_filter_fields_are_reported(
        readings_db: Database, registry_path: Callable[[str], Path]) -> None:
    path = registry_path(registry())
    loaded = await load(path, readings_db.url)
    located = load_registry(path)[1]
    advice = await index_advice(loaded.resources, readings_db.url, path="registry.yaml",
                                located=located, min_rows=10)
    if readings_db.backend == "mariadb":  # InnoDB's TABLE_ROWS is a sampled estimate
        assert all(item.table == "bt_readings" for item in advice)
        return
    # The index a sort needs serves a filter on its column too: one advice, not two.
    assert [(item.key, item.field, item.rows) for item in advice] == [
        ("resources.readings.sort.0", "name", ROWS),
        ("resources.readings.sort.1", "score", ROWS),
        ("resources.readings.sort.2", "taken_at", ROWS),
        ("resources.readings.sort.3", "level", ROWS),
        ("resources.readings.sort.4", "amount", ROWS),
    ]
    assert str(advice[0]) == (
        "registry.yaml:18: resources.readings.sort.0: 'name' reads bt_readings.name, which no "
        "index leads (~61 rows): its pages will scan the table "
        "(hint: CREATE INDEX ix_bt_readings_name ON bt_readings (name, id))")
    # SQLite compares date-times through an expression: only an index on it would serve.
    assert [item.expression for item in advice] == [
        False, False, readings_db.backend == "sqlite", False, False]


def test_check_prints_advice_as_warnings(readings_db: Database,
                                         registry_path: Callable[[str], Path]) -> None:
    path = registry_path(registry())
    result = CliRunner().invoke(cli, ["check", "--registry", str(path), "--database-url",
                                      readings_db.url, "--large-table-rows", "10"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: OK (1 resources: readings)\n"
    warnings = result.stderr.splitlines()
    assert warnings or readings_db.backend == "mariadb"  # InnoDB's row count is an estimate
    assert all(line.startswith(f"warning: {path}:") for line in warnings)


EVENTS = {
    "sqlite": "CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME, kind VARCHAR(20))",
    "postgresql": "CREATE TABLE events (id INTEGER PRIMARY KEY, at TIMESTAMP, kind VARCHAR(20))",
    "mariadb": "CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME(6), kind VARCHAR(20))",
}
EVENTS_REGISTRY = """\
resources:
  events:
    table: events
    fields: {id:, at:, kind:}
    filters: {at: [gte, lt], kind: [eq]}
    sort: [at]
"""
# Another tool's spellings (SQLite keeps them as text): a space or a 'T', with or without
# a fraction, a date alone.
SPELLINGS = ["2024-03-{day:02d} 08:00:00", "2024-03-{day:02d}T09:30:00.5", "2024-03-{day:02d}"]


@pytest.mark.parametrize("empty_db", ["sqlite", "postgresql", "mariadb"], indirect=True)
async def test_the_advised_statements_create_indexes_that_serve_the_fields(
        empty_db: Database, registry_path: Callable[[str], Path],
        make_api: Callable[..., Any]) -> None:
    writer = make_engine(empty_db.url, read_only=False)
    async with writer.begin() as connection:
        await connection.execute(text(EVENTS[empty_db.backend]))
        await connection.execute(text("INSERT INTO events VALUES (:id, :at, :kind)"), [
            {"id": day * 3 + index, "at": _stored(spelling.format(day=day), empty_db.backend),
             "kind": "deploy"}
            for day in range(1, 21) for index, spelling in enumerate(SPELLINGS)])
    analyse = {"postgresql": "ANALYZE events", "mariadb": "ANALYZE TABLE events"}
    if empty_db.backend in analyse:  # the catalogue's row estimate, exact once analysed
        async with writer.connect() as connection:
            await connection.execute(text(analyse[empty_db.backend]))
    path = registry_path(EVENTS_REGISTRY)
    loaded = await load(path, empty_db.url)

    async def advice() -> list[Any]:
        return await index_advice(loaded.resources, empty_db.url, path="registry.yaml",
                                  min_rows=10)

    before = await advice()
    assert [(item.key, item.expression) for item in before] == [
        ("resources.events.sort.0", empty_db.backend == "sqlite"),
        ("resources.events.filters.kind", False)]
    try:
        async with writer.begin() as connection:
            for item in before:
                await connection.execute(text(item.statement))
    finally:
        await writer.dispose()
    assert await advice() == []
    if empty_db.backend != "sqlite":
        return

    # The API's own statements use the expression index: a filter, a sort, a cursor's seek.
    api = await make_api(EVENTS_REGISTRY, empty_db.url, empty_db.backend)
    sent: list[tuple[str, list[Any]]] = []
    api.app.state.reader.listeners.append(lambda sql, arguments: sent.append((sql, arguments)))
    first = await api.get("/api/v1/events", params={
        "at__gte": "2024-03-05", "order_by": "at", "size": 5, "count": "none"})
    # Each day's date-only row (00:00) comes first: compared as times, not as text.
    assert [item["id"] for item in first.json()["items"]] == [17, 15, 16, 20, 18]
    second = await api.get("/api/v1/events", params={
        "at__gte": "2024-03-05", "order_by": "at", "size": 5, "count": "none",
        "cursor": first.json()["next"]})
    assert [item["id"] for item in second.json()["items"]] == [19, 23, 21, 22, 26]
    assert_sqlite_plans_use(empty_db.url, sent, "ix_events_at")


def _stored(spelling: str, backend: str) -> Any:
    return spelling if backend == "sqlite" else dt.datetime.fromisoformat(spelling)
