"""Where a resource's rows come from: a mapped class, an automapped table or a bare table.

All three answer the same questions (columns, relationships, primary key) so that field
paths resolve the same way in model mode and in reflection mode.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect as pyinspect
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, MetaData, Table, inspect
from sqlalchemy.dialects.postgresql import DOMAIN
from sqlalchemy.engine import Connection, Inspector
from sqlalchemy.exc import SAWarning
from sqlalchemy.ext.automap import AutomapBase, automap_base, generate_relationship
from sqlalchemy.orm import Mapper, RelationshipProperty
from sqlalchemy.sql.elements import ColumnElement

__all__ = [
    "Entity",
    "ReflectedDatabase",
    "call_with_table",
    "import_object",
    "model_entity",
    "quiet_reflection",
]


@dataclass(frozen=True, eq=False)
class Entity:
    """A table the registry points at, with its mapper when relationships are known."""

    table: Table
    mapped_class: type[Any] | None
    label: str
    reflected: bool = False
    # A view: counting its rows runs its joins, so totals come from the planner where it can.
    view: bool = False

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

    def nullable(self, key: str) -> bool:
        return bool(self.column(key).nullable)

    def column(self, key: str) -> Column[Any]:
        mapper = self.mapper
        if mapper is not None:
            column = mapper.column_attrs[key].columns[0]
            assert isinstance(column, Column)
            return column
        return self.table.c[key]

    def attribute(self, key: str, alias: Any = None, *, plain: bool = False) -> ColumnElement[Any]:
        """The column as SQL, on ``alias`` when given (an ``aliased()`` of this entity).

        ``plain``: the table's (or the alias's) own column, not the mapped attribute's.
        SQLAlchemy compares an attribute's column with ``==`` when it copies a statement,
        and a type without operators (MySQL's YEAR) warns there; the plain one it finds by
        identity."""
        owner = alias if alias is not None else self.selectable
        if self.mapped_class is None:
            return owner.c[key]  # type: ignore[no-any-return]
        if plain:
            table = inspect(alias).selectable if alias is not None else self.table
            return table.c[self.column(key).key]
        return getattr(owner, key)  # type: ignore[no-any-return]

    def relationship_names(self) -> list[str]:
        mapper = self.mapper
        return list(mapper.relationships.keys()) if mapper is not None else []

    def relationship(self, name: str) -> RelationshipProperty[Any] | None:
        mapper = self.mapper
        if mapper is None or name not in mapper.relationships:
            return None
        return mapper.relationships[name]

    def related(self, relationship: RelationshipProperty[Any]) -> Entity:
        """The entity at the other end of ``relationship``, labelled the way this one is."""
        mapper = relationship.mapper
        table = mapper.local_table
        assert isinstance(table, Table)
        label = f"table {table.name!r}" if self.reflected else mapper.class_.__name__
        return Entity(table=table, mapped_class=mapper.class_, label=label,
                      reflected=self.reflected)

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


def call_with_table(function: Callable[..., Any], table: Table) -> Any:
    """Call a registry hook (expression, join select) with the resource's table if it takes one."""
    parameters = pyinspect.signature(function).parameters
    return function(table) if parameters else function()


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

    def __init__(self, metadata: MetaData, base: AutomapBase, views: frozenset[str],
                 default_schema: str | None = None, home: str | None = None) -> None:
        self.metadata = metadata
        self.base = base
        self.views = views
        self.default_schema = default_schema
        self.home = home  # the schema name the default schema's tables are keyed under

    @classmethod
    def reflect(cls, connection: Connection, schemas: Iterable[str | None], *,
                names_default_schema: bool = False) -> ReflectedDatabase:
        """``names_default_schema``: the backend's foreign keys from other schemas name the
        default one (``Backend.names_default_schema``)."""
        metadata = MetaData()
        views: set[str] = set()
        inspector = inspect(connection)
        default_schema = inspector.default_schema_name
        # "schema: public" is the default schema: reflecting it under both names would map
        # every table twice. MySQL/MariaDB name the default database in foreign keys from
        # other databases ("shop.people"), so there it is reflected under its name too.
        home = default_schema if names_default_schema else None
        schemas = {home if schema in (None, default_schema) else schema for schema in schemas}
        with quiet_reflection():
            for schema in sorted(set(schemas), key=lambda s: s or ""):
                metadata.reflect(connection, schema=schema, views=True)
                views.update(_key(name, schema) for name in _view_names(inspector, schema))
        _unwrap_domains(metadata)
        base = automap_base(metadata=metadata)
        base.prepare(classname_for_table=_class_name,
                     name_for_scalar_relationship=_scalar_relationship_name,
                     name_for_collection_relationship=_collection_relationship_name,
                     generate_relationship=_read_only_relationship)
        return cls(metadata, base, frozenset(views), default_schema, home)

    def table_names(self, schema: str | None) -> list[str]:
        schema = self._reflected_as(schema)
        return [table.name for table in self.metadata.tables.values() if table.schema == schema]

    def entity(self, name: str, schema: str | None) -> Entity:
        table = self.metadata.tables.get(_key(name, self._reflected_as(schema)))
        if table is None:
            raise KeyError(name)
        # automap maps tables with a primary key; views, key-less tables and pure
        # association tables (two foreign keys, nothing else) stay bare tables.
        mapped = self._mapped_class(table)
        kind = "view" if table.key in self.views else "table"
        return Entity(table=table, mapped_class=mapped, label=f"{kind} {name!r}", reflected=True,
                      view=kind == "view")

    def _reflected_as(self, schema: str | None) -> str | None:
        return self.home if schema in (None, self.default_schema) else schema

    def _mapped_class(self, table: Table) -> type[Any] | None:
        for mapped in self.base.classes:
            if inspect(mapped).local_table is table:
                return mapped
        return None


def _view_names(inspector: Inspector, schema: str | None) -> list[str]:
    names = inspector.get_view_names(schema=schema)
    with contextlib.suppress(NotImplementedError):  # PostgreSQL's; other dialects have none
        names += inspector.get_materialized_view_names(schema=schema)
    return names


def _unwrap_domains(metadata: MetaData) -> None:
    # A PostgreSQL DOMAIN is its base type plus a CHECK that only writes need; as a DOMAIN,
    # SQLAlchemy 2.1 has no comparison operators for it (deprecation warning per filter).
    for table in metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, DOMAIN):
                column.type = column.type.data_type


@contextlib.contextmanager
def quiet_reflection() -> Iterator[None]:
    """Reflect without SQLAlchemy's warnings about what it cannot model but we do not need.

    A legacy schema has types and indexes SQLAlchemy cannot model (PostGIS points, inet6,
    partial or expression indexes). We only read: such a column becomes NullType and is
    reported, located, if the registry lists it; indexes do not matter. Warnings that would
    say so at every startup are noise.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _REFLECTION_NOISE, SAWarning)
        yield


_REFLECTION_NOISE = ("(?s).*(Did not recognize type|Skipped unsupported reflection|"
                     "Unknown schema content|index)")


def _key(name: str, schema: str | None) -> str:
    return f"{schema}.{name}" if schema else name


def _class_name(base: type[Any], tablename: str, table: Table) -> str:
    # automap names classes after tables; two schemas may both have an "items" table, and
    # a repeated class name makes automap skip the second table with a warning.
    return _key(tablename, table.schema)


def _read_only_relationship(base: type[Any], direction: Any, return_fn: Any, attrname: str,
                            local_cls: type[Any], referred_cls: type[Any], **kw: Any) -> Any:
    # This API never writes. Read-only relationships cannot conflict over the foreign-key
    # columns they would copy (composite keys sharing a tenant_id column make automap's
    # relationships warn at configure time), and persistence cascades do not apply.
    kw.pop("cascade", None)
    kw.pop("passive_deletes", None)
    return generate_relationship(base, direction, return_fn, attrname, local_cls,
                                 referred_cls, viewonly=True, **kw)


def _scalar_relationship_name(
    base: type[Any], local_cls: type[Any], referred_cls: type[Any], constraint: Any
) -> str:
    # automap's default (the referred table's name, lowercased), unless another foreign key
    # of this table leads to a table of that name too (the same table, or its namesake in
    # another schema) or a column has the name; then the FK column's name minus "_id"
    # ("author_id" -> "author").
    table = local_cls.__table__
    default: str = referred_cls.__table__.name.lower()
    namesakes = [fk for fk in table.foreign_key_constraints
                 if fk.referred_table.name.lower() == default]
    if len(namesakes) == 1 and default not in table.c:
        return default
    name = _column_stem(constraint)
    return name if name not in table.c else f"{name}_ref"


def _collection_relationship_name(
    base: type[Any], local_cls: type[Any], referred_cls: type[Any], constraint: Any
) -> str:
    # automap's default ("<referring table>_collection"), unless that is ambiguous: the
    # referring table (or the association table of a many-to-many) links here through
    # several foreign keys, told apart by column ("reviews_author_collection"), or tables of
    # that name in several schemas link here, told apart by schema ("inventory_items_...").
    target = local_cls.__table__
    referring = referred_cls.__table__
    name: str = referring.name.lower()
    if constraint.table is referring and referring.schema is not None:
        namesakes = [table for table in _namesakes(referring) if _links(table, target)]
        if len(namesakes) > 1:
            name = f"{referring.schema.lower()}_{name}"
    if _links(constraint.table, target) > 1:
        name = f"{name}_{_column_stem(constraint)}"
    return f"{name}_collection"


def _namesakes(table: Table) -> list[Table]:
    assert table.metadata is not None
    return [other for other in table.metadata.tables.values()
            if other.name.lower() == table.name.lower()]


def _links(table: Table, target: Table) -> int:
    return sum(1 for fk in table.foreign_key_constraints if fk.referred_table is target)


def _column_stem(constraint: Any) -> str:
    column = str(constraint.columns[0].name)
    if column.lower().endswith("_id") and len(column) > 3:
        return column[:-3]
    if column.endswith("Id") and len(column) > 2:  # PascalCase "ManagerId"
        return column[:-2]
    return column
