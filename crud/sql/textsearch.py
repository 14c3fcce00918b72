"""What a full-text or fuzzy search reads: the columns, the table and the registry's names.

The SQL itself differs per database and lives on the backends (``crud.sql.backends``):
PostgreSQL matches a ``to_tsvector`` expression (served by a GIN expression index),
MariaDB ``MATCH ... AGAINST`` (a FULLTEXT index), SQLite an FTS5 table whose rowid is
the resource's integer primary key. This module only gathers what they need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table

from crud.model.resource import Resource

__all__ = ["TextSearch", "text_search_of"]


@dataclass(frozen=True, eq=False)
class TextSearch:
    """A resource's ranked search: the base table's columns, in the registry's order."""

    resource: str
    mode: str  # full_text or fuzzy
    table: Table
    columns: tuple[Column[Any], ...]
    config: str  # PostgreSQL's text search configuration
    fts_table: str | None  # SQLite's FTS5 table
    key: Column[Any]  # the integer primary key an FTS5 rowid stands for

    def __repr__(self) -> str:
        return f"TextSearch({self.resource!r}, {self.mode}, {self.column_names})"

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


def text_search_of(resource: Resource) -> TextSearch | None:
    """The resource's ranked search, or None when it has none (or a substring one)."""
    spec = resource.spec.search
    table = resource.entity.table
    if resource.rank is None or not isinstance(table, Table):
        return None
    columns = tuple(resource.entity.column(leaf.column_key) for leaf in resource.search
                    if leaf.column_key is not None)
    key_leaf = resource.primary_key[0]
    assert key_leaf.column_key is not None
    return TextSearch(resource=resource.name, mode=spec.mode, table=table, columns=columns,
                      config=spec.config, fts_table=spec.fts_table,
                      key=resource.entity.column(key_leaf.column_key))
