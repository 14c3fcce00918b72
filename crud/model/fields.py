"""Bound fields: what each registry field turned into once checked against the tables.

A ``Leaf`` is one scalar value reached from the base table through zero or more
relationship hops or a derived join (or computed by a SQL expression). Objects group leaves; a ``ManyField``
lists values from a to-many relationship. These are plain frozen data: the statement
builders in ``crud.sql.statements`` read them, nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from crud.model.coltypes import TypeInfo
from crud.model.joins import DerivedJoin
from crud.model.sources import Entity

__all__ = ["Collected", "Hop", "Leaf", "ManyField", "Node", "ObjectNode", "Step", "many_fields",
           "row_leaves"]


@dataclass(frozen=True, eq=False)
class Hop:
    """One step along a relationship: ``owner.<name>`` leads to ``target``."""

    name: str
    owner: Entity
    target: Entity
    to_many: bool

    def __repr__(self) -> str:
        arrow = "->*" if self.to_many else "->"
        return f"Hop({self.owner.label}.{self.name} {arrow} {self.target.label})"


# A derived join is always a path's first and only step: its rows have no relationships.
Step = Hop | DerivedJoin


@dataclass(frozen=True, eq=False)
class Leaf:
    """One scalar value of a row, named by its API path (``("project", "url")``)."""

    api_path: tuple[str, ...]
    label: str
    hops: tuple[Step, ...]
    column_key: str | None
    expression: ColumnElement[Any] | None
    info: TypeInfo
    sql_type: TypeEngine[Any]
    nullable: bool
    description: str | None
    json_schema: dict[str, Any] | None = None  # declared in the registry for JSON values
    # Keys (or array indexes) into the JSON column ``column_key``: the value at that path,
    # typed as declared (``source: data.arch``). Empty: the column itself.
    json_path: tuple[str | int, ...] = ()
    # A date-time without a zone (or an array of them) holding local time as stored
    # (``naive_datetimes: as_stored``): sent and compared without an offset, never
    # relabelled as UTC.
    local_time: bool = False
    # The registry's ``type:`` over a type SQLAlchemy knows but we cannot serve as is
    # (MySQL's YEAR): SQL reads the column as ``sql_type``, whose operators SQLAlchemy has.
    coerced: bool = False

    @property
    def name(self) -> str:
        return ".".join(self.api_path)

    @property
    def to_many(self) -> bool:
        return any(hop.to_many for hop in self.hops)

    @property
    def entity_path(self) -> tuple[str, ...]:
        return tuple(hop.name for hop in self.hops)

    def __repr__(self) -> str:
        return f"Leaf({self.name!r}, hops={self.entity_path}, column={self.column_key!r})"


@dataclass(frozen=True, eq=False)
class ManyField:
    """Values from a to-many relationship: a list of scalars, or of small objects."""

    api_path: tuple[str, ...]
    hops: tuple[Hop, ...]
    leaves: tuple[Leaf, ...]
    scalar: bool
    limit: int
    description: str | None

    @property
    def name(self) -> str:
        return ".".join(self.api_path)

    def __repr__(self) -> str:
        return f"ManyField({self.name!r}, scalar={self.scalar}, limit={self.limit})"


@dataclass(frozen=True, eq=False)
class ObjectNode:
    """A nested object grouping other fields (``project: {fields: {...}}``).

    ``presence`` is set when the object is a to-one relation of its own (a relationship
    path or a derived join): the related row's key, NULL exactly when no row links, which
    makes the whole object ``null`` rather than an object of nulls.
    """

    api_path: tuple[str, ...]
    children: tuple[Node, ...]
    description: str | None
    presence: Leaf | None = None

    @property
    def name(self) -> str:
        return ".".join(self.api_path)


@dataclass(frozen=True, eq=False)
class Collected:
    """A grouped item's values over its rows (``{collect: chroot}``): a list of ``value``
    (a column, or a to-one object), or with ``key`` an object of ``value`` by ``key``.
    Both are read from every row of the group; neither is a field of its own."""

    api_path: tuple[str, ...]
    value: Leaf | ObjectNode
    key: Leaf | None
    description: str | None

    @property
    def name(self) -> str:
        return ".".join(self.api_path)

    def __repr__(self) -> str:
        return f"Collected({self.name!r}, keyed={self.key is not None})"


Node = Leaf | ManyField | ObjectNode | Collected


def many_fields(nodes: Sequence[Node]) -> Iterator[ManyField]:
    """The to-many fields among ``nodes``, nested objects' included, in declaration order."""
    for node in nodes:
        if isinstance(node, ManyField):
            yield node
        elif isinstance(node, ObjectNode):
            yield from many_fields(node.children)


def row_leaves(nodes: Sequence[Node]) -> Iterator[Leaf]:
    """The leaves a row selects for ``nodes``: theirs and their objects' (each object's
    presence key first), not the to-many lists'."""
    for node in nodes:
        if isinstance(node, Leaf):
            yield node
        elif isinstance(node, ObjectNode):
            if node.presence is not None:
                yield node.presence
            yield from row_leaves(node.children)
        elif isinstance(node, Collected):
            if node.key is not None:
                yield node.key
            yield from row_leaves([node.value])
