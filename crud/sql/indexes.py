"""Index advice for ``crud check``: sort and filter fields on large tables that no index serves.

A sort (and the cursor's seek) or a filter on a column that leads no index makes every
page of a big table a full scan; so does one compared through an expression (SQLite's
date-times, whatever their text spelling) that no index on that very expression serves,
and a full-text search on PostgreSQL without a GIN index on the expression it matches.
The advice prints the ``CREATE INDEX`` that would serve each.
This is advice, never an error: the table may be small in this environment, or the
column rarely used. Row counts come from the catalogue
(PostgreSQL ``reltuples``, MariaDB ``information_schema.TABLES``), so the check is cheap;
SQLite has no such statistic and is counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Table, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from crud.config.yamlfile import LocatedData
from crud.model.fields import Leaf
from crud.model.joins import DerivedJoin
from crud.model.resource import Resource
from crud.model.sources import quiet_reflection
from crud.sql.backends import backend_for
from crud.sql.compiled import inline_constants
from crud.sql.database import make_engine
from crud.sql.textsearch import text_search_of

__all__ = ["LARGE_TABLE_ROWS", "IndexAdvice", "SearchIndexAdvice", "index_advice"]

LARGE_TABLE_ROWS = 100_000


@dataclass(frozen=True)
class IndexAdvice:
    """One sort or filter field whose comparison no index serves on a large table."""

    path: str
    line: int | None
    key: str
    field: str
    table: str
    column: str
    rows: int
    index: tuple[str, ...]  # the columns the suggested index covers, in its order
    statement: str  # the CREATE INDEX that would serve the field
    expression: bool = False  # compared through an expression (SQLite date-times)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        served = ("is compared through an expression that no index serves" if self.expression
                  else "no index leads")
        return (f"{where}: {self.key}: {self.field!r} reads {self.table}.{self.column}, which "
                f"{served} (~{self.rows:,} rows): its pages will scan the table "
                f"(hint: {self.statement})")


@dataclass(frozen=True)
class SearchIndexAdvice:
    """A ranked search on a large table that no index serves, and the index that would."""

    path: str
    line: int | None
    key: str
    table: str
    rows: int
    statement: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        # Without ANALYZE, PostgreSQL has no statistics of the new index's expression.
        return (f"{where}: {self.key}: no index serves this search on {self.table} "
                f"(~{self.rows:,} rows): every search reads the whole table "
                f"(hint: {self.statement}; then ANALYZE {self.table})")


async def index_advice(resources: list[Resource], url: str, *, path: str,
                       located: LocatedData | None = None,
                       min_rows: int = LARGE_TABLE_ROWS
                       ) -> list[IndexAdvice | SearchIndexAdvice]:
    """Advice for every sort and filter field of ``resources`` over the database at ``url``."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_advise, resources, path, located, min_rows)
    finally:
        await engine.dispose()


def _advise(connection: Connection, resources: list[Resource], path: str,
            located: LocatedData | None, min_rows: int) -> list[IndexAdvice | SearchIndexAdvice]:
    inspector = inspect(connection)
    backend = backend_for(connection.dialect)
    tables: dict[str, _Indexed] = {}
    advised: set[tuple[str, str]] = set()
    advice: list[IndexAdvice | SearchIndexAdvice] = []
    for resource in resources:
        for where, leaf in _checked_fields(resource):
            table = _table_of(resource, leaf)
            if table is None or leaf.column_key is None:
                continue
            if not inspector.has_table(table.name, schema=table.schema):
                continue  # reported as an error by crud.ops.tables
            if table.fullname not in tables:
                tables[table.fullname] = _Indexed(
                    rows=backend.row_estimate(connection, table),
                    leading=_leading_columns(inspector, table),
                    expressions=backend.expression_indexes(connection, table))
            indexed = tables[table.fullname]
            column = table.c[leaf.column_key]
            # What filters, sorts and cursors compare: the column, or an expression of it.
            compared = backend.comparable(column)
            # Sorts come first: the index advised for a sort serves a filter on it too.
            if indexed.rows < min_rows or (table.fullname, column.name) in advised \
                    or indexed.serves(column, compared, connection.dialect):
                continue
            advised.add((table.fullname, column.name))
            # A sort also orders ties by the primary key: index both, in that order.
            tiebreak = [key for key in table.primary_key.columns
                        if where[0] == "sort" and key.name != column.name]
            location = ("resources", resource.name, *where)
            advice.append(IndexAdvice(
                path=path, line=located.line_of(location) if located is not None else None,
                key=".".join(str(part) for part in location), field=leaf.name,
                table=table.fullname, column=column.name, rows=indexed.rows,
                index=(column.name, *(key.name for key in tiebreak)),
                statement=_create_index(table, column.name, [compared, *tiebreak],
                                        connection.dialect),
                expression=compared is not column))
    advice.extend(_search_advice(connection, resources, path, located, min_rows))
    return advice


@dataclass(frozen=True)
class _Indexed:
    """One table's size and what its indexes serve, read once per table."""

    rows: int
    leading: set[str]  # columns that lead an index (or the primary key)
    expressions: list[str]  # the CREATE INDEX text of its indexes on expressions

    def serves(self, column: Column[Any], compared: ColumnElement[Any],
               dialect: Dialect) -> bool:
        if compared is column:
            return column.name in self.leading
        wanted = _squeezed(_sql(compared, dialect))
        return any(wanted in _squeezed(statement) for statement in self.expressions)


def _create_index(table: Table, column: str, elements: list[ColumnElement[Any]],
                  dialect: Dialect) -> str:
    """The ``CREATE INDEX`` of ``elements`` on ``table``, named, quoted for ``dialect``."""
    preparer = dialect.identifier_preparer
    parts = [preparer.quote(element.name) if isinstance(element, Column)
             else f"({_sql(element, dialect)})" for element in elements]
    return (f"CREATE INDEX {preparer.quote(f'ix_{table.name}_{column}')} ON "
            f"{preparer.format_table(table)} ({', '.join(parts)})")


def _sql(expression: ColumnElement[Any], dialect: Dialect) -> str:
    # As the statements write it (constants inlined), without the table's name: the
    # database matches an index's expression to a query's by their trees.
    compiled = inline_constants(expression, dialect).compile(
        dialect=dialect, compile_kwargs={"include_table": False, "literal_binds": True})
    return str(compiled)


def _squeezed(sql: str) -> str:
    return "".join(sql.split()).lower()


def _search_advice(connection: Connection, resources: list[Resource], path: str,
                   located: LocatedData | None, min_rows: int) -> list[SearchIndexAdvice]:
    backend = backend_for(connection.dialect)
    inspector = inspect(connection)
    advice = []
    for resource in resources:
        search = text_search_of(resource)
        if search is None or not inspector.has_table(search.table.name, schema=search.table.schema):
            continue
        rows = backend.row_estimate(connection, search.table)
        statement = backend.search_index(connection, search) if rows >= min_rows else None
        if statement is not None:
            where = ("resources", resource.name, "search")
            advice.append(SearchIndexAdvice(
                path=path, line=located.line_of(where) if located is not None else None,
                key=".".join(where), table=search.table.fullname, rows=rows,
                statement=statement))
    return advice


def _checked_fields(resource: Resource) -> Iterator[tuple[tuple[str | int, ...], Leaf]]:
    """Each sort and filter field once, with its place in the registry file."""
    sort_names = resource.spec.sort
    pairs: list[tuple[tuple[str | int, ...], Leaf]] = [
        (("sort", sort_names.index(name)), key.leaf) for name, key in resource.sort.items()]
    filtered = {param.leaf.name: param.leaf for param in resource.filters.values()}
    pairs += [(("filters", name), leaf) for name, leaf in filtered.items()]
    for where, leaf in pairs:
        # A JSON path needs an expression index, an array a GIN one: a B-tree on the
        # column would not serve them, so the advice is left to the author.
        if leaf.expression is None and not leaf.to_many and not leaf.json_path \
                and leaf.info.kind not in {"json", "array"}:
            yield where, leaf


def _table_of(resource: Resource, leaf: Leaf) -> Table | None:
    # A derived join's columns come from a select whose tables only its author knows.
    hop = leaf.hops[-1] if leaf.hops else None
    if isinstance(hop, DerivedJoin):
        return None
    table = hop.target.table if hop is not None else resource.entity.table
    return table if isinstance(table, Table) else None


def _leading_columns(inspector: Any, table: Table) -> set[str]:
    with quiet_reflection():  # MySQL parses the whole table, unknown column types included
        indexes = inspector.get_indexes(table.name, table.schema)
    columns = {index["column_names"][0] for index in indexes
               if index["column_names"] and index["column_names"][0] is not None}
    primary = inspector.get_pk_constraint(table.name, table.schema)["constrained_columns"]
    if primary:
        columns.add(primary[0])
    return columns
