"""SQLite through aiosqlite: budgets by ``interrupt()`` and bounded lock waits, FTS5 search,
date-times kept as text compared by what they mean."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
from collections.abc import Awaitable, Sequence
from typing import Any, ClassVar

from sqlalchemy import (
    Connection,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    Text,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    type_coerce,
)
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.types import TypeDecorator

from crud.model.coltypes import padded, undecorated
from crud.sql.backends.base import (
    Backend,
    ChangeProbe,
    EngineArguments,
    Fetch,
    Rows,
    Token,
)
from crud.sql.compiled import CompiledStatement
from crud.sql.textsearch import TextSearch

__all__ = ["SQLite"]


class SQLite(Backend):
    name = "sqlite"
    pools_connections = False
    session_budget = False  # SQLite has no statement timeout: each statement carries one

    def change_probe(self, tables: Sequence[Table]) -> ChangeProbe | None:
        return DataVersionProbe(self, tables)

    def engine_arguments(self, url: str, *, read_only: bool,
                         statement_timeout_ms: int | None) -> EngineArguments:
        arguments = EngineArguments()
        if read_only:
            arguments.session_statements.append("PRAGMA query_only = ON")
        # LIKE is case-insensitive for ASCII unless told otherwise; ``like`` and
        # ``startswith`` are documented case-sensitive (``ilike`` stays lower() = lower()).
        arguments.session_statements.append("PRAGMA case_sensitive_like = ON")
        # SQLite's own lower() folds ASCII only: ``ZOË`` stayed ``zoË`` and ``search=zoë``
        # missed it, where PostgreSQL and MariaDB find it. ``ilike`` and substring search are
        # lower(value) LIKE lower(pattern): Python's lower() makes them fold every letter,
        # at about 2.7x the CPU of a full scan (docs/reflection.md).
        arguments.functions.append(("lower", 1, unicode_lower))
        if read_only:
            arguments.reset_statements.extend(arguments.session_statements)
        return arguments

    def search_match(self, search: TextSearch, query: ColumnElement[Any]) -> ColumnElement[bool]:
        fts, matched = self._fts(search, query)
        return search.key.in_(select(fts.c.rowid).where(matched))

    def search_rank(self, search: TextSearch, query: ColumnElement[Any]) -> ColumnElement[Any]:
        # bm25() is lower for better matches; negated, higher is better as everywhere.
        fts, matched = self._fts(search, query)
        name: Any = literal_column(self.dialect.identifier_preparer.quote(search.fts_table or ""))
        return (select(-func.bm25(name, type_=Float())).select_from(fts)
                .where(matched, fts.c.rowid == search.key).scalar_subquery())

    def _fts(self, search: TextSearch, query: ColumnElement[Any]) -> tuple[Any, Any]:
        assert search.fts_table is not None  # search_problem refuses to serve without one
        fts = table(search.fts_table, column("rowid"))
        name: Any = literal_column(self.dialect.identifier_preparer.quote(search.fts_table))
        return fts, name.op("MATCH")(query)

    def search_text(self, text_: str) -> str:
        # Each word a quoted FTS5 string, all required: no client text is a syntax error
        # (FTS5's own query syntax fails on a stray quote or a trailing operator).
        words = text_.split()
        return " ".join('"' + word.replace('"', '""') + '"' for word in words) or '""'

    def search_problem(self, connection: Connection, search: TextSearch) -> str | None:
        if search.mode != "full_text":
            return super().search_problem(connection, search)
        if search.fts_table is None:
            return ("full-text search on SQLite reads an FTS5 table: name it with "
                    "'fts_table:' (rowid = this table's integer primary key)")
        found = connection.execute(text(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": search.fts_table}).scalar()
        if found is None or "fts5" not in str(found).lower():
            columns = ", ".join(search.column_names)
            return (f"no FTS5 table {search.fts_table!r}; create it, e.g. CREATE VIRTUAL TABLE "
                    f"{search.fts_table} USING fts5({columns}, content='{search.table.name}', "
                    f"content_rowid='{search.key.name}') and fill it "
                    f"(INSERT INTO {search.fts_table}({search.fts_table}) VALUES('rebuild'))")
        return None

    # Date-times are ISO texts; the date functions' modifiers find each bucket's start.
    # A week: back six days, then forward to the next Monday (itself when it is one).
    _MODIFIERS: ClassVar[dict[str, tuple[str, ...]]] = {
        "day": ("start of day",), "week": ("start of day", "-6 days", "weekday 1"),
        "month": ("start of month",), "year": ("start of year",)}

    def time_bucket(self, column: ColumnElement[Any], unit: str) -> ColumnElement[Any]:
        if unit == "hour":
            return type_coerce(func.strftime("%Y-%m-%d %H:00:00", column), DateTime())
        return type_coerce(func.datetime(column, *self._MODIFIERS[unit]), DateTime())

    async def fetch(self, connection: Any, sql: str, args: Sequence[Any],
                    budget_ms: int | None) -> tuple[Rows, tuple[Any, ...] | None]:
        driver = connection.driver_connection
        if budget_ms and connection.info.get(_LOCK_WAIT_MS) != budget_ms:
            await _wait_for_locks(connection, budget_ms)
        # SQLite has no statement timeout: interrupt() is the one sqlite3 call documented
        # as safe from another thread (aiosqlite runs the query in its own). aiosqlite
        # keeps the sqlite3 connection as ``_conn``.
        timer = (asyncio.get_running_loop().call_later(budget_ms / 1000, driver._conn.interrupt)
                 if budget_ms else None)
        try:
            async with driver.execute(sql, tuple(args)) as cursor:
                return await cursor.fetchall(), None
        finally:
            if timer is not None:
                timer.cancel()

    def comparable(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # SQLite keeps date-times as text and compares text: another tool's
        # '2024-01-01 08:00:00' sorts before our bound '2024-01-01 08:00:00.000000', a 'T'
        # after every space. Compared as SQLAlchemy writes them instead (UTC, six-digit
        # fraction), whatever the stored spelling: date only, 'T', no or short fraction,
        # 'Z' or an offset. No index on the column serves such a comparison; an index on
        # this expression does (``crud check`` prints it).
        if padded(column.type):  # 'ab   ' as written is 'ab', on both sides of a comparison
            return type_coerce(self.unpadded(column), _Unpadded())
        if not isinstance(undecorated(column.type), DateTime):
            return column
        # The digits after '.' (CAST stops at a 'Z' or an offset), as microseconds.
        digits = func.substr(column, func.instr(column, ".") + 1, type_=Text())
        micro = func.round(cast(literal("0.", Text()) + digits, Float()) * 1_000_000)
        fraction = case((func.instr(column, ".") > 0, func.min(micro, 999_999)), else_=0)
        whole = func.strftime("%Y-%m-%d %H:%M:%S", column, type_=Text())
        return type_coerce(whole + func.printf(".%06d", fraction, type_=Text()), column.type)

    def expression_indexes(self, connection: Connection, table: Table) -> list[str]:
        # Automatic indexes (UNIQUE, PRIMARY KEY) have no SQL; they never hold expressions.
        schema = f"{self.dialect.identifier_preparer.quote_schema(table.schema)}." \
            if table.schema else ""
        found = connection.execute(text(f"SELECT sql FROM {schema}sqlite_master WHERE "
                                        "type = 'index' AND tbl_name = :name AND sql IS NOT NULL"),
                                   {"name": table.name})
        return [str(sql) for sql in found.scalars()]

    def is_timeout(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and "interrupted" in str(error)

    def is_locked(self, error: BaseException) -> bool:
        # SQLITE_BUSY and its extended codes: the lock wait (``_wait_for_locks``) ran out.
        return str(getattr(error, "sqlite_errorname", "")).startswith("SQLITE_BUSY")

    def abandon(self, connection: Any, error: BaseException) -> Awaitable[None] | None:
        # aiosqlite's thread is still inside the statement (a function that does not return,
        # a disk that hangs): nothing closes the connection before the thread lets go. The
        # pool opens another in its place meanwhile; this one is closed when it is free.
        driver = connection.driver_connection
        driver._conn.interrupt()  # stops the statement at its next step
        connection.detach()
        return _close_when_free(driver)

    def in_transaction(self, connection: Any) -> bool:
        return bool(connection.driver_connection.in_transaction)


# The lock wait set on a connection (``connection.info`` lasts as long as it does).
_LOCK_WAIT_MS = "crud_sqlite_busy_timeout_ms"


async def _wait_for_locks(connection: Any, budget_ms: int) -> None:
    """Wait no longer than the budget for a lock another connection holds on the file.

    interrupt() does not end SQLite's wait for a lock, and the driver's default wait is 5 s:
    with this, a statement on a locked database ends as SQLITE_BUSY within its budget and
    the connection stays usable. Set when the budget changes, not per statement.
    """
    await connection.driver_connection.execute_fetchall(f"PRAGMA busy_timeout = {int(budget_ms)}")
    connection.info[_LOCK_WAIT_MS] = budget_ms


async def _close_when_free(driver: Any) -> None:
    with contextlib.suppress(Exception):  # the connection is already out of the pool
        await driver.close()


class _Unpadded(TypeDecorator[str]):
    """A ``CHAR(n)``'s text compared without trailing spaces: a bound value loses its own
    too (PostgreSQL's bpchar and MariaDB compare so)."""

    impl = String
    cache_ok = True

    def bind_expression(self, bindvalue: BindParameter[str]) -> ColumnElement[str]:
        return func.rtrim(bindvalue, type_=String())


def unicode_lower(value: Any) -> Any:
    """lower() as SQLite's, but for every letter: text lower-cased, NULL and bytes as given,
    a number as its text (as the built-in does)."""
    if value is None or isinstance(value, bytes):
        return value
    return str(value).lower()


class DataVersionProbe(ChangeProbe):
    """SQLite's ``PRAGMA data_version``: it moves when another connection commits to the
    file, whichever table it wrote, so every watched table shares one token. Its values
    compare only on the connection that read them (kept open for this), and between
    processes not at all: the token carries a number of this probe's own."""

    kind = "data_version"
    dedicated = True
    shared = False

    def __init__(self, backend: Backend, tables: Sequence[Table]) -> None:
        super().__init__(backend, tables)
        self.nonce = secrets.token_hex(8)
        self.statement = CompiledStatement(
            text("PRAGMA data_version").columns(column("version", Integer())), backend.dialect)

    async def read(self, fetch: Fetch) -> dict[str, Token | None]:
        [[version]] = await fetch(self.statement)
        token = (self.nonce, int(version))
        return {table.fullname: token for table in self.tables}
