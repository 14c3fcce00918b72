"""Derived joins: a registry-declared select joined to a resource's table on key columns.

Some relations are not relationships of the models: a polymorphic link, or a value several
tables away. A join names a function that returns one SELECT (at most one row per key)
and the columns it matches; fields then read its columns by path (``event.pr_id``), and
every statement that needs them LEFT OUTER JOINs it as a subquery, once for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_
from sqlalchemy.sql import Subquery
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import SelectBase

from crud.config.registry import JoinSpec
from crud.model.coltypes import type_info
from crud.model.issues import hint
from crud.model.sources import Entity, call_with_table, import_object

__all__ = ["DerivedJoin", "bind_joins"]

Report = Callable[[tuple[str | int, ...], str], None]


@dataclass(frozen=True, eq=False)
class DerivedJoin:
    """A to-one step from ``owner`` to the rows of ``select``, matched on ``on`` pairs.

    It is both the step of a field's path and the relation it leads to: fields read the
    select's columns, and each statement role instantiates it with ``subquery(name)``.
    """

    name: str
    owner: Entity
    select: SelectBase
    on: tuple[tuple[str, str], ...]  # (owner's attribute key, the select's column key)

    to_many = False  # at most one row per key: the registry author's promise

    def __repr__(self) -> str:
        pairs = ", ".join(f"{mine}={theirs}" for mine, theirs in self.on)
        return f"DerivedJoin({self.name!r}, on=({pairs}))"

    @property
    def target(self) -> DerivedJoin:
        return self

    @property
    def label(self) -> str:
        return f"join {self.name!r}"

    def column_names(self) -> list[str]:
        return list(self.select.selected_columns.keys())

    def column_key(self, name: str) -> str | None:
        return name if name in self.select.selected_columns else None

    def column(self, key: str) -> ColumnElement[Any]:
        return self.select.selected_columns[key]

    def nullable(self, key: str) -> bool:
        return True  # a row without a match reads NULL from the outer join

    def relationship_names(self) -> list[str]:
        return []

    def attribute(self, key: str, alias: Any = None, *, plain: bool = False) -> ColumnElement[Any]:
        """The column as SQL, on ``alias`` (a ``subquery()`` of this join) when given.
        (Always ``plain``: a select's columns are no mapped attributes.)"""
        column: ColumnElement[Any] = (alias.c if alias is not None
                                      else self.select.selected_columns)[key]
        return column

    def subquery(self, name: str) -> Subquery:
        return self.select.subquery(name)

    def onclause(self, subquery: Subquery) -> ColumnElement[bool]:
        return and_(*(self.owner.attribute(mine) == subquery.c[theirs]
                      for mine, theirs in self.on))


def bind_joins(specs: dict[str, JoinSpec], entity: Entity, report: Report) -> dict[str, DerivedJoin]:
    """The joins that bound; each problem of the others goes to ``report``."""
    joins = {}
    for name, spec in specs.items():
        join = _bind_join(name, spec, entity, _Counting(report, ("joins", name)))
        if join is not None:
            joins[name] = join
    return joins


class _Counting:
    """Reports under one join's location and remembers whether anything was wrong."""

    def __init__(self, report: Report, where: tuple[str | int, ...]) -> None:
        self.report = report
        self.where = where
        self.failed = False

    def __call__(self, location: tuple[str | int, ...], message: str) -> None:
        self.failed = True
        self.report((*self.where, *location), message)


def _bind_join(name: str, spec: JoinSpec, entity: Entity, report: _Counting) -> DerivedJoin | None:
    if name in entity.relationship_names():
        report((), f"{name!r} is a relationship of {entity.label} already; name the join "
                   "differently (paths through the relationship need no join)")
        return None
    select = _load_select(spec.select, entity, report)
    if select is None:
        return None
    for problem in _unnamed_columns(select):
        report(("select",), problem)
    pairs = [_bind_pair(mine, theirs, entity, select, report) for mine, theirs in spec.on.items()]
    if report.failed:
        return None
    return DerivedJoin(name=name, owner=entity, select=select,
                       on=tuple(pair for pair in pairs if pair is not None))


def _load_select(reference: str, entity: Entity, report: _Counting) -> SelectBase | None:
    try:
        select = call_with_table(import_object(reference), entity.table)
    except ValueError as error:  # import_object's own message, with the module's names
        message = str(error.args[0]) if error.args else "cannot import"
        if len(error.args) > 1:
            message += hint(reference.partition(":")[2], error.args[1])
        report(("select",), message)
        return None
    except Exception as error:  # the user's function: report, never crash startup
        report(("select",), f"{reference!r} raised {type(error).__name__}: {error}")
        return None
    if not isinstance(select, SelectBase):
        report(("select",), f"returned {type(select).__name__}, expected a SQLAlchemy "
                            f"select(...){_not_a_select_hint(select)}")
        return None
    return select


def _not_a_select_hint(value: Any) -> str:
    if isinstance(value, Subquery):
        return " (return the select itself: each statement makes its own subquery of it)"
    if isinstance(value, ColumnElement):
        return " of whole rows (a column expression belongs in an expression field)"
    return ""


def _unnamed_columns(select: SelectBase) -> Iterator[str]:
    # Fields and 'on' name the select's columns; a subquery renames what has no name of its
    # own (an unlabelled function, a second 'id'), so such a column could not be read back.
    columns = select.selected_columns
    read_back = select.subquery().c
    for index, (key, own, column) in enumerate(zip(columns.keys(), columns, read_back,
                                                   strict=True)):
        if column.key == key and column.name == key:
            continue
        what = "unnamed"
        if isinstance(own.key, str) and own.key in columns.keys()[:index]:
            what = f"a second column named {own.key!r}"
        yield f"column {index + 1} of the select is {what}; name it with .label('...')"


def _bind_pair(mine: str, theirs: str, entity: Entity, select: SelectBase,
               report: _Counting) -> tuple[str, str] | None:
    key = entity.column_key(mine)
    columns = select.selected_columns
    if key is None:
        report(("on", mine), f"{entity.label} has no column {mine!r}"
                             f"{hint(mine, entity.column_names())}")
    if theirs not in columns:
        report(("on", mine), f"the select has no column {theirs!r}"
                             f"{hint(theirs, list(columns.keys()))}")
    if key is None or theirs not in columns:
        return None
    mismatch = _kind_mismatch(entity.column(key).type, columns[theirs].type)
    if mismatch:
        report(("on", mine), f"{mine!r} is {mismatch[0]} but the select's {theirs!r} is "
                             f"{mismatch[1]}: the join compares them (cast one, e.g. "
                             "sqlalchemy.cast(column, Integer))")
        return None
    return key, theirs


def _kind_mismatch(mine: Any, theirs: Any) -> tuple[str, str] | None:
    # Mismatched keys work on SQLite and fail on PostgreSQL at the first request; say so now.
    ours, other = type_info(mine), type_info(theirs)
    if ours is None or other is None or ours.kind == other.kind:
        return None
    if {ours.kind, other.kind} <= {"integer", "number"}:
        return None
    return ours.kind, other.kind
