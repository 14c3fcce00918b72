"""Schema drift: the columns and derived joins a registry reads, checked against the database.

A resource bound to a model names columns the database may not have (a migration not yet
applied), and a derived join's select may be one the database refuses. Both used to start
and answer 500 on every request; ``crud check --database-url``, ``crud serve`` and reloads
now refuse them with one located line each (``crud.ops.tables`` calls this).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Select, inspect, literal_column, select
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.exc import DBAPIError, NoSuchTableError

from crud.model.fields import Leaf
from crud.model.joins import DerivedJoin
from crud.model.resource import Resource
from crud.model.sources import Entity, quiet_reflection

__all__ = ["drift_problems"]

Location = tuple[str | int, ...]


def drift_problems(connection: Connection,
                   resources: Sequence[Resource]) -> list[tuple[Location, str]]:
    """(registry location, message) for each column missing and each join refused."""
    inspector = inspect(connection)
    columns: dict[tuple[str | None, str], set[str] | None] = {}
    problems: list[tuple[Location, str]] = []
    for resource in resources:
        for location, entity, name in _columns_read(resource):
            table = entity.table
            key = (table.schema, table.name)
            if key not in columns:
                columns[key] = _column_names(inspector, table.name, table.schema)
            known = columns[key]
            if known is not None and name not in known:
                problems.append((location, f"column {name!r} of table {table.name!r} is not in "
                                           "the database (a migration not applied?)"))
        for location, join in _joins(resource):
            refusal = _refusal(connection, join)
            if refusal is not None:
                problems.append((location, f"the database refuses join {join.name!r}: "
                                           f"{refusal}"))
    return problems


def _column_names(inspector: Inspector, table: str, schema: str | None) -> set[str] | None:
    try:
        with quiet_reflection():  # a PostGIS point is no drift: we only compare names
            return {column["name"] for column in inspector.get_columns(table, schema=schema)}
    except NoSuchTableError:
        return None  # a missing table is reported on its own


def _columns_read(resource: Resource) -> Iterator[tuple[Location, Entity, str]]:
    for leaf in resource.leaves.values():
        entity = _entity_of(resource, leaf)
        if entity is None or leaf.column_key is None:
            continue
        name = _column_name(entity, leaf.column_key)
        if name is not None:
            yield ("resources", resource.name, "fields", leaf.api_path[0]), entity, name


def _entity_of(resource: Resource, leaf: Leaf) -> Entity | None:
    if not leaf.hops:
        return resource.entity
    last = leaf.hops[-1]
    return None if isinstance(last, DerivedJoin) else last.target


def _column_name(entity: Entity, key: str) -> str | None:
    mapper = entity.mapper
    if mapper is None:
        return entity.table.c[key].name if key in entity.table.c else None
    prop = mapper.column_attrs.get(key)
    column = prop.columns[0] if prop is not None else None
    # Only plain columns of the table: expressions (column_property) have no name to check.
    return column.name if column is not None and getattr(column, "table", None) is entity.table \
        else None


def _joins(resource: Resource) -> Iterator[tuple[Location, DerivedJoin]]:
    seen: set[str] = set()
    for leaf in resource.leaves.values():
        for step in leaf.hops:
            if isinstance(step, DerivedJoin) and step.name not in seen:
                seen.add(step.name)
                yield ("resources", resource.name, "joins", step.name), step


def _refusal(connection: Connection, join: DerivedJoin) -> str | None:
    """The first line of the database's error for ``join``'s select, or None if it runs."""
    probe: Select[Any] = select(literal_column("1")).select_from(join.select.subquery("crud_probe")).limit(0)
    try:
        connection.execute(probe).fetchall()
    except DBAPIError as error:
        connection.rollback()  # where a failed statement ended a transaction: a fresh one
        cause = error.orig if error.orig is not None else error
        return (str(cause).strip() or type(cause).__name__).splitlines()[0]
    return None
