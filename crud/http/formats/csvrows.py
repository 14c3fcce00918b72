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
import datetime as dt
import io
import uuid
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import orjson

from crud.http.rows import Encode, dumps
from crud.model.fields import Collected, Leaf, ManyField, Node, ObjectNode

__all__ = ["CsvRenderer", "cell", "columns", "spellings_for"]

Path = tuple[str, ...]


def columns(nodes: Sequence[Node]) -> list[Path]:
    """The API paths of the cells of a row: leaves and lists, objects flattened."""
    paths: list[Path] = []
    for node in nodes:
        if isinstance(node, Leaf | ManyField | Collected):
            paths.append(node.api_path)
        else:
            paths.extend(columns(node.children))
    return paths


def cell(value: Any, spellings: Spellings | None = None, encode: Encode = dumps) -> str:
    """One value as CSV text: the JSON list's spelling (``encode``'s), strings bare, NULL
    empty. ``spellings`` are ``spellings_for(encode)``, made once per renderer."""
    spell = (spellings or _SPELLINGS).get(type(value))
    return spell(value) if spell is not None else _json_text(value, encode)


def _json_text(value: Any, encode: Encode) -> str:
    encoded = encode(value)
    if encoded[:1] == b'"':  # an enum, a decimal's text: the JSON string without quotes
        text: str = orjson.loads(encoded)
        return text
    return encoded.decode()


def _quoteless(encode: Encode) -> Callable[[Any], str]:
    # Dates, times and ids are JSON strings with nothing to escape: drop the two quotes.
    return lambda value: encode(value)[1:-1].decode()


Spellings = dict[type, Callable[[Any], str]]


def spellings_for(encode: Encode) -> Spellings:
    """How the common types are spelled, by exact type: one dict lookup per cell (a
    rendered export is millions of cells); anything else goes through its JSON text."""
    quoteless = _quoteless(encode)
    return {
        str: str, int: str, type(None): lambda _value: "",
        bool: lambda value: "true" if value else "false",
        dt.datetime: quoteless, dt.date: quoteless, dt.time: quoteless, uuid.UUID: quoteless,
    }


_SPELLINGS = spellings_for(dumps)


class CsvRenderer:
    """The CSV body of one resource's export."""

    name = "csv"
    media_type = "text/csv"
    # RFC 4180's optional ``header`` parameter: the first line names the columns.
    content_type = "text/csv; charset=utf-8; header=present"
    extension = "csv"
    json_rows = False

    def __init__(self, nodes: Sequence[Node], encode: Encode = dumps) -> None:
        self.encode = encode
        self.spellings = spellings_for(encode)
        paths = columns(nodes)
        kinds = dict(_kinds(nodes))
        # Text and integer columns go to the csv module as they are (it writes None as an
        # empty field); only the others need spelling, cell by cell.
        self._configure(paths, [kinds.get(path) in _AS_IS for path in paths])
        header = ",".join(".".join(path) for path in paths)
        self.openapi: dict[str, Any] = {
            "schema": {"type": "string", "description": f"RFC 4180, CRLF line ends; the "
                       f"header row `{header}`, a row per item (nested objects as "
                       "`a.b` columns, lists as JSON text, NULL empty); when the row cap cut "
                       "the list, a last line `# truncated: ...`"}}

    @classmethod
    def for_columns(cls, paths: list[Path]) -> CsvRenderer:
        """A renderer of these columns, whatever their values (no column types known)."""
        renderer = cls([])  # the default spelling: naive date-times are UTC
        renderer._configure(paths, [False] * len(paths))
        return renderer

    def _configure(self, paths: list[Path], plain: list[bool]) -> None:
        self.paths = paths
        self.spelled = [index for index, as_is in enumerate(plain) if not as_is]
        if len(paths) > 1 and all(len(path) == 1 for path in paths):
            every = itemgetter(*(path[0] for path in paths))  # one C call per flat row
            self.values: Callable[[Any], list[Any]] = lambda item: list(every(item))
        else:
            getters = [_getter(path) for path in paths]
            self.values = lambda item: [get(item) for get in getters]

    def __repr__(self) -> str:
        return f"CsvRenderer({len(self.paths)} columns)"

    def for_nodes(self, nodes: Sequence[Node]) -> CsvRenderer:
        return CsvRenderer(nodes, self.encode)

    def start(self) -> bytes:
        return self._lines([[".".join(path) for path in self.paths]])

    def chunk(self, items: list[Any]) -> bytes:
        values, spelled, spellings, encode = self.values, self.spelled, self.spellings, self.encode
        rows = []
        for item in items:
            row = values(item)
            for index in spelled:
                row[index] = cell(row[index], spellings, encode)
            rows.append(row)
        return self._lines(rows)

    def truncated(self, max_rows: int) -> bytes:
        return (f"# truncated: more rows match than this export's limit of {max_rows}; "
                "narrow the filters\r\n").encode()

    def failed(self, detail: str) -> bytes:
        return f"# failed: {detail}\r\n".encode()

    @staticmethod
    def _lines(rows: list[list[Any]]) -> bytes:
        # A buffer per call: one renderer serves every export of the resource at once.
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        if not any(isinstance(row[0], str) and row[0][:1] == "#" for row in rows if row):
            writer.writerows(rows)
            return buffer.getvalue().encode()
        for row in rows:
            if row and isinstance(row[0], str) and row[0][:1] == "#":
                buffer.write(_quoted(row[0]))
                if len(row) > 1:
                    buffer.write(",")
                    writer.writerow(row[1:])
                else:
                    buffer.write("\r\n")
            else:
                writer.writerow(row)
        return buffer.getvalue().encode()


_AS_IS = frozenset({"string", "integer"})


def _kinds(nodes: Sequence[Node]) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for node in nodes:
        if isinstance(node, Leaf):
            found.append((node.api_path, node.info.kind))
        elif isinstance(node, ObjectNode):
            found.extend(_kinds(node.children))
    return found


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _getter(path: Path) -> Callable[[Any], Any]:
    if len(path) == 1:
        return itemgetter(path[0])

    def get(item: Any) -> Any:
        value = item
        for name in path:
            if value is None:
                return None
            value = value[name]
        return value

    return get
