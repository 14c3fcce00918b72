"""Every row a list selects, in its order, read as a chain of keyset chunks.

An export is not one long statement but many short ones: each chunk is the list's own page
statement with the seek after the previous chunk's last row (``crud.sql.statements``), on
a connection borrowed for that statement and returned before the chunk is sent. So:

* the statement budget holds per chunk, with the machinery every page already uses;
* memory is two chunks (one sent while the next is read), whatever the number of rows;
* a slow client holds no connection, transaction or snapshot while its socket drains
  (a server-side cursor would hold all three for the whole download: PostgreSQL could not
  vacuum behind it, MariaDB's unbuffered cursor would block the connection for the
  to-many statements, SQLite would pin its WAL);
* the order is the list's order and every row comes once, as with cursor pages.

The price: each chunk seeks anew. Over an indexed order that is a range scan; over an
order no index serves, every chunk sorts what it selects (a top-N sort), as a cursor page
at depth does. Rows whose sort values change between chunks may move, as between pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from crud.model.shapes import Shape
from crud.sql.pages import Page, Pages
from crud.sql.requests import OrderItem, PageRequest, Selection

__all__ = ["ExportRequest", "ExportRows"]


@dataclass(frozen=True)
class ExportRequest:
    """The rows of an export: a selection in an order, cut at ``max_rows``."""

    selection: Selection
    order: tuple[OrderItem, ...]
    chunk_rows: int
    max_rows: int
    shape: Shape | None = None  # which fields and embeds (None: the resource's default)


class ExportRows:
    """The chunks of one export, one statement (plus one per to-many field) each.

    Iterate it once; afterwards ``truncated`` says whether rows beyond ``max_rows`` were
    left out (one row past the cap is read to know).
    """

    def __init__(self, pages: Pages, request: ExportRequest) -> None:
        self.pages = pages
        self.request = request
        self.sent = 0
        self.truncated = False
        self.statements = 0  # chunk statements issued, for logs and tests

    def __repr__(self) -> str:
        return (f"ExportRows({self.pages.resource.name!r}, sent={self.sent}, "
                f"truncated={self.truncated})")

    def __aiter__(self) -> AsyncIterator[Page]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Page]:
        # One chunk ahead: the next chunk's statement runs while this one is rendered and
        # sent, so the database and the client's socket work at the same time. Reads stay
        # one after the other (each needs the last row of the one before): one connection.
        ahead: asyncio.Task[tuple[Page, int]] | None = self._read(None)
        try:
            while ahead is not None:
                page, limit = await ahead
                ahead = None
                remaining = self.request.max_rows - self.sent
                rows = page.rows
                if len(rows) > remaining:
                    self.truncated = True
                    rows = rows[:remaining]
                if not self.truncated and len(page.rows) == limit:
                    ahead = self._read(tuple(page.last), self.sent + len(rows))
                if rows:
                    self.sent += len(rows)
                    yield _with_rows(page, rows)
        finally:
            if ahead is not None:  # the client went away: abandon the statement in flight
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await ahead

    def _read(self, after: tuple[object, ...] | None,
              sent: int = 0) -> asyncio.Task[tuple[Page, int]]:
        # One row more than the cap allows tells whether the cap cut anything.
        limit = min(self.request.chunk_rows, self.request.max_rows - sent + 1)
        wanted = PageRequest(self.request.selection, self.request.order, limit, after=after,
                             shape=self.request.shape)
        self.statements += 1

        async def read() -> tuple[Page, int]:
            return await self.pages.read(wanted, None, sent), limit

        return asyncio.ensure_future(read())


def _with_rows(page: Page, rows: Sequence[Sequence[object]]) -> Page:
    return page if len(rows) == len(page.rows) else dataclasses.replace(page, rows=rows)
