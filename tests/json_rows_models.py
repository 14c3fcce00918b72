"""Values whose JSON spelling is easy to get wrong, for the database-written items test."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Enum, Integer, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "Sample", "rows"]


class Base(DeclarativeBase):
    pass


class Mood(enum.Enum):
    calm = "calm"
    upset = "upset"


class Sample(Base):
    __tablename__ = "jr_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str | None] = mapped_column(String(100))
    flag: Mapped[bool | None] = mapped_column(Boolean)
    at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    at_zone: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    day: Mapped[dt.date | None] = mapped_column(Date)
    mood: Mapped[Mood | None] = mapped_column(Enum(Mood, name="jr_mood"))
    key: Mapped[uuid.UUID | None] = mapped_column(Uuid)


_TEXTS = ['plain', 'quote " and \\ backslash', "line\nbreak\ttab\x01\x1f", "é ü 漢字 🎉",
          "\x7f del", "", "</script>"]
_TIMES = [dt.datetime(2024, 1, 2, 3, 4, 5), dt.datetime(2024, 1, 2, 3, 4, 5, 120000),
          dt.datetime(1999, 12, 31, 23, 59, 59, 999999), dt.datetime(2024, 2, 29, 0, 0, 0, 1)]
_ZONE = dt.timezone(dt.timedelta(hours=5, minutes=30))


def rows() -> list[dict[str, Any]]:
    found = []
    for index in range(20):
        empty = index % 5 == 4
        found.append({
            "id": index + 1,
            "text": None if empty else _TEXTS[index % len(_TEXTS)],
            "flag": None if empty else index % 2 == 0,
            "at": None if empty else _TIMES[index % len(_TIMES)],
            "at_zone": None if empty else _TIMES[index % len(_TIMES)].replace(tzinfo=_ZONE),
            "day": None if empty else dt.date(2024, 1 + index % 12, 1 + index % 28),
            "mood": None if empty else list(Mood)[index % 2],
            "key": None if empty else uuid.UUID(int=index * 7919),
        })
    return found
