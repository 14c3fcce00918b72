"""Facets: how many of a list's selected rows hold each value of a field.

One GROUP BY statement per facet, over the same filters and search as the page (every
selected row, not just the page's), ordered by count descending then value (NULL, a value
of its own, last among equal counts), cut at ``size`` + 1 rows so a cut-off is visible.
Each statement runs under the facet budget: a facet that runs out of time is reported as
timed out and left out, and the page still answers. (Separate statements rather than one
combined: a slow facet must not take the quick ones down with it.) Where the result cache
keeps a resource's facets, the request still waits at most the facet budget, but the
computation runs on under the statement budget and is kept: a facet too slow for one
request is answered from the cache on the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select

from crud.model.fields import Leaf
from crud.sql.backends import integer_parameter, sortable
from crud.sql.compiled import CompiledStatement
from crud.sql.reader import Reader, StatementTimeout
from crud.sql.requests import Selection, Values
from crud.sql.resultcodec import Codec, plain, typed
from crud.sql.results import ResourceResults
from crud.sql.statements import Statements

__all__ = ["FACET_CODEC", "FacetCounts", "Facets"]


@dataclass(frozen=True)
class FacetCounts:
    """Each facet's (value, count) pairs, plus which facets were cut off or timed out."""

    values: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)
    truncated: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)


def _dump(counts: FacetCounts) -> Any:
    if counts.timed_out:
        raise ValueError("a facet ran out of time: not kept, the next request tries again")
    return [plain(counts.values), counts.truncated]


def _load(kept: Any) -> FacetCounts:
    values, truncated = kept
    return FacetCounts({name: [(typed(value), count) for value, count in pairs]
                        for name, pairs in values.items()}, truncated)


FACET_CODEC = Codec(_dump, _load)


class Facets:
    """Reads the facets of one resource's lists (kept in ``results`` when it has one)."""

    def __init__(self, statements: Statements, reader: Reader, *, budget_ms: int,
                 results: ResourceResults | None = None,
                 kept_budget_ms: int | None = None) -> None:
        self.statements = statements
        self.reader = reader
        self.budget_ms = budget_ms
        self.results = results
        # The budget of a computation the cache keeps (the statement budget; None: the
        # session's own).
        self.kept_budget_ms = kept_budget_ms

    def __repr__(self) -> str:
        return f"Facets({self.statements.resource.name!r}, budget_ms={self.budget_ms})"

    def statement(self, leaf: Leaf, selection: Selection,
                  size: int) -> tuple[CompiledStatement, Values]:
        shape = ("facet", leaf.name, self.statements.criteria.shape(selection))
        compiled = self.statements.cache.get(shape, lambda: self._build(leaf, selection))
        values = self.statements.criteria.values(selection)
        values["limit"] = size + 1
        return compiled, values

    def _build(self, leaf: Leaf, selection: Selection) -> Select[Any]:
        column = self.statements.filter_joins.column(leaf)
        counted = func.count()
        statement = self.statements.criteria.selected(select(column.label("value"),
                                                     counted.label("n")), selection, [leaf])
        backend = self.statements.backend
        order = backend.order_terms(sortable(column), False, leaf.nullable)
        return (statement.group_by(column).order_by(counted.desc(), *order)
                .limit(integer_parameter("limit")))

    async def read(self, selection: Selection, leaves: Sequence[Leaf], size: int, *,
                   scope: str = "") -> FacetCounts:
        """Each of ``leaves``' value counts over the selected rows; ``scope``: the caller's
        credentials as the result cache tells them apart."""
        if self.results is None:
            return await self._read(selection, leaves, size, self.budget_ms)
        # Each facet is kept on its own and computed in parallel: a slow one neither delays
        # nor, timing out, discards the others. Those this process remembers come first,
        # without a task each (a repeat request usually finds them all).
        found: list[FacetCounts | None] = [
            await self.results.remembered_answer("facets", self._key(selection, leaf, size),
                                                 scope=scope)
            for leaf in leaves]
        missing = [leaf for leaf, counts in zip(leaves, found, strict=True) if counts is None]
        computed = iter(await asyncio.gather(*(self._kept(selection, leaf, size, scope)
                                               for leaf in missing)) if missing else ())
        kept = [counts if counts is not None else next(computed) for counts in found]
        return FacetCounts(
            {name: pairs for counts in kept for name, pairs in counts.values.items()},
            [name for counts in kept for name in counts.truncated],
            [name for counts in kept for name in counts.timed_out])

    async def _kept(self, selection: Selection, leaf: Leaf, size: int, scope: str) -> FacetCounts:
        assert self.results is not None
        key = self._key(selection, leaf, size)
        try:
            counts: FacetCounts = await self.results.answer(
                "facets", key, lambda: self._read(selection, [leaf], size, self.kept_budget_ms),
                FACET_CODEC, scope=scope, wait_s=self.budget_ms / 1000)
        except TimeoutError:  # still computing: this page goes without, the next has it
            return FacetCounts(timed_out=[leaf.name])
        return counts

    def _key(self, selection: Selection, leaf: Leaf, size: int) -> Hashable:
        criteria = self.statements.criteria
        return (criteria.shape(selection), criteria.values(selection), leaf.name, size)

    async def _read(self, selection: Selection, leaves: Sequence[Leaf], size: int,
                    budget_ms: int | None) -> FacetCounts:
        counts = FacetCounts()
        async with self.reader.connection() as connection:
            for leaf in leaves:
                compiled, values = self.statement(leaf, selection, size)
                try:
                    rows = await connection.fetch(compiled, values, budget_ms)
                except StatementTimeout:
                    counts.timed_out.append(leaf.name)
                    continue
                if len(rows) > size:
                    counts.truncated.append(leaf.name)
                counts.values[leaf.name] = [(row[0], int(row[1])) for row in rows[:size]]
        return counts
