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
    Boolean,
    Connection,
    DateTime,
    Enum,
    Float,
    String,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    type_coerce,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from crud.sql.textsearch import TextSearch

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
    # Run when a connection someone else than the read path used goes back to the pool: a
    # hand-written router may have switched read-only (or the budget) off for its session.
    reset_statements: list[str] = field(default_factory=list)


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
    # Foreign keys from another schema name the default one too ("shop.people"): reflection
    # must key the default schema's tables under that name as well.
    names_default_schema: ClassVar[bool] = False
    # Connections are pooled (a server); SQLite's file connections keep SQLAlchemy's default.
    pools_connections: ClassVar[bool] = True

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

    def comparable(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """``column`` as filters, sorts and cursors compare it: by what its values mean."""
        return column

    def table_estimate(self, table: Table) -> ColumnElement[Any] | None:
        """A scalar SQL expression estimating the table's rows from statistics, or None."""
        return None

    def json_extract(self, column: ColumnElement[Any], path: Sequence[str | int],
                     sql_type: TypeEngine[Any]) -> ColumnElement[Any]:
        """The scalar at ``path`` in a JSON column, as ``sql_type`` (NULL when absent)."""
        return cast(func.json_extract(column, literal(_json_path(path))), sql_type)

    # Arrays: a JSON array of texts everywhere; PostgreSQL's own ARRAY columns too. The
    # values are bound as ``in_list`` binds them (``list_values``).

    def array_contains(self, column: ColumnElement[Any], name: str,
                       count: int) -> ColumnElement[bool]:
        """The array in ``column`` holds every one of the values (SQLite: json_each)."""
        return and_(*(self._json_elements(column, [parameter])
                      for parameter in _text_parameters(name, count)))

    def array_overlaps(self, column: ColumnElement[Any], name: str,
                       count: int) -> ColumnElement[bool]:
        """The array in ``column`` holds at least one of the values."""
        return self._json_elements(column, _text_parameters(name, count))

    @staticmethod
    def _json_elements(column: ColumnElement[Any],
                       parameters: Sequence[ColumnElement[Any]]) -> ColumnElement[bool]:
        elements = func.json_each(column).table_valued("value")
        value = elements.c.value
        match = value == parameters[0] if len(parameters) == 1 else value.in_(parameters)
        return exists(select(literal_column("1")).select_from(elements).where(match))

    def time_bucket(self, column: ColumnElement[Any], unit: str) -> ColumnElement[Any]:
        """The start of the ``hour|day|week|month|year`` holding a UTC date-time, as a
        (naive UTC) date-time; weeks start on Monday (ISO 8601) on every database."""
        raise NotImplementedError

    def json_row(self, values: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        """One JSON object text of the labelled ``values`` (only where ``renders_json``)."""
        raise NotImplementedError

    def change_counter(self, table: Table) -> ColumnElement[Any] | None:
        """A scalar that moves whenever ``table``'s rows change (statistics), or None."""
        return None

    def json_value(self, column: ColumnElement[Any], kind: str, *,
                   local_time: bool = False) -> ColumnElement[Any] | None:
        """``column`` as the database should put it into ``json_row``; None: it cannot.
        A naive date-time is UTC (``+00:00``), or with ``local_time`` sent as stored."""
        return None

    def row_estimate(self, connection: Connection, table: Table) -> int:
        """Rows in ``table`` for ``crud check``'s advice: a statistic where there is one."""
        return int(connection.execute(select(func.count()).select_from(table)).scalar() or 0)

    # -- ranked search (full_text, fuzzy) -----------------------------------------------------

    def search_match(self, search: TextSearch, query: ColumnElement[Any]) -> ColumnElement[bool]:
        """The rows ``query`` (the bound search text) finds."""
        raise NotImplementedError(f"{search.mode} search on {self.name}")

    def search_rank(self, search: TextSearch, query: ColumnElement[Any]) -> ColumnElement[Any]:
        """A row's relevance to ``query``, a float: higher is better."""
        raise NotImplementedError(f"{search.mode} search on {self.name}")

    def search_text(self, text_: str) -> str:
        """The client's search text as the bound value ``search_match`` takes."""
        return text_

    def search_problem(self, connection: Connection, search: TextSearch) -> str | None:
        """Why this database cannot run the search at all (a missing index or table)."""
        return f"mode {search.mode} is not available on {self.name} (PostgreSQL only)"

    def search_index(self, connection: Connection, search: TextSearch) -> str | None:
        """The statement creating an index the search needs, when no index serves it."""
        return None

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

    # -- replicas ---------------------------------------------------------------------------

    # A query giving a replica's replay lag in milliseconds (0 on a primary); None where the
    # database has no such measure (the replica is then only checked for being up).
    replica_lag_sql: ClassVar[str | None] = None

    def replica_failed(self, error: BaseException) -> bool:
        """A statement failed because of the server, not the statement: try the primary."""
        return self.is_disconnect(error)


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
            # Back to the values of the startup packet (read-only, budget, no JIT), whatever
            # SET a session issued since.
            arguments.reset_statements.append("RESET ALL")
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

    def json_extract(self, column: ColumnElement[Any], path: Sequence[str | int],
                     sql_type: TypeEngine[Any]) -> ColumnElement[Any]:
        # #>> gives the text at the path (json and jsonb alike), NULL for a JSON null.
        keys = literal([str(key) for key in path], ARRAY(Text()))
        text_ = column.op("#>>", return_type=Text())(keys)
        return text_ if isinstance(sql_type, String) else cast(text_, sql_type)

    def array_contains(self, column: ColumnElement[Any], name: str,
                       count: int) -> ColumnElement[bool]:
        array = self._array(column)
        if array is not None:  # an index (GIN) on the column can serve @> and &&
            return column.bool_op("@>")(bindparam(name, type_=array))
        return cast(column, JSONB).bool_op("@>")(func.to_jsonb(self._texts(name)))

    def array_overlaps(self, column: ColumnElement[Any], name: str,
                       count: int) -> ColumnElement[bool]:
        array = self._array(column)
        if array is not None:
            return column.bool_op("&&")(bindparam(name, type_=array))
        # ?| matches JSON arrays' string elements (and object keys; our arrays hold texts).
        return cast(column, JSONB).bool_op("?|")(self._texts(name))

    def _array(self, column: ColumnElement[Any]) -> ARRAY[Any] | None:
        impl = column.type.dialect_impl(self.dialect)
        return impl if isinstance(impl, ARRAY) else None

    @staticmethod
    def _texts(name: str) -> ColumnElement[Any]:
        return cast(bindparam(name, type_=ARRAY(Text())), ARRAY(Text()))

    def table_estimate(self, table: Table) -> ColumnElement[Any] | None:
        # The planner's own statistic (ANALYZE / autovacuum); -1 means never analysed.
        name = self.dialect.identifier_preparer.format_table(table)
        pg_class = _pg_class()
        estimate = cast(pg_class.c.reltuples, BigInteger)
        return (select(func.nullif(estimate, -1))
                .where(pg_class.c.oid == func.to_regclass(literal(name, Text()))).scalar_subquery())

    def change_counter(self, table: Table) -> ColumnElement[Any] | None:
        # Cumulative statistics: a writing session reports them when it ends, or within
        # 1-10 s while it stays open (PostgreSQL 15); a standby counts none of its replay.
        name = self.dialect.identifier_preparer.format_table(table)
        stats = _pg_stat_user_tables()
        changes = stats.c.n_tup_ins + stats.c.n_tup_upd + stats.c.n_tup_del
        return (select(cast(changes, BigInteger))
                .where(stats.c.relid == func.to_regclass(literal(name, Text())))
                .scalar_subquery())

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

    def json_value(self, column: ColumnElement[Any], kind: str, *,
                   local_time: bool = False) -> ColumnElement[Any] | None:
        if kind in self._AS_IS:
            return column
        if kind != "datetime":
            return None  # numbers, times, JSON: PostgreSQL spells them its own way
        # orjson's RFC 3339 (OPT_NAIVE_UTC unless local_time): seconds, microseconds only
        # when there are some, and +00:00 (an aware value is converted to UTC first).
        offset = "" if local_time else '"+00:00"'
        if getattr(column.type, "timezone", False):
            column, offset = column.op("AT TIME ZONE")("UTC"), '"+00:00"'
        whole = func.to_char(column, f'YYYY-MM-DD"T"HH24:MI:SS{offset}')
        fraction = func.to_char(column, f'YYYY-MM-DD"T"HH24:MI:SS.US{offset}')
        return case((func.extract("microseconds", column) % 1_000_000 == 0, whole),
                    else_=fraction)

    def row_estimate(self, connection: Connection, table: Table) -> int:
        found = connection.execute(text("SELECT reltuples FROM pg_class WHERE oid = "
                                        "to_regclass(:name)"), {"name": table.fullname})
        return max(int(found.scalar() or 0), 0)

    def search_match(self, search: TextSearch, query: ColumnElement[Any]) -> ColumnElement[bool]:
        if search.mode == "fuzzy":  # pg_trgm: similarity above pg_trgm.similarity_threshold
            return _document(search).op("%")(query)
        return self._vector(search).op("@@")(self._query(search, query))

    def search_rank(self, search: TextSearch, query: ColumnElement[Any]) -> ColumnElement[Any]:
        if search.mode == "fuzzy":
            return func.similarity(_document(search), query, type_=Float())
        return func.ts_rank(self._vector(search), self._query(search, query), type_=Float())

    def _vector(self, search: TextSearch) -> ColumnElement[Any]:
        # The configuration is a constant, never a parameter: the expression must be the
        # GIN index's own for the planner to use the index.
        return func.to_tsvector(_regconfig(search), _document(search))

    def _query(self, search: TextSearch, query: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.websearch_to_tsquery(_regconfig(search), query)

    def search_index_statement(self, search: TextSearch) -> str:
        """``CREATE INDEX`` for the expression the search matches (GIN, as the planner needs)."""
        if search.mode == "fuzzy":
            indexed = f"({self._unqualified(_document(search))}) gin_trgm_ops"
        else:
            indexed = self._unqualified(self._vector(search))
        table = self.dialect.identifier_preparer.format_table(search.table)
        name = self.dialect.identifier_preparer.quote(f"ix_{search.table.name}_{search.mode}")
        return f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({indexed})"

    def _unqualified(self, expression: ColumnElement[Any]) -> str:
        compiler = self.dialect.statement_compiler(self.dialect, None)
        return str(compiler.process(expression, include_table=False, literal_binds=True))

    def search_problem(self, connection: Connection, search: TextSearch) -> str | None:
        if search.mode == "fuzzy" and connection.execute(text(
                "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first() is None:
            return "mode fuzzy needs the pg_trgm extension (CREATE EXTENSION pg_trgm)"
        if search.mode == "full_text" and connection.execute(
                text("SELECT 1 FROM pg_ts_config WHERE cfgname = :name"),
                {"name": search.config.rpartition(".")[2]}).first() is None:
            return (f"no text search configuration {search.config!r} "
                    "(see \\dF in psql; 'simple' and 'english' are built in)")
        return None

    def search_index(self, connection: Connection, search: TextSearch) -> str | None:
        # Ask the planner: with sequential scans priced out, a matching index is used.
        probe: Any = select(literal_column("1")).select_from(search.table).where(
            self.search_match(search, literal("crud", Text())))
        sql = str(probe.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))
        connection.execute(text("SET enable_seqscan = off"))
        try:
            plan = connection.execute(text(f"EXPLAIN {sql}")).scalars().all()
        finally:
            connection.execute(text("RESET enable_seqscan"))
        uses_index = any("Index" in line for line in plan)
        return None if uses_index else self.search_index_statement(search)

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

    # An idle primary commits nothing, so the last replayed commit grows old on a replica
    # that is fully caught up: a replica that has replayed all it received lags by 0. One
    # that is behind lags by the age of its last replayed commit (an upper bound when the
    # primary was idle before the write it waits for); NULL when it has replayed none yet.
    replica_lag_sql = (
        "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 "
        "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
        "ELSE 1000 * EXTRACT(EPOCH FROM clock_timestamp() - "
        "pg_last_xact_replay_timestamp()) END")
    # Server shutting down or crashed (57P0x), connection exceptions (08xxx), and a hot
    # standby cancelling a query that conflicts with replay (40001).
    _REPLICA_STATES = frozenset({"57P01", "57P02", "57P03", "40001"})

    def replica_failed(self, error: BaseException) -> bool:
        state = str(getattr(error, "sqlstate", "") or "")
        # A kept connection that received the server's shutdown notice while idle is left
        # reading that error: asyncpg refuses the next statement with InternalClientError.
        return (super().replica_failed(error) or state in self._REPLICA_STATES
                or state.startswith("08") or type(error).__name__ == "InternalClientError")

    def is_disconnect(self, error: BaseException) -> bool:
        if isinstance(error, ConnectionError | OSError):
            return True
        name = type(error).__name__
        state = str(getattr(error, "sqlstate", "") or "")
        # A kept connection that read the server's shutdown notice while idle refuses its
        # next statement (InternalClientError): a fresh connection answers, or says the
        # database is down (503), instead of a 500.
        return (name in {"ConnectionDoesNotExistError", "InternalClientError"}
                or (name == "InterfaceError" and "closed" in str(error))
                or state in {"57P01", "57P02", "57P03"} or state.startswith("08"))


class MariaDB(Backend):
    name = "mariadb"
    names_default_schema = True
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
        if read_only:
            arguments.reset_statements.extend(arguments.session_statements)
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

    def json_extract(self, column: ColumnElement[Any], path: Sequence[str | int],
                     sql_type: TypeEngine[Any]) -> ColumnElement[Any]:
        # JSON_VALUE unquotes a string and gives NULL for a JSON null (JSON_UNQUOTE of
        # JSON_EXTRACT would give the text 'null').
        value = func.json_value(column, literal(_json_path(path)), type_=Text())
        return value if isinstance(sql_type, String) else cast(value, sql_type)

    def array_contains(self, column: ColumnElement[Any], name: str,
                       count: int) -> ColumnElement[bool]:
        return func.json_contains(column, func.json_array(*_text_parameters(name, count)),
                                  type_=Boolean)

    def array_overlaps(self, column: ColumnElement[Any], name: str,
                       count: int) -> ColumnElement[bool]:
        # JSON_OVERLAPS: MariaDB 10.9 and later (MySQL 8.0.17).
        return func.json_overlaps(column, func.json_array(*_text_parameters(name, count)),
                                  type_=Boolean)

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

    def search_match(self, search: TextSearch, query: ColumnElement[Any]) -> ColumnElement[bool]:
        matched: ColumnElement[bool] = self._match(search, query)
        return matched

    def search_rank(self, search: TextSearch, query: ColumnElement[Any]) -> ColumnElement[Any]:
        return type_coerce(self._match(search, query), Float())

    @staticmethod
    def _match(search: TextSearch, query: ColumnElement[Any]) -> Any:
        # Natural language mode: any text is a valid query (boolean mode has a syntax that
        # a client's text can break); rows match any word, ranked by relevance.
        return mysql.match(*search.columns, against=query).in_natural_language_mode()

    def search_problem(self, connection: Connection, search: TextSearch) -> str | None:
        if search.mode != "full_text":
            return super().search_problem(connection, search)
        if self._fulltext_index(connection, search):
            return None
        return (f"MATCH needs a FULLTEXT index on exactly ({', '.join(search.column_names)}): "
                f"{self.search_index_statement(search)}")

    def _fulltext_index(self, connection: Connection, search: TextSearch) -> bool:
        found = connection.execute(text(
            "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_NAME = :name AND TABLE_SCHEMA = COALESCE(:schema, DATABASE()) "
            "AND INDEX_TYPE = 'FULLTEXT'"),
            {"name": search.table.name, "schema": search.table.schema}).all()
        indexes: dict[str, set[str]] = {}
        for index, column_name in found:
            indexes.setdefault(index, set()).add(column_name)
        return set(search.column_names) in indexes.values()

    def search_index_statement(self, search: TextSearch) -> str:
        preparer = self.dialect.identifier_preparer
        columns = ", ".join(preparer.quote(name) for name in search.column_names)
        return (f"CREATE FULLTEXT INDEX {preparer.quote(f'ix_{search.table.name}_full_text')} "
                f"ON {preparer.format_table(search.table)} ({columns})")

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
    pools_connections = False
    session_budget = False  # SQLite has no statement timeout: each statement carries one

    def engine_arguments(self, url: str, *, read_only: bool,
                         statement_timeout_ms: int | None) -> EngineArguments:
        arguments = EngineArguments()
        if read_only:
            arguments.session_statements.append("PRAGMA query_only = ON")
        # LIKE is case-insensitive for ASCII unless told otherwise; ``like`` and
        # ``startswith`` are documented case-sensitive (``ilike`` stays lower() = lower()).
        arguments.session_statements.append("PRAGMA case_sensitive_like = ON")
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
        # 'Z' or an offset. No index on the column serves such a comparison.
        if not isinstance(column.type, DateTime):
            return column
        # The digits after '.' (CAST stops at a 'Z' or an offset), as microseconds.
        digits = func.substr(column, func.instr(column, ".") + 1, type_=Text())
        micro = func.round(cast(literal("0.", Text()) + digits, Float()) * 1_000_000)
        fraction = case((func.instr(column, ".") > 0, func.min(micro, 999_999)), else_=0)
        whole = func.strftime("%Y-%m-%d %H:%M:%S", column, type_=Text())
        return type_coerce(whole + func.printf(".%06d", fraction, type_=Text()), column.type)

    def is_timeout(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and "interrupted" in str(error)

    def in_transaction(self, connection: Any) -> bool:
        return bool(connection.driver_connection.in_transaction)


def _json_path(path: Sequence[str | int]) -> str:
    # SQL/JSON path syntax of MariaDB and SQLite: $.key and $[index]. The registry allows
    # identifiers and digits only, so nothing here needs quoting.
    return "$" + "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path)


def _text_parameters(name: str, count: int) -> list[ColumnElement[Any]]:
    # Elements of JSON arrays compare as texts: typed String, never as the JSON column.
    return [bindparam(f"{name}_{index}", type_=String()) for index in range(count)]


def _mysql_code(error: BaseException) -> int | None:
    code = error.args[0] if error.args else None
    return code if isinstance(code, int) else None


def _pg_stat_user_tables() -> Any:
    return table("pg_stat_user_tables", column("relid"), column("n_tup_ins"),
                 column("n_tup_upd"), column("n_tup_del"))


def _document(search: TextSearch) -> ColumnElement[Any]:
    """The searched text: the fields joined by spaces, NULL as empty (constants inline)."""
    parts = [func.coalesce(column_, literal_column("''")) for column_ in search.columns]
    document: ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        document = document.op("||")(literal_column("' '")).op("||")(part)
    return document


def _regconfig(search: TextSearch) -> ColumnElement[Any]:
    # The registry allows names only (letters, digits, _ and one dot): safe to inline.
    return literal_column(f"'{search.config}'::regconfig")


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
