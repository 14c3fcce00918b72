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
from crud.sql.counting import InlineCount, Total, inline_count, read_total
from crud.sql.reader import ReadConnection, Reader, StatementTimeout
from crud.sql.statements import PageRequest, Selection, Statements

__all__ = ["Page", "Pages"]

Lists = dict[str, dict[tuple[Any, ...], list[Any]]]
NO_COUNT = Total(None, "none")


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


class Pages:
    """Reads pages and single rows of one resource."""

    def __init__(self, resource: Resource, statements: Statements, reader: Reader, *,
                 budget_ms: int | None) -> None:
        self.resource = resource
        self.statements = statements
        self.reader = reader
        self.budget_ms = budget_ms
        self.pk_positions = [resource.row_leaves.index(leaf) for leaf in resource.primary_key]
        self.positions = {id(leaf): index for index, leaf in enumerate(resource.row_leaves)}
        self.width = len(resource.row_leaves)
        if resource.rank is not None:  # a ranked page's rows end with the rank
            self.positions[id(resource.rank.leaf)] = self.width
        self.estimates = reader.backend.plans_estimates

    def __repr__(self) -> str:
        return f"Pages({self.resource.name!r}, budget_ms={self.budget_ms})"

    async def read(self, request: PageRequest, policy: CountPolicy | None,
                   position: int) -> Page:
        """The page ``request`` asks for, counted under ``policy`` (None: not counted)."""
        inline = (None if policy is None else
                  inline_count(policy, postgresql=self.estimates, first=position == 0))
        request = dataclasses.replace(request, count=inline)
        leading = self.statements.leading(request)
        async with self.reader.connection() as connection:
            compiled, values = self.statements.page(request)
            found = await connection.fetch(compiled, values, self.budget_ms)
            rows = [row[:leading] for row in found] if inline is not None else found
            lists = await self.lists(connection, rows)
            total = await self._total(connection, request, policy, found, position, leading)
        last = self._last_sort_values(request, rows)
        if self.statements.ranked(request.order) and not self.statements.json_rows:
            rows = [row[:self.width] for row in rows]  # the rank is no field of the items
        return Page(rows, lists, total, self.statements.json_rows, last)

    def _last_sort_values(self, request: PageRequest,
                          rows: Sequence[Sequence[Any]]) -> Sequence[Any]:
        if not rows:
            return ()
        last = rows[-1]
        if self.statements.json_rows:
            return tuple(last[1:])
        return tuple(last[self.positions[id(key.leaf)]] for key, _ in request.order)

    async def one(self, pk_values: Sequence[Any]) -> Page | None:
        """The row with these primary key values, or None."""
        async with self.reader.connection() as connection:
            rows = await connection.fetch(self.statements.detail,
                                          self.statements.detail_values(pk_values),
                                          self.budget_ms)
            if not rows:
                return None
            return Page(rows, await self.lists(connection, rows), Total(1, "exact"),
                        self.statements.json_rows)

    async def lists(self, connection: ReadConnection, rows: Sequence[Sequence[Any]]) -> Lists:
        """Each to-many field's values for ``rows``, grouped by owner primary key."""
        if not self.resource.many_fields or not rows:
            return {}
        keys = [self.key_of(row) for row in rows]
        lists: Lists = {}
        for field in self.resource.many_fields:
            compiled, values = self.statements.many(field, keys)
            found = await connection.fetch(compiled, values, self.budget_ms)
            lists[field.name] = _grouped(found, len(keys[0]), field.scalar,
                                         [leaf.api_path[-1] for leaf in field.leaves])
        return lists

    def key_of(self, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(row[position] for position in self.pk_positions)

    async def _total(self, connection: ReadConnection, request: PageRequest,
                     policy: CountPolicy | None, found: Sequence[Sequence[Any]],
                     position: int, leading: int) -> Total:
        if policy is None or policy.kind == "none":
            return NO_COUNT
        inline = request.count
        returned = len(found)
        if inline is not None and found:
            return read_total(inline, found[0], columns=leading, returned=returned,
                              position=position)
        if returned < request.limit and (returned > 0 or position == 0):
            return Total(position + returned, "exact")  # a short page tells its total
        if inline is not None:  # an empty page past the end: nothing carried the count
            return await self._inline_alone(connection, request.selection, inline)
        return await self._separate(connection, request.selection, policy)

    async def _inline_alone(self, connection: ReadConnection, selection: Selection,
                            inline: InlineCount) -> Total:
        compiled, values = self.statements.count(selection, inline)
        [row] = await connection.fetch(compiled, values, self.budget_ms)
        return read_total(inline, row, columns=0, returned=0, position=0)

    async def _separate(self, connection: ReadConnection, selection: Selection,
                        policy: CountPolicy) -> Total:
        if policy.kind == "estimated":
            return await self._estimated(connection, selection)
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
        return Total(int(document[0]["Plan"]["Plan Rows"]), "estimated")


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

