"""Tail mode (``?tail=true``): new rows at the head of a list, cheap at any table size.

A tail watches the first page of a list (newest first, say ``order_by=-id``) for rows
that arrive *before* its first row. Each poll whose change signal moved runs one keyset
seek: the list's order reversed, after the sort values of the newest row seen (the
values a signed cursor carries), limited to a page. That is an index range scan from the
head, whatever the table's size; the page is never re-read or diffed, so rows that change
or leave are not reported: only ``added`` events, oldest first, each at ``index`` 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from crud.http.endpoints import Endpoints, database_errors
from crud.http.errors import BadRequest
from crud.http.listquery import ListQuery
from crud.http.live.diff import item_key
from crud.model.shapes import Shape
from crud.sql.requests import OrderItem, PageRequest, Selection

__all__ = ["TAIL", "Tail", "TailRows"]

TAIL = "tail"  # the query parameter (true/false)


@dataclass(frozen=True)
class TailRows:
    """The rows newer than the head, oldest first, as (encoded key, encoded item)."""

    rows: list[tuple[bytes, bytes]]
    head: tuple[Any, ...] | None
    overflow: bool  # more than a page arrived: the client must refetch


@dataclass(frozen=True)
class Tail:
    """One tail query: the list's selection, order and shape, and its page size."""

    endpoints: Endpoints
    selection: Selection
    order: tuple[OrderItem, ...]
    shape: Shape
    size: int
    key_names: tuple[str, ...]

    @classmethod
    def of(cls, endpoints: Endpoints, query: ListQuery, key_names: Sequence[str]) -> Tail:
        profile = endpoints.profile
        groups = query.part(profile.groups) if profile.groups is not None else ()
        selection = Selection(query.part(profile.filters), query.part(profile.search), groups)
        order = query.part(profile.sort)
        shape = query.part(profile.shape) if profile.shape is not None else endpoints.full
        window = profile.paging.window(query.part(profile.paging), query, selection, order)
        if window.position or window.after is not None:
            raise BadRequest("tail: a tail watches the first page; drop page=, cursor= "
                             "and Range")
        return cls(endpoints, selection, order, shape, window.size, tuple(key_names))

    async def head(self) -> tuple[Any, ...] | None:
        """The sort values of the list's first row (None: the list is empty)."""
        return await self._read(self.order, None, 1, [])

    async def newer(self, head: tuple[Any, ...] | None) -> TailRows:
        reverse = tuple((key, not descending) for key, descending in self.order)
        rows: list[tuple[bytes, bytes]] = []
        last = await self._read(reverse, head, self.size + 1, rows)
        overflow = len(rows) > self.size
        return TailRows(rows[:self.size], head if not rows else last, overflow)

    async def _read(self, order: tuple[OrderItem, ...], after: tuple[Any, ...] | None,
                    limit: int, into: list[tuple[bytes, bytes]]) -> tuple[Any, ...] | None:
        endpoints = self.endpoints
        wanted = PageRequest(self.selection, order, limit, 0, after, shape=self.shape)
        with database_errors():
            page = await endpoints.pages.read(wanted, None, 0)
        renderer = endpoints.profile.renderer
        for item in endpoints.shaper_for(self.shape).items(page):
            encoded = renderer.item_body(item)
            into.append((orjson.dumps(item_key(orjson.loads(encoded), self.key_names)),
                         encoded))
        return tuple(page.last) if page.rows else None
