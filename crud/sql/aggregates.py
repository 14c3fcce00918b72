"""Grouped aggregates: ``GROUP BY`` the asked fields (or their time buckets), the asked
metrics, ``HAVING`` on metrics, ordered and cut into a page: one statement.

The rows grouped are the ones a list with the same filters and search selects
(``Statements.selected``). The number of groups rides along as ``COUNT(*) OVER ()`` (a
window over the groups, computed after HAVING and before the cut); only a page past the
last group needs a statement of its own to say how many there are.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Float, Select, bindparam, func, not_, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from crud.model.analytics import Metric
from crud.model.fields import Leaf
from crud.model.operators import Operator
from crud.sql.backends import integer_parameter, sortable
from crud.sql.reader import Reader
from crud.sql.requests import Selection, Values
from crud.sql.resultcodec import Codec, plain, typed
from crud.sql.results import ResourceResults
from crud.sql.statements import Statements

__all__ = ["GROUPS_CODEC", "AggregateRequest", "Aggregates", "GroupKey", "Groups", "Having"]


@dataclass(frozen=True)
class GroupKey:
    """A group field, or its time bucket (``build_submitted_time:week``)."""

    leaf: Leaf
    bucket: str | None = None

    @property
    def name(self) -> str:
        return self.leaf.name


@dataclass(frozen=True)
class Having:
    """A filter on a metric: ``count__gte=10``."""

    metric: Metric
    operator: Operator
    value: Any


@dataclass(frozen=True)
class AggregateRequest:
    selection: Selection
    groups: tuple[GroupKey, ...]
    metrics: tuple[Metric, ...]
    having: tuple[Having, ...]
    # (group or metric name, descending), ending in every group key for a stable order
    order: tuple[tuple[str, bool], ...]
    limit: int
    offset: int = 0


@dataclass(frozen=True)
class Groups:
    """One page of groups, each a dict of its group values and metrics, and how many."""

    rows: list[dict[str, Any]]
    total: int | None


class _Term:
    """A having filter's bound value, as the operator table compares with (scalars only)."""

    variant: Hashable = None

    def __init__(self, name: str, metric: Metric) -> None:
        # Sums and averages compare with any number, whatever the field's own type.
        type_: Any = (BigInteger() if metric.leaf is None else Float()
                      if metric.function in {"sum", "avg"} else metric.leaf.sql_type)
        self.parameter: ColumnElement[Any] = bindparam(name, type_=type_)

    def in_list(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        raise NotImplementedError  # having filters take one value

    def exact_text(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        raise NotImplementedError

    def array_contains(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        raise NotImplementedError  # metrics are numbers and dates, never arrays

    def array_overlaps(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        raise NotImplementedError


GROUPS_CODEC = Codec(lambda groups: [plain(groups.rows), groups.total],
                     lambda kept: Groups(typed(kept[0]), kept[1]))


class Aggregates:
    """Builds and reads the grouped statements of one resource (kept in ``results``)."""

    def __init__(self, statements: Statements, reader: Reader, *,
                 budget_ms: int | None, results: ResourceResults | None = None) -> None:
        self.statements = statements
        self.reader = reader
        self.budget_ms = budget_ms
        self.results = results

    def __repr__(self) -> str:
        return f"Aggregates({self.statements.resource.name!r}, budget_ms={self.budget_ms})"

    async def read(self, request: AggregateRequest, *, scope: str = "") -> Groups:
        """One page of groups; ``scope``: the caller's credentials as the cache tells them."""
        if self.results is None:
            return await self._read(request)
        key = (self._shape(request), self._values(request))
        groups: Groups = await self.results.answer(
            "aggregate", key, lambda: self._read(request), GROUPS_CODEC, scope=scope)
        return groups

    def _shape(self, request: AggregateRequest) -> tuple[Any, ...]:
        return ("aggregate", self.statements.criteria.shape(request.selection),
                 tuple((key.name, key.bucket) for key in request.groups),
                 tuple(metric.name for metric in request.metrics),
                 tuple((item.metric.name, item.operator.name) for item in request.having),
                 request.order)

    async def _read(self, request: AggregateRequest) -> Groups:
        shape = self._shape(request)
        compiled = self.statements.cache.get(shape, lambda: self._build(request))
        values = self._values(request)
        async with self.reader.connection() as connection:
            rows = await connection.fetch(compiled, values, self.budget_ms)
            total = int(rows[0][-1]) if rows else None
            if not rows and request.offset == 0:
                total = 0
            elif not rows:  # past the last group: nothing carried the number of groups
                counted = self.statements.cache.get(
                    ("groups", *shape[:-1]), lambda: self._count(request))
                [[total]] = await connection.fetch(counted, self._values(request, cut=False),
                                                   self.budget_ms)
        return Groups([self._row(request, row) for row in rows], total)

    def _values(self, request: AggregateRequest, *, cut: bool = True) -> Values:
        values = self.statements.criteria.values(request.selection)
        for index, item in enumerate(request.having):
            values[f"h{index}"] = item.value
        if cut:
            values["limit"], values["offset"] = request.limit, request.offset
        return values

    def _row(self, request: AggregateRequest, row: Sequence[Any]) -> dict[str, Any]:
        found = dict(zip((key.name for key in request.groups), row, strict=False))
        for position, metric in enumerate(request.metrics, start=len(request.groups)):
            found[metric.name] = _number(metric, row[position])
        return found

    # -- the statement ------------------------------------------------------------------------

    def _grouped(self, request: AggregateRequest,
                 columns: list[ColumnElement[Any]]) -> tuple[Select[Any], dict[str, Any]]:
        keys = {key.name: self._group_column(key) for key in request.groups}
        metrics = {metric.name: self._metric_column(metric)
                   for metric in metrics_of(request)}
        leaves = [key.leaf for key in request.groups]
        leaves += [metric.leaf for metric in metrics_of(request) if metric.leaf is not None]
        statement = select(*(keys[key.name].label(f"g{index}")
                             for index, key in enumerate(request.groups)),
                           *(metrics[metric.name].label(f"m{index}")
                             for index, metric in enumerate(request.metrics)), *columns)
        statement = self.statements.criteria.selected(statement, request.selection, leaves)
        if keys:
            statement = statement.group_by(*keys.values())
        criteria = [self._having(f"h{index}", item, metrics[item.metric.name])
                    for index, item in enumerate(request.having)]
        return (statement.having(*criteria) if criteria else statement), {**keys, **metrics}

    def _build(self, request: AggregateRequest) -> Select[Any]:
        statement, named = self._grouped(request, [func.count().over().label("crud_groups")])
        backend = self.statements.backend
        nullable = {key.name: key.leaf.nullable for key in request.groups}
        order = [term for name, descending in request.order
                 for term in backend.order_terms(sortable(named[name]), descending,
                                                 nullable.get(name, name != "count"))]
        return (statement.order_by(*order).limit(integer_parameter("limit"))
                .offset(integer_parameter("offset")))

    def _count(self, request: AggregateRequest) -> Select[Any]:
        grouped, _ = self._grouped(request, [])
        return select(func.count()).select_from(grouped.subquery("grouped"))

    def _group_column(self, key: GroupKey) -> ColumnElement[Any]:
        column = self.statements.filter_joins.column(key.leaf)
        if key.bucket is None:
            return column
        return self.statements.backend.time_bucket(column, key.bucket)

    def _metric_column(self, metric: Metric) -> ColumnElement[Any]:
        if metric.leaf is None:
            return func.count()
        column = self.statements.filter_joins.column(metric.leaf)
        function = getattr(func, metric.function)
        if metric.function in {"min", "max"}:  # decoded as the field is (dates on SQLite)
            return type_coerce(function(column), metric.leaf.sql_type)
        return function(column)  # type: ignore[no-any-return]

    @staticmethod
    def _having(name: str, item: Having, column: ColumnElement[Any]) -> ColumnElement[bool]:
        criterion = item.operator.compare(column, _Term(name, item.metric))
        return not_(criterion.self_group()) if item.operator.negates(item.value) else criterion


def metrics_of(request: AggregateRequest) -> list[Metric]:
    """The metrics the statement computes: asked for, or filtered on."""
    return list(dict.fromkeys([*request.metrics, *(item.metric for item in request.having)]))


def _number(metric: Metric, value: Any) -> Any:
    # Sums and averages are numbers of one kind everywhere (PostgreSQL and MariaDB would
    # answer decimals for some, SQLite integers for others).
    if value is None or metric.function in {"min", "max"}:
        return value
    if metric.function == "count":
        return int(value)
    return float(value) if isinstance(value, Decimal | int) else value
