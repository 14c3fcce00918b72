"""Turn result rows into the JSON the API sends: nested objects, to-many lists, bytes out."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from crud.model.fields import Leaf, ManyField, Node, ObjectNode

__all__ = ["RowShaper", "dumps", "json_default", "many_values"]

Builder = Callable[[Sequence[Any], dict[str, list[Any]]], dict[str, Any]]


def json_default(value: Any) -> Any:
    """What orjson cannot encode by itself: numbers as floats, ids as text."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID | bytes):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(content: Any) -> bytes:
    # Naive date-times are UTC by this API's convention; say so, as RFC 3339 wants.
    return orjson.dumps(content, default=json_default,
                        option=orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC)


class RowShaper:
    """Builds one item dict from a row; the flat case is a single ``zip``."""

    def __init__(self, nodes: Sequence[Node], row_leaves: Sequence[Leaf]) -> None:
        self.index = {leaf.label: position for position, leaf in enumerate(row_leaves)}
        self.nodes = nodes
        self.flat_names: list[str] | None = None
        if all(isinstance(node, Leaf) for node in nodes):
            self.flat_names = [node.api_path[-1] for node in nodes]
        self._build = self._compile(nodes)

    def __call__(self, row: Sequence[Any], many: dict[str, list[Any]] | None = None) -> dict[str, Any]:
        if self.flat_names is not None:
            return dict(zip(self.flat_names, row, strict=True))
        return self._build(row, many or {})

    def _compile(self, nodes: Sequence[Node]) -> Builder:
        parts: list[tuple[str, Callable[[Sequence[Any], dict[str, list[Any]]], Any]]] = []
        for node in nodes:
            parts.append((node.api_path[-1], self._compile_node(node)))

        def build(row: Sequence[Any], many: dict[str, list[Any]]) -> dict[str, Any]:
            return {name: part(row, many) for name, part in parts}

        return build

    def _compile_node(self, node: Node) -> Callable[[Sequence[Any], dict[str, list[Any]]], Any]:
        if isinstance(node, Leaf):
            position = self.index[node.label]
            return lambda row, _many: row[position]
        if isinstance(node, ManyField):
            name = node.name
            return lambda _row, many: many.get(name, [])
        assert isinstance(node, ObjectNode)
        return self._compile(node.children)


def many_values(field: ManyField, rows: Sequence[Any], pk_count: int) -> dict[tuple[Any, ...], list[Any]]:
    """Group the rows of a to-many statement by their owner's primary key."""
    grouped: dict[tuple[Any, ...], list[Any]] = {}
    names = [leaf.api_path[-1] for leaf in field.leaves]
    for row in rows:
        owner = tuple(row[:pk_count])
        values = row[pk_count:]
        item = values[0] if field.scalar else dict(zip(names, values, strict=True))
        grouped.setdefault(owner, []).append(item)
    return grouped
