"""One ``Backend`` per database: everything on the read path that differs between dialects.

Session setup (read-only, the API's statement budget, PostgreSQL's JIT), how a compiled
statement runs on the driver and under a budget, how a timeout or a dropped connection
looks, where NULLs sort, how a list of values is bound, and the row estimates that counts
and index advice use. Nothing outside this module compares dialect names.

Statements run on the driver's own connection (``PoolProxiedConnection.driver_connection``)
with SQL compiled once per statement shape (``crud.sql.compiled``): SQLAlchemy builds and
compiles, the pool lends connections, and a request pays only for the driver call.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Enum,
    String,
    Table,
    Text,
    any_,
    bindparam,
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
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

__all__ = [
    "SUPPORTED_URLS",
    "Backend",
    "EngineArguments",
    "MariaDB",
    "PostgreSQL",
    "SQLite",
    "backend_for",
    "integer_parameter",
    "sortable",
]

Rows = Sequence[Sequence[Any]]
# How many prepared statements one PostgreSQL connection keeps (one per statement shape).
PREPARED_PER_CONNECTION = 256


@dataclass
class EngineArguments:
    """What ``create_async_engine`` needs for a read-only engine on one backend."""

    connect_args: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    # Run once per new connection (the pool's "connect" event): zero statements per request.
    session_statements: list[str] = field(default_factory=list)


class Backend:
    """The dialect-specific half of the read path; see the module docstring."""

    name: ClassVar[str] = ""
    # After a non-NULL value ascending, the rows that follow are a range plus the NULL rows.
    # Reading them as two index ranges pays where the index order matches our NULL
    # placement (PostgreSQL's default); elsewhere one predicate is as good.
    splits_seeks: ClassVar[bool] = False
    # Lists bound as one array parameter: every list length is the same statement.
    binds_arrays: ClassVar[bool] = False
    # EXPLAIN gives a row estimate for any SELECT (the ``estimated`` count policy).
    plans_estimates: ClassVar[bool] = False
    # The API-wide statement budget is a session setting (set once per connection).
    session_budget: ClassVar[bool] = True
    # Items can be written as JSON by the database, in the bytes orjson would send.
    renders_json: ClassVar[bool] = False

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # -- engines and sessions ----------------------------------------------------------------

    def engine_arguments(self, url: str, *, read_only: bool,
                         statement_timeout_ms: int | None) -> EngineArguments:
        return EngineArguments()

    # -- SQL -------------------------------------------------------------------------------

    def order_terms(self, column: ColumnElement[Any], descending: bool,
                    nullable: bool) -> list[ColumnElement[Any]]:
        """ORDER BY terms placing NULLs last ascending and first descending, everywhere."""
        ordered = column.desc() if descending else column.asc()
        if not nullable:
            return [ordered]
        return [ordered.nulls_first() if descending else ordered.nulls_last()]

    def in_list(self, column: ColumnElement[Any], name: str,
                count: int) -> ColumnElement[bool]:
        """``column IN (...)`` over ``count`` values bound as ``name_0``, ``name_1``, ..."""
        return column.in_([bindparam(f"{name}_{index}", type_=column.type)
                           for index in range(count)])

    def list_values(self, name: str, values: Sequence[Any]) -> dict[str, Any]:
        """The parameters of ``in_list(column, name, len(values))``."""
        return {f"{name}_{index}": value for index, value in enumerate(values)}

    def exact_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """``column`` for a case-sensitive LIKE (PostgreSQL's LIKE always is)."""
        return column

    def table_estimate(self, table: Table) -> ColumnElement[Any] | None:
        """A scalar SQL expression estimating the table's rows from statistics, or None."""
        return None

    def time_bucket(self, column: ColumnElement[Any], unit: str) -> ColumnElement[Any]:
        """The start of the ``hour|day|week|month|year`` holding a UTC date-time, as a
        (naive UTC) date-time; weeks start on Monday (ISO 8601) on every database."""
        raise NotImplementedError

    def json_row(self, values: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        """One JSON object text of the labelled ``values`` (only where ``renders_json``)."""
        raise NotImplementedError

    def json_value(self, column: ColumnElement[Any], kind: str) -> ColumnElement[Any] | None:
        """``column`` as the database should put it into ``json_row``; None: it cannot."""
        return None

    def row_estimate(self, connection: Connection, table: Table) -> int:
        """Rows in ``table`` for ``crud check``'s advice: a statistic where there is one."""
        return int(connection.execute(select(func.count()).select_from(table)).scalar() or 0)

    # -- running statements -----------------------------------------------------------------

    def statement_budget(self, resource_ms: int | None, api_ms: int | None) -> int | None:
        """The budget each statement of a resource must be given at run time, if any."""
        if not self.session_budget:
            return resource_ms or api_ms
        return resource_ms if resource_ms and resource_ms != api_ms else None

    async def fetch(self, connection: Any, sql: str, args: Sequence[Any],
                    budget_ms: int | None) -> tuple[Rows, tuple[Any, ...] | None]:
        """Rows of ``sql`` on a pooled connection, and the driver's column type codes if any."""
        raise NotImplementedError

    def is_timeout(self, error: BaseException) -> bool:
        """The database (or the driver) cancelled a statement that ran over its budget."""
        return False

    def is_disconnect(self, error: BaseException) -> bool:
        """The connection is gone: a fresh one may succeed."""
        return isinstance(error, ConnectionError)

    def in_transaction(self, connection: Any) -> bool:
        """Whether a pooled connection holds a transaction (then only the pool may reuse it)."""
        return True


class PostgreSQL(Backend):
    name = "postgresql"
    splits_seeks = True
    binds_arrays = True
    plans_estimates = True
    renders_json = True
    # Kinds whose JSON spelling in row_to_json is orjson's (dates are ISO either way).
    _AS_IS = frozenset({"integer", "string", "boolean", "enum", "date", "uuid"})

    def engine_arguments(self, url: str, *, read_only: bool,
                         statement_timeout_ms: int | None) -> EngineArguments:
        settings = {"application_name": "crud",
                    # JIT compilation is not interruptible by statement_timeout and cost
                    # ~280 ms per page once a deep-offset statement went to a generic plan.
                    "jit": "off"}
        if read_only:
            settings["default_transaction_read_only"] = "on"
        if statement_timeout_ms:
            settings["statement_timeout"] = str(statement_timeout_ms)
        arguments = EngineArguments(connect_args={"server_settings": settings})
        if read_only:
            # No BEGIN/ROLLBACK around requests: under READ COMMITTED every statement takes
            # its own snapshot anyway, and default_transaction_read_only applies to these
            # implicit transactions as well.
            arguments.options["isolation_level"] = "AUTOCOMMIT"
        return arguments

    def order_terms(self, column: ColumnElement[Any], descending: bool,
                    nullable: bool) -> list[ColumnElement[Any]]:
        # PostgreSQL's own default placement: an index on the column still serves the sort.
        return [column.desc() if descending else column.asc()]

    def in_list(self, column: ColumnElement[Any], name: str,
                count: int) -> ColumnElement[bool]:
        return column == any_(bindparam(name, type_=ARRAY(column.type)))

    def list_values(self, name: str, values: Sequence[Any]) -> dict[str, Any]:
        return {name: list(values)}

    def table_estimate(self, table: Table) -> ColumnElement[Any] | None:
        # The planner's own statistic (ANALYZE / autovacuum); -1 means never analysed.
        name = self.dialect.identifier_preparer.format_table(table)
        pg_class = _pg_class()
        estimate = cast(pg_class.c.reltuples, BigInteger)
        return (select(func.nullif(estimate, -1))
                .where(pg_class.c.oid == func.to_regclass(literal(name, Text()))).scalar_subquery())

    def time_bucket(self, column: ColumnElement[Any], unit: str) -> ColumnElement[Any]:
        # date_trunc's weeks are ISO weeks; an aware column is truncated in UTC, not in the
        # session's time zone.
        if getattr(column.type, "timezone", False):
            column = column.op("AT TIME ZONE")("UTC")
        return type_coerce(func.date_trunc(unit, column), DateTime())

    def json_row(self, values: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        # row_to_json writes compact objects with keys in column order, like orjson; the
        # row is a LATERAL select over the page's own columns (correlated, no FROM).
        row = select(*values).correlate_except(None).lateral("item")
        return cast(func.row_to_json(row.table_valued()), Text)

    def json_value(self, column: ColumnElement[Any], kind: str) -> ColumnElement[Any] | None:
        if kind in self._AS_IS:
            return column
        if kind != "datetime":
            return None  # numbers, times, JSON: PostgreSQL spells them its own way
        # orjson's RFC 3339 with OPT_NAIVE_UTC: seconds, microseconds only when there are
        # some, and +00:00 (an aware value is converted to UTC first).
        if getattr(column.type, "timezone", False):
            column = column.op("AT TIME ZONE")("UTC")
        whole = func.to_char(column, 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')
        fraction = func.to_char(column, 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
        return case((func.extract("microseconds", column) % 1_000_000 == 0, whole),
                    else_=fraction)

    def row_estimate(self, connection: Connection, table: Table) -> int:
        found = connection.execute(text("SELECT reltuples FROM pg_class WHERE oid = "
                                        "to_regclass(:name)"), {"name": table.fullname})
        return max(int(found.scalar() or 0), 0)

    async def fetch(self, connection: Any, sql: str, args: Sequence[Any],
                    budget_ms: int | None) -> tuple[Rows, tuple[Any, ...] | None]:
        prepared, type_codes = await self._prepared(connection, sql)
        timeout = budget_ms / 1000 if budget_ms else None
        return await prepared.fetch(*args, timeout=timeout), type_codes

    async def _prepared(self, connection: Any, sql: str) -> tuple[Any, tuple[int, ...]]:
        # Prepared once per connection and shape; the pool keeps ``info`` with the connection.
        cache: dict[str, tuple[Any, tuple[int, ...]]] = connection.info.setdefault(
            "crud_prepared", {})
        found = cache.get(sql)
        if found is None:
            if len(cache) >= PREPARED_PER_CONNECTION:
                cache.pop(next(iter(cache)))
            prepared = await connection.driver_connection.prepare(sql)
            codes = tuple(attribute.type.oid for attribute in prepared.get_attributes())
            found = cache[sql] = (prepared, codes)
        return found

    def is_timeout(self, error: BaseException) -> bool:
        return isinstance(error, TimeoutError) or type(error).__name__ == "QueryCanceledError"

    def in_transaction(self, connection: Any) -> bool:
        return bool(connection.driver_connection.is_in_transaction())

    def is_disconnect(self, error: BaseException) -> bool:
        if isinstance(error, ConnectionError | OSError):
            return True
        name = type(error).__name__
        return name == "ConnectionDoesNotExistError" or (
            name == "InterfaceError" and "closed" in str(error))


class MariaDB(Backend):
    name = "mariadb"
    _TIMEOUT_CODES = frozenset({1969, 3024})  # MariaDB max_statement_time, MySQL's hint
    _GONE_CODES = frozenset({2006, 2013, 2055})  # server gone away, lost connection

    def engine_arguments(self, url: str, *, read_only: bool,
                         statement_timeout_ms: int | None) -> EngineArguments:
        arguments = EngineArguments()
        if read_only:
            arguments.session_statements.append("SET SESSION TRANSACTION READ ONLY")
            # As on PostgreSQL: each statement its own snapshot, no ROLLBACK per request.
            arguments.options["isolation_level"] = "AUTOCOMMIT"
        if statement_timeout_ms:
            # MariaDB's name; MySQL's is max_execution_time (ms, SELECT only).
            arguments.session_statements.append(
                f"SET SESSION max_statement_time = {statement_timeout_ms / 1000:.3f}")
        return arguments

    def order_terms(self, column: ColumnElement[Any], descending: bool,
                    nullable: bool) -> list[ColumnElement[Any]]:
        # No NULLS FIRST/LAST: an IS NULL term before the column does the same.
        ordered = column.desc() if descending else column.asc()
        if not nullable:
            return [ordered]
        is_null = column.is_(None)
        return [is_null.desc() if descending else is_null.asc(), ordered]

    def exact_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # LIKE follows the column's collation, case-insensitive under the usual *_ci ones;
        # bytes compare exactly (a literal prefix, escaped, needs nothing else).
        # (Typed back as text: SQLAlchemy's binary types have no LIKE operator.)
        return type_coerce(cast(column, mysql.BINARY()), String())

    def time_bucket(self, column: ColumnElement[Any], unit: str) -> ColumnElement[Any]:
        # Date arithmetic, not DATE_FORMAT: a format's % would meet the driver's own.
        day = func.date(column)
        starts: dict[str, ColumnElement[Any]] = {
            "hour": func.timestampadd(literal_column("HOUR"), func.hour(column), day),
            "day": day,
            "week": func.subdate(day, func.weekday(column)),  # WEEKDAY(): Monday is 0
            "month": func.subdate(day, func.dayofmonth(column) - 1),
            "year": func.makedate(func.year(column), 1),
        }
        return cast(starts[unit], DateTime())

    def row_estimate(self, connection: Connection, table: Table) -> int:
        found = connection.execute(text(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_NAME = :name "
            "AND TABLE_SCHEMA = COALESCE(:schema, DATABASE())"),
            {"name": table.name, "schema": table.schema})
        return max(int(found.scalar() or 0), 0)

    async def fetch(self, connection: Any, sql: str, args: Sequence[Any],
                    budget_ms: int | None) -> tuple[Rows, tuple[Any, ...] | None]:
        if budget_ms:
            sql = self._budgeted(connection, sql, budget_ms)
        async with connection.driver_connection.cursor() as cursor:
            await cursor.execute(sql, tuple(args))
            return await cursor.fetchall(), None

    def _budgeted(self, connection: Any, sql: str, budget_ms: int) -> str:
        if getattr(self.dialect, "is_mariadb", False):
            return f"SET STATEMENT max_statement_time={budget_ms / 1000:.3f} FOR {sql}"
        # MySQL has no SET STATEMENT for this; its optimizer hint does the same for a SELECT.
        head, _, rest = sql.lstrip().partition(" ")
        return f"{head} /*+ MAX_EXECUTION_TIME({budget_ms}) */ {rest}"

    def is_timeout(self, error: BaseException) -> bool:
        return _mysql_code(error) in self._TIMEOUT_CODES

    def in_transaction(self, connection: Any) -> bool:
        # Without autocommit each SELECT opens a transaction (and a snapshot) that stays.
        return not connection.driver_connection.get_autocommit()

    def is_disconnect(self, error: BaseException) -> bool:
        return super().is_disconnect(error) or _mysql_code(error) in self._GONE_CODES


class SQLite(Backend):
    name = "sqlite"
    session_budget = False  # SQLite has no statement timeout: each statement carries one

    def engine_arguments(self, url: str, *, read_only: bool,
                         statement_timeout_ms: int | None) -> EngineArguments:
        arguments = EngineArguments()
        if read_only:
            arguments.session_statements.append("PRAGMA query_only = ON")
        # LIKE is case-insensitive for ASCII unless told otherwise; ``like`` and
        # ``startswith`` are documented case-sensitive (``ilike`` stays lower() = lower()).
        arguments.session_statements.append("PRAGMA case_sensitive_like = ON")
        return arguments

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

    def is_timeout(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and "interrupted" in str(error)

    def in_transaction(self, connection: Any) -> bool:
        return bool(connection.driver_connection.in_transaction)


def _mysql_code(error: BaseException) -> int | None:
    code = error.args[0] if error.args else None
    return code if isinstance(code, int) else None


def _pg_class() -> Any:
    return table("pg_class", column("oid"), column("reltuples"))


# Each backend drives its async driver's own connection API, so the driver is part of it.
_BACKENDS: dict[tuple[str, str], type[Backend]] = {
    ("postgresql", "asyncpg"): PostgreSQL,
    ("mysql", "aiomysql"): MariaDB, ("mariadb", "aiomysql"): MariaDB,
    ("sqlite", "aiosqlite"): SQLite,
}
SUPPORTED_URLS = "postgresql+asyncpg://, mysql+aiomysql:// (MariaDB, MySQL), sqlite+aiosqlite://"


def backend_for(dialect: Dialect) -> Backend:
    """The backend of an engine's dialect; ``ValueError`` for a database we do not serve."""
    found = _BACKENDS.get((dialect.name, str(dialect.driver)))
    if found is None:
        raise ValueError(f"unsupported database driver {dialect.name}+{dialect.driver} "
                         f"(supported: {SUPPORTED_URLS})")
    return found(dialect)


def sortable(column_: ColumnElement[Any]) -> ColumnElement[Any]:
    """Enums sort by their text everywhere (PostgreSQL and MariaDB would use declaration order)."""
    if isinstance(column_.type, Enum):
        return cast(column_, String(64))
    return column_


def integer_parameter(name: str) -> Any:
    """A LIMIT/OFFSET parameter, typed so every driver binds it as a 64-bit integer
    (an offset deep into a big table passes 2**31)."""
    return bindparam(name, type_=BigInteger())
