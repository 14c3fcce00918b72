"""``format=csv``: RFC 4180 text, one header row, one row per item, nested objects flattened.

Columns are the item's fields in declaration order, a nested object's as ``project.url``;
a to-many list or a JSON value is one cell of JSON text; NULL is an empty cell; other
values are spelled as in the JSON list (``true``, ``2024-01-01T08:00:00+00:00``). Quoting
is Python's ``csv`` module (minimal, ``""`` inside quotes, CRLF line ends), so commas,
quotes and newlines in text survive a round trip through any RFC 4180 reader.

A CSV file has no place for "the rest was left out". The cap's marker is a last line of
one unquoted field starting with ``#`` (``# truncated: ...``): a strict reader refuses the
short row, so the cut is never mistaken for the end; ``pandas.read_csv(comment="#")`` and
R's ``comment.char`` skip it deliberately. No data line can look like it: a first cell
starting with ``#`` is always quoted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import orjson

from crud.http.rows import dumps
from crud.model.fields import Leaf, ManyField, Node

__all__ = ["CsvRenderer", "cell", "columns"]

Path = tuple[str, ...]


def columns(nodes: Sequence[Node]) -> list[Path]:
    """The API paths of the cells of a row: leaves and lists, objects flattened."""
    paths: list[Path] = []
    for node in nodes:
        if isinstance(node, Leaf | ManyField):
            paths.append(node.api_path)
        else:
            paths.extend(columns(node.children))
    return paths


def cell(value: Any) -> str:
    """One value as CSV text: the JSON list's spelling, strings bare, NULL empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    encoded = dumps(value)
    if encoded[:1] == b'"':  # a date, a time, an id: the JSON string without its quotes
        text: str = orjson.loads(encoded)
        return text
    return encoded.decode()


class CsvRenderer:
    """The CSV body of one resource's export."""

    name = "csv"
    media_type = "text/csv"
    # RFC 4180's optional ``header`` parameter: the first line names the columns.
    content_type = "text/csv; charset=utf-8; header=present"
    extension = "csv"
    json_rows = False

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.paths = columns(nodes)
        header = ",".join(".".join(path) for path in self.paths)
        self.openapi: dict[str, Any] = {
            "schema": {"type": "string", "description": f"RFC 4180, CRLF line ends; the "
                       f"header row `{header}`, a row per item (nested objects as "
                       "`a.b` columns, lists as JSON text, NULL empty); when the row cap cut "
                       "the list, a last line `# truncated: ...`"}}

    def __repr__(self) -> str:
        return f"CsvRenderer({len(self.paths)} columns)"

    def start(self) -> bytes:
        return self._lines([[".".join(path) for path in self.paths]])

    def chunk(self, items: list[Any]) -> bytes:
        return self._lines([[cell(_at(item, path)) for path in self.paths] for item in items])

    def truncated(self, max_rows: int) -> bytes:
        return (f"# truncated: more rows match than this export's limit of {max_rows}; "
                "narrow the filters\r\n").encode()

    def failed(self, detail: str) -> bytes:
        return f"# failed: {detail}\r\n".encode()

    def _lines(self, rows: list[list[str]]) -> bytes:
        # A buffer per call: one renderer serves every export of the resource at once.
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        for row in rows:
            if row and row[0].startswith("#"):
                buffer.write(_quoted(row[0]))
                if len(row) > 1:
                    buffer.write(",")
                    writer.writerow(row[1:])
                else:
                    buffer.write("\r\n")
            else:
                writer.writerow(row)
        return buffer.getvalue().encode()


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _at(item: Any, path: Path) -> Any:
    value = item
    for name in path:
        if value is None:
            return None
        value = value[name]
    return value
