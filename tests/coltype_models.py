"""Models over column types the databases spell differently (tests/test_column_types.py).

``Code`` has a ``CHAR(5)``: PostgreSQL pads its values to five characters, MariaDB strips
the pad, SQLite keeps what was written. ``Vintage`` has MariaDB's ``YEAR``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CHAR, Integer, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["CODES", "Code", "CodeBase", "Vintage", "VintageBase"]


class CodeBase(DeclarativeBase):
    pass


class VintageBase(DeclarativeBase):  # MariaDB only: YEAR is no type elsewhere
    pass


class Code(CodeBase):
    __tablename__ = "ct_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(CHAR(5))
    note: Mapped[str] = mapped_column(String(10))


class Vintage(VintageBase):
    __tablename__ = "ct_vintages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    yr: Mapped[Any] = mapped_column(mysql.YEAR, nullable=True)


# Written with trailing spaces where the value has fewer than five characters: the
# pad is no part of the value ('ab' is served, filtered and sorted as 'ab').
CODES = [{"id": 1, "code": "ab   ", "note": "padded"}, {"id": 2, "code": "abc", "note": "full"},
         {"id": 3, "code": "b a", "note": "inner"}, {"id": 4, "code": "a ", "note": "one"}]
