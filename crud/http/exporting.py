"""The response of an export: the first chunk read, then the rest streamed as it comes.

The first chunk is read before anything is sent, so a list that cannot be read at all
(a timeout, the database gone) is still an ordinary 503 problem. From then on the status
is sent: a chunk that fails later ends the body with the format's failure line and the
connection is dropped before the end of the chunked body, so a client (curl, a script)
sees an incomplete transfer rather than a short file. A client that goes away cancels
the stream where it waits (Starlette listens for the disconnect): no further chunk is
read, and the statement in flight is abandoned (PostgreSQL's driver cancels it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from crud.http.rows import RowShaper
from crud.http.steps.export import EXPORT_MAX_ROWS, Export
from crud.model.resource import Resource
from crud.model.shapes import Shape
from crud.sql.exports import ExportRequest, ExportRows
from crud.sql.pages import Page, Pages
from crud.sql.reader import DatabaseUnavailable, StatementTimeout
from crud.sql.requests import OrderItem, Selection
from crud.sql.statements import Statements

__all__ = ["ExportInterrupted", "Exporter", "Stream"]


class ExportInterrupted(Exception):
    """A chunk after the first failed: the body says so, and the connection is dropped."""


class Stream:
    """One export under way: its rows, and the first chunk already read."""

    def __init__(self, export: Export, rows: ExportRows, chunks: AsyncIterator[Page],
                 first: Page | None, shaper: RowShaper) -> None:
        self.export = export
        self.shaper = shaper
        self.rows = rows
        self.chunks = chunks
        self.first = first


class Exporter:
    """Streams the exports of one resource, in any of its formats."""

    def __init__(self, resource: Resource, pages: Pages, full: Shape) -> None:
        self.resource = resource
        self.shaper = RowShaper(full)
        # A format takes the database's JSON item texts (NDJSON) or column values (CSV):
        # a page reader of each kind (the other one made on first use), sharing the
        # connections and the budget.
        self.pages = {pages.statements.json_rows: pages}
        self.base = pages

    def __repr__(self) -> str:
        return f"Exporter({self.resource.name!r})"

    def headers(self, export: Export) -> dict[str, str]:
        renderer = export.renderer
        return {"Content-Disposition":
                f'attachment; filename="{self.resource.name}.{renderer.extension}"',
                EXPORT_MAX_ROWS: str(export.max_rows)}

    def reshaped(self, export: Export, shape: Shape) -> Export:
        """``export`` for the items of ``shape`` (``fields=``, ``embed=``)."""
        if shape.key is None:
            return export
        return dataclasses.replace(export, renderer=export.renderer.for_nodes(shape.nodes))

    async def start(self, export: Export, selection: Selection,
                    order: tuple[OrderItem, ...], shape: Shape) -> Stream:
        """Read the first chunk (its failures are the caller's to answer)."""
        wanted = ExportRequest(selection, order, export.chunk_rows, export.max_rows,
                               shape if shape.key is not None else None)
        rows = ExportRows(self._pages(export.renderer.json_rows), wanted)
        chunks = aiter(rows)
        shaper = self.shaper if shape.key is None else RowShaper(shape)
        return Stream(export, rows, chunks, await anext(chunks, None), shaper)

    def response(self, request: Request, stream: Stream | None, export: Export,
                 headers: dict[str, str]) -> Response:
        """The streamed body of ``stream``; HEAD (no stream read) gets the headers alone."""
        media_type = export.renderer.content_type
        if request.method == "HEAD" or stream is None:
            response = Response(b"", 200, headers=headers, media_type=media_type)
            del response.headers["content-length"]  # the length is not known before sending
            return response
        return StreamingResponse(self._body(stream), 200, headers=headers,
                                 media_type=media_type)

    async def _body(self, stream: Stream) -> AsyncIterator[bytes]:
        renderer = stream.export.renderer
        head = renderer.start()
        if stream.first is None:
            yield head
        else:
            yield head + renderer.chunk(stream.shaper.items(stream.first))
        try:
            async for page in stream.chunks:
                yield renderer.chunk(stream.shaper.items(page))
        except (StatementTimeout, DatabaseUnavailable) as error:
            detail = _failure(error, stream.rows.sent)
            yield renderer.failed(detail)
            raise ExportInterrupted(f"{self.resource.name} export: {detail}") from error
        if stream.rows.truncated:
            yield renderer.truncated(stream.export.max_rows)

    def _pages(self, json_rows: bool) -> Pages:
        found = self.pages.get(json_rows)
        if found is None:
            base = self.base
            statements = Statements(self.resource, base.reader.backend, json_rows=json_rows)
            found = self.pages[json_rows] = Pages(self.resource, statements, base.reader,
                                                  budget_ms=base.budget_ms)
        return found


def _failure(error: Exception, sent: int) -> str:
    if isinstance(error, StatementTimeout):
        return (f"after {sent} rows, a chunk took longer than this API allows; the export "
                "is incomplete (narrow it with filters)")
    return f"after {sent} rows, the database became unavailable; the export is incomplete"
