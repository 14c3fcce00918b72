"""The statements a rollup is built from: its rows grouped by bucket and dimensions over a
range of time, and the range of time there is.

``GROUP BY time_bucket(time, grain), dimensions...`` with ``COUNT(*)``, and per field
``SUM``/``COUNT`` (its values), ``MIN``, ``MAX``; over ``lo <= time < hi`` (either bound
optional) or over the rows with no time. The buckets and the comparisons are the backend's
own, the ones ``/aggregate`` and filters use, so a kept bucket is the live bucket.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, func, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from crud.model.rollups import Rollup
from crud.sql.reader import Reader
from crud.sql.rollupdata import Key, State
from crud.sql.statements import Statements

__all__ = ["RollupReads"]


class RollupReads:
    """Reads one rollup's grouped rows from the database."""

    def __init__(self, rollup: Rollup, statements: Statements, reader: Reader, *,
                 budget_ms: int | None) -> None:
        self.rollup = rollup
        self.statements = statements
        self.reader = reader
        self.budget_ms = budget_ms

    def __repr__(self) -> str:
        return f"RollupReads({self.rollup.name!r})"

    async def span(self) -> tuple[Any, Any]:
        """The earliest and latest time of any row (None, None for none)."""
        compiled = self.statements.cache.get(("rollup-span", self.rollup.name), self._span)
        async with self.reader.connection() as connection:
            [[low, high]] = await connection.fetch(compiled, {}, self.budget_ms)
        return low, high

    async def rows(self, low: Any, high: Any, *, no_time: bool = False
                   ) -> list[tuple[Key, State]]:
        """Kept rows of ``low <= time < high`` (None: unbounded), or of rows with no time."""
        shape = ("rollup", self.rollup.name, low is not None, high is not None, no_time)
        compiled = self.statements.cache.get(
            shape, lambda: self._grouped(low is not None, high is not None, no_time))
        values = {name: value for name, value in (("lo", low), ("hi", high)) if value is not None}
        async with self.reader.connection() as connection:
            found = await connection.fetch(compiled, values, self.budget_ms)
        width = 1 + len(self.rollup.dimensions)
        return [(tuple(row[:width]), list(row[width:])) for row in found]

    def _column(self, leaf: Any) -> ColumnElement[Any]:
        return self.statements.filter_joins.column(leaf)

    def _span(self) -> Select[Any]:
        time = self._column(self.rollup.time)
        statement = select(type_coerce(func.min(time), self.rollup.time.sql_type),
                           type_coerce(func.max(time), self.rollup.time.sql_type))
        return self.statements.criteria.filtered(statement, [], [self.rollup.time])

    def _grouped(self, low: bool, high: bool, no_time: bool) -> Select[Any]:
        rollup = self.rollup
        time = self._column(rollup.time)
        bucket = self.statements.backend.time_bucket(time, rollup.grain)
        dimensions = [self._column(leaf) for leaf in rollup.dimensions.values()]
        metrics: list[ColumnElement[Any]] = [func.count()]
        metrics += [func.sum(self._column(leaf)) for leaf in rollup.sums]
        metrics += [func.count(self._column(leaf)) for leaf in rollup.sums]
        metrics += [type_coerce(func.min(self._column(leaf)), leaf.sql_type)
                    for leaf in rollup.mins]
        metrics += [type_coerce(func.max(self._column(leaf)), leaf.sql_type)
                    for leaf in rollup.maxs]
        comparable = self.statements.criteria.comparable(rollup.time)
        criteria: list[ColumnElement[bool]] = []
        if no_time:
            criteria.append(time.is_(None))
        if low:
            criteria.append(comparable >= bindparam("lo", type_=comparable.type))
        if high:
            criteria.append(comparable < bindparam("hi", type_=comparable.type))
        leaves = [rollup.time, *rollup.dimensions.values(), *rollup.sums, *rollup.mins,
                  *rollup.maxs]
        statement = select(bucket, *dimensions, *metrics)
        statement = self.statements.criteria.filtered(statement, criteria, leaves)
        return statement.group_by(bucket, *dimensions)
