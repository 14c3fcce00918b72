"""The SQL a resource serves, built from a request's shape and compiled once per shape.

A page keeps deep pages cheap: filters, search, sort and the cut (LIMIT/OFFSET, or the
seek after a cursor) run on the base table with only the joins they need; the page's keys
become a CTE; only then are the display joins and expression fields added, for the page's
rows alone. The total rides in the same statement (``crud.sql.counting``), so a counted
list is one round trip.

Every value a request brings is a bound parameter with a fixed name (``f0`` for the first
filter, ``q`` for search, ``s0`` for the first seek value, ``limit``, ``offset``); what the
values do not decide about the SQL is the statement's *shape*, the key it is compiled
under (``crud.sql.compiled``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from crud.model.fields import Leaf, ManyField, Node, ObjectNode, row_leaves
from crud.model.resource import Resource, SortKey
from crud.model.shapes import SHAPE_CACHE_SIZE, Lru, Shape
from crud.sql.aliases import Joins, stored_column
from crud.sql.backends import Backend, integer_parameter, sortable
from crud.sql.compiled import CompiledStatement, StatementCache, passes_through
from crud.sql.counting import Explain, InlineCount, count_columns
from crud.sql.criteria import Criteria, search_parameter
from crud.sql.grouping import GroupCut
from crud.sql.requests import OrderItem, PageRequest, Selection, Values
from crud.sql.seek import SeekKey, seek_parts, seek_predicate, splits
from crud.sql.textsearch import text_search_of

__all__ = ["Layout", "Statements"]


@dataclass(frozen=True, slots=True)
class Layout:
    """How the rows of one shape are selected: their leaves, and by which statement form.

    ``flat``: every leaf is a column of the base table, so the page cut's rows are the
    page's rows (no display join). ``writable``: the database can write each item's text
    as orjson would; ``json``: a page's items are written so.
    """

    leaves: tuple[Leaf, ...]
    flat: bool
    json: bool
    writable: bool


class Statements:
    """Every statement one resource serves, compiled once per shape; one per resource."""

    def __init__(self, resource: Resource, backend: Backend, *, json_rows: bool = False,
                 json_detail: bool = False) -> None:
        """``json_rows``: pages of items the database writes, where it can; ``json_detail``:
        the same for the single row of a detail."""
        self.resource = resource
        self.backend = backend
        self.allows_json = json_rows
        self.allows_json_detail = json_detail
        self.filter_joins = Joins(resource, resource.leaves.values(), backend)
        # Embedded to-one relations are displayed (when asked) but never filtered on.
        embedded = list(row_leaves([node for node in resource.embeds
                                    if isinstance(node, ObjectNode)]))
        self.display_joins = Joins(resource, [*resource.row_leaves, *embedded], backend)
        self.pk_columns = [self.filter_joins.column(leaf) for leaf in resource.primary_key]
        # A grouped resource's key is its group column; its rows are ordered by the
        # table's own key within a group (the order collected values keep).
        self.grouped = resource.group_key is not None
        self.row_order = ([resource.entity.attribute(key) for key in resource.entity.primary_key()]
                          if self.grouped else [])
        self.layouts: Lru[Any, Layout] = Lru(SHAPE_CACHE_SIZE)
        # Where a page row holds its sort values, by shape and sort keys.
        self.positions: Lru[Any, list[int]] = Lru(SHAPE_CACHE_SIZE)
        self.full = self._layout_of(resource.row_leaves, resource.nodes)
        self.flat = self.full.flat
        self.json_rows = self.full.json
        self.cache = StatementCache(backend.dialect)
        self.detail = CompiledStatement(self._detail_statement(self.full), backend.dialect)
        # A ranked search matches and ranks in the backend's own SQL (crud.sql.textsearch).
        text_search = text_search_of(resource)
        self.criteria = Criteria(resource, backend, self.filter_joins, text_search)
        self.rank_leaf = resource.rank.leaf if resource.rank is not None else None
        self.rank: ColumnElement[Any] | None = None
        if text_search is not None:
            self.rank = backend.search_rank(text_search, search_parameter())
        self.group_cut = (None if resource.group_key is None else GroupCut(
            self.pk_columns[0], resource.group_key, self.criteria, self.sort_column,
            self._order_terms))

    def layout(self, shape: Shape | None) -> Layout:
        """How ``shape``'s rows are selected (None: the resource's every field)."""
        if shape is None or shape.key is None:
            return self.full
        return self.layouts.get(shape.key, lambda: self._layout_of(shape.row_leaves, shape.nodes))

    def detail_json(self, shape: Shape | None) -> bool:
        """Whether a detail of ``shape`` reads its item as the database's text."""
        return self._detail_writes(self.layout(shape))

    def _detail_writes(self, layout: Layout) -> bool:
        return self.allows_json_detail and layout.writable

    def _layout_of(self, leaves: tuple[Leaf, ...], nodes: Sequence[Node]) -> Layout:
        # A shape of plain base columns needs no display join: its keys are its rows.
        # A grouped page's keys are groups: each joins its rows.
        flat = not self.grouped and all(not leaf.hops and leaf.expression is None
                                        for leaf in leaves)
        # Items written by the database (one JSON text per row) where it spells every field
        # as orjson would: no float, JSON or time fields, no nesting, no to-many lists.
        writable = (self.backend.renders_json and not self.grouped
                and all(isinstance(node, Leaf) for node in nodes) and len(leaves) == len(nodes)
                and all(
                    (leaf.info.kind != "enum" or passes_through(leaf.sql_type))
                    and self.backend.json_value(self.display_joins.column(leaf),
                                                leaf.info.kind,
                                                local_time=leaf.local_time) is not None
                    for leaf in leaves))
        return Layout(leaves, flat, self.allows_json and writable, writable)

    def leading(self, request: PageRequest) -> int:
        """How many columns of a page row come before its count columns."""
        layout = self.layout(request.shape)
        if layout.json:
            return 1 + len(request.order)
        return len(layout.leaves) + len(_extra_sort_leaves(layout, request.order))

    def ranked(self, order: Sequence[OrderItem]) -> bool:
        """Whether ``order`` sorts by relevance (a sort value that no field holds)."""
        return self.rank_leaf is not None and any(key.leaf is self.rank_leaf for key, _ in order)

    def _flat(self, order: Sequence[OrderItem], layout: Layout) -> bool:
        # The rank is no column of the row: a ranked page goes through the keys' CTE.
        return layout.flat and not self.ranked(order)

    def sort_column(self, leaf: Leaf) -> ColumnElement[Any]:
        """A sort key's SQL on the filter joins, comparable as the backend compares it (the
        rank is the backend's expression)."""
        if leaf is self.rank_leaf:
            assert self.rank is not None
            return self.rank
        return self.criteria.comparable(leaf)

    def sort_positions(self, request: PageRequest) -> list[int]:
        """Where a page row holds each sort value (for the cursor after the last row)."""
        layout = self.layout(request.shape)
        if layout.json:  # the item's text, then the sort values
            return list(range(1, 1 + len(request.order)))
        key = (None if request.shape is None else request.shape.key,
               tuple(key.name for key, _ in request.order))
        return self.positions.get(key, lambda: self._positions(layout, request.order))

    @staticmethod
    def _positions(layout: Layout, order: Sequence[OrderItem]) -> list[int]:
        positions = {id(leaf): index for index, leaf in enumerate(layout.leaves)}
        for leaf in _extra_sort_leaves(layout, order):
            positions[id(leaf)] = len(positions)
        return [positions[id(key.leaf)] for key, _ in order]

    def _json_item(self, column_of: Callable[[Leaf], ColumnElement[Any]],
                   layout: Layout) -> ColumnElement[Any]:
        values = []
        for leaf in layout.leaves:
            value = self.backend.json_value(column_of(leaf), leaf.info.kind,
                                            local_time=leaf.local_time)
            assert value is not None  # checked by _renders_json
            values.append(value.label(leaf.api_path[-1]))
        return self.backend.json_row(values).label("crud_json")

    def __repr__(self) -> str:
        return f"Statements({self.resource.name!r}, {self.backend!r}, {self.cache!r})"

    # -- pages -------------------------------------------------------------------------------

    def page(self, request: PageRequest) -> tuple[CompiledStatement, Values]:
        """The page statement for ``request`` (its row columns, then the count columns)."""
        shape = ("page", self.criteria.shape(request.selection),
                 tuple((key.name + key.placement, descending)
                       for key, descending in request.order),
                 None if request.after is None else tuple(value is None for value in request.after),
                 request.count, None if request.shape is None else request.shape.key)
        compiled = self.cache.get(shape, lambda: self._page_statement(request))
        values = self.criteria.values(request.selection)
        values["limit"] = request.limit
        if request.after is None:
            values["offset"] = request.offset
        else:
            values.update(self._seek_values(request))
        return compiled, values

    def _page_statement(self, request: PageRequest) -> Select[Any]:
        layout = self.layout(request.shape)
        criteria, leaves = self.criteria.of(request.selection)
        keys = self._keys(request, criteria, leaves, layout)
        flat = self._flat(request.order, layout)
        if request.count is None and flat and not layout.json:
            return keys
        page = keys.cte("page")
        key_column = self._key_column(page, request.order, flat)
        outer = select().select_from(page)
        display = key_column  # flat: the page's own columns are the row's
        if not flat:
            on = and_(*(column == page.c[f"pk{index}"]
                        for index, column in enumerate(self.pk_columns)))
            outer = self.display_joins.apply(outer.join(self.resource.entity.selectable, on),
                                             layout.leaves)
            display = self.display_joins.column
        if layout.json:  # the item's text, then the sort values its cursor needs
            outer = outer.add_columns(self._json_item(display, layout),
                                      *(key_column(key.leaf) for key, _ in request.order))
        else:  # the row's leaves, then sort values no returned field holds
            outer = outer.add_columns(
                *(display(leaf).label(leaf.label) for leaf in layout.leaves),
                *(key_column(leaf) for leaf in _extra_sort_leaves(layout, request.order)))
        if request.count is not None:
            outer = outer.add_columns(*self._count_columns(request.count, request.selection,
                                                           criteria, leaves, page))
        return outer.order_by(*self._order_terms(request.order,
                                                 self._sort_column(page, request.order, flat)),
                              *self.row_order)

    # -- counts ------------------------------------------------------------------------------

    def count(self, selection: Selection, count: InlineCount) -> tuple[CompiledStatement, Values]:
        """The total alone (for an empty page past the end, or a count under its own budget)."""
        def build() -> Select[Any]:
            criteria, leaves = self.criteria.of(selection)
            return select(*self._count_columns(count, selection, criteria, leaves))

        compiled = self.cache.get(("count", self.criteria.shape(selection), count), build)
        return compiled, self.criteria.values(selection)

    def explain(self, selection: Selection) -> tuple[CompiledStatement, Values]:
        """``EXPLAIN`` of the selected rows: the planner's row estimate, nothing scanned."""
        def build() -> Any:
            criteria, leaves = self.criteria.of(selection)
            prefix = self.backend.explain_prefix
            assert prefix is not None  # asked only of backends with a plan estimate
            return Explain(self.criteria.filtered(select(literal_column("1")), criteria, leaves),
                           prefix)

        compiled = self.cache.get(("explain", self.criteria.shape(selection)), build)
        return compiled, self.criteria.values(selection)

    def _count_columns(self, count: InlineCount, selection: Selection,
                       criteria: list[ColumnElement[bool]], leaves: list[Leaf],
                       page: Any = None) -> list[ColumnElement[Any]]:
        rows = self.criteria.filtered(select(), criteria, leaves)
        if self.grouped:  # the total counts groups: the distinct keys of the selected rows
            assert self.group_cut is not None
            groups = self.group_cut.distinct(rows.add_columns(self.pk_columns[0].label("pk0")))
            return count_columns(count, select().select_from(groups.subquery("groups")),
                                 everything=False, estimate=None, page=page)
        return count_columns(count, rows,
                             everything=selection.everything,
                             estimate=self.backend.table_estimate(self.resource.entity.table),
                             page=page)

    # -- the cut -----------------------------------------------------------------------------

    def _keys(self, request: PageRequest, criteria: list[ColumnElement[bool]],
              leaves: list[Leaf], layout: Layout) -> Select[Any]:
        """The page cut on the base table: its rows' keys (or, when flat, the rows)."""
        order = request.order
        if self.group_cut is not None:
            return self.group_cut.keys(request, criteria, leaves)
        if request.after is None:
            return self._cut(order, order, criteria, leaves, layout).offset(
                integer_parameter("offset"))
        seek_keys = [self._seek_key(key, descending) for key, descending in order]
        values = [None if value is None else bindparam(f"s{index}", type_=seek_keys[index][0].type)
                  for index, value in enumerate(request.after)]
        leaves = [*leaves, *(key.leaf for key, _ in order if key.leaf is not self.rank_leaf)]
        if not (self.backend.splits_seeks and splits(seek_keys, [v is None for v in values])):
            return self._cut(order, order, [*criteria, seek_predicate(seek_keys, values)],
                             leaves, layout)
        # Two index ranges read one after the other; a part whose first key is always NULL
        # needs no sorting by it, which lets an index on the remaining keys serve the order.
        parts = [self._cut(order, order[1:] if first_is_null else order, [*criteria, seek],
                           leaves, layout).subquery()
                 for seek, first_is_null in seek_parts(seek_keys, values)]
        both = union_all(*(select(part) for part in parts)).subquery("parts")
        return (select(*both.c)
                .order_by(*self._order_terms(order, self._sort_column(
                    both, order, self._flat(order, layout))))
                .limit(integer_parameter("limit")))

    def _cut(self, order: Sequence[OrderItem], sort: Sequence[OrderItem],
             criteria: list[ColumnElement[bool]], leaves: list[Leaf],
             layout: Layout) -> Select[Any]:
        """Rows (or keys) selected, sorted by ``sort`` and limited; keys labelled by ``order``."""
        if self._flat(order, layout):
            columns = [self.display_joins.column(leaf).label(leaf.label)
                       for leaf in layout.leaves]
            columns += [self.filter_joins.column(leaf).label(leaf.label)
                        for leaf in _extra_sort_leaves(layout, order)]
        else:
            columns = [column.label(f"pk{index}") for index, column in enumerate(self.pk_columns)]
            columns += [self.sort_column(key.leaf).label(f"k{index}")
                        for index, (key, _) in enumerate(order)]
        joined = [*leaves, *(key.leaf for key, _ in order if key.leaf is not self.rank_leaf)]
        statement = self.criteria.filtered(select(*columns), criteria, joined)
        if self.group_cut is not None:
            statement = self.group_cut.distinct(statement)
        statement = statement.order_by(*self._order_terms(sort, self.sort_column))
        return statement.limit(integer_parameter("limit"))

    @staticmethod
    def _key_column(page: Any, order: Sequence[OrderItem],
                    flat: bool) -> Callable[[Leaf], ColumnElement[Any]]:
        if flat:
            return lambda leaf: page.c[leaf.label]
        positions = {id(key.leaf): index for index, (key, _) in enumerate(order)}
        return lambda leaf: page.c[f"k{positions[id(leaf)]}"]

    def _sort_column(self, page: Any, order: Sequence[OrderItem],
                     flat: bool) -> Callable[[Leaf], ColumnElement[Any]]:
        key_column = self._key_column(page, order, flat)
        if not flat:
            return key_column  # the k columns are comparable already
        return lambda leaf: self.backend.comparable(key_column(leaf))

    def _order_terms(self, order: Sequence[OrderItem],
                     column_of: Callable[[Leaf], ColumnElement[Any]]) -> list[ColumnElement[Any]]:
        terms: list[ColumnElement[Any]] = []
        for key, descending in order:
            terms.extend(self.backend.order_terms(sortable(column_of(key.leaf)), descending,
                                                  key.leaf.nullable, key.nulls_first))
        return terms

    def _seek_key(self, key: SortKey, descending: bool) -> SeekKey:
        return (sortable(self.sort_column(key.leaf)), descending, key.leaf.nullable,
                key.nulls_lead(descending))

    def _seek_values(self, request: PageRequest) -> Values:
        assert request.after is not None
        return {f"s{index}": _stored(value)
                for index, value in enumerate(request.after) if value is not None}

    # -- details and to-many lists ----------------------------------------------------------

    def detail_for(self, shape: Shape | None) -> CompiledStatement:
        """The detail statement of ``shape`` (None: every field)."""
        layout = self.layout(shape)
        if layout is self.full:
            return self.detail
        return self.cache.get(("detail", None if shape is None else shape.key),
                              lambda: self._detail_statement(layout))

    def _detail_statement(self, layout: Layout) -> Select[Any]:
        column_of = self.display_joins.column
        columns = ([self._json_item(column_of, layout)] if self._detail_writes(layout)
                   else [column_of(leaf).label(leaf.label) for leaf in layout.leaves])
        statement = select(*columns).select_from(self.resource.entity.selectable)
        statement = self.display_joins.apply(statement, layout.leaves)
        return statement.where(*(column == bindparam(f"pk{index}", type_=column.type)
                                 for index, column in enumerate(self.pk_columns))
                               ).order_by(*self.row_order)

    @staticmethod
    def detail_values(pk_values: Sequence[Any]) -> Values:
        return {f"pk{index}": value for index, value in enumerate(pk_values)}

    def many(self, field: ManyField, keys: Sequence[tuple[Any, ...]]
             ) -> tuple[CompiledStatement, Values]:
        """One statement for a to-many field over a whole page, capped per row in SQL."""
        single = len(self.pk_columns) == 1
        count = None if single and self.backend.binds_arrays else len(keys)
        labels = tuple(leaf.label for leaf in field.leaves)
        compiled = self.cache.get(("many", field.name, labels, count),
                                  lambda: self._many_statement(field, len(keys)))
        if single:
            return compiled, self.backend.list_values("keys", [key[0] for key in keys])
        return compiled, {f"key{row}_{part}": value for row, key in enumerate(keys)
                          for part, value in enumerate(key)}

    def _many_statement(self, field: ManyField, count: int) -> Select[Any]:
        entity = self.resource.entity
        statement = select().select_from(entity.selectable)
        parent: Any = entity.selectable
        target_alias: Any = None
        for index, hop in enumerate(field.hops):
            target_alias = aliased(hop.target.mapped_class, name=f"m{index}")  # type: ignore[arg-type]
            statement = statement.join(getattr(parent, hop.name).of_type(target_alias))
            parent = target_alias
        target = field.hops[-1].target
        values = [stored_column(target, leaf, target_alias).label(leaf.label)
                  for leaf in field.leaves]
        target_pk = [target.attribute(key, target_alias) for key in target.primary_key()]
        owner = [column.label(f"pk{index}") for index, column in enumerate(self.pk_columns)]
        rank = func.row_number().over(partition_by=self.pk_columns, order_by=target_pk)
        statement = statement.add_columns(*owner, *values, rank.label("rank"))
        statement = statement.where(self._owned_by(count))
        ranked = statement.subquery("ranked")
        return (select(*(ranked.c[column.name] for column in [*owner, *values]))
                .where(ranked.c.rank <= field.limit)
                .order_by(*(ranked.c[column.name] for column in owner), ranked.c.rank))

    def _owned_by(self, count: int) -> ColumnElement[bool]:
        if len(self.pk_columns) == 1:
            return self.backend.in_list(self.pk_columns[0], "keys", count)
        rows = [tuple_(*(bindparam(f"key{row}_{part}", type_=column.type)
                         for part, column in enumerate(self.pk_columns)))
                for row in range(count)]
        return tuple_(*self.pk_columns).in_(rows)


def _extra_sort_leaves(layout: Layout, order: Sequence[OrderItem]) -> list[Leaf]:
    """Sort keys the row's leaves lack: selected after them, for the next page's cursor."""
    selected = {id(leaf) for leaf in layout.leaves}
    return [key.leaf for key, _ in order if id(key.leaf) not in selected]


def _stored(value: Any) -> Any:
    """A sort value as the text an enum column sorted by text compares with: its name."""
    return value.name if isinstance(value, enum.Enum) else value
