"""Renderers: the page and item bodies of a profile, from shaped items to bytes.

The standard profile sends the JSON envelope (``items``, ``total``, ``page``, ``size``,
``pages``, ``next``); the other profiles' renderers live with them (``crud.http.profiles``). A
profile picks one; a new body format is a renderer. Exports (``format=csv``) stream
through a ``StreamRenderer`` instead: one module per format in ``crud.http.formats``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from crud.http.pagination import envelope
from crud.http.rows import Encode, dumps
from crud.http.steps.paging import Window
from crud.model.fields import Node
from crud.sql.counting import Total

__all__ = ["EnvelopeRenderer", "Renderer", "StreamRenderer"]


class Renderer(Protocol):
    media_type: str
    # Takes items as the database writes them (JSON texts in orjson's spelling).
    json_rows: bool

    def list_body(self, items: list[dict[str, Any]], total: Total, window: Window,
                  next_cursor: str | None, extra: Mapping[str, Any] | None = None) -> bytes:
        """The list body; ``extra`` keys (facets) join the envelope where there is one."""

    def item_body(self, item: dict[str, Any]) -> bytes: ...


class StreamRenderer(Protocol):
    """One export format: the bytes of a streamed list, chunk by chunk.

    ``start`` is sent before the first chunk, ``chunk`` for each chunk of shaped items,
    then ``truncated`` when the row cap cut the list, or ``failed`` when a later chunk's
    statement failed (the response is already under way: the body has to say it).
    """

    name: str  # the ``format=`` value
    media_type: str  # what ``Accept`` asks for, and the response's Content-Type
    content_type: str  # the Content-Type sent, with its parameters
    extension: str  # of the attachment's file name
    json_rows: bool  # takes the database's JSON item texts (NDJSON) or values (CSV)
    # OpenAPI: the media type object of the list's 200 response for this format.
    openapi: dict[str, Any]

    def for_nodes(self, nodes: Sequence[Node]) -> StreamRenderer:
        """The same format for items of these fields (a request's ``fields=``)."""
        ...

    def start(self) -> bytes: ...

    def chunk(self, items: list[Any]) -> bytes: ...

    def truncated(self, max_rows: int) -> bytes: ...

    def failed(self, detail: str) -> bytes: ...


class EnvelopeRenderer:
    """The standard list envelope and the item as it is, in one orjson pass each."""

    media_type = "application/json"
    json_rows = True

    def __init__(self, encode: Encode = dumps) -> None:
        self.encode = encode

    def __repr__(self) -> str:
        return f"EnvelopeRenderer({self.encode.__name__})"

    def list_body(self, items: list[dict[str, Any]], total: Total, window: Window,
                  next_cursor: str | None, extra: Mapping[str, Any] | None = None) -> bytes:
        body = envelope(items, total.value, window.page, window.size, next_cursor=next_cursor)
        if extra:
            body.update(extra)
        return self.encode(body)

    def item_body(self, item: dict[str, Any]) -> bytes:
        return self.encode(item)
