"""Request values a database will accept: pydantic types narrowed to what the column can hold.

A value the column type cannot hold must be a 422 naming the parameter, never a driver
error (a 500): an integer beyond the column's width (asyncpg: "value out of int32 range",
SQLite: OverflowError), a NUL character in a string (PostgreSQL text cannot hold one), a
date-time whose shift to UTC leaves the calendar, NaN or infinity. The same types document
the parameters, so their ``minimum``/``maximum`` appear in the OpenAPI spec.

Integers given as text are decimal digits only (``digits``): pydantic's lax parsing would
also take ``1.0``, ``1_000``, ``+1`` and `` 1``, which the spec's ``type: integer`` does not
describe, and which would make ``/koji-builds/1.0`` another URL of the same row.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError
from sqlalchemy import types as sqltypes

__all__ = [
    "LOCAL_DATETIME_SCHEMA",
    "MAX_PAGE",
    "MAX_SEARCH_LENGTH",
    "NO_NUL_SCHEMA",
    "LocalDatetime",
    "ascii_whole",
    "digits",
    "integer_range",
    "no_nul",
    "storable_type",
    "to_aware",
    "to_local",
    "to_naive_utc",
]

# The documented form of ``no_nul``, so generated clients and fuzzers know it too.
NO_NUL_SCHEMA: dict[str, Any] = {"type": "string", "pattern": "^[^\\u0000]*$"}

MAX_SEARCH_LENGTH = 200

# A local date-time as stored (``naive_datetimes: as_stored``): RFC 3339 without the
# offset, which JSON Schema's ``date-time`` format requires. The input form is what the
# parser reads (a space for the T, minutes without seconds, a date alone); the API sends
# ``YYYY-MM-DDTHH:MM:SS[.ffffff]``.
LOCAL_DATETIME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$",
    "description": "a local date-time as stored, without an offset (2024-01-01T08:00:00)",
}

# Pages beyond this are refused: the offset (page * size) must stay inside a 64-bit integer.
MAX_PAGE = 2**31 - 1

_DIGITS = re.compile(r"-?[0-9]+")

_INT16 = (-(2**15), 2**15 - 1, "int32")  # OpenAPI has no int16 format
_INT32 = (-(2**31), 2**31 - 1, "int32")
_INT64 = (-(2**63), 2**63 - 1, "int64")


def integer_range(sql_type: sqltypes.TypeEngine[Any]) -> tuple[int, int, str]:
    """Lowest, highest and OpenAPI format of an integer column of ``sql_type``."""
    if isinstance(sql_type, sqltypes.TypeDecorator):
        sql_type = sql_type.impl_instance
    if isinstance(sql_type, sqltypes.SmallInteger):
        return _INT16
    if isinstance(sql_type, sqltypes.BigInteger):
        return _INT64
    if isinstance(sql_type, sqltypes.Integer):
        return _INT32
    return _INT64


def digits(value: Any) -> Any:
    """Text that is to become an integer: an optional ``-`` and decimal digits, nothing else."""
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise PydanticCustomError("int_parsing",
                                  "Input should be a whole number in decimal digits")
    return value


def ascii_whole(raw: str) -> int | None:
    """``raw`` as a non-negative integer when it is ASCII digits only (``int`` also reads
    other scripts' digits, and ``str.isdigit`` passes superscripts ``int`` then refuses)."""
    return int(raw) if raw.isascii() and raw.isdigit() else None


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "NUL characters (\\x00) are not allowed")
    return value


def to_naive_utc(value: dt.datetime) -> dt.datetime:
    # Columns without a zone store UTC wall time by convention; asyncpg refuses aware values.
    if value.tzinfo is None:
        return value
    return _shifted(value).replace(tzinfo=None)


def to_local(value: dt.datetime) -> dt.datetime:
    # Local times as stored: an offset would have to be converted to a zone nobody named.
    if value.tzinfo is not None:
        raise PydanticCustomError(
            "datetime_offset", "Input should be a local date-time without an offset (as "
                               "stored, e.g. 2024-01-01T08:00:00): this API's date-times are "
                               "not UTC, so 'Z' or '+hh:mm' cannot be converted")
    return value


# A date-time column holding local times as stored: read and documented without an offset.
LocalDatetime = Annotated[dt.datetime, AfterValidator(to_local),
                          WithJsonSchema(LOCAL_DATETIME_SCHEMA)]


def to_aware(value: dt.datetime) -> dt.datetime:
    return _shifted(value) if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _shifted(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("date-time out of range once converted to UTC") from None


def storable_type(python_type: Any, kind: str, sql_type: sqltypes.TypeEngine[Any], *,
                  local_time: bool = False) -> Any:
    """``python_type`` narrowed to the values the column can be compared with; date-times
    without a zone are UTC (offsets converted) unless ``local_time`` (offsets refused)."""
    if kind == "integer":
        low, high, format_ = integer_range(sql_type)
        # The bounds first: they stay the integer's own (and its documented minimum/maximum).
        return Annotated[int, Field(ge=low, le=high, json_schema_extra={"format": format_}),
                         BeforeValidator(digits)]
    if kind == "number":
        return Annotated[float, Field(allow_inf_nan=False)]
    if kind == "string":
        return Annotated[str, AfterValidator(no_nul), WithJsonSchema(NO_NUL_SCHEMA)]
    if kind == "datetime":
        if getattr(sql_type, "timezone", False):
            return Annotated[dt.datetime, AfterValidator(to_aware)]
        return LocalDatetime if local_time else Annotated[dt.datetime,
                                                          AfterValidator(to_naive_utc)]
    return python_type
