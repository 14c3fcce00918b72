"""Answers as JSON for the result store, and back, with their Python types intact.

A kept total, facet count or aggregate row holds database values: dates, times, decimals,
UUIDs, bytes. JSON has none of them, and the renderers format each type their own way, so
the store keeps each such value tagged (``{"$": "date", "v": "2026-12-06"}``) and gives back
the same type. JSON, not pickle: a shared Redis must not be a way to run code here.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

__all__ = ["Codec", "plain", "typed"]

T = TypeVar("T")

_TAGS: dict[type, tuple[str, Callable[[Any], Any]]] = {
    dt.datetime: ("datetime", lambda value: value.isoformat()),
    dt.date: ("date", lambda value: value.isoformat()),
    dt.time: ("time", lambda value: value.isoformat()),
    dt.timedelta: ("timedelta", lambda value: value.total_seconds()),
    Decimal: ("decimal", str),
    uuid.UUID: ("uuid", str),
    bytes: ("bytes", lambda value: base64.b64encode(value).decode()),
}
_UNTAG: dict[str, Callable[[Any], Any]] = {
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "timedelta": lambda seconds: dt.timedelta(seconds=seconds),
    "decimal": Decimal,
    "uuid": uuid.UUID,
    "bytes": base64.b64decode,
}


def plain(value: Any) -> Any:
    """``value`` as JSON values; raises TypeError for a type it cannot give back."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    tag = _TAGS.get(type(value))
    if tag is None:
        raise TypeError(f"cannot keep a {type(value).__name__}")
    return {"$": tag[0], "v": tag[1](value)}


def typed(value: Any) -> Any:
    """The values ``plain`` gave, with their types back (lists stay lists)."""
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, dict):
        tag = value.get("$")
        if isinstance(tag, str) and len(value) == 2 and tag in _UNTAG:
            return _UNTAG[tag](value["v"])
        return {key: typed(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How one kind of answer goes into the store and comes back."""

    dump: Callable[[T], Any]
    load: Callable[[Any], T]
