"""Analytics of a resource, bound: its facets and what ``/aggregate`` may group and compute.

The registry names API fields (``facets: [status, chroot]``, ``aggregate: {group_by: [...],
metrics: {sum: [duration]}}``); binding checks each against the resource's leaves and the
function against the field's kind (a sum over text is a registry error at load, never a
request-time surprise), and names the metrics as responses and ``order_by`` spell them:
``count``, ``sum_duration``, ``max_build_submitted_time``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from crud.config.registry import AggregateSpec, ResourceSpec
from crud.model.fields import Leaf
from crud.model.resource import FilterParam

__all__ = [
    "BUCKETS",
    "HAVING_OPERATORS",
    "Aggregate",
    "Function",
    "Metric",
    "bind_aggregate",
    "bind_facets",
]

Function = Literal["count", "sum", "avg", "min", "max"]
# Time buckets a date-time group field takes (``group_by=build_submitted_time:week``).
BUCKETS = ("hour", "day", "week", "month", "year")
# The filter operators a metric's ``having`` filter takes (``count__gte=10``).
HAVING_OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte")

_NUMERIC = frozenset({"integer", "number"})
_ORDERED = frozenset({"string", "integer", "number", "datetime", "date", "time"})
_GROUPABLE = frozenset({"string", "integer", "number", "datetime", "date", "time", "boolean",
                        "enum", "uuid"})
_KINDS: dict[Function, frozenset[str]] = {"sum": _NUMERIC, "avg": _NUMERIC, "min": _ORDERED,
                                          "max": _ORDERED}

Issue = Callable[[tuple[str | int, ...], str], None]
Unknown = Callable[[tuple[str | int, ...], str, dict[str, Leaf]], None]


@dataclass(frozen=True, eq=False)
class Metric:
    """One aggregate a request may ask for: ``count`` or a function over a field."""

    function: Function
    leaf: Leaf | None = None

    @property
    def name(self) -> str:
        """The response key and ``order_by``/having name: ``count``, ``sum_duration``."""
        return "count" if self.leaf is None else f"{self.function}_{self.leaf.name}"

    @property
    def spelling(self) -> str:
        """How ``metrics=`` asks for it: ``count``, ``sum:duration``."""
        return "count" if self.leaf is None else f"{self.function}:{self.leaf.name}"

    def __repr__(self) -> str:
        return f"Metric({self.spelling!r})"


@dataclass(frozen=True, eq=False)
class Aggregate:
    """What ``GET /<name>/aggregate`` may group by and compute."""

    group_by: Mapping[str, Leaf]
    metrics: Mapping[str, Metric]  # by name (``sum_duration``)

    def __repr__(self) -> str:
        return f"Aggregate({list(self.group_by)}, {list(self.metrics)})"

    def buckets(self, leaf: Leaf) -> tuple[str, ...]:
        """The time buckets a group field takes (none unless it is a date-time)."""
        return BUCKETS if leaf.info.kind == "datetime" else ()


def bind_facets(spec: ResourceSpec, leaves: dict[str, Leaf], issue: Issue,
                unknown: Unknown) -> tuple[Leaf, ...]:
    found = []
    for index, name in enumerate(dict.fromkeys(spec.facets)):
        leaf = _groupable(leaves, ("facets", index), name, issue, unknown)
        if leaf is not None:
            found.append(leaf)
    return tuple(found)


def bind_aggregate(spec: ResourceSpec, leaves: dict[str, Leaf],
                   filters: Mapping[str, FilterParam], issue: Issue,
                   unknown: Unknown) -> Aggregate | None:
    aggregate = spec.aggregate
    if aggregate is None:
        return None
    group_by = {}
    for index, name in enumerate(dict.fromkeys(aggregate.group_by)):
        leaf = _groupable(leaves, ("aggregate", "group_by", index), name, issue, unknown)
        if leaf is not None:
            group_by[name] = leaf
    metrics = {metric.name: metric for metric in _metrics(aggregate, leaves, issue, unknown)}
    if not metrics:
        issue(("aggregate", "metrics"), "no metric to compute: set count: true or name "
                                        "fields under sum, avg, min or max")
    for name in set(group_by) & set(metrics):
        issue(("aggregate", "group_by"), f"{name!r} is both a group field and a metric's "
                                         "name; rename the field")
    for metric in metrics.values():
        for operator in HAVING_OPERATORS:
            parameter = metric.name if operator == "eq" else f"{metric.name}__{operator}"
            if parameter in filters:
                issue(("aggregate", "metrics"), f"query parameter {parameter!r} would be both "
                                                "a filter and a metric's having filter")
    return Aggregate(group_by=group_by, metrics=metrics)


def _metrics(aggregate: AggregateSpec, leaves: dict[str, Leaf], issue: Issue,
             unknown: Unknown) -> list[Metric]:
    metrics = [Metric("count")] if aggregate.metrics.count else []
    functions: tuple[Function, ...] = ("sum", "avg", "min", "max")
    for function in functions:
        for index, name in enumerate(dict.fromkeys(getattr(aggregate.metrics, function))):
            where: tuple[str | int, ...] = ("aggregate", "metrics", function, index)
            leaf = leaves.get(name)
            if leaf is None:
                unknown(where, name, leaves)
            elif leaf.to_many or leaf.info.kind not in _KINDS[function]:
                kinds = ", ".join(sorted(_KINDS[function]))
                issue(where, f"{function} does not apply to {leaf.info.kind} field {name!r} "
                             f"(it takes {kinds} fields)")
            else:
                metrics.append(Metric(function, leaf))
    return metrics


def _groupable(leaves: dict[str, Leaf], where: tuple[str | int, ...], name: str,
               issue: Issue, unknown: Unknown) -> Leaf | None:
    leaf = leaves.get(name)
    if leaf is None:
        unknown(where, name, leaves)
        return None
    if leaf.to_many or leaf.info.kind not in _GROUPABLE:
        what = "a to-many list" if leaf.to_many else f"a {leaf.info.kind} value"
        issue(where, f"cannot count rows by {name!r}: {what}")
        return None
    return leaf
