"""Keyset ("seek") predicates: the rows strictly after a given row in the list's order.

The order places NULLs last ascending and first descending on every backend
(``Backend.order_terms``) unless the client chose (``order_by=-a:nulls_last``); each key
says where its NULLs are, and the predicate follows it. Values arrive as bound parameters,
or ``None`` where the row's sort value is NULL: which values are NULL changes the SQL,
so it is part of the statement's shape (``crud.sql.statements``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, false, or_, true
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["SeekKey", "seek_parts", "seek_predicate"]

# (column, descending, nullable, NULLs first in the order)
SeekKey = tuple[ColumnElement[Any], bool, bool, bool]
Value = ColumnElement[Any] | None


def seek_predicate(keys: Sequence[SeekKey], values: Sequence[Value]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``keys``.

    The lexicographic "after" as an OR of ANDs, plus a redundant bound on the first key so
    an index on it serves the seek as a range scan rather than a filter.
    """
    branches = []
    for index, (key, value) in enumerate(zip(keys, values, strict=True)):
        equal_before = [_equal(k[0], v) for k, v in zip(keys[:index], values[:index],
                                                         strict=True)]
        branches.append(and_(*equal_before, _after(key, value)))
    return and_(_bound(keys[0], values[0]), or_(*branches))


def seek_parts(keys: Sequence[SeekKey],
               values: Sequence[Value]) -> list[tuple[ColumnElement[bool], bool]]:
    """The seek as one predicate, or as two disjoint ones to read one after the other.

    After a non-NULL value with NULLs last (or a NULL with NULLs first) the rows that
    follow are a range of values plus the NULL rows: one predicate needs an OR that no index
    range serves, so PostgreSQL would walk the index from its start. Split, each part is a
    range. Each part comes with whether its first key is always NULL (then it needs no
    sorting by that key, which lets an index on the remaining keys serve the order).
    """
    column, descending, nullable, nulls_first = keys[0]
    first = values[0]
    if not nullable or (first is not None) == nulls_first:
        return [(seek_predicate(keys, values), False)]
    rest = seek_predicate(keys[1:], values[1:]) if len(keys) > 1 else false()
    if nulls_first:  # after a NULL: the remaining NULLs, then every value
        return [(and_(column.is_(None), rest), True), (column.is_not(None), False)]
    assert first is not None
    reach = column <= first if descending else column >= first
    beyond = column < first if descending else column > first
    larger = and_(reach, or_(beyond, and_(column == first, rest)))
    return [(larger, False), (column.is_(None), True)]


def splits(keys: Sequence[SeekKey], nulls: Sequence[bool]) -> bool:
    """Whether ``seek_parts`` gives two parts for values NULL where ``nulls`` says."""
    _column, _descending, nullable, nulls_first = keys[0]
    return nullable and (not nulls[0]) != nulls_first


def _equal(column: ColumnElement[Any], value: Value) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _after(key: SeekKey, value: Value) -> ColumnElement[bool]:
    column, descending, nullable, nulls_first = key
    if value is None:
        return column.is_not(None) if nulls_first else false()
    beyond: ColumnElement[bool] = column < value if descending else column > value
    return or_(beyond, column.is_(None)) if nullable and not nulls_first else beyond


def _bound(key: SeekKey, value: Value) -> ColumnElement[bool]:
    column, descending, nullable, nulls_first = key
    if value is None:
        return true() if nulls_first else column.is_(None)
    reach: ColumnElement[bool] = column <= value if descending else column >= value
    return or_(reach, column.is_(None)) if nullable and not nulls_first else reach
