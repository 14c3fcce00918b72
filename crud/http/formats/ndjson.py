"""``format=ndjson``: one item per line, exactly as the JSON list's ``items`` hold it.

Where the database writes the items (PostgreSQL's JSON rows) their texts are sent as they
are. The cap's marker is a last line ``{"_truncated": true, "max_rows": N}``: an object
of two keys that are not the resource's fields (a field named ``_truncated`` would have
to be declared on purpose).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crud.http.rows import Encode, dumps
from crud.model.fields import Node

__all__ = ["NdjsonRenderer"]


class NdjsonRenderer:
    """Newline-delimited JSON (application/x-ndjson), one item per line."""

    name = "ndjson"
    media_type = "application/x-ndjson"
    content_type = "application/x-ndjson"
    extension = "ndjson"
    json_rows = True

    def __init__(self, item_ref: str, encode: Encode = dumps) -> None:
        self.encode = encode
        self.openapi = {"schema": {"type": "string",
                                   "description": f"One `{item_ref}` per line (JSON), then, "
                                                  "when the row cap cut the list, "
                                                  '`{"_truncated": true, "max_rows": N}`'}}

    def __repr__(self) -> str:
        return "NdjsonRenderer()"

    def for_nodes(self, nodes: Sequence[Node]) -> NdjsonRenderer:
        return self  # a line is whatever item it is given

    def start(self) -> bytes:
        return b""

    def chunk(self, items: list[Any]) -> bytes:
        encode = self.encode
        return b"".join([encode(item) + b"\n" for item in items])

    def truncated(self, max_rows: int) -> bytes:
        return dumps({"_truncated": True, "max_rows": max_rows}) + b"\n"

    def failed(self, detail: str) -> bytes:
        return dumps({"_failed": True, "detail": detail}) + b"\n"
