"""The joins one statement role needs for its to-one paths, aliased once at startup.

A leaf reached through ``build.pr.project`` is read from an alias of each hop's table (or
of a derived join's subquery); ``Joins`` creates those aliases once per resource and role
(filtering, display) and adds to a statement only the joins its leaves need.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, type_coerce
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from crud.model.fields import Leaf, Step
from crud.model.joins import DerivedJoin
from crud.model.resource import Resource
from crud.model.sources import Entity
from crud.sql.backends import Backend

__all__ = ["Joins", "stored_column"]


def stored_column(target: Entity | DerivedJoin, leaf: Leaf, alias: Any = None) -> ColumnElement[Any]:
    """``leaf``'s column of ``target`` (on ``alias``), typed as the registry declared it
    where SQLAlchemy has no operators for the column's own type (``Leaf.coerced``)."""
    assert leaf.column_key is not None
    column = target.attribute(leaf.column_key, alias, plain=leaf.coerced)
    return type_coerce(column, leaf.sql_type) if leaf.coerced else column


class Joins:
    """Aliases for the to-one paths of one statement role, created once at startup."""

    def __init__(self, resource: Resource, leaves: Iterable[Leaf],
                 backend: Backend | None = None) -> None:
        self.resource = resource
        self.backend = backend
        self.aliases: dict[tuple[str, ...], Any] = {}
        self.onclauses: dict[tuple[str, ...], Any] = {}
        for leaf in leaves:
            if not leaf.to_many and leaf.hops:
                self._alias_for(leaf.hops)

    def _alias_for(self, hops: tuple[Step, ...]) -> Any:
        path = tuple(hop.name for hop in hops)
        if path not in self.aliases:
            parent = self._alias_for(hops[:-1]) if len(hops) > 1 else self.resource.entity.selectable
            alias, self.onclauses[path] = self._join(parent, hops[-1], f"j{len(self.aliases)}")
            self.aliases[path] = alias
        return self.aliases[path]

    @staticmethod
    def _join(parent: Any, hop: Step, name: str) -> tuple[Any, tuple[Any, ...]]:
        """A new alias for ``hop`` and the ``outerjoin()`` arguments that reach it from ``parent``."""
        if isinstance(hop, DerivedJoin):  # a subquery of its select, as aliased() is of a class
            subquery = hop.subquery(name)
            return subquery, (subquery, hop.onclause(subquery))
        alias = aliased(hop.target.mapped_class, name=name)  # type: ignore[arg-type]
        return alias, (getattr(parent, hop.name).of_type(alias),)

    def column(self, leaf: Leaf) -> ColumnElement[Any]:
        if leaf.expression is not None:
            return leaf.expression
        column = self._stored(leaf)
        if leaf.json_path:
            assert self.backend is not None, "JSON paths are extracted by a backend"
            return self.backend.json_extract(column, leaf.json_path, leaf.sql_type)
        return column

    def _stored(self, leaf: Leaf) -> ColumnElement[Any]:
        if not leaf.hops:
            return stored_column(self.resource.entity, leaf)
        target = leaf.hops[-1].target
        if leaf.to_many:  # used inside EXISTS, on the relationship's own table
            return stored_column(target, leaf)
        return stored_column(target, leaf, self.aliases[leaf.entity_path])

    def apply(self, statement: Select[Any], leaves: Iterable[Leaf]) -> Select[Any]:
        needed: set[tuple[str, ...]] = set()
        for leaf in leaves:
            if not leaf.to_many:
                path = leaf.entity_path
                needed.update(path[:end] for end in range(1, len(path) + 1))
        # Insertion order of onclauses already puts every prefix before its extensions.
        for path, join in self.onclauses.items():
            if path in needed:
                statement = statement.outerjoin(*join)
        return statement
