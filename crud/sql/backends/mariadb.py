"""MariaDB (and MySQL) through aiomysql: budgets by ``SET STATEMENT max_statement_time``,
FULLTEXT search, JSON functions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    DateTime,
    Float,
    String,
    Table,
    Text,
    bindparam,
    cast,
    column,
    func,
    literal,
    literal_column,
    text,
    type_coerce,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from crud.sql.backends.base import (
    Backend,
    ChangeProbe,
    EngineArguments,
    Fetch,
    Rows,
    Token,
    json_path,
    text_parameters,
)
from crud.sql.compiled import CompiledStatement
from crud.sql.textsearch import TextSearch

__all__ = ["MariaDB"]


class MariaDB(Backend):
    name = "mariadb"
    explain_prefix = "EXPLAIN FORMAT=JSON "
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
                    nullable: bool, nulls_first: bool | None = None) -> list[ColumnElement[Any]]:
        # No NULLS FIRST/LAST: an IS NULL term before the column does the same.
        ordered = column.desc() if descending else column.asc()
        if not nullable:
            return [ordered]
        is_null = column.is_(None)
        lead = descending if nulls_first is None else nulls_first
        return [is_null.desc() if lead else is_null.asc(), ordered]

    def unpadded(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return column  # MariaDB strips a CHAR's pad when it reads one

    def exact_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # LIKE follows the column's collation, case-insensitive under the usual *_ci ones;
        # bytes compare exactly (a literal prefix, escaped, needs nothing else).
        # (Typed back as text: SQLAlchemy's binary types have no LIKE operator.)
        return type_coerce(cast(column, mysql.BINARY()), String())

    def json_extract(self, column: ColumnElement[Any], path: Sequence[str | int],
                     sql_type: TypeEngine[Any]) -> ColumnElement[Any]:
        # JSON_VALUE unquotes a string and gives NULL for a JSON null (JSON_UNQUOTE of
        # JSON_EXTRACT would give the text 'null').
        value = func.json_value(column, literal(json_path(path)), type_=Text())
        return value if isinstance(sql_type, String) else cast(value, sql_type)

    def array_contains(self, column: ColumnElement[Any], name: str,
                       count: int) -> ColumnElement[bool]:
        return func.json_contains(column, func.json_array(*text_parameters(name, count)),
                                  type_=Boolean)

    def array_overlaps(self, column: ColumnElement[Any], name: str,
                       count: int) -> ColumnElement[bool]:
        # JSON_OVERLAPS: MariaDB 10.9 and later (MySQL 8.0.17).
        return func.json_overlaps(column, func.json_array(*text_parameters(name, count)),
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

    def change_probe(self, tables: Sequence[Table]) -> ChangeProbe | None:
        return InnodbProbe(self, tables)

    def planned_rows(self, plan: Any) -> int:
        # Each table of the join order with the rows it reads and the share that passes
        # its conditions; their product bounds the joined rows (an eq_ref join reads 1).
        block = plan["query_block"]
        steps = block.get("nested_loop") or [block]
        rows = 1.0
        for step in steps:
            table = step.get("table") or step.get("block-nl-join", {}).get("table") or {}
            rows *= float(table.get("rows", 1)) * float(table.get("filtered", 100)) / 100
        return round(rows)

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

    def search_text(self, text_: str) -> str:
        # InnoDB's full-text parser fails (1064) on a text of only '*', quotes and spaces even
        # in natural language mode; '*' is no word character there, so a space finds the same.
        return text_.replace("*", " ")

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


def _mysql_code(error: BaseException) -> int | None:
    code = error.args[0] if error.args else None
    return code if isinstance(code, int) else None




class InnodbProbe(ChangeProbe):
    """MariaDB's change marks of each table behind the watched names: InnoDB's
    ``MODIFIED_COUNTER`` and row count (they move as rows are written), the table's id (a
    TRUNCATE or rebuild changes it), and ``UPDATE_TIME`` (set at commit).

    ``UPDATE_TIME`` has whole seconds and the counter moves before the commit, so a table
    committed to in the last two seconds has no token: whoever caches must look again. A
    view's tables are the base tables its stored definition names (``schema``.``name``),
    recursively. Without the PROCESS privilege InnoDB's statistics are hidden and
    ``UPDATE_TIME`` alone is read, with the same two-second rule.
    """

    kind = "innodb"
    settle_s = 2.0

    def __init__(self, backend: Backend, tables: Sequence[Table]) -> None:
        super().__init__(backend, tables)
        self.bases: dict[str, tuple[tuple[str, str], ...]] | None = None
        self.statements: list[CompiledStatement] = []

    async def read(self, fetch: Fetch) -> dict[str, Token | None]:
        if self.bases is None:
            await self._resolve(fetch)
        assert self.bases is not None
        marks = await self._marks(fetch)
        tokens: dict[str, Token | None] = {}
        for name, bases in self.bases.items():
            values = [marks.get(base) for base in bases]
            tokens[name] = None if not bases or None in values else tuple(values)
        return tokens

    async def _marks(self, fetch: Fetch) -> dict[tuple[str, str], Token | None]:
        while True:
            try:
                rows = await fetch(self.statements[0])
                break
            except Exception as error:
                if len(self.statements) == 1 or _mysql_code(error) not in _DENIED:
                    raise
                self.statements.pop(0)  # no PROCESS privilege: UPDATE_TIME alone
        marks: dict[tuple[str, str], Token | None] = {}
        for schema, name, updated, *counters, now in rows:
            settled = updated is None or (now - updated).total_seconds() >= self.settle_s
            marks[(schema, name)] = (updated, *counters) if settled else None
        return marks

    async def _resolve(self, fetch: Fetch) -> None:
        dialect = self.backend.dialect
        [[default]] = await fetch(CompiledStatement(
            text("SELECT DATABASE()").columns(column("db", String())), dialect))
        kinds: dict[tuple[str, str], str | None] = {}  # a view's definition, None for a table
        for schema, name, definition in await fetch(CompiledStatement(_catalog(), dialect)):
            kinds[(schema, name)] = definition
        bases: dict[str, tuple[tuple[str, str], ...]] = {}
        for table in self.tables:
            found = _base_tables((table.schema or default, table.name), kinds)
            bases[table.fullname] = tuple(sorted(found))
        self.bases = bases
        every = sorted({base for found in bases.values() for base in found})
        self.statements = [CompiledStatement(_marks_statement(every, stats=stats), dialect)
                           for stats in (True, False)]


_DENIED = frozenset({1227, 1142, 1044})  # access denied (privilege, table, database)
_REFERENCE = re.compile(r"`((?:[^`]|``)+)`\.`((?:[^`]|``)+)`")


def _base_tables(name: tuple[str, str], kinds: dict[tuple[str, str], str | None],
                 seen: frozenset[tuple[str, str]] = frozenset()) -> set[tuple[str, str]]:
    if name not in kinds:
        return set()
    definition = kinds[name]
    if definition is None:
        return {name}
    found: set[tuple[str, str]] = set()
    for schema, table in _REFERENCE.findall(definition):
        reference = (schema.replace("``", "`"), table.replace("``", "`"))
        if reference in kinds and reference not in seen and reference != name:
            found |= _base_tables(reference, kinds, seen | {name})
    return found


def _catalog() -> Any:
    return text("""
SELECT t.TABLE_SCHEMA, t.TABLE_NAME, v.VIEW_DEFINITION FROM information_schema.TABLES t
  LEFT JOIN information_schema.VIEWS v
    ON v.TABLE_SCHEMA = t.TABLE_SCHEMA AND v.TABLE_NAME = t.TABLE_NAME
 WHERE t.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
""").columns(column("schema", String()), column("name", String()),
             column("definition", Text()))


def _marks_statement(tables: list[tuple[str, str]], *, stats: bool) -> Any:
    # One branch per table, each naming its schema and table by equality: information_schema
    # then opens that table alone instead of every table of every database.
    counters = ("s.NUM_ROWS, s.MODIFIED_COUNTER, s.TABLE_ID" if stats
                else "NULL, NULL, t.CREATE_TIME")
    joined = ("LEFT JOIN information_schema.INNODB_SYS_TABLESTATS s"
              " ON s.NAME = CONCAT(t.TABLE_SCHEMA, '/', t.TABLE_NAME)" if stats else "")
    branches = [f"SELECT t.TABLE_SCHEMA, t.TABLE_NAME, t.UPDATE_TIME, {counters}, NOW(6)"
                f" FROM information_schema.TABLES t {joined}"
                f" WHERE t.TABLE_SCHEMA = :s{index} AND t.TABLE_NAME = :t{index}"
                for index in range(len(tables))] or ["SELECT '', '', NULL, NULL, NULL, NULL, NOW(6)"]
    values = {f"{kind}{index}": part for index, pair in enumerate(tables)
              for kind, part in zip("st", pair, strict=True)}
    return text(" UNION ALL ".join(branches)).bindparams(
        *(bindparam(key, value=value, type_=String()) for key, value in values.items())
    ).columns(column("schema", String()), column("name", String()),
              column("updated", DateTime()), column("rows"), column("counter"), column("id"),
              column("now", DateTime()))
