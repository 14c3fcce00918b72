"""Answering ``/aggregate`` requests and facets from a rollup's kept rows, or saying it can't.

A rollup covers a request when every group field is a dimension or the time field in a bucket
its grain adds up to, every filter is on a dimension (equality, lists, nulls; order
comparisons on non-text values) or bounds the time field at a bucket edge (``gte``/``lt``,
nulls), there is no search and no boolean group, and every metric follows from the kept ones.
Then the answer is computed in memory with SQL's meanings (NULL matches no comparison, sums
over no values are null, NULLs sort last ascending and first descending) and the same order
and page cut as the live statement. Anything else is not covered: the request runs live.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
import operator as op
from collections.abc import Callable, Sequence
from typing import Any

from crud.model.analytics import Metric
from crud.model.rollups import Rollup, derivable_buckets
from crud.sql.aggregates import AggregateRequest, Groups, Having
from crud.sql.requests import Filter, Selection
from crud.sql.rollupdata import Key, Layout, Snapshot, State, combine, truncate

__all__ = ["Answers", "covers_groups", "covers_selection"]

Predicate = Callable[[Key], bool]
_ORDERED_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": op.gt, "gte": op.ge, "lt": op.lt, "lte": op.le}
_HAVING: dict[str, Callable[[Any, Any], bool]] = {
    "eq": op.eq, "neq": op.ne, **_ORDERED_OPERATORS}
_NO_ORDER = frozenset({"string", "enum", "uuid", "boolean"})  # compared by collation or type


def covers_selection(rollup: Rollup, selection: Selection) -> bool:
    if selection.search is not None or selection.groups:
        return False
    return all(_predicate(rollup, item) is not None for item in selection.filters)


def covers_groups(rollup: Rollup, request: AggregateRequest) -> bool:
    for key in request.groups:
        if key.leaf.name == rollup.time.name:
            if key.bucket is None or key.bucket not in derivable_buckets(rollup.grain):
                return False
        elif key.bucket is not None or not rollup.covers(key.leaf):
            return False
    metrics = [*request.metrics, *(item.metric for item in request.having)]
    return all(rollup.computes(metric) for metric in metrics)


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _predicate(rollup: Rollup, item: Filter) -> Predicate | None:
    """``item`` as a test of a kept row's key, or None when the rollup cannot decide it."""
    leaf, name, value = item.param.leaf, item.param.operator.name, item.value
    if name == "isnull":
        found = 0 if leaf.name == rollup.time.name else _position(rollup, leaf.name)
        if found is None:
            return None
        at_ = found
        return (lambda key: key[at_] is None) if value else (lambda key: key[at_] is not None)
    if leaf.name == rollup.time.name:
        return _time_predicate(rollup, name, _utc(value))
    at = _position(rollup, leaf.name)
    if at is None:
        return None
    if name == "eq":
        return lambda key: key[at] is not None and key[at] == value
    if name == "neq":
        return lambda key: key[at] is not None and key[at] != value
    if name in {"in", "not_in"}:
        values = set(value)
        if name == "in":
            return lambda key: key[at] in values
        return lambda key: key[at] is not None and key[at] not in values
    if name in _ORDERED_OPERATORS and leaf.info.kind not in _NO_ORDER:
        compare, bound = _ORDERED_OPERATORS[name], _utc(value)
        return lambda key: key[at] is not None and compare(key[at], bound)
    return None


def _time_predicate(rollup: Rollup, name: str, value: Any) -> Predicate | None:
    # Only a bound at a bucket's edge splits no bucket: rows from 10:00, or before 11:00.
    if not isinstance(value, dt.datetime) or truncate(value, rollup.grain) != value:
        return None
    if name == "gte":
        return lambda key: key[0] is not None and key[0] >= value
    if name == "lt":
        return lambda key: key[0] is not None and key[0] < value
    return None


def _position(rollup: Rollup, name: str) -> int | None:
    for index, dimension in enumerate(rollup.dimensions, start=1):
        if dimension == name:
            return index
    return None


class Answers:
    """Computes answers from one rollup's snapshots."""

    def __init__(self, rollup: Rollup) -> None:
        self.rollup = rollup
        self.layout = Layout.of(rollup)

    def __repr__(self) -> str:
        return f"Answers({self.rollup.name!r})"

    def groups(self, snapshot: Snapshot, request: AggregateRequest) -> Groups:
        grouped = self._grouped(snapshot, request.selection,
                                [self._grouper(key.leaf.name, key.bucket)
                                 for key in request.groups])
        names = [key.name for key in request.groups]
        rows = []
        for group, state in grouped.items():
            row = dict(zip(names, group, strict=True))
            for metric in request.metrics:
                row[metric.name] = self.value(metric, state)
            if all(self._having(item, state) for item in request.having):
                rows.append(row)
        _sort(rows, request.order)
        return Groups(rows[request.offset:request.offset + request.limit], len(rows))

    def facet(self, snapshot: Snapshot, selection: Selection, name: str,
              size: int) -> list[tuple[Any, int]]:
        """(value, count) pairs, most frequent first, up to ``size`` + 1 (a cut-off shows)."""
        grouped = self._grouped(snapshot, selection, [self._grouper(name, None)])
        rows = [{"value": group[0], "n": state[0]} for group, state in grouped.items()]
        _sort(rows, (("n", True), ("value", False)))
        return [(row["value"], row["n"]) for row in rows[:size + 1]]

    def counts(self, snapshot: Snapshot, name: str | None, low: dt.datetime | None,
               high: dt.datetime | None) -> dict[Any, int] | None:
        """Rows per value of the dimension ``name`` (None: every row, under None) whose time
        is in ``[low, high)``; None when a bound splits a bucket."""
        grain = self.rollup.grain
        if any(bound is not None and truncate(bound, grain) != bound for bound in (low, high)):
            return None
        at = 0 if name is None else _position(self.rollup, name)
        if at is None:
            return None
        counts: dict[Any, int] = {}
        for key, state in snapshot.entries.items():
            bucket = key[0]
            if (low is not None or high is not None) and bucket is None:
                continue
            if (low is not None and bucket < low) or (high is not None and bucket >= high):
                continue
            value = key[at] if name is not None else None
            counts[value] = counts.get(value, 0) + state[0]
        return counts

    def spans(self, snapshot: Snapshot, name: str,
              edges: Sequence[dt.datetime]) -> list[dict[Any, int]] | None:
        """Rows per value of ``name`` in each span between consecutive ``edges``
        (ascending), in one pass; None when an edge splits a bucket."""
        if any(truncate(edge, self.rollup.grain) != edge for edge in edges):
            return None
        at = _position(self.rollup, name)
        if at is None:
            return None
        spans: list[dict[Any, int]] = [{} for _ in edges[1:]]
        for key, state in snapshot.entries.items():
            bucket = key[0]
            if bucket is None or bucket < edges[0] or bucket >= edges[-1]:
                continue
            counts = spans[bisect.bisect_right(edges, bucket) - 1]
            counts[key[at]] = counts.get(key[at], 0) + state[0]
        return spans

    def _grouper(self, name: str, bucket: str | None) -> Callable[[Key], Any]:
        if name == self.rollup.time.name:
            assert bucket is not None
            if bucket == self.rollup.grain:
                return lambda key: key[0]
            return lambda key: None if key[0] is None else truncate(key[0], bucket)
        at = _position(self.rollup, name)
        assert at is not None
        return lambda key: key[at]

    def _grouped(self, snapshot: Snapshot, selection: Selection,
                 groupers: Sequence[Callable[[Key], Any]]) -> dict[tuple[Any, ...], State]:
        predicates = [_predicate(self.rollup, item) for item in selection.filters]
        tests = [test for test in predicates if test is not None]
        grouped: dict[tuple[Any, ...], State] = {}
        for key, state in snapshot.entries.items():
            if not all(test(key) for test in tests):
                continue
            group = tuple(grouper(key) for grouper in groupers)
            kept = grouped.get(group)
            if kept is None:
                grouped[group] = list(state)
            else:
                combine(self.layout, kept, state)
        return grouped

    def value(self, metric: Metric, state: State) -> Any:
        """One metric of a group, as the live statement answers it."""
        if metric.leaf is None:
            return int(state[0])
        name = metric.leaf.name
        if metric.function in {"sum", "avg"}:
            index = [leaf.name for leaf in self.rollup.sums].index(name)
            total, values = state[self.layout.sum_at(index)], state[self.layout.values_at(index)]
            if not values:
                return None
            return float(total) if metric.function == "sum" else float(total / values)
        if metric.function == "min":
            index = [leaf.name for leaf in self.rollup.mins].index(name)
            return state[self.layout.min_at(index)]
        index = [leaf.name for leaf in self.rollup.maxs].index(name)
        return state[self.layout.max_at(index)]

    def _having(self, item: Having, state: State) -> bool:
        value = self.value(item.metric, state)
        if value is None:  # NULL compares as unknown: the group is left out
            return False
        return _HAVING[item.operator.name](value, _utc(item.value))


def _sort(rows: list[dict[str, Any]], order: Sequence[tuple[str, bool]]) -> None:
    """Sort as the live ORDER BY does: NULLs last ascending, first descending; enums by name."""
    for name, descending in reversed(order):
        rows.sort(key=lambda row, name=name: _sort_key(row[name]),  # type: ignore[misc]
                  reverse=descending)


def _sort_key(value: Any) -> tuple[bool, Any]:
    if value is None:
        return (True, 0)
    return (False, value.name if isinstance(value, enum.Enum) else value)
