"""A small table made for paging edge cases: duplicate and NULL sort values of every type.

``readings`` has 61 rows; names repeat, scores, times, levels, amounts and shelf labels
are NULL on some rows and tied on many. ``slow_*`` expression fields sleep per row on
each backend (``crud_test_sleep`` is registered on SQLite connections by the tests).
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Enum, ForeignKey, Integer, Numeric, String, Table, case, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["ROWS", "Base", "Level", "Reading", "Shelf", "doubled", "rows", "slow_20ms",
           "slow_200ms", "slow_2000ms", "slow_after_30"]

ROWS = 61
_MORNING = dt.datetime(2024, 1, 1, 8)


class Base(DeclarativeBase):
    pass


class Level(enum.StrEnum):
    low = "low"
    mid = "mid"
    high = "high"


class Shelf(Base):
    __tablename__ = "bt_shelves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str | None] = mapped_column(String(20))


class Reading(Base):
    __tablename__ = "bt_readings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(20))
    score: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    level: Mapped[Level | None] = mapped_column(Enum(Level, name="bt_level"))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    shelf_id: Mapped[int | None] = mapped_column(ForeignKey("bt_shelves.id"))

    shelf: Mapped[Shelf | None] = relationship()


def rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shelves and readings; deterministic, with ties and NULLs in every sortable column."""
    shelves = [{"id": 1, "label": "x"}, {"id": 2, "label": None}, {"id": 3, "label": "y"}]
    levels = list(Level)
    readings = [
        {
            "id": i,
            "name": "abc"[i % 3],
            "score": None if i % 5 == 0 else i % 4,
            "taken_at": None if i % 7 == 0 else _MORNING + dt.timedelta(hours=i % 6),
            "level": None if i % 4 == 0 else levels[i % 3],
            "amount": None if i % 6 == 0 else Decimal(i % 5) + Decimal("0.25"),
            "shelf_id": None if i % 8 == 0 else 1 + i % 3,
        }
        for i in range(1, ROWS + 1)
    ]
    return shelves, readings


def doubled(readings: Table) -> ColumnElement[Any]:
    return readings.c.score * 2


class _SleepThenOne(FunctionElement[int]):
    """1, after sleeping ``ms`` milliseconds for every row it is evaluated on."""

    type = Integer()
    inherit_cache = False  # `ms` is not part of a cache key

    def __init__(self, ms: int) -> None:
        super().__init__()
        self.ms = ms


@compiles(_SleepThenOne, "postgresql")
def _pg_sleep(element: _SleepThenOne, _compiler: SQLCompiler, **_kw: Any) -> str:
    # pg_sleep returns void; cast to '' so the call is a volatile per-row expression.
    return f"(1 + length(CAST(pg_sleep({element.ms / 1000}) AS TEXT)))"


@compiles(_SleepThenOne, "mysql")
@compiles(_SleepThenOne, "mariadb")
def _mysql_sleep(element: _SleepThenOne, _compiler: SQLCompiler, **_kw: Any) -> str:
    return f"(1 + SLEEP({element.ms / 1000}))"


@compiles(_SleepThenOne, "sqlite")
def _sqlite_sleep(element: _SleepThenOne, _compiler: SQLCompiler, **_kw: Any) -> str:
    return f"(1 + crud_test_sleep({element.ms}))"


def slow_20ms(_readings: Table) -> ColumnElement[Any]:
    return _SleepThenOne(20)


def slow_200ms(_readings: Table) -> ColumnElement[Any]:
    return _SleepThenOne(200)


def slow_2000ms(_readings: Table) -> ColumnElement[Any]:
    return _SleepThenOne(2000)


def slow_after_30(readings: Table) -> ColumnElement[Any]:
    """Quick up to id 30, then 200 ms per row: a list whose later pages run out of time."""
    return case((readings.c.id > 30, _SleepThenOne(200)), else_=literal(1))
