"""The change signal (crud.sql.signals): a token per resource that moves when any table
behind it is written by another connection, and stays put while nothing is.

Real writes from a second engine, on every backend. PostgreSQL's statistics reach the
counters after a commit (the writer here asks for that at once) and MariaDB withholds a
token for two seconds after one, so the tests poll (up to ``PATIENCE_S``) instead of
expecting the next read to show the change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from conftest import BACKENDS, Api, Database, create_database, drop_database
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from crud.sql.database import make_engine
from crud.sql.signals import Signals, Token

PATIENCE_S = 6.0

SCHEMA = [
    "CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)",
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL,"
    " tag_id INTEGER REFERENCES tags (id))",
    "CREATE TABLE others (id INTEGER PRIMARY KEY, note VARCHAR(40))",
    "CREATE VIEW item_labels AS SELECT items.id AS id, items.name AS name, tags.label AS label"
    " FROM items LEFT JOIN tags ON tags.id = items.tag_id",
    "CREATE TABLE stamped (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)",
    "INSERT INTO tags VALUES (1, 'red'), (2, 'blue')",
    "INSERT INTO items VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', NULL)",
    "INSERT INTO others VALUES (1, 'x')",
    "INSERT INTO stamped VALUES (1, 1)",
]

REGISTRY = """\
resources:
  items:
    table: items
    fields: {id:, name:, tag: tags.label}
  others:
    table: others
    fields: {id:, note:}
  item-labels:
    table: item_labels
    primary_key: id
    fields: {id:, name:, label:}
  stamped:
    table: stamped
    fields: {id:, version:}
    cache: {validator: {column: version}}
"""


@pytest_asyncio.fixture(loop_scope="session")
async def signal_db(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Database]:
    database = await create_database(request.param, tmp_path)
    writer = make_engine(database.url, read_only=False)
    try:
        async with writer.begin() as connection:
            for statement in SCHEMA:
                await connection.execute(text(statement))
    finally:
        await writer.dispose()
    yield database
    await drop_database(database)


@pytest_asyncio.fixture(loop_scope="session")
async def served(signal_db: Database, make_api: Callable[..., Any]) -> AsyncIterator[
        tuple[Api, Signals, AsyncEngine]]:
    api: Api = await make_api(REGISTRY, signal_db.url, signal_db.backend)
    writer = make_engine(signal_db.url, read_only=False)
    yield api, api.app.state.signals, writer
    await writer.dispose()


async def write(writer: AsyncEngine, statement: str) -> None:
    async with writer.begin() as connection:
        await connection.execute(text(statement))
        if writer.dialect.name == "postgresql":
            # Report this session's statistics right after the commit, not on its idle
            # timer (up to 10 s when it reported less than a second ago).
            await connection.execute(text("SELECT pg_stat_force_next_flush()"))


async def settled(signals: Signals, names: list[str]) -> dict[str, Token | None]:
    """Tokens once every one of them is known (MariaDB withholds them just after a commit)."""
    deadline = time.monotonic() + PATIENCE_S
    while True:
        tokens = await signals.tokens(names)
        if all(token is not None for token in tokens.values()) or time.monotonic() > deadline:
            return tokens
        await asyncio.sleep(0.2)


async def moved(signals: Signals, name: str, before: Token | None) -> Token | None:
    """The first settled token of ``name`` that differs from ``before`` (or the last read)."""
    deadline = time.monotonic() + PATIENCE_S
    while True:
        token = (await settled(signals, [name]))[name]
        if token != before or time.monotonic() > deadline:
            return token
        await asyncio.sleep(0.2)


ALL = ["items", "others", "item-labels", "stamped"]
pytestmark = pytest.mark.parametrize("signal_db", BACKENDS, indirect=True)


async def test_each_resource_watches_the_tables_it_reads(served: tuple[Api, Signals, Any],
                                                         signal_db: Database) -> None:
    _api, signals, _writer = served

    def tables(name: str) -> list[str]:  # MariaDB's reflection names the schema too
        return [table.rpartition(".")[2] for table in signals.signal(name).tables]

    assert tables("items") == ["items", "tags"]
    assert tables("others") == ["others"]
    assert tables("item-labels") == ["item_labels"]
    assert signals.signal("stamped").kind == "max(version)"
    kinds = {"sqlite": "data_version", "postgresql": "statistics", "mariadb": "innodb"}
    assert signals.signal("items").kind == kinds[signal_db.backend]


async def test_tokens_stay_put_while_nothing_is_written(
        served: tuple[Api, Signals, Any]) -> None:
    _api, signals, _writer = served
    first = await settled(signals, ALL)
    assert None not in first.values()
    await asyncio.sleep(0.3)
    assert await signals.tokens(ALL) == first


async def test_a_write_moves_the_tokens_of_the_resources_reading_that_table(
        served: tuple[Api, Signals, AsyncEngine], signal_db: Database) -> None:
    _api, signals, writer = served
    before = await settled(signals, ALL)
    await write(writer, "UPDATE tags SET label = 'green' WHERE id = 1")

    # items reads tags through its relation; the view reads it in its definition.
    assert await moved(signals, "items", before["items"]) != before["items"]
    assert await moved(signals, "item-labels", before["item-labels"]) != before["item-labels"]
    after = await settled(signals, ["others"])
    if signal_db.backend == "sqlite":  # data_version covers the whole file
        assert after["others"] != before["others"]
    else:
        assert after["others"] == before["others"]


async def test_inserts_and_deletes_move_a_views_token(
        served: tuple[Api, Signals, AsyncEngine]) -> None:
    _api, signals, writer = served
    before = (await settled(signals, ["item-labels"]))["item-labels"]
    await write(writer, "INSERT INTO items VALUES (10, 'ten', 2)")
    inserted = await moved(signals, "item-labels", before)
    assert inserted != before
    await write(writer, "DELETE FROM items WHERE id = 10")
    assert await moved(signals, "item-labels", inserted) not in (inserted, None)


async def test_a_declared_column_is_read_too_and_moves_at_once(
        served: tuple[Api, Signals, AsyncEngine]) -> None:
    _api, signals, writer = served
    before = (await settled(signals, ["stamped"]))["stamped"]
    assert before is not None
    assert before[-1] == (1,)  # the max of the declared column, after the tables' counters
    await write(writer, "UPDATE stamped SET version = 2 WHERE id = 1")
    after = await moved(signals, "stamped", before)
    assert after is not None
    assert after[-1] == (2,)


async def test_concurrent_readers_share_one_read(served: tuple[Api, Signals, Any]) -> None:
    api, signals, _writer = served
    await settled(signals, ALL)
    api.log.clear()
    results = await asyncio.gather(*(signals.tokens(ALL) for _ in range(20)))
    assert all(result == results[0] for result in results)
    # One probe (and one statement for the declared column), not twenty of each.
    assert api.log.count == 2


async def test_a_recent_read_is_reused_within_max_age(served: tuple[Api, Signals, Any]) -> None:
    api, signals, _writer = served
    await signals.tokens(ALL)
    api.log.clear()
    for _ in range(5):
        await signals.tokens(ALL, max_age_s=60)
    assert api.log.count == 0
    await signals.tokens(ALL)
    assert api.log.count == 2


async def test_fresh_tokens_are_withheld_while_counters_may_lag(
        served: tuple[Api, Signals, AsyncEngine], signal_db: Database) -> None:
    _api, signals, writer = served
    await settled(signals, ["others"])
    async with writer.begin() as connection:  # a plain write: no early report asked for
        await connection.execute(text("UPDATE others SET note = 'y' WHERE id = 1"))
    fresh = await signals.token("others", fresh=True)
    if signal_db.backend == "postgresql":
        # The cluster wrote just now: its statistics may not count it yet.
        assert fresh is None
        assert await signals.token("others") is not None
    elif signal_db.backend == "sqlite":
        assert fresh is not None  # data_version counts every commit at once


async def test_a_truncate_moves_the_token(served: tuple[Api, Signals, AsyncEngine],
                                          signal_db: Database) -> None:
    # It counts no deleted row on PostgreSQL: the table's new file says it.
    _api, signals, writer = served
    before = (await settled(signals, ["others"]))["others"]
    statement = ("DELETE FROM others" if signal_db.backend == "sqlite"
                 else "TRUNCATE TABLE others")
    await write(writer, statement)
    assert await moved(signals, "others", before) not in (before, None)
