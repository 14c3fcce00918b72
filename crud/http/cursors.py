"""Keyset cursors: the last row's sort values, signed and bound to the query they came from.

A cursor is ``base64url(orjson(payload)) "." base64url(hmac)``. The payload holds the sort
values of the page's last row (declared, already public fields: nothing unlisted leaks),
the position of the next row (for Content-Range) and a fingerprint of the resource, sort,
filters and search. Tampering breaks the signature; reuse under another sort or filter
breaks the fingerprint: both are 400s. The seek predicate places NULLs exactly where
``crud.sql.query.order_clauses`` does (last ascending, first descending) on every dialect.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import and_, false, or_, true
from sqlalchemy import types as sqltypes
from sqlalchemy.sql.elements import ColumnElement

from crud.config.settings import Settings
from crud.http.errors import BadRequest, ParameterError
from crud.model.fields import Leaf
from crud.sql.query import sortable

__all__ = [
    "Cursor",
    "CursorCodec",
    "cursor_secret",
    "fingerprint",
    "seek_key",
    "seek_parts",
    "seek_predicate",
]

logger = logging.getLogger("crud.http.cursors")
_SIGNATURE_BYTES = 16

Encode = Callable[[Any], Any]
Decode = Callable[[Any], Any]


@dataclass(frozen=True)
class Cursor:
    """A decoded cursor: where the next page starts."""

    values: tuple[Any, ...]
    position: int


@lru_cache(maxsize=1)
def _random_secret() -> bytes:
    logger.warning("CRUD_CURSOR_SECRET is not set: using a random per-process secret, so "
                   "cursors will not survive a restart or move between workers")
    return secrets.token_bytes(32)


def cursor_secret(configured: str | None = None) -> bytes:
    """The signing key: ``configured``, else ``CRUD_CURSOR_SECRET``, else random per process."""
    if configured is None:
        from_env = Settings().cursor_secret
        configured = from_env.get_secret_value() if from_env is not None else None
    return configured.encode() if configured else _random_secret()


def fingerprint(resource: str, order: Sequence[tuple[str, bool]],
                filters: Sequence[tuple[str, str]], search: str | None) -> str:
    """A short digest of what a cursor is bound to; equal queries give equal digests."""
    material = orjson.dumps([resource, [list(item) for item in order],
                             sorted(list(item) for item in filters), search])
    return base64.urlsafe_b64encode(hashlib.sha256(material).digest()[:9]).decode()


class CursorCodec:
    """Encodes and verifies the cursors of one resource's list."""

    def __init__(self, secret: bytes, leaves: Sequence[Leaf]) -> None:
        self.secret = secret
        self.codecs = {leaf.name: _value_codec(leaf.sql_type) for leaf in leaves}

    def encode(self, leaves: Sequence[Leaf], values: Sequence[Any], position: int,
               bound_to: str) -> str:
        encoded = [None if value is None else self.codecs[leaf.name][0](value)
                   for leaf, value in zip(leaves, values, strict=True)]
        payload = orjson.dumps({"v": encoded, "p": position, "f": bound_to})
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, token: str, leaves: Sequence[Leaf], bound_to: str) -> Cursor:
        payload = self._verified(token)
        if not isinstance(payload, dict) or payload.get("f") != bound_to:
            raise _invalid("this cursor belongs to another sort, filter or search; "
                           "start again without 'cursor' or repeat the original parameters")
        raw_values, position = payload.get("v"), payload.get("p")
        if (not isinstance(raw_values, list) or len(raw_values) != len(leaves)
                or not isinstance(position, int) or position < 0):
            raise _invalid("the cursor does not fit this list")
        try:
            values = tuple(None if raw is None else self.codecs[leaf.name][1](raw)
                           for leaf, raw in zip(leaves, raw_values, strict=True))
        except (ValueError, TypeError, KeyError):
            raise _invalid("the cursor does not fit this list") from None
        return Cursor(values=values, position=position)

    def _verified(self, token: str) -> Any:
        body, _, signature = token.partition(".")
        try:
            payload, given = _unb64(body), _unb64(signature)
        except (binascii.Error, ValueError):
            raise _invalid("not a cursor from this API") from None
        if not hmac.compare_digest(given, self._sign(payload)):
            raise _invalid("the cursor was altered or signed by another deployment")
        return orjson.loads(payload)

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self.secret, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _invalid(reason: str) -> BadRequest:
    return BadRequest(f"cursor: {reason}.", errors=[ParameterError("cursor", reason)])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _value_codec(sql_type: sqltypes.TypeEngine[Any]) -> tuple[Encode, Decode]:
    """JSON-safe encode/decode that gives back the very type the driver returned."""
    if isinstance(sql_type, sqltypes.Enum) and isinstance(sql_type.enum_class, type) \
            and issubclass(sql_type.enum_class, enum.Enum):
        enum_class = sql_type.enum_class
        return (lambda value: value.name if isinstance(value, enum.Enum) else value,
                lambda raw: enum_class[raw])
    for sql_class, codec in _CODECS:
        if isinstance(sql_type, sql_class):
            return codec(sql_type)
    return (lambda value: value, lambda raw: raw)


def _numeric(sql_type: Any) -> tuple[Encode, Decode]:
    if getattr(sql_type, "asdecimal", False):
        return (str, Decimal)
    return (lambda value: value, lambda raw: raw)


def _uuid(_sql_type: Any) -> tuple[Encode, Decode]:
    return (lambda value: str(value),
            lambda raw: uuid.UUID(raw) if isinstance(raw, str) else raw)


_CODECS: list[tuple[type[Any], Callable[[Any], tuple[Encode, Decode]]]] = [
    (sqltypes.DateTime, lambda _t: (lambda v: v.isoformat(), dt.datetime.fromisoformat)),
    (sqltypes.Date, lambda _t: (lambda v: v.isoformat(), dt.date.fromisoformat)),
    (sqltypes.Time, lambda _t: (lambda v: v.isoformat(), dt.time.fromisoformat)),
    (sqltypes.Interval, lambda _t: (lambda v: v.total_seconds(),
                                    lambda raw: dt.timedelta(seconds=raw))),
    (sqltypes.Uuid, _uuid),
    (sqltypes.Numeric, _numeric),
]


# -- the seek predicate ----------------------------------------------------------------------


def seek_key(column: ColumnElement[Any], leaf: Leaf,
             dialect: str) -> tuple[ColumnElement[Any], Callable[[Any], Any]]:
    """The column to compare a sort value with, and how to turn the value into its operand.

    Enums sort by their stored text on every backend (``crud.sql.query.sortable``), so the seek
    compares that same text; other columns compare as they are.
    """
    if not isinstance(leaf.sql_type, sqltypes.Enum):
        return column, lambda value: value

    def stored_text(value: Any) -> Any:
        if value is None:
            return None
        return value.name if isinstance(value, enum.Enum) else value

    return sortable(column), stored_text


def seek_predicate(keys: Sequence[tuple[ColumnElement[Any], bool, bool]],
                   values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``keys`` (column, descending, nullable).

    The lexicographic "after" as an OR of ANDs, plus a redundant bound on the first key so
    an index on it serves the seek as a range scan rather than a filter.
    """
    branches = []
    for index, ((column, descending, nullable), value) in enumerate(zip(keys, values, strict=True)):
        equal_before = [_equal(c, v) for (c, _d, _n), v in zip(keys[:index], values[:index],
                                                                strict=True)]
        branches.append(and_(*equal_before, _after(column, value, descending, nullable)))
    first_column, first_descending, first_nullable = keys[0]
    return and_(_bound(first_column, values[0], first_descending, first_nullable), or_(*branches))


def seek_parts(keys: Sequence[tuple[ColumnElement[Any], bool, bool]],
               values: Sequence[Any]) -> list[tuple[ColumnElement[bool], bool]]:
    """The seek as one predicate, or as two disjoint ones to read one after the other.

    After a non-NULL value ascending (or a NULL descending) the rows that follow are a
    range of values plus the NULL rows: one predicate needs an OR that no index range
    serves, so PostgreSQL would walk the index from its start. Split, each part is a range.
    Each part comes with whether its first key is always NULL (then it needs no sorting
    by that key, which lets an index on the remaining keys serve the order).
    """
    column, descending, nullable = keys[0]
    first = values[0]
    if not nullable or (first is not None) == descending:
        return [(seek_predicate(keys, values), False)]
    rest = seek_predicate(keys[1:], values[1:]) if len(keys) > 1 else false()
    if descending:  # after a NULL: the remaining NULLs, then every value
        return [(and_(column.is_(None), rest), True), (column.is_not(None), False)]
    larger = and_(column >= first, or_(column > first, and_(column == first, rest)))
    return [(larger, False), (column.is_(None), True)]


def _equal(column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _after(column: ColumnElement[Any], value: Any, descending: bool,
           nullable: bool) -> ColumnElement[bool]:
    # NULLs sort last ascending and first descending (crud.sql.query.order_clauses).
    if value is None:
        return column.is_not(None) if descending else false()
    beyond: ColumnElement[bool] = column < value if descending else column > value
    return or_(beyond, column.is_(None)) if nullable and not descending else beyond


def _bound(column: ColumnElement[Any], value: Any, descending: bool,
           nullable: bool) -> ColumnElement[bool]:
    if value is None:
        return true() if descending else column.is_(None)
    reach: ColumnElement[bool] = column <= value if descending else column >= value
    return or_(reach, column.is_(None)) if nullable and not descending else reach
