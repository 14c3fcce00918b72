"""Keyset cursors: the last row's sort values, signed and bound to the query they came from.

A cursor is ``base64url(orjson(payload)) "." base64url(hmac)``. The payload holds the sort
values of the page's last row (declared, already public fields: nothing unlisted leaks),
the position of the next row (for Content-Range) and a fingerprint of the resource, sort,
filters and search as parsed (so ``a=1&a=2`` and ``a=1,2`` are the same query). Tampering
breaks the signature; reuse under another sort or filter breaks the fingerprint; a
signed value of the wrong type (from another deployment's schema) fails its field's
validation: all are 400s naming ``cursor``. The seek itself is ``crud.sql.seek``.
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
from pydantic import SecretStr, TypeAdapter, ValidationError
from sqlalchemy import types as sqltypes

from crud.http.errors import BadRequest, ParameterError
from crud.model.coltypes import undecorated
from crud.model.fields import Leaf
from crud.model.values import storable_type

__all__ = ["Cursor", "CursorCodec", "cursor_secret", "fingerprint"]

logger = logging.getLogger("crud.http.cursors")
_SIGNATURE_BYTES = 16
# No list is longer: positions stay exact integers in every JSON client and far from the
# 64-bit limits of the arithmetic done on them.
MAX_POSITION = 2**53 - 1
_NOT_A_CURSOR = ("not a cursor from this API; pass back the 'next' value of a page "
                 "(or its Link rel=next URL)")

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


def cursor_secret(configured: SecretStr | None) -> bytes:
    """The signing key: the configured ``CRUD_CURSOR_SECRET``, else random per process."""
    value = configured.get_secret_value() if configured is not None else ""
    return value.encode() if value else _random_secret()


def fingerprint(resource: str, order: Sequence[tuple[str, bool]],
                filters: Sequence[tuple[str, Any]], search: str | None,
                groups: Sequence[Any] = ()) -> str:
    """A short digest of what a cursor is bound to; equal queries give equal digests.

    ``filters`` are (parameter, parsed value) pairs: values of every type the filters
    parse to (enums, date-times, lists, patterns) have one JSON spelling. ``groups`` are
    the boolean groups as parsed, nested lists of the same pairs under "and"/"or".
    """
    parts: list[Any] = [resource, [list(item) for item in order],
                        sorted(([name, value] for name, value in filters),
                               key=lambda item: str(item[0])), search]
    if groups:  # absent from older cursors' material: they stay valid
        parts.append(list(groups))
    material = orjson.dumps(parts, default=str, option=orjson.OPT_NON_STR_KEYS)
    return base64.urlsafe_b64encode(hashlib.sha256(material).digest()[:9]).decode()


class CursorCodec:
    """Encodes and verifies the cursors of one resource's list."""

    def __init__(self, secret: bytes, leaves: Sequence[Leaf]) -> None:
        self.secret = secret
        # Keyed once: each signature copies it (hmac.new re-derives the pads every time).
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)
        self.codecs = {leaf.name: _value_codec(leaf.sql_type) for leaf in leaves}
        self.checks = {leaf.name: _value_check(leaf) for leaf in leaves}

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
                or not isinstance(position, int) or not 0 <= position <= MAX_POSITION):
            raise _invalid("the cursor does not fit this list")
        try:
            values = tuple(None if raw is None else self._decoded(leaf, raw)
                           for leaf, raw in zip(leaves, raw_values, strict=True))
        # ArithmeticError: decimal's InvalidOperation for a text that is no number.
        except (ValueError, TypeError, KeyError, ArithmeticError, ValidationError):
            raise _invalid("the cursor does not fit this list") from None
        return Cursor(values=values, position=position)

    def _decoded(self, leaf: Leaf, raw: Any) -> Any:
        value = self.codecs[leaf.name][1](raw)
        check = self.checks[leaf.name]
        if check is None:
            return value
        if leaf.info.kind == "datetime":
            # In the column's convention (naive UTC, local as stored or aware), and inside the calendar once
            # shifted to UTC: the drivers refuse the rest.
            return check.validate_python(value, strict=True)
        # Integers and texts exactly (no "1" for 1); numbers may be Decimals or floats.
        check.validate_python(value, strict=leaf.info.kind != "number")
        return value

    def _verified(self, token: str) -> Any:
        body, _, signature = token.partition(".")
        try:
            payload, given = _unb64(body), _unb64(signature)
        except (binascii.Error, ValueError):
            raise _invalid(_NOT_A_CURSOR) from None
        if len(given) != _SIGNATURE_BYTES:  # not one of ours at all ('abc'), not a forgery
            raise _invalid(_NOT_A_CURSOR)
        if not hmac.compare_digest(given, self._sign(payload)):
            raise _invalid("the cursor was altered or signed by another deployment")
        try:  # signed, yet no JSON orjson reads (NaN, a lone surrogate): a key that leaked
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise _invalid("the cursor does not fit this list") from None

    def _sign(self, payload: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(payload)
        return mac.digest()[:_SIGNATURE_BYTES]


def _invalid(reason: str) -> BadRequest:
    return BadRequest(f"cursor: {reason}.", errors=[ParameterError("cursor", reason)])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _value_codec(sql_type: sqltypes.TypeEngine[Any]) -> tuple[Encode, Decode]:
    """JSON-safe encode/decode that gives back the very type the driver returned."""
    sql_type = undecorated(sql_type)  # SQLModel's UTCDateTime holds date-times
    if isinstance(sql_type, sqltypes.Enum) and isinstance(sql_type.enum_class, type) \
            and issubclass(sql_type.enum_class, enum.Enum):
        enum_class = sql_type.enum_class
        return (lambda value: value.name if isinstance(value, enum.Enum) else value,
                lambda raw: enum_class[raw])
    for sql_class, codec in _CODECS:
        if isinstance(sql_type, sql_class):
            return codec(sql_type)
    return (lambda value: value, lambda raw: raw)


def _value_check(leaf: Leaf) -> TypeAdapter[Any] | None:
    """What a decoded sort value must be to reach the database: the column's own bounds."""
    if leaf.info.kind not in {"integer", "number", "string", "datetime"}:
        return None  # the codec's own decoding already checked the type (dates, enums...)
    return TypeAdapter(storable_type(leaf.info.python_type, leaf.info.kind, leaf.sql_type,
                                     local_time=leaf.local_time))


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
