"""Rollups of a resource, bound: a time field and its finest bucket, dimensions, metrics.

The registry names API fields (``rollups: {by_hour: {time: submitted, grain: hour,
dimensions: [status], metrics: {count: true, sum: [duration]}}}``); binding checks each as
``aggregate:`` does (a date-time time field, groupable dimensions, metrics whose function
applies to the field's kind), so a rollup that could never answer is a registry error at load.
What a rollup can answer is decided per request in ``crud.sql.rollupanswers``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from crud.config.registry import ResourceSpec, RollupSpec
from crud.model.analytics import BUCKETS, Function, Metric
from crud.model.fields import Leaf

__all__ = ["Rollup", "bind_rollups", "derivable_buckets"]

Issue = Callable[[tuple[str | int, ...], str], None]
Unknown = Callable[[tuple[str | int, ...], str, dict[str, Leaf]], None]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NUMERIC = frozenset({"integer", "number"})
_ORDERED = frozenset({"string", "integer", "number", "datetime", "date", "time"})
_GROUPABLE = frozenset({"string", "integer", "number", "datetime", "date", "time", "boolean",
                        "enum", "uuid"})
_KINDS: dict[str, frozenset[str]] = {"sum": _NUMERIC, "min": _ORDERED, "max": _ORDERED}
# Which buckets a grain's buckets add up to: a week straddles months and years, so only
# hours and days roll up into every coarser bucket.
_DERIVABLE = {"hour": BUCKETS, "day": BUCKETS[1:], "week": ("week",),
              "month": ("month", "year"), "year": ("year",)}


def derivable_buckets(grain: str) -> tuple[str, ...]:
    """The buckets a rollup kept at ``grain`` can answer exactly."""
    return _DERIVABLE[grain]


@dataclass(frozen=True, eq=False)
class Rollup:
    """One declared rollup: what it keeps and how often it is re-read."""

    name: str
    time: Leaf
    grain: str
    dimensions: Mapping[str, Leaf]
    sums: tuple[Leaf, ...]
    mins: tuple[Leaf, ...]
    maxs: tuple[Leaf, ...]
    refresh_s: int
    late_s: int
    full_s: int

    def __repr__(self) -> str:
        return f"Rollup({self.name!r}, {self.time.name}:{self.grain}, {list(self.dimensions)})"

    def computes(self, metric: Metric) -> bool:
        """Whether ``metric`` of a group follows from the kept buckets exactly."""
        if metric.leaf is None:
            return True
        name = metric.leaf.name
        kept: dict[Function, tuple[Leaf, ...]] = {
            "sum": self.sums, "avg": self.sums, "min": self.mins, "max": self.maxs}
        found = kept.get(metric.function, ())
        return any(leaf.name == name for leaf in found)

    def covers(self, leaf: Leaf) -> bool:
        return leaf.name in self.dimensions


def bind_rollups(spec: ResourceSpec, leaves: dict[str, Leaf], issue: Issue,
                 unknown: Unknown) -> tuple[Rollup, ...]:
    found = []
    for name, rollup in spec.rollups.items():
        bound = _bind(name, rollup, leaves, issue, unknown)
        if bound is not None:
            found.append(bound)
    return tuple(found)


def _bind(name: str, spec: RollupSpec, leaves: dict[str, Leaf], issue: Issue,
          unknown: Unknown) -> Rollup | None:
    where: tuple[str | int, ...] = ("rollups", name)
    ok = True
    if not _NAME.match(name):
        issue(where, f"rollup name {name!r} must be a letters/digits/_ identifier "
                     "(it is sent in the Rollup header and metric labels)")
        ok = False
    time = leaves.get(spec.time)
    if time is None:
        unknown((*where, "time"), spec.time, leaves)
        ok = False
    elif time.to_many or time.info.kind != "datetime":
        issue((*where, "time"), f"{spec.time!r} is not a date-time field "
                                "(a rollup buckets rows by one)")
        ok = False
    dimensions: dict[str, Leaf] = {}
    for index, field in enumerate(dict.fromkeys(spec.dimensions)):
        leaf = leaves.get(field)
        if leaf is None:
            unknown((*where, "dimensions", index), field, leaves)
            ok = False
        elif leaf.to_many or leaf.info.kind not in _GROUPABLE:
            what = "a to-many list" if leaf.to_many else f"a {leaf.info.kind} value"
            issue((*where, "dimensions", index), f"cannot count rows by {field!r}: {what}")
            ok = False
        else:
            dimensions[field] = leaf
    metrics = {function: _metric_leaves(function, getattr(spec.metrics, function),
                                        (*where, "metrics", function), leaves, issue, unknown)
               for function in ("sum", "min", "max")}
    if any(value is None for value in metrics.values()) or not ok or time is None:
        return None
    if not spec.metrics.count:
        issue((*where, "metrics", "count"), "a rollup keeps its row count (every answer "
                                            "needs it); leave count: true")
        return None
    return Rollup(name=name, time=time, grain=spec.grain, dimensions=dimensions,
                  sums=metrics["sum"] or (), mins=metrics["min"] or (),
                  maxs=metrics["max"] or (), refresh_s=spec.refresh, late_s=spec.late,
                  full_s=spec.full)


def _metric_leaves(function: str, names: list[str], where: tuple[str | int, ...],
                   leaves: dict[str, Leaf], issue: Issue,
                   unknown: Unknown) -> tuple[Leaf, ...] | None:
    found = []
    ok = True
    for index, field in enumerate(dict.fromkeys(names)):
        leaf = leaves.get(field)
        if leaf is None:
            unknown((*where, index), field, leaves)
            ok = False
        elif leaf.to_many or leaf.info.kind not in _KINDS[function]:
            kinds = ", ".join(sorted(_KINDS[function]))
            issue((*where, index), f"{function} does not apply to {leaf.info.kind} field "
                                   f"{field!r} (it takes {kinds} fields)")
            ok = False
        else:
            found.append(leaf)
    return tuple(found) if ok else None
