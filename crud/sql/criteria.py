"""The WHERE of a resource's statements: a request's filters, boolean groups and search.

Every statement that reads a selection of rows (a page, its count, a facet, an aggregate,
an export's chunk) takes its criteria from here, so a filter means the same everywhere.
Filter values bind as ``f0``, ``f1``... in ``Selection.all_filters()`` order and the search
text as ``q``; what the values do not decide (which filters, a list's length where the
backend cannot bind arrays, a pattern's escape) is the selection's shape.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Select, String, and_, bindparam, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from crud.model.fields import Leaf
from crud.model.operators import LIKE_ESCAPE, LIKE_SHAPES, LIST_SHAPES, Pattern, escape_like
from crud.model.resource import Resource
from crud.sql.aliases import Joins
from crud.sql.backends import Backend
from crud.sql.requests import Filter, Group, Selection, Values
from crud.sql.textsearch import TextSearch

__all__ = ["Criteria", "exists_along", "search_parameter"]


class Criteria:
    """A selection's criteria, shape and bound values for one resource's statements."""

    def __init__(self, resource: Resource, backend: Backend, joins: Joins,
                 text_search: TextSearch | None) -> None:
        self.resource = resource
        self.backend = backend
        self.joins = joins
        self.text_search = text_search  # None: search is a substring match

    def selected(self, statement: Select[Any], selection: Selection,
                 leaves: Iterable[Leaf] = ()) -> Select[Any]:
        """``statement`` over the rows ``selection`` selects, joined for ``leaves`` too."""
        criteria, used = self.of(selection)
        return self.filtered(statement, criteria, [*used, *leaves])

    def of(self, selection: Selection) -> tuple[list[ColumnElement[bool]], list[Leaf]]:
        """The criteria ``selection`` ANDs, and the leaves they read (to join for)."""
        names = (f"f{index}" for index in itertools.count())
        criteria = [self._filter_criterion(next(names), item) for item in selection.filters]
        criteria += [self._group_criterion(group, names) for group in selection.groups]
        # A to-one path of any term is LEFT OUTER JOINed: a missing row fails that term
        # alone (its column is NULL), never the other terms of an OR.
        leaves = [item.param.leaf for item in selection.all_filters()]
        if selection.search is not None:
            criteria.append(self._search_criterion())
            leaves.extend(self.resource.search)
        return criteria, leaves

    def filtered(self, statement: Select[Any], criteria: Sequence[ColumnElement[bool]],
                 leaves: Iterable[Leaf]) -> Select[Any]:
        """``statement`` from the base table, joined for ``leaves``, where ``criteria``."""
        statement = statement.select_from(self.resource.entity.selectable)
        statement = self.joins.apply(statement, leaves)
        return statement.where(*criteria) if criteria else statement

    def comparable(self, leaf: Leaf) -> ColumnElement[Any]:
        """A leaf's SQL on the filter joins, as the backend compares it."""
        return self.backend.comparable(self.joins.column(leaf))

    def shape(self, selection: Selection) -> Hashable:
        """What of ``selection`` decides its SQL (part of a compiled statement's key)."""
        filters = tuple((item.param.name, self._variant(item)) for item in selection.filters)
        groups = tuple(self._group_shape(group) for group in selection.groups)
        return filters, selection.search is not None, groups

    def values(self, selection: Selection) -> Values:
        """The bound parameters of ``selection``'s criteria."""
        values: Values = {}
        for index, item in enumerate(selection.all_filters()):
            name, operator = f"f{index}", item.param.operator
            if operator.shape in LIST_SHAPES:
                values.update(self.backend.list_values(
                    name, [operator.bind(value) for value in item.value]))
            elif operator.shape == "pattern":
                assert isinstance(item.value, Pattern)
                values[name] = item.value.text
            elif operator.shape != "flag":
                values[name] = operator.bind(item.value)
        if selection.search is not None and self.text_search is not None:
            values["q"] = self.backend.search_text(selection.search)
        elif selection.search is not None:
            values["q"] = f"%{escape_like(selection.search)}%"
        return values

    def _group_shape(self, group: Group) -> Hashable:
        return group.kind, tuple(self._group_shape(term) if isinstance(term, Group)
                                 else (term.param.name, self._variant(term))
                                 for term in group.terms)

    def _variant(self, item: Filter) -> Hashable:
        shape = item.param.operator.shape
        if shape in LIST_SHAPES:
            return None if self.backend.binds_arrays else len(item.value)
        if shape == "pattern":
            return item.value.escape  # type: ignore[no-any-return]
        if shape == "flag":
            return bool(item.value)
        return None

    def _filter_criterion(self, name: str, item: Filter) -> ColumnElement[bool]:
        leaf, operator = item.param.leaf, item.param.operator
        # LIKE reads a text as served (a CHAR(n) without its pad); the others compare values.
        column = (self.backend.unpadded(self.joins.column(leaf)) if operator.shape in LIKE_SHAPES
                  else self.comparable(leaf))
        criterion = operator.compare(column, _BoundTerm(name, column, self._variant(item),
                                                        self.backend))
        if leaf.to_many:
            criterion = exists_along(self.resource, leaf, criterion)
        # Grouped first: negating ``x = ANY(...)`` itself would give ``x != ANY(...)``.
        return not_(criterion.self_group()) if operator.negates(item.value) else criterion

    def _group_criterion(self, group: Group, names: Iterator[str]) -> ColumnElement[bool]:
        parts = [self._group_criterion(term, names) if isinstance(term, Group)
                 else self._filter_criterion(next(names), term) for term in group.terms]
        return or_(*parts) if group.kind == "or" else and_(*parts)

    def _search_criterion(self) -> ColumnElement[bool]:
        if self.text_search is not None:
            return self.backend.search_match(self.text_search, search_parameter())
        terms = []
        for leaf in self.resource.search:
            term = self.backend.unpadded(self.joins.column(leaf)).ilike(bindparam("q"),
                                                                       escape=LIKE_ESCAPE)
            terms.append(exists_along(self.resource, leaf, term) if leaf.to_many else term)
        return or_(*terms)


class _BoundTerm:
    """A filter's bound parameter(s) in one statement: what an operator row compares with."""

    def __init__(self, name: str, column: ColumnElement[Any], variant: Hashable,
                 backend: Backend) -> None:
        self.name = name
        self.column = column
        self.variant = variant
        self.backend = backend

    @property
    def parameter(self) -> ColumnElement[Any]:
        return bindparam(self.name, type_=self.column.type)

    def in_list(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        return self.backend.in_list(column, self.name, self._count)

    def exact_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return self.backend.exact_text(column)

    def array_contains(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        return self.backend.array_contains(column, self.name, self._count)

    def array_overlaps(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        return self.backend.array_overlaps(column, self.name, self._count)

    @property
    def _count(self) -> int:
        return self.variant if isinstance(self.variant, int) else 0  # arrays need no count


def exists_along(resource: Resource, leaf: Leaf,
                 criterion: ColumnElement[bool]) -> ColumnElement[bool]:
    """``criterion`` on the leaf's table, wrapped in has()/any() back to the base table."""
    clause: ColumnElement[bool] = criterion
    for hop in reversed(leaf.hops):
        attribute = getattr(hop.owner.mapped_class, hop.name)
        clause = attribute.any(clause) if hop.to_many else attribute.has(clause)
    return clause


def search_parameter() -> ColumnElement[Any]:
    """The search text's bound parameter, typed as text for the backends' search functions."""
    return bindparam("q", type_=String())
