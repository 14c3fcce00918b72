"""Where a resource's rows come from: a mapped class, an automapped table or a bare table.

All three answer the same questions (columns, relationships, primary key) so that field
paths resolve the same way in model mode and in reflection mode.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, MetaData, Table, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.automap import AutomapBase, automap_base
from sqlalchemy.orm import Mapper, RelationshipProperty
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["Entity", "ReflectedDatabase", "import_object", "model_entity"]


@dataclass(frozen=True, eq=False)
class Entity:
    """A table the registry points at, with its mapper when relationships are known."""

    table: Table
    mapped_class: type[Any] | None
    label: str

    @property
    def mapper(self) -> Mapper[Any] | None:
        return inspect(self.mapped_class) if self.mapped_class is not None else None

    @property
    def selectable(self) -> Any:
        return self.mapped_class if self.mapped_class is not None else self.table

    def column_names(self) -> list[str]:
        mapper = self.mapper
        if mapper is not None:
            return [key for key, prop in mapper.column_attrs.items() if _is_plain_column(prop)]
        return [column.key for column in self.table.columns]

    def column_key(self, name: str) -> str | None:
        """The attribute key for a column given by attribute key or by column name."""
        mapper = self.mapper
        if mapper is None:
            return name if name in self.table.c else None
        if name in mapper.column_attrs and _is_plain_column(mapper.column_attrs[name]):
            return name
        for key, prop in mapper.column_attrs.items():
            if _is_plain_column(prop) and prop.columns[0].name == name:
                return key
        return None

    def column(self, key: str) -> Column[Any]:
        mapper = self.mapper
        if mapper is not None:
            column = mapper.column_attrs[key].columns[0]
            assert isinstance(column, Column)
            return column
        return self.table.c[key]

    def attribute(self, key: str, alias: Any = None) -> ColumnElement[Any]:
        """The column as SQL, on ``alias`` when given (an ``aliased()`` of this entity)."""
        owner = alias if alias is not None else self.selectable
        if self.mapped_class is None:
            return owner.c[key]  # type: ignore[no-any-return]
        return getattr(owner, key)  # type: ignore[no-any-return]

    def relationship_names(self) -> list[str]:
        mapper = self.mapper
        return list(mapper.relationships.keys()) if mapper is not None else []

    def relationship(self, name: str) -> RelationshipProperty[Any] | None:
        mapper = self.mapper
        if mapper is None or name not in mapper.relationships:
            return None
        return mapper.relationships[name]

    def primary_key(self) -> list[str]:
        mapper = self.mapper
        if mapper is not None:
            return [mapper.get_property_by_column(column).key for column in mapper.primary_key]
        return [column.key for column in self.table.primary_key.columns]


def _is_plain_column(prop: Any) -> bool:
    # column_property(select(...)) and the like have no table column to filter on cheaply.
    return len(prop.columns) == 1 and isinstance(prop.columns[0], Column)


def import_object(reference: str) -> Any:
    """Import ``package.module:attribute``; raise ValueError with a readable message."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{reference!r} is not of the form 'package.module:name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import module {module_name!r}: {error}") from None
    try:
        target: Any = module
        for part in attribute.split("."):
            target = getattr(target, part)
    except AttributeError:
        names = [name for name in dir(module) if not name.startswith("_")]
        raise ValueError(f"module {module_name!r} has no {attribute!r}", names) from None
    return target


def model_entity(reference: str) -> Entity:
    target = import_object(reference)
    try:
        mapper = inspect(target)
    except Exception:
        raise ValueError(f"{reference!r} is not a mapped SQLAlchemy class") from None
    if not isinstance(mapper, Mapper):
        raise ValueError(f"{reference!r} is not a mapped SQLAlchemy class")
    table = mapper.local_table
    if not isinstance(table, Table):
        raise ValueError(f"{reference!r} is not mapped to a single table")
    return Entity(table=table, mapped_class=target, label=target.__name__)


class ReflectedDatabase:
    """Tables and views reflected from a live database, relationships named by automap."""

    def __init__(self, metadata: MetaData, base: AutomapBase) -> None:
        self.metadata = metadata
        self.base = base

    @classmethod
    def reflect(cls, connection: Connection, schemas: Iterable[str | None]) -> ReflectedDatabase:
        metadata = MetaData()
        for schema in sorted(set(schemas), key=lambda s: s or ""):
            metadata.reflect(connection, schema=schema, views=True)
        base = automap_base(metadata=metadata)
        base.prepare(name_for_scalar_relationship=_scalar_relationship_name)
        return cls(metadata, base)

    def table_names(self, schema: str | None) -> list[str]:
        return [table.name for table in self.metadata.tables.values() if table.schema == schema]

    def entity(self, name: str, schema: str | None) -> Entity:
        key = f"{schema}.{name}" if schema else name
        table = self.metadata.tables.get(key)
        if table is None:
            raise KeyError(name)
        # automap maps tables with a primary key; views and key-less tables stay bare.
        mapped = self._mapped_class(table)
        label = f"table {name!r}"
        return Entity(table=table, mapped_class=mapped, label=label)

    def _mapped_class(self, table: Table) -> type[Any] | None:
        for mapped in self.base.classes:
            if inspect(mapped).local_table is table:
                return mapped
        return None


def _scalar_relationship_name(
    base: type[Any], local_cls: type[Any], referred_cls: type[Any], constraint: Any
) -> str:
    # automap's default (the referred class name, lowercased), unless that would clash with a
    # column or another foreign key to the same table; then the FK column minus "_id".
    default = referred_cls.__name__.lower()
    table = local_cls.__table__
    same_target = [fk for fk in table.foreign_key_constraints
                   if fk.referred_table is constraint.referred_table]
    if len(same_target) == 1 and default not in table.c:
        return default
    column = constraint.columns[0].name if len(constraint.columns) else default
    name = column[:-3] if column.lower().endswith("_id") and len(column) > 3 else f"{column}_ref"
    return name if name not in table.c else f"{name}_ref"
