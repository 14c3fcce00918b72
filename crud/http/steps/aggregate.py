"""The grouping part of ``GET /<name>/aggregate``: ``group_by``, ``metrics``, ``order_by``,
having filters on metrics (``count__gte=10``) and ``page``/``size``.

Filters and search are the list's own steps; this step reads the rest. Every name comes
from the registry's ``aggregate:`` entry, and a name it does not declare is refused with a
hint. ``order_by`` ends with every group field (ascending), so pages of groups are stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import BigInteger, Float

from crud.http.errors import ParameterError
from crud.http.filtering import value_type
from crud.http.listquery import Given, Parameter, Step, order_by_schema
from crud.http.schema import json_schema
from crud.model.analytics import HAVING_OPERATORS, Aggregate, Metric
from crud.model.binding import hint
from crud.model.operators import OPERATORS
from crud.model.values import MAX_PAGE, ascii_whole, storable_type
from crud.sql.aggregates import GroupKey, Having

__all__ = ["GroupAsk", "GroupByStep"]


@dataclass(frozen=True)
class GroupAsk:
    groups: tuple[GroupKey, ...]
    metrics: tuple[Metric, ...]
    having: tuple[Having, ...]
    order: tuple[tuple[str, bool], ...]
    page: int
    size: int


class GroupByStep(Step[GroupAsk]):
    """Parses the grouping parameters of one resource's ``/aggregate``."""

    names: ClassVar[tuple[str, ...]] = ("group_by", "metrics", "order_by", "page", "size")

    def __init__(self, aggregate: Aggregate, *, page_size: int, max_page_size: int) -> None:
        self.aggregate = aggregate
        self.page_size = page_size
        self.max_page_size = max_page_size
        self.spellings = {metric.spelling: metric for metric in aggregate.metrics.values()}
        self.group_choices = [f"{name}{suffix}" for name, leaf in aggregate.group_by.items()
                              for suffix in ("", *(f":{bucket}" for bucket
                                                   in aggregate.buckets(leaf)))]
        self.having = {(metric.name if operator == "eq" else f"{metric.name}__{operator}"):
                       (metric, operator)
                       for metric in aggregate.metrics.values() for operator in HAVING_OPERATORS}
        self.adapters = {metric.name: TypeAdapter(_value_type(metric))
                         for metric in aggregate.metrics.values()}
        self.parameters = self._parameters()

    def __repr__(self) -> str:
        return f"GroupByStep({self.aggregate!r})"

    # -- parsing -------------------------------------------------------------------------

    def parse(self, given: Given, errors: list[ParameterError]) -> GroupAsk:
        groups = self._groups(given.get("group_by"), errors)
        metrics = self._metrics(given.get("metrics"), errors)
        order = self._order(given.get("order_by"), groups, errors)
        page = self._whole("page", given.get("page"), 1, MAX_PAGE, 1, errors)
        size = self._whole("size", given.get("size"), 1, self.max_page_size, self.page_size,
                           errors)
        return GroupAsk(groups, metrics, self._having(given, errors), order, page, size)

    def _groups(self, raw: str | None, errors: list[ParameterError]) -> tuple[GroupKey, ...]:
        groups: dict[str, GroupKey] = {}
        for item in (raw.split(",") if raw is not None else ()):
            name, _, bucket = item.partition(":")
            leaf = self.aggregate.group_by.get(name)
            if leaf is None or (bucket and bucket not in self.aggregate.buckets(leaf)):
                errors.append(ParameterError("group_by", f"cannot group by {item!r}"
                                             f"{hint(item, self.group_choices)}"))
            elif name in groups:
                errors.append(ParameterError("group_by", f"{name!r} given more than once"))
            else:
                groups[name] = GroupKey(leaf, bucket or None)
        return tuple(groups.values())

    def _metrics(self, raw: str | None, errors: list[ParameterError]) -> tuple[Metric, ...]:
        if raw is None:
            found = self.aggregate.metrics.get("count")
            if found is None:
                errors.append(ParameterError("metrics", "name at least one: "
                                             f"{', '.join(self.spellings)}"))
            return (found,) if found is not None else ()
        metrics: dict[str, Metric] = {}
        for item in raw.split(","):
            metric = self.spellings.get(item)
            if metric is None:
                errors.append(ParameterError("metrics", f"cannot compute {item!r}"
                                             f"{hint(item, list(self.spellings))}"))
            else:
                metrics[metric.name] = metric
        return tuple(metrics.values())

    def _order(self, raw: str | None, groups: tuple[GroupKey, ...],
               errors: list[ParameterError]) -> tuple[tuple[str, bool], ...]:
        grouped = [key.name for key in groups]
        choices = [*grouped, *self.aggregate.metrics]
        order: dict[str, bool] = {}
        for item in (raw.split(",") if raw is not None else ()):
            name = item.removeprefix("-")
            if name not in choices:
                why = ("; group by it first" if name in self.aggregate.group_by
                       else hint(name, choices))
                errors.append(ParameterError("order_by", f"cannot sort by {item!r}{why}"))
            elif name in order:
                errors.append(ParameterError("order_by", f"{name!r} given more than once"))
            else:
                order[name] = item.startswith("-")
        for name in grouped:
            order.setdefault(name, False)
        return tuple(order.items())

    def _having(self, given: Given, errors: list[ParameterError]) -> tuple[Having, ...]:
        having = []
        for name, (metric, operator) in self.having.items():
            raw = given.get(name)
            if raw is None:
                continue
            try:
                value = self.adapters[metric.name].validate_python(raw)
            except ValidationError as error:
                errors.append(ParameterError(name, error.errors(include_url=False)[0]["msg"]))
                continue
            having.append(Having(metric, OPERATORS[operator], value))
        return tuple(having)

    @staticmethod
    def _whole(name: str, raw: str | None, low: int, high: int, default: int,
               errors: list[ParameterError]) -> int:
        if raw is None:
            return default
        number = ascii_whole(raw)
        if number is None or not low <= number <= high:
            errors.append(ParameterError(name, f"expected a whole number from {low} to {high}, "
                                               f"got {raw!r}"))
            return default
        return number

    # -- documentation -------------------------------------------------------------------

    def _parameters(self) -> tuple[Parameter, ...]:
        aggregate = self.aggregate
        having = [Parameter(name, json_schema(_value_type(metric)),
                            f"Only groups whose {metric.name} is "
                            f"{OPERATORS[operator].description} this value.")
                  for name, (metric, operator) in self.having.items()]
        return (
            Parameter("group_by", _array(self.group_choices),
                      "Fields to group the selected rows by; a date-time field takes a time "
                      "bucket (`field:week`; hour, day, week from Monday, month, year; the "
                      "bucket's start in UTC). None: one group of every selected row.",
                      repeatable=True, explode=False),
            Parameter("metrics", _array(list(self.spellings)),
                      "What to compute per group: `count`, or `function:field` (named "
                      "`function_field` in the groups). Default: count.",
                      repeatable=True, explode=False),
            Parameter("order_by", order_by_schema([*aggregate.group_by, *aggregate.metrics]),
                      "Group fields and metric names, '-' for descending; the group fields "
                      "follow, ascending, as tie-breakers.", repeatable=True, explode=False),
            Parameter("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                               "default": 1}, "Page number, from 1"),
            Parameter("size", {"type": "integer", "minimum": 1, "maximum": self.max_page_size,
                               "default": self.page_size},
                      f"Groups per page, 1 to {self.max_page_size}"),
            *having,
        )


def _array(choices: list[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "enum": choices}, "minItems": 1,
            "uniqueItems": True}


def _value_type(metric: Metric) -> Any:
    """What a metric's having filters take: values the database can compare it with (a
    count within 64 bits, finite numbers, a min/max as its field's own filter values)."""
    if metric.leaf is None:
        return storable_type(int, "integer", BigInteger())
    if metric.function in {"sum", "avg"}:
        return storable_type(float, "number", Float())
    return value_type(metric.leaf)
