"""Keyset ("seek") predicates: the rows strictly after a given row in the list's order.

The order places NULLs last ascending and first descending on every backend
(``Backend.order_terms``), so the predicate does too. Values arrive as bound parameters,
or ``None`` where the row's sort value is NULL: which values are NULL changes the SQL,
so it is part of the statement's shape (``crud.sql.statements``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, false, or_, true
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["SeekKey", "seek_parts", "seek_predicate"]

# (column, descending, nullable)
SeekKey = tuple[ColumnElement[Any], bool, bool]
Value = ColumnElement[Any] | None


def seek_predicate(keys: Sequence[SeekKey], values: Sequence[Value]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``keys``.

    The lexicographic "after" as an OR of ANDs, plus a redundant bound on the first key so
    an index on it serves the seek as a range scan rather than a filter.
    """
    branches = []
    for index, ((column, descending, nullable), value) in enumerate(zip(keys, values, strict=True)):
        equal_before = [_equal(c, v) for (c, _d, _n), v in zip(keys[:index], values[:index],
                                                                strict=True)]
        branches.append(and_(*equal_before, _after(column, value, descending, nullable)))
    first_column, first_descending, first_nullable = keys[0]
    return and_(_bound(first_column, values[0], first_descending, first_nullable), or_(*branches))


def seek_parts(keys: Sequence[SeekKey],
               values: Sequence[Value]) -> list[tuple[ColumnElement[bool], bool]]:
    """The seek as one predicate, or as two disjoint ones to read one after the other.

    After a non-NULL value ascending (or a NULL descending) the rows that follow are a
    range of values plus the NULL rows: one predicate needs an OR that no index range
    serves, so PostgreSQL would walk the index from its start. Split, each part is a range.
    Each part comes with whether its first key is always NULL (then it needs no sorting
    by that key, which lets an index on the remaining keys serve the order).
    """
    column, descending, nullable = keys[0]
    first = values[0]
    if not nullable or (first is not None) == descending:
        return [(seek_predicate(keys, values), False)]
    rest = seek_predicate(keys[1:], values[1:]) if len(keys) > 1 else false()
    if descending:  # after a NULL: the remaining NULLs, then every value
        return [(and_(column.is_(None), rest), True), (column.is_not(None), False)]
    assert first is not None
    larger = and_(column >= first, or_(column > first, and_(column == first, rest)))
    return [(larger, False), (column.is_(None), True)]


def splits(keys: Sequence[SeekKey], nulls: Sequence[bool]) -> bool:
    """Whether ``seek_parts`` gives two parts for values NULL where ``nulls`` says."""
    _column, descending, nullable = keys[0]
    return nullable and (not nulls[0]) != descending


def _equal(column: ColumnElement[Any], value: Value) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _after(column: ColumnElement[Any], value: Value, descending: bool,
           nullable: bool) -> ColumnElement[bool]:
    if value is None:
        return column.is_not(None) if descending else false()
    beyond: ColumnElement[bool] = column < value if descending else column > value
    return or_(beyond, column.is_(None)) if nullable and not descending else beyond


def _bound(column: ColumnElement[Any], value: Value, descending: bool,
           nullable: bool) -> ColumnElement[bool]:
    if value is None:
        return true() if descending else column.is_(None)
    reach: ColumnElement[bool] = column <= value if descending else column >= value
    return or_(reach, column.is_(None)) if nullable and not descending else reach
