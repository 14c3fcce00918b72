"""Turn result rows into the JSON the API sends: nested objects, to-many lists, bytes out.

One ``RowShaper`` per shape (``crud.model.shapes``): the fields and embeds a request asked
for. A row holds the shape's leaves in order, possibly followed by values the items do
not show (sort values kept for the next cursor), which shaping ignores.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from crud.model.fields import Collected, Leaf, ManyField, Node, ObjectNode
from crud.model.shapes import Shape
from crud.sql.pages import Page

__all__ = ["Encode", "RowShaper", "dumps", "dumps_as_stored", "encoder", "json_default"]

Lists = dict[str, list[Any]]
Builder = Callable[[Sequence[Any], Lists], Any]


def json_default(value: Any) -> Any:
    """What orjson cannot encode by itself: numbers as floats, ids as text."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID | bytes):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


Encode = Callable[[Any], bytes]


def dumps(content: Any) -> bytes:
    # Naive date-times are UTC unless the registry says otherwise; say so, as RFC 3339 wants.
    return _dumps(content, orjson.OPT_NAIVE_UTC)


def dumps_as_stored(content: Any) -> bytes:
    # ``naive_datetimes: as_stored``: a naive date-time is a local time with no known
    # offset, sent as it is stored rather than relabelled as UTC.
    return _dumps(content, 0)


def _dumps(content: Any, option: int) -> bytes:
    # Keys that are no text (a value-keyed map) are rare: OPT_NON_STR_KEYS made every
    # body's encoding 65% slower (a 50-row page: 32 µs against 19), so it is the retry.
    try:
        return orjson.dumps(content, default=json_default, option=option)
    except orjson.JSONEncodeError:
        return orjson.dumps(content, default=json_default,
                            option=option | orjson.OPT_NON_STR_KEYS)


def encoder(naive_utc: bool) -> Encode:
    """The JSON encoder of a resource's bodies, by what its naive date-times hold."""
    return dumps if naive_utc else dumps_as_stored


class RowShaper:
    """Builds the item dicts of a page; the flat case is a single ``zip`` per row."""

    def __init__(self, shape: Shape) -> None:
        self.index = {leaf.label: position for position, leaf in enumerate(shape.row_leaves)}
        self.many_names = [field.name for field in shape.many_fields]
        self.pk_positions = ([self.index[leaf.label] for leaf in shape.primary_key]
                             if self.many_names else [])
        self.flat_names: list[str] | None = None
        # A grouped item is folded from its rows (consecutive, by the group key).
        self.group_position: int | None = None
        self.collected: list[tuple[str, Callable[[list[Sequence[Any]]], Any]]] = []
        if shape.group_key is not None:
            self.group_position = self.index[shape.group_key.label]
            self.collected = [(node.name, self._collector(node)) for node in shape.nodes
                              if isinstance(node, Collected)]
        elif all(isinstance(node, Leaf) for node in shape.nodes):
            self.flat_names = [node.api_path[-1] for node in shape.nodes]
        self._build = self._compile(shape.nodes)

    def __repr__(self) -> str:
        return f"RowShaper(flat={self.flat_names is not None}, lists={self.many_names})"

    def items(self, page: Page) -> list[Any]:
        if page.json:  # written by the database: embedded as they are
            return [orjson.Fragment(row[0]) for row in page.rows]
        if self.group_position is not None:
            return [self._fold(rows, page) for rows in self._groups(page.rows)]
        if self.flat_names is not None:
            names = self.flat_names
            # The leading columns are the items' (any after them: sort values for a cursor).
            return [dict(zip(names, row, strict=False)) for row in page.rows]
        if not self.many_names:
            return [self._build(row, {}) for row in page.rows]
        return [self._build(row, self._lists_of(row, page)) for row in page.rows]

    def _groups(self, rows: Sequence[Sequence[Any]]) -> list[list[Sequence[Any]]]:
        position = self.group_position
        assert position is not None
        groups: list[list[Sequence[Any]]] = []
        for row in rows:
            if groups and groups[-1][0][position] == row[position]:
                groups[-1].append(row)
            else:
                groups.append([row])
        return groups

    def _fold(self, rows: list[Sequence[Any]], page: Page) -> Any:
        # Plain fields from the group's first row; collected ones from all of them; to-many
        # lists were read for the group's key.
        lists = self._lists_of(rows[0], page) if self.many_names else {}
        lists.update((name, collect(rows)) for name, collect in self.collected)
        return self._build(rows[0], lists)

    def _collector(self, node: Collected) -> Callable[[list[Sequence[Any]]], Any]:
        value = self._compile_node(node.value)
        if node.key is None:
            def listed(rows: list[Sequence[Any]]) -> list[Any]:
                # Distinct values in row order; NULLs (and absent objects) left out.
                values: list[Any] = []
                for row in rows:
                    item = value(row, {})
                    if item is not None and item not in values:
                        values.append(item)
                return values
            return listed
        key = self.index[node.key.label]

        def keyed(rows: list[Sequence[Any]]) -> dict[Any, Any]:
            # The first row of each key wins; a row without a key has no place.
            by_key: dict[Any, Any] = {}
            for row in rows:
                if row[key] is not None and row[key] not in by_key:
                    by_key[row[key]] = value(row, {})
            return by_key
        return keyed

    def _lists_of(self, row: Sequence[Any], page: Page) -> Lists:
        key = tuple(row[position] for position in self.pk_positions)
        return {name: page.lists[name].get(key, []) for name in self.many_names}

    def _compile(self, nodes: Sequence[Node]) -> Builder:
        parts = [(node.api_path[-1], self._compile_node(node)) for node in nodes]

        def build(row: Sequence[Any], lists: Lists) -> dict[str, Any]:
            return {name: part(row, lists) for name, part in parts}

        return build

    def _compile_node(self, node: Node) -> Builder:
        if isinstance(node, Leaf):
            position = self.index[node.label]
            return lambda row, _lists: row[position]
        if isinstance(node, ManyField | Collected):
            name = node.name
            return lambda _row, lists: lists.get(name, [])
        assert isinstance(node, ObjectNode)
        build = self._compile(node.children)
        if node.presence is None:
            return build
        present = self.index[node.presence.label]
        # No related row: the relation is null, not an object of nulls.
        return lambda row, lists: None if row[present] is None else build(row, lists)
