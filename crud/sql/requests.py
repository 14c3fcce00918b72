"""What one request asks of a resource's rows, as the statement builders read it.

The HTTP steps parse query parameters into these (``crud.http.steps``); the builders in
``crud.sql.statements``, ``crud.sql.facets``, ``crud.sql.aggregates`` and ``crud.sql.exports``
turn them into SQL. Nothing here touches a database or a request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from crud.model.resource import FilterParam, SortKey
from crud.model.shapes import Shape
from crud.sql.counting import InlineCount

__all__ = ["Filter", "Group", "OrderItem", "PageRequest", "Selection", "Values"]

OrderItem = tuple[SortKey, bool]  # (key, descending)
Values = dict[str, Any]  # a statement's bound parameters by name


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter of a request: ``status__in=success,failure`` as its parameter and value."""

    param: FilterParam
    value: Any


@dataclass(frozen=True, slots=True)
class Group:
    """``or=(...)`` / ``and=(...)``: filters and nested groups joined by OR or AND."""

    kind: Literal["and", "or"]
    terms: tuple[Filter | Group, ...]

    def filters(self) -> Iterator[Filter]:
        """Its filters, depth first: the order their parameters are numbered in."""
        for term in self.terms:
            if isinstance(term, Group):
                yield from term.filters()
            else:
                yield term


@dataclass(frozen=True, slots=True)
class Selection:
    """Which rows a request selects: its filters and groups (ANDed) and its search text."""

    filters: tuple[Filter, ...] = ()
    search: str | None = None
    groups: tuple[Group, ...] = ()

    @property
    def everything(self) -> bool:
        return not self.filters and not self.groups and self.search is None

    def all_filters(self) -> list[Filter]:
        """The plain filters, then every group's: ``f0``, ``f1``... bind in this order."""
        return [*self.filters, *(item for group in self.groups for item in group.filters())]


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One page: the rows selected, their order (ending in the primary key) and the cut."""

    selection: Selection
    order: tuple[OrderItem, ...]
    limit: int
    offset: int = 0
    after: tuple[Any, ...] | None = None  # the sort values of the row before the page
    count: InlineCount | None = None
    shape: Shape | None = None  # which fields and embeds (None: the resource's default)
