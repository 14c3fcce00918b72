"""Reading one page: the page statement (with its total), then the page's to-many lists.

One connection per request, borrowed once. A counted list is one statement where the
count can ride along (``crud.sql.counting``); a to-many field adds one statement for the
whole page. The statement budget of the resource applies to each statement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from crud.config.registry import CountPolicy
from crud.model.resource import Resource
from crud.model.shapes import Shape
from crud.sql.counting import AUTO_CAP, InlineCount, Total, inline_count, read_total
from crud.sql.reader import ReadConnection, Reader, StatementTimeout
from crud.sql.requests import PageRequest, Selection
from crud.sql.resultcodec import Codec
from crud.sql.results import ResourceResults
from crud.sql.statements import Statements

__all__ = ["TOTAL_CODEC", "Page", "Pages"]

Lists = dict[str, dict[tuple[Any, ...], list[Any]]]
NO_COUNT = Total(None, "none")
TOTAL_CODEC = Codec(lambda total: [total.value, total.kind],
                    lambda kept: Total(kept[0], kept[1]))


@dataclass(frozen=True)
class Page:
    """The rows of one page, the page's to-many lists by owner key, and the total.

    A row is the item's columns, or (when the database writes items) the item's JSON
    text; ``last`` holds the sort values of the last row either way, for its cursor.
    """

    rows: Sequence[Sequence[Any]]
    lists: Lists
    total: Total
    json: bool = False
    last: Sequence[Any] = ()
    groups: int | None = None  # a grouped resource's items (several rows each)

    @property
    def items(self) -> int:
        """How many items the page holds."""
        return len(self.rows) if self.groups is None else self.groups


class Pages:
    """Reads pages and single rows of one resource."""

    def __init__(self, resource: Resource, statements: Statements, reader: Reader, *,
                 budget_ms: int | None, results: ResourceResults | None = None) -> None:
        self.resource = resource
        self.statements = statements
        self.reader = reader
        self.budget_ms = budget_ms
        # Totals kept until the resource's tables change (crud.sql.results).
        self.results = results
        self.estimates = reader.backend.plans_estimates
        # A view whose total the planner gives (its count would run the view's joins).
        self.view = resource.entity.view and reader.backend.explain_prefix is not None

    def __repr__(self) -> str:
        return f"Pages({self.resource.name!r}, budget_ms={self.budget_ms})"

    async def read(self, request: PageRequest, policy: CountPolicy | None,
                   position: int, *, scope: str = "") -> Page:
        """The page ``request`` asks for, counted under ``policy`` (None: not counted).

        With a result cache the page runs uncounted and the total is the kept one (or is
        computed once, on its own, and kept); ``scope`` names the caller's credentials.
        """
        if self.results is not None and policy is not None and policy.kind != "none":
            page = await self.read(request, None, position)
            total = await self._kept_total(request, policy, position, len(page.rows), scope)
            # Built, not dataclasses.replace(): this runs on every counted list.
            return Page(page.rows, page.lists, total, page.json, page.last, page.groups)
        inline = (None if policy is None else
                  inline_count(policy, postgresql=self.estimates, first=position == 0,
                               view=self.view))
        if inline is not None:
            request = dataclasses.replace(request, count=inline)
        leading = self.statements.leading(request)
        async with self.reader.connection() as connection:
            compiled, values = self.statements.page(request)
            found = await connection.fetch(compiled, values, self.budget_ms)
            rows = [row[:leading] for row in found] if inline is not None else found
            lists = await self.lists(connection, rows, request.shape)
            groups = self._groups(rows, request.shape)
            total = await self._total(connection, request, policy, found, position, leading,
                                      len(rows) if groups is None else groups)
        return Page(rows, lists, total, self.statements.layout(request.shape).json,
                    self._last_sort_values(request, rows), groups)

    def _groups(self, rows: Sequence[Sequence[Any]], shape: Shape | None) -> int | None:
        """A grouped page's number of groups: its rows come key by key."""
        key = self.resource.group_key
        if key is None:
            return None
        position = self.statements.layout(shape).leaves.index(key)
        return len({row[position] for row in rows})

    async def _kept_total(self, request: PageRequest, policy: CountPolicy, position: int,
                          returned: int, scope: str) -> Total:
        if returned < request.limit and (returned > 0 or position == 0):
            return Total(position + returned, "exact")  # a short page tells its total
        assert self.results is not None
        selection = request.selection
        criteria = self.statements.criteria
        key = (criteria.shape(selection), criteria.values(selection), policy)
        total: Total = await self.results.answer(
            "total", key, lambda: self.count(selection, policy), TOTAL_CODEC, scope=scope)
        return total

    async def count(self, selection: Selection, policy: CountPolicy) -> Total:
        """The total of ``selection`` under ``policy``, in statements of its own."""
        async with self.reader.connection() as connection:
            inline = inline_count(policy, postgresql=self.estimates, first=True, view=self.view)
            if inline is None:
                return await self._separate(connection, selection, policy)
            return await self._inline_alone(connection, selection, inline, policy)

    def _last_sort_values(self, request: PageRequest,
                          rows: Sequence[Sequence[Any]]) -> Sequence[Any]:
        if not rows:
            return ()
        last = rows[-1]
        if self.resource.group_key is not None:  # the last group's first row: its values
            position = self.statements.layout(request.shape).leaves.index(
                self.resource.group_key)
            last = next(row for row in rows if row[position] == last[position])
        return tuple(last[position] for position in self.statements.sort_positions(request))

    async def one(self, pk_values: Sequence[Any], shape: Shape | None = None) -> Page | None:
        """The row with these primary key values (in ``shape``: every field), or None."""
        async with self.reader.connection() as connection:
            rows = await connection.fetch(self.statements.detail_for(shape),
                                          self.statements.detail_values(pk_values),
                                          self.budget_ms)
            if not rows:
                return None
            return Page(rows, await self.lists(connection, rows, shape), Total(1, "exact"),
                        self.statements.detail_json(shape),
                        groups=None if self.resource.group_key is None else 1)

    async def lists(self, connection: ReadConnection, rows: Sequence[Sequence[Any]],
                    shape: Shape | None = None) -> Lists:
        """Each to-many list of ``shape`` for ``rows``, grouped by owner primary key."""
        fields = self.resource.many_fields if shape is None else shape.many_fields
        if not fields or not rows:
            return {}
        leaves = self.statements.layout(shape).leaves
        positions = [leaves.index(leaf) for leaf in self.resource.primary_key]
        # Distinct: a grouped resource's rows repeat their group's key.
        keys = list(dict.fromkeys(tuple(row[position] for position in positions)
                                  for row in rows))
        lists: Lists = {}
        for field in fields:
            compiled, values = self.statements.many(field, keys)
            found = await connection.fetch(compiled, values, self.budget_ms)
            lists[field.name] = _grouped(found, len(keys[0]), field.scalar,
                                         [leaf.api_path[-1] for leaf in field.leaves])
        return lists

    async def _total(self, connection: ReadConnection, request: PageRequest,
                     policy: CountPolicy | None, found: Sequence[Sequence[Any]],
                     position: int, leading: int, returned: int) -> Total:
        if policy is None or policy.kind == "none":
            return NO_COUNT
        inline = request.count
        if inline is not None and found:
            total = read_total(inline, found[0], columns=leading, returned=returned,
                               position=position)
            return await self._planned(connection, request.selection, policy, total)
        if returned < request.limit and (returned > 0 or position == 0):
            return Total(position + returned, "exact")  # a short page tells its total
        if inline is not None:  # an empty page past the end: nothing carried the count
            return await self._inline_alone(connection, request.selection, inline, policy)
        return await self._separate(connection, request.selection, policy)

    async def _planned(self, connection: ReadConnection, selection: Selection,
                       policy: CountPolicy, total: Total) -> Total:
        """``total``, or where it says "ask the planner": ``auto``'s answer from ``EXPLAIN``.

        The planner expecting at least the cap gives the estimate; fewer, and counting is
        cheap: the capped count (exact, or a lower bound when the planner was wrong).
        """
        if total.value is not None or total.kind != "estimated":
            return total
        estimated = await self._estimated(connection, selection)
        cap = policy.cap or AUTO_CAP
        if estimated.value is not None and estimated.value >= cap:
            return estimated
        return await self._inline_alone(connection, selection, InlineCount("capped", cap),
                                        policy)

    async def _inline_alone(self, connection: ReadConnection, selection: Selection,
                            inline: InlineCount, policy: CountPolicy) -> Total:
        compiled, values = self.statements.count(selection, inline)
        [row] = await connection.fetch(compiled, values, self.budget_ms)
        total = read_total(inline, row, columns=0, returned=0, position=0)
        return await self._planned(connection, selection, policy, total)

    async def _separate(self, connection: ReadConnection, selection: Selection,
                        policy: CountPolicy) -> Total:
        if policy.kind == "estimated":
            return await self._estimated(connection, selection)
        if policy.kind == "auto":  # a view, where the database plans estimates
            return await self._planned(connection, selection, policy, Total(None, "estimated"))
        compiled, values = self.statements.count(selection, InlineCount("exact"))
        try:
            [row] = await connection.fetch(compiled, values, policy.timeout_ms)
        except StatementTimeout:
            # The next cheaper count elsewhere is another scan that would run out of time.
            return await self._estimated(connection, selection) if self.estimates else NO_COUNT
        return Total(int(row[0]), "exact")

    async def _estimated(self, connection: ReadConnection, selection: Selection) -> Total:
        compiled, values = self.statements.explain(selection)
        [row] = await connection.fetch(compiled, values, self.budget_ms)
        raw = row[0]
        document = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
        return Total(self.reader.backend.planned_rows(document), "estimated")


def _grouped(rows: Sequence[Sequence[Any]], pk_count: int, scalar: bool,
             names: list[str]) -> dict[tuple[Any, ...], list[Any]]:
    """The rows of a to-many statement by their owner's primary key."""
    grouped: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        owner = tuple(row[:pk_count])
        values = row[pk_count:]
        item = values[0] if scalar else dict(zip(names, values, strict=True))
        grouped.setdefault(owner, []).append(item)
    return grouped

