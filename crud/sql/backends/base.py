"""The ``Backend`` base: the read path's dialect-specific operations, with the defaults
the databases share (SQLite's, mostly), and the helpers the dialects' modules use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Connection,
    Enum,
    String,
    Table,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from crud.model.coltypes import padded
from crud.sql.compiled import CompiledStatement
from crud.sql.textsearch import TextSearch

__all__ = ["PREPARED_PER_CONNECTION", "Backend", "ChangeProbe", "EngineArguments", "Fetch", "Rows",
           "Token", "integer_parameter", "json_path", "search_document", "sortable",
           "text_parameters"]

Rows = Sequence[Sequence[Any]]
# What a change signal reads for one table: opaque, compared with ==.
Token = tuple[Any, ...]
# Runs one compiled statement on the probe's connection.
Fetch = Callable[[CompiledStatement], Awaitable[Rows]]
# How many prepared statements one PostgreSQL connection keeps (one per statement shape).
PREPARED_PER_CONNECTION = 256


@dataclass
class EngineArguments:
    """What ``create_async_engine`` needs for a read-only engine on one backend."""

    connect_args: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    # Run once per new connection (the pool's "connect" event): zero statements per request.
    session_statements: list[str] = field(default_factory=list)
    # SQL functions defined on each new connection: (name, argument count, function).
    functions: list[tuple[str, int, Callable[..., Any]]] = field(default_factory=list)
    # Run when a connection someone else than the read path used goes back to the pool: a
    # hand-written router may have switched read-only (or the budget) off for its session.
    reset_statements: list[str] = field(default_factory=list)


class ChangeProbe:
    """Reads what moves when a fixed set of tables changes: ``crud.sql.signals``' per-database
    half. ``read`` gives a token per table (by ``Table.fullname``), None where the database
    cannot vouch for one right now (the caller must then assume a change)."""

    kind: ClassVar[str] = ""
    # Reads compare only on one connection kept open for them (SQLite's data_version).
    dedicated: ClassVar[bool] = False
    # Tokens mean the same in every process (server-side counters), so instances may share
    # what they keep under them.
    shared: ClassVar[bool] = True
    # Counters exist only where the writes happen: a standby's count none of its replay.
    on_primary: ClassVar[bool] = False

    def __init__(self, backend: Backend, tables: Sequence[Table]) -> None:
        self.backend = backend
        self.tables = tuple(tables)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({[table.fullname for table in self.tables]})"

    async def read(self, fetch: Fetch) -> dict[str, Token | None]:
        raise NotImplementedError

    @property
    def settled(self) -> bool:
        """Whether the last read's tokens count every commit so far; False while a recent
        write may still be missing from the counters (PostgreSQL's delayed statistics)."""
        return True


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
    # How EXPLAIN asks for a JSON plan (``planned_rows`` reads it); None: no usable plan.
    # ``auto`` totals a view from the plan where there is one (counting runs its joins).
    explain_prefix: ClassVar[str | None] = None
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
                    nullable: bool, nulls_first: bool | None = None) -> list[ColumnElement[Any]]:
        """ORDER BY terms placing NULLs last ascending and first descending, everywhere
        (unless ``nulls_first`` says where)."""
        ordered = column.desc() if descending else column.asc()
        if not nullable:
            return [ordered]
        lead = descending if nulls_first is None else nulls_first
        return [ordered.nulls_first() if lead else ordered.nulls_last()]

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

    def unpadded(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """A ``CHAR(n)`` column's text without its pad, as LIKE and search read it (the value
        served, ``crud.model.coltypes.padded``); any other column as it is."""
        return func.rtrim(column, type_=String()) if padded(column.type) else column

    def planned_rows(self, plan: Any) -> int:
        """The rows a JSON plan (``explain_prefix``) expects the statement to return."""
        raise NotImplementedError(f"{self.name} gives no plan estimate")

    def table_estimate(self, table: Table) -> ColumnElement[Any] | None:
        """A scalar SQL expression estimating the table's rows from statistics, or None."""
        return None

    def json_extract(self, column: ColumnElement[Any], path: Sequence[str | int],
                     sql_type: TypeEngine[Any]) -> ColumnElement[Any]:
        """The scalar at ``path`` in a JSON column, as ``sql_type`` (NULL when absent)."""
        return cast(func.json_extract(column, literal(json_path(path))), sql_type)

    # Arrays: a JSON array of texts everywhere; PostgreSQL's own ARRAY columns too. The
    # values are bound as ``in_list`` binds them (``list_values``).

    def array_contains(self, column: ColumnElement[Any], name: str,
                       count: int) -> ColumnElement[bool]:
        """The array in ``column`` holds every one of the values (SQLite: json_each)."""
        return and_(*(self._json_elements(column, [parameter])
                      for parameter in text_parameters(name, count)))

    def array_overlaps(self, column: ColumnElement[Any], name: str,
                       count: int) -> ColumnElement[bool]:
        """The array in ``column`` holds at least one of the values."""
        return self._json_elements(column, text_parameters(name, count))

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

    def change_probe(self, tables: Sequence[Table]) -> ChangeProbe | None:
        """What tells whether ``tables`` changed (``crud.sql.signals``); None: nothing does."""
        return None

    def json_value(self, column: ColumnElement[Any], kind: str, *,
                   local_time: bool = False) -> ColumnElement[Any] | None:
        """``column`` as the database should put it into ``json_row``; None: it cannot.
        A naive date-time is UTC (``+00:00``), or with ``local_time`` sent as stored."""
        return None

    def expression_indexes(self, connection: Connection, table: Table) -> list[str]:
        """The ``CREATE INDEX`` text of ``table``'s indexes on expressions, where
        ``comparable`` compares one (SQLAlchemy's reflection skips them)."""
        return []

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

    def is_locked(self, error: BaseException) -> bool:
        """Another connection's lock outlasted the statement's budget; this one is fine."""
        return False

    def abandon(self, connection: Any, error: BaseException) -> Awaitable[None] | None:
        """Drop a pooled connection whose statement outlived its deadline (no answer, not
        even the database's own timeout); what it returns finishes closing it later."""
        # Outside a greenlet on purpose: there SQLAlchemy's asyncpg adapter first tries a
        # polite close, which waits 2 s more on a database that does not answer; here the
        # adapters terminate the socket at once.
        connection.invalidate(error)
        return None

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


def json_path(path: Sequence[str | int]) -> str:
    # SQL/JSON path syntax of MariaDB and SQLite: $.key and $[index]. The registry allows
    # identifiers and digits only, so nothing here needs quoting.
    return "$" + "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path)


def text_parameters(name: str, count: int) -> list[ColumnElement[Any]]:
    # Elements of JSON arrays compare as texts: typed String, never as the JSON column.
    return [bindparam(f"{name}_{index}", type_=String()) for index in range(count)]


def search_document(search: TextSearch) -> ColumnElement[Any]:
    """The searched text: the fields joined by spaces, NULL as empty (constants inline)."""
    parts = [func.coalesce(column_, literal_column("''")) for column_ in search.columns]
    document: ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        document = document.op("||")(literal_column("' '")).op("||")(part)
    return document


def sortable(column_: ColumnElement[Any]) -> ColumnElement[Any]:
    """Enums sort by their text everywhere (PostgreSQL and MariaDB would use declaration order)."""
    if isinstance(column_.type, Enum):
        return cast(column_, String(64))
    return column_


def integer_parameter(name: str) -> Any:
    """A LIMIT/OFFSET parameter, typed so every driver binds it as a 64-bit integer
    (an offset deep into a big table passes 2**31)."""
    return bindparam(name, type_=BigInteger())
