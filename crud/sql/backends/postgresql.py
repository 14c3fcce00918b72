"""PostgreSQL through asyncpg: prepared statements, JSON rows written by the server,
tsvector search, statistics for estimates and validators."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Float,
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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from crud.model.coltypes import padded
from crud.sql.backends.base import (
    PREPARED_PER_CONNECTION,
    Backend,
    ChangeProbe,
    EngineArguments,
    Fetch,
    Rows,
    Token,
    search_document,
)
from crud.sql.compiled import CompiledStatement
from crud.sql.textsearch import TextSearch

__all__ = ["PostgreSQL"]

# The zone as text: bound with the column's type, a decorated date-time type (SQLModel's
# UTCDateTime) would try to process 'UTC' as a date-time.
_UTC = literal("UTC", Text())


class PostgreSQL(Backend):
    name = "postgresql"
    splits_seeks = True
    binds_arrays = True
    plans_estimates = True
    explain_prefix = "EXPLAIN (FORMAT JSON) "
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
                    nullable: bool, nulls_first: bool | None = None) -> list[ColumnElement[Any]]:
        # PostgreSQL's own default placement: an index on the column still serves the sort.
        if nullable and nulls_first is not None and nulls_first != descending:
            return super().order_terms(column, descending, nullable, nulls_first)
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

    def planned_rows(self, plan: Any) -> int:
        return int(plan[0]["Plan"]["Plan Rows"])

    def table_estimate(self, table: Table) -> ColumnElement[Any] | None:
        # The planner's own statistic (ANALYZE / autovacuum); -1 means never analysed.
        name = self.dialect.identifier_preparer.format_table(table)
        pg_class = _pg_class()
        estimate = cast(pg_class.c.reltuples, BigInteger)
        return (select(func.nullif(estimate, -1))
                .where(pg_class.c.oid == func.to_regclass(literal(name, Text()))).scalar_subquery())

    def change_probe(self, tables: Sequence[Table]) -> ChangeProbe | None:
        return StatisticsProbe(self, tables)

    def time_bucket(self, column: ColumnElement[Any], unit: str) -> ColumnElement[Any]:
        # date_trunc's weeks are ISO weeks; an aware column is truncated in UTC, not in the
        # session's time zone.
        if getattr(column.type, "timezone", False):
            column = column.op("AT TIME ZONE")(_UTC)
        return type_coerce(func.date_trunc(unit, column), DateTime())

    def json_row(self, values: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        # row_to_json writes compact objects with keys in column order, like orjson; the
        # row is a LATERAL select over the page's own columns (correlated, no FROM).
        row = select(*values).correlate_except(None).lateral("item")
        return cast(func.row_to_json(row.table_valued()), Text)

    def unpadded(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # A bpchar cast to text loses its pad (and only its pad). Equality and order need
        # no cast: bpchar compares without the pad, and its index serves them.
        return cast(column, Text()) if padded(column.type) else column

    def json_value(self, column: ColumnElement[Any], kind: str, *,
                   local_time: bool = False) -> ColumnElement[Any] | None:
        if kind in self._AS_IS:
            return self.unpadded(column)
        if kind != "datetime":
            return None  # numbers, times, JSON: PostgreSQL spells them its own way
        # orjson's RFC 3339 (OPT_NAIVE_UTC unless local_time): seconds, microseconds only
        # when there are some, and +00:00 (an aware value is converted to UTC first).
        offset = "" if local_time else '"+00:00"'
        if getattr(column.type, "timezone", False):
            column, offset = column.op("AT TIME ZONE")(_UTC), '"+00:00"'
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
            return search_document(search).op("%")(query)
        return self._vector(search).op("@@")(self._query(search, query))

    def search_rank(self, search: TextSearch, query: ColumnElement[Any]) -> ColumnElement[Any]:
        if search.mode == "fuzzy":
            return func.similarity(search_document(search), query, type_=Float())
        return func.ts_rank(self._vector(search), self._query(search, query), type_=Float())

    def _vector(self, search: TextSearch) -> ColumnElement[Any]:
        # The configuration is a constant, never a parameter: the expression must be the
        # GIN index's own for the planner to use the index.
        return func.to_tsvector(_regconfig(search), search_document(search))

    def _query(self, search: TextSearch, query: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.websearch_to_tsquery(_regconfig(search), query)

    def search_index_statement(self, search: TextSearch) -> str:
        """``CREATE INDEX`` for the expression the search matches (GIN, as the planner needs)."""
        if search.mode == "fuzzy":
            indexed = f"({self._unqualified(search_document(search))}) gin_trgm_ops"
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


def _regconfig(search: TextSearch) -> ColumnElement[Any]:
    # The registry allows names only (letters, digits, _ and one dot): safe to inline.
    return literal_column(f"'{search.config}'::regconfig")


def _pg_class() -> Any:
    return table("pg_class", column("oid"), column("reltuples"))




class StatisticsProbe(ChangeProbe):
    """PostgreSQL's cumulative statistics of each table's base relations: rows inserted,
    updated and deleted, with the relation's file node (a TRUNCATE counts no row but gets a
    new file). Not the live-row estimate: ANALYZE and VACUUM move it without a change.

    A view or a partitioned table has no statistics of its own: the first read resolves
    each watched name to the plain tables and materialized views behind it (through the
    view's rewrite rule and partitions, recursively), by oid.

    A writing session reports its counts after its commit, but at most once a second: a
    commit less than a second after its session's last report waits for the session's
    idle timer, up to ten seconds (``PGSTAT_IDLE_INTERVAL``). So each read also notes the
    cluster's next transaction id: while it moved in the last ``LAG_S`` seconds, a write
    may not be counted yet, and ``settled`` is False (a live list then looks anyway).
    """

    kind = "statistics"
    on_primary = True
    LAG_S = 11.0

    def __init__(self, backend: Backend, tables: Sequence[Table]) -> None:
        super().__init__(backend, tables)
        # Each watched name's base relations, and the statement reading their counters.
        self.resolved: tuple[dict[str, tuple[int, ...]], CompiledStatement] | None = None
        self.next_xid: int | None = None
        self.xid_moved_at = -self.LAG_S

    async def read(self, fetch: Fetch) -> dict[str, Token | None]:
        if self.resolved is None:
            self.resolved = await self._resolve(fetch)
        bases, statement = self.resolved
        rows = await fetch(statement)
        self._note_xid(int(rows[0][3]) if rows else None)
        counters = {int(oid): (int(changes), file) if changes is not None else None
                    for oid, changes, file, _xid in rows}
        tokens: dict[str, Token | None] = {}
        for name, oids in bases.items():
            values = [counters.get(oid) for oid in oids]
            tokens[name] = None if not oids or None in values else tuple(values)
        return tokens

    def _note_xid(self, next_xid: int | None) -> None:
        if next_xid != self.next_xid:
            self.next_xid = next_xid
            self.xid_moved_at = time.monotonic()

    @property
    def settled(self) -> bool:
        return time.monotonic() - self.xid_moved_at > self.LAG_S

    async def _resolve(self, fetch: Fetch) -> tuple[dict[str, tuple[int, ...]], CompiledStatement]:
        names = {self.backend.dialect.identifier_preparer.format_table(table): table.fullname
                 for table in self.tables}
        bases: dict[str, list[int]] = {fullname: [] for fullname in names.values()}
        for name, oid in await fetch(CompiledStatement(_base_relations(list(names)),
                                                       self.backend.dialect)):
            bases[names[name]].append(int(oid))
        resolved = {name: tuple(sorted(oids)) for name, oids in bases.items()}
        every = sorted({oid for oids in resolved.values() for oid in oids})
        return resolved, CompiledStatement(_counters(every), self.backend.dialect)

def _base_relations(names: list[str]) -> Any:
    # (watched name, oid) of each table or materialized view behind each name: itself, what
    # a view's rewrite rule reads, a partitioned table's partitions, recursively.
    return text("""
WITH RECURSIVE watched(name, oid) AS (
    SELECT name, to_regclass(name)::oid FROM unnest(CAST(:names AS text[])) AS name
  UNION
    SELECT watched.name, edge.child FROM watched JOIN (
        SELECT rule.ev_class AS parent, dep.refobjid AS child
          FROM pg_rewrite rule JOIN pg_depend dep
            ON dep.classid = 'pg_rewrite'::regclass AND dep.objid = rule.oid
           AND dep.refclassid = 'pg_class'::regclass
      UNION ALL
        SELECT inhparent, inhrelid FROM pg_inherits
    ) edge ON edge.parent = watched.oid AND edge.child <> watched.oid
)
SELECT watched.name, CAST(watched.oid AS bigint) FROM watched
  JOIN pg_class ON pg_class.oid = watched.oid WHERE pg_class.relkind IN ('r', 'm')
""").bindparams(bindparam("names", value=names, type_=ARRAY(Text()))).columns(
        column("name", Text()), column("oid", BigInteger()))


def _counters(oids: list[int]) -> Any:
    # The oids come from the catalog (integers): inlined, the statement is one shape.
    listed = ",".join(str(oid) for oid in oids) or "0"
    return text(f"""
SELECT CAST(o AS bigint), pg_stat_get_tuples_inserted(o) + pg_stat_get_tuples_updated(o)
       + pg_stat_get_tuples_deleted(o), CAST(pg_relation_filenode(o) AS bigint),
       txid_snapshot_xmax(txid_current_snapshot())
  FROM unnest(CAST('{{{listed}}}' AS oid[])) AS o
""").columns(column("oid", BigInteger()), column("changes", BigInteger()),
             column("file", BigInteger()), column("next_xid", BigInteger()))
