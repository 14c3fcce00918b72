"""The page cut of a grouped resource (``group_by:``): groups of the selected rows, not rows.

A page's keys are group keys: a group is selected when any of its rows matches the
filters, and the page statement (``crud.sql.statements``) then joins every row of each
group. Rows whose key is NULL belong to no group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.sql.elements import ColumnElement

from crud.model.fields import Leaf
from crud.sql.backends import integer_parameter
from crud.sql.criteria import Criteria
from crud.sql.requests import OrderItem, PageRequest
from crud.sql.seek import seek_predicate

__all__ = ["GroupCut"]

ColumnOf = Callable[[Leaf], ColumnElement[Any]]
OrderTerms = Callable[[Sequence[OrderItem], ColumnOf], list[ColumnElement[Any]]]


class GroupCut:
    """Sorts and cuts the groups of one grouped resource."""

    def __init__(self, key: ColumnElement[Any], group_leaf: Leaf, criteria: Criteria,
                 sort_column: ColumnOf, order_terms: OrderTerms) -> None:
        self.key = key
        self.group_leaf = group_leaf
        self.criteria = criteria
        self.sort_column = sort_column
        self.order_terms = order_terms

    def __repr__(self) -> str:
        return f"GroupCut({self.group_leaf.name!r})"

    def distinct(self, rows: Select[Any]) -> Select[Any]:
        """The distinct group keys of ``rows`` (a NULL key belongs to no group)."""
        return rows.where(self.key.is_not(None)).distinct()

    def keys(self, request: PageRequest, criteria: list[ColumnElement[bool]],
             leaves: list[Leaf]) -> Select[Any]:
        """A page's group keys (``pk0``) and sort values (``k0``...), sorted and cut.

        A group sorts by its key (an index on it serves the order, the seek and the
        grouping at once), or by its first row's primary key, ``min()``, the value its
        item shows: that aggregates every selected group, and the seek compares the
        aggregates, outside."""
        order = request.order
        sorts = [self.sort_column(item.leaf) for item, _ in order]
        columns = [self.key.label("pk0"), *(
            (column if item.leaf is self.group_leaf else func.min(column)).label(f"k{index}")
            for index, (column, (item, _)) in enumerate(zip(sorts, order, strict=True)))]
        rows = self.criteria.filtered(
            select(*columns), criteria, [*leaves, *(item.leaf for item, _ in order)]
        ).where(self.key.is_not(None))
        if all(item.leaf is self.group_leaf for item, _ in order):
            statement = self._by_key(request, rows, sorts)
        else:
            statement = self._by_aggregate(request, rows, sorts)
        statement = statement.limit(integer_parameter("limit"))
        return statement if request.after is not None else statement.offset(
            integer_parameter("offset"))

    def _by_key(self, request: PageRequest, rows: Select[Any],
                sorts: list[ColumnElement[Any]]) -> Select[Any]:
        # The rows' own column: seek and sort it before grouping.
        if request.after is not None:
            rows = rows.where(_seek(request, sorts))
        return rows.group_by(self.key, *sorts).order_by(
            *self.order_terms(request.order, self.sort_column))

    def _by_aggregate(self, request: PageRequest, rows: Select[Any],
                      sorts: list[ColumnElement[Any]]) -> Select[Any]:
        order = request.order
        plain = [column for column, (item, _) in zip(sorts, order, strict=True)
                 if item.leaf is self.group_leaf]
        groups = rows.group_by(self.key, *plain).subquery("groups")
        columns = [groups.c[f"k{index}"] for index in range(len(order))]
        statement = select(*groups.c)
        if request.after is not None:
            statement = statement.where(_seek(request, columns))
        positions = {id(item.leaf): index for index, (item, _) in enumerate(order)}
        return statement.order_by(*self.order_terms(
            order, lambda leaf: columns[positions[id(leaf)]]))


def _seek(request: PageRequest, columns: Sequence[ColumnElement[Any]]) -> ColumnElement[bool]:
    """The groups after the cursor's, by ``columns`` (one per sort key)."""
    assert request.after is not None
    keys = [(column, descending, item.leaf.nullable, item.nulls_lead(descending))
            for column, (item, descending) in zip(columns, request.order, strict=True)]
    values = [None if value is None else bindparam(f"s{index}", type_=keys[index][0].type)
              for index, value in enumerate(request.after)]
    return seek_predicate(keys, values)
