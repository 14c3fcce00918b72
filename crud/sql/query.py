"""SQL statements for lists and details, built from a bound resource.

The shape that keeps deep pages cheap: filters, search and sort run on the base table with
only the joins they need, the page is cut there (LIMIT/OFFSET on primary keys), and only
then are the display joins and expression fields added, for the page's rows alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Enum, Select, String, and_, bindparam, cast, func, select, tuple_
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from crud.model.fields import Leaf, ManyField, Step
from crud.model.joins import DerivedJoin
from crud.model.resource import Resource, SortKey
from crud.sql.shapes import ShapeCache

__all__ = ["Joins", "ListPlan", "OrderItem", "StatementBuilder", "order_clauses", "sortable"]

OrderItem = tuple[SortKey, bool]  # (key, descending)


class Joins:
    """Aliases for the to-one paths of one statement role, created once at startup."""

    def __init__(self, resource: Resource, leaves: Iterable[Leaf]) -> None:
        self.resource = resource
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
        assert leaf.column_key is not None
        if not leaf.hops:
            return self.resource.entity.attribute(leaf.column_key)
        target = leaf.hops[-1].target
        if leaf.to_many:  # used inside EXISTS, on the relationship's own table
            return target.attribute(leaf.column_key)
        return target.attribute(leaf.column_key, self.aliases[leaf.entity_path])

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


def order_clauses(column: ColumnElement[Any], descending: bool, nullable: bool,
                  dialect: str) -> list[ColumnElement[Any]]:
    """ORDER BY terms with one NULL placement everywhere: last ascending, first descending.

    That is PostgreSQL's own default (so its indexes still serve the sort); SQLite gets
    explicit NULLS FIRST/LAST and MySQL/MariaDB, which lack them, an IS NULL term.
    """
    column = sortable(column)
    ordered = column.desc() if descending else column.asc()
    if not nullable or dialect == "postgresql":
        return [ordered]
    if dialect == "sqlite":
        return [ordered.nulls_first() if descending else ordered.nulls_last()]
    is_null = column.is_(None)
    return [is_null.desc() if descending else is_null.asc(), ordered]


def sortable(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """Enums sort by their text everywhere (PostgreSQL and MariaDB would use declaration order)."""
    if isinstance(column.type, Enum):
        return cast(column, String(64))
    return column


@dataclass(frozen=True)
class ListPlan:
    """What one list request asks for, already validated."""

    criteria: Sequence[ColumnElement[bool]]
    criteria_leaves: Sequence[Leaf]
    order: Sequence[OrderItem]
    limit: int
    offset: int


class StatementBuilder:
    """Builds every statement a resource serves; created once per resource at startup."""

    def __init__(self, resource: Resource, dialect: str) -> None:
        self.resource = resource
        self.dialect = dialect
        self.filter_joins = Joins(resource, resource.leaves.values())
        self.display_joins = Joins(resource, resource.row_leaves)
        row_leaves = resource.row_leaves
        # A resource of plain base columns needs no page subquery: one simple SELECT.
        self.flat = all(not leaf.hops and leaf.expression is None for leaf in row_leaves)
        self.row_columns = [
            self.display_joins.column(leaf).label(leaf.label) for leaf in row_leaves
        ]
        self.pk_columns = [self.filter_joins.column(leaf) for leaf in resource.primary_key]
        self._detail = self._detail_statement()
        self.shapes = ShapeCache()

    def filter_columns(self) -> dict[str, ColumnElement[Any]]:
        return {name: self.filter_joins.column(leaf) for name, leaf in self.resource.leaves.items()}

    def with_pk_tiebreak(self, order: Sequence[OrderItem]) -> list[OrderItem]:
        used = {key.name for key, _ in order}
        tiebreak = [(SortKey(leaf=leaf), False) for leaf in self.resource.primary_key
                    if leaf.name not in used]
        return [*order, *tiebreak]

    def _filtered(self, statement: Select[Any], plan: ListPlan,
                  extra_leaves: Iterable[Leaf] = ()) -> Select[Any]:
        statement = statement.select_from(self.resource.entity.selectable)
        statement = self.filter_joins.apply(statement, [*plan.criteria_leaves, *extra_leaves])
        return statement.where(*plan.criteria) if plan.criteria else statement

    def count(self, plan: ListPlan) -> Select[Any]:
        return self._filtered(select(func.count()), plan)

    def page(self, plan: ListPlan) -> Select[Any]:
        sort_leaves = [key.leaf for key, _ in plan.order]
        if self.flat:
            statement = self._filtered(select(*self.row_columns), plan, sort_leaves)
            statement = statement.order_by(*self._order_terms(plan.order, self.filter_joins.column))
            return statement.limit(plan.limit).offset(plan.offset)
        return self._page_via_keys(plan, sort_leaves)

    def _page_via_keys(self, plan: ListPlan, sort_leaves: list[Leaf]) -> Select[Any]:
        inner = self._page_keys(plan, sort_leaves)
        return self._display_page(inner, plan, sort_leaves)

    def page_with_params(self, plan: ListPlan) -> tuple[Select[Any], dict[str, Any]]:
        """``page(plan)`` and the parameters to run it with, its display part reused by shape."""
        sort_leaves = [key.leaf for key, _ in plan.order]
        if self.flat:
            return self.page(plan), {}
        inner = self._page_keys(plan, sort_leaves)
        return self.shapes(inner, lambda: self._display_page(inner, plan, sort_leaves))

    def _page_keys(self, plan: ListPlan, sort_leaves: list[Leaf]) -> Select[Any]:
        """The page cut on the base table: primary keys and sort keys of its rows."""
        keys = [self.filter_joins.column(leaf).label(f"k{index}")
                for index, leaf in enumerate(sort_leaves)]
        pk_labels = [column.label(f"pk{index}") for index, column in enumerate(self.pk_columns)]
        inner = self._filtered(select(*pk_labels, *keys), plan, sort_leaves)
        inner = inner.order_by(*self._order_terms(plan.order, self.filter_joins.column))
        return inner.limit(plan.limit).offset(plan.offset)

    def _display_page(self, inner: Select[Any], plan: ListPlan,
                      sort_leaves: list[Leaf]) -> Select[Any]:
        page = inner.subquery("page")
        on = and_(*(column == page.c[f"pk{index}"] for index, column in enumerate(self.pk_columns)))
        outer = select(*self.row_columns).select_from(page).join(
            self.resource.entity.selectable, on)
        outer = self.display_joins.apply(outer, self.resource.row_leaves)
        positions = {id(leaf): index for index, leaf in enumerate(sort_leaves)}
        return outer.order_by(*self._order_terms(
            plan.order, lambda leaf: page.c[f"k{positions[id(leaf)]}"]))

    def _order_terms(self, order: Sequence[OrderItem], column_of: Any) -> list[ColumnElement[Any]]:
        terms: list[ColumnElement[Any]] = []
        for key, descending in order:
            terms.extend(order_clauses(column_of(key.leaf), descending, key.leaf.nullable,
                                       self.dialect))
        return terms

    def detail(self) -> Select[Any]:
        """The detail statement; execute it with ``detail_params(pk_values)``."""
        return self._detail

    def _detail_statement(self) -> Select[Any]:
        # Built once: SQLAlchemy memoizes a statement's cache key on the object, so reusing it
        # skips rebuilding the select and re-walking its derived-field subqueries per request.
        statement = select(*self.row_columns).select_from(self.resource.entity.selectable)
        statement = self.display_joins.apply(statement, self.resource.row_leaves)
        return statement.where(*(column == bindparam(f"pk{index}")
                                 for index, column in enumerate(self.pk_columns)))

    @staticmethod
    def detail_params(pk_values: Sequence[Any]) -> dict[str, Any]:
        return {f"pk{index}": value for index, value in enumerate(pk_values)}

    def many(self, field: ManyField, pk_rows: Sequence[tuple[Any, ...]]) -> Select[Any]:
        """One statement for a to-many field over a whole page, capped per row in SQL."""
        entity = self.resource.entity
        statement = select().select_from(entity.selectable)
        parent: Any = entity.selectable
        target_alias: Any = None
        for index, hop in enumerate(field.hops):
            target_alias = aliased(hop.target.mapped_class, name=f"m{index}")  # type: ignore[arg-type]
            statement = statement.join(getattr(parent, hop.name).of_type(target_alias))
            parent = target_alias
        target = field.hops[-1].target
        values = [target.attribute(leaf.column_key or "", target_alias).label(leaf.label)
                  for leaf in field.leaves]
        target_pk = [target.attribute(key, target_alias) for key in target.primary_key()]
        owner = [column.label(f"pk{index}") for index, column in enumerate(self.pk_columns)]
        rank = func.row_number().over(partition_by=self.pk_columns, order_by=target_pk)
        statement = statement.add_columns(*owner, *values, rank.label("rank"))
        statement = statement.where(_pk_in(self.pk_columns, pk_rows))
        ranked = statement.subquery("ranked")
        return (select(*(ranked.c[column.name] for column in [*owner, *values]))
                .where(ranked.c.rank <= field.limit)
                .order_by(*(ranked.c[column.name] for column in owner), ranked.c.rank))


def _pk_in(columns: Sequence[ColumnElement[Any]], rows: Sequence[tuple[Any, ...]]) -> Any:
    if len(columns) == 1:
        return columns[0].in_([row[0] for row in rows])
    return tuple_(*columns).in_(rows)
