"""MariaDB (and MySQL) through aiomysql: budgets by ``SET STATEMENT max_statement_time``,
FULLTEXT search, JSON functions."""

from __future__ import annotations

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
    cast,
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
    EngineArguments,
    Rows,
    json_path,
    text_parameters,
)
from crud.sql.textsearch import TextSearch

__all__ = ["MariaDB"]


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


