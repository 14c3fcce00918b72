"""Python types for SQL column types: what response models and filter values are typed as."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import types as sqltypes

__all__ = ["DECLARED_TYPES", "TypeInfo", "declared_type", "padded", "type_info", "undecorated",
           "unpad", "unsupported_reason"]


class TypeInfo:
    """The Python type of a column and the facts filters need about it."""

    __slots__ = ("kind", "python_type")

    def __init__(self, python_type: Any, kind: str) -> None:
        self.python_type = python_type
        # kind: string, integer, number, boolean, datetime, date, time, enum, json, uuid,
        # array
        self.kind = kind

    def __repr__(self) -> str:
        return f"TypeInfo(kind={self.kind!r})"


def type_info(column_type: sqltypes.TypeEngine[Any]) -> TypeInfo | None:
    """None for types no JSON client can use (binary blobs, unknown types)."""
    if isinstance(column_type, sqltypes.Enum):
        return _enum_info(column_type)
    if isinstance(column_type, sqltypes.JSON):
        return TypeInfo(Any, "json")
    if isinstance(column_type, sqltypes.ARRAY):  # PostgreSQL's; filtered by contains/overlaps
        item = type_info(column_type.item_type)
        element: Any = item.python_type if item is not None else Any
        return TypeInfo(list[element], "array")
    if isinstance(column_type, sqltypes.Boolean):
        return TypeInfo(bool, "boolean")
    if isinstance(column_type, sqltypes.Uuid):
        return TypeInfo(uuid.UUID, "uuid")
    if isinstance(column_type, sqltypes._Binary):
        return None
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        python_type = None
    known = _BY_PYTHON_TYPE.get(python_type) if python_type is not None else None
    if known is None and isinstance(column_type, sqltypes.TypeDecorator):
        # A decorator that does not say its Python type (SQLModel's AutoString and
        # UTCDateTime say 'object') holds the values of the type it decorates.
        return type_info(column_type.impl_instance)
    return known


def undecorated(sql_type: sqltypes.TypeEngine[Any]) -> sqltypes.TypeEngine[Any]:
    """The type a TypeDecorator (SQLModel's AutoString, UTCDateTime) stores values as.

    SQLAlchemy's own Interval is a decorator too (of DateTime, where the database has no
    interval type) but holds time spans: it stays as it is.
    """
    while isinstance(sql_type, sqltypes.TypeDecorator) \
            and not isinstance(sql_type, sqltypes.Interval):
        sql_type = sql_type.impl_instance
    return sql_type


def padded(column_type: sqltypes.TypeEngine[Any]) -> bool:
    """Whether values of the type are padded with spaces to a length: SQL's ``CHAR(n)``.

    A value is served without its pad on every database, as SQL compares it (trailing pad
    spaces are no part of it): PostgreSQL returns the pad, MariaDB strips it, SQLite keeps
    whatever was written. Filters, search, sorting and cursors see that same value.
    """
    return isinstance(undecorated(column_type), sqltypes.CHAR | sqltypes.NCHAR)


def unpad(value: str) -> str:
    """A ``CHAR(n)`` value as served: without trailing pad spaces (other blanks are data)."""
    return value.rstrip(" ")


def _enum_info(column_type: sqltypes.Enum) -> TypeInfo:
    enum_class = column_type.enum_class
    if enum_class is not None and issubclass(enum_class, enum.Enum):
        # Values, not names, are what the database stores for str enums in our models,
        # but SQLAlchemy stores names by default; expose what the client will see.
        values = tuple(str(member.value) for member in enum_class)
        return TypeInfo(Literal[values], "enum")
    return TypeInfo(Literal[tuple(column_type.enums)], "enum")


_BY_PYTHON_TYPE: dict[type, TypeInfo] = {
    str: TypeInfo(str, "string"),
    int: TypeInfo(int, "integer"),
    float: TypeInfo(float, "number"),
    Decimal: TypeInfo(float, "number"),
    bool: TypeInfo(bool, "boolean"),
    dt.datetime: TypeInfo(dt.datetime, "datetime"),
    dt.date: TypeInfo(dt.date, "date"),
    dt.time: TypeInfo(dt.time, "time"),
    dt.timedelta: TypeInfo(float, "number"),
    uuid.UUID: TypeInfo(uuid.UUID, "uuid"),
}


# What a registry field may declare with ``type:`` when the database reports no usable
# type (SQLite leaves computed view columns untyped; unknown types reflect as NullType).
DECLARED_TYPES: dict[str, tuple[TypeInfo, sqltypes.TypeEngine[Any]]] = {
    "string": (_BY_PYTHON_TYPE[str], sqltypes.String()),
    "integer": (_BY_PYTHON_TYPE[int], sqltypes.Integer()),
    "number": (_BY_PYTHON_TYPE[float], sqltypes.Float()),
    "boolean": (_BY_PYTHON_TYPE[bool], sqltypes.Boolean()),
    "date": (_BY_PYTHON_TYPE[dt.date], sqltypes.Date()),
    "datetime": (_BY_PYTHON_TYPE[dt.datetime], sqltypes.DateTime()),
}


def declared_type(name: str) -> tuple[TypeInfo, sqltypes.TypeEngine[Any]]:
    return DECLARED_TYPES[name]


def unsupported_reason(column_type: sqltypes.TypeEngine[Any]) -> str:
    """Why ``type_info`` gave None, in words a registry author can act on."""
    if isinstance(column_type, sqltypes._Binary):
        return "is binary, which JSON cannot carry; leave it out or expose an expression"
    if isinstance(column_type, sqltypes.NullType):
        return ("has a type SQLAlchemy does not know (SQLite leaves computed view columns "
                f"untyped); declare one with 'type:' ({', '.join(DECLARED_TYPES)}) or cast "
                "it to text in a view")
    return (f"has type {column_type!r}, which JSON cannot carry; leave it out, or cast it "
            "in a view or an expression")
