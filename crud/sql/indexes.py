"""Index advice for ``crud check``: sort and filter fields on large tables that no index serves.

A sort (and the cursor's seek) or a filter on a column that leads no index makes every
page of a big table a full scan; so does a full-text search on PostgreSQL without a GIN
index on the very expression it matches (the advice prints the ``CREATE INDEX``).
This is advice, never an error: the table may be small in this environment, or the
column rarely used. Row counts come from the catalogue
(PostgreSQL ``reltuples``, MariaDB ``information_schema.TABLES``), so the check is cheap;
SQLite has no such statistic and is counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, inspect

from crud.config.yamlfile import LocatedData
from crud.model.fields import Leaf
from crud.model.joins import DerivedJoin
from crud.model.resource import Resource
from crud.model.sources import quiet_reflection
from crud.sql.backends import backend_for
from crud.sql.database import make_engine
from crud.sql.textsearch import text_search_of

__all__ = ["LARGE_TABLE_ROWS", "IndexAdvice", "SearchIndexAdvice", "index_advice"]

LARGE_TABLE_ROWS = 100_000


@dataclass(frozen=True)
class IndexAdvice:
    """One sort or filter field whose column leads no index on a large table."""

    path: str
    line: int | None
    key: str
    field: str
    table: str
    column: str
    rows: int
    index: tuple[str, ...]  # the columns of the index to suggest

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return (f"{where}: {self.key}: {self.field!r} reads {self.table}.{self.column}, which "
                f"no index leads (~{self.rows:,} rows): its pages will scan the table "
                f"(hint: CREATE INDEX ON {self.table} ({', '.join(self.index)}))")


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
    sizes: dict[str, int] = {}
    leading: dict[str, set[str]] = {}
    advice: list[IndexAdvice | SearchIndexAdvice] = []
    for resource in resources:
        for where, leaf in _checked_fields(resource):
            table = _table_of(resource, leaf)
            if table is None or leaf.column_key is None:
                continue
            name = table.fullname
            if not inspector.has_table(table.name, schema=table.schema):
                continue  # reported as an error by crud.ops.tables
            if name not in sizes:
                sizes[name] = backend_for(connection.dialect).row_estimate(connection, table)
                leading[name] = _leading_columns(inspector, table)
            column = table.c[leaf.column_key].name
            if sizes[name] >= min_rows and column not in leading[name]:
                location = ("resources", resource.name, *where)
                line = located.line_of(location) if located is not None else None
                # A sort also orders ties by the primary key: index both, in that order.
                tiebreak = [key.name for key in table.primary_key.columns
                            if where[0] == "sort" and key.name != column]
                advice.append(IndexAdvice(path=path, line=line,
                                          key=".".join(str(part) for part in location),
                                          field=leaf.name, table=name, column=column,
                                          rows=sizes[name], index=(column, *tiebreak)))
    advice.extend(_search_advice(connection, resources, path, located, min_rows))
    return advice


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
