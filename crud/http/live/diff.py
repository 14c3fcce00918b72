"""A list body as rows keyed by primary key, and the changes between two of them.

The page is compared as the list renders it (after ``fields=``, embeds, the profile's
encoding): a row is *changed* when its rendered item differs, so a column the client did
not ask for never makes an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from crud.http.errors import BadRequest

__all__ = ["PageRows", "changes", "item_key", "page_rows", "row_event"]


@dataclass(frozen=True)
class PageRows:
    """The page's items in order: encoded key -> (key as in the item, encoded item)."""

    rows: dict[bytes, tuple[Any, bytes]] = field(default_factory=dict)


def page_rows(body: bytes, key_names: Sequence[str]) -> PageRows:
    """The rows of a list body: a bare array, or an envelope's ``items``."""
    parsed = orjson.loads(body)
    items = parsed if isinstance(parsed, list) else parsed.get("items", [])
    rows: dict[bytes, tuple[Any, bytes]] = {}
    for item in items:
        key = item_key(item, key_names)
        rows[orjson.dumps(key)] = (key, orjson.dumps(item))
    return PageRows(rows)


def item_key(item: Any, key_names: Sequence[str]) -> Any:
    """The primary key as ``item`` shows it; a 400 when ``fields=`` left it out."""
    missing = [name for name in key_names if not isinstance(item, dict) or name not in item]
    if missing:
        names = ",".join(key_names)
        raise BadRequest(f"fields: a watched list keys its rows by {names}; include "
                         f"{', '.join(missing)} in fields=")
    if len(key_names) == 1:
        return item[key_names[0]]
    return {name: item[name] for name in key_names}


def changes(old: PageRows, new: PageRows) -> list[tuple[str, bytes]]:
    """Events from ``old`` to ``new``: removals first, then additions and changes in the
    new page's order (``index``: the row's place on the page)."""
    events = [("removed", b'{"key":%s}' % encoded)
              for encoded in old.rows if encoded not in new.rows]
    for index, (encoded, (_, item)) in enumerate(new.rows.items()):
        before = old.rows.get(encoded)
        if before is None:
            events.append(("added", row_event(encoded, item, index)))
        elif before[1] != item:
            events.append(("changed", row_event(encoded, item, index)))
    return events


def row_event(key: bytes, item: bytes, index: int) -> bytes:
    return b'{"key":%s,"item":%s,"index":%d}' % (key, item, index)
