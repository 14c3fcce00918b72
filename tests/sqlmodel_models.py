"""A SQLModel ``table=True`` model as a team migrating to SQLModel writes it (tests/test_sqlmodel.py).

``str`` fields are SQLModel's ``AutoString``, ``datetime`` fields its ``UTCDateTime`` (aware
values only; naive ones are refused when bound): the registry serves them as it serves
plain SQLAlchemy columns.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

__all__ = ["Ticket", "rows"]

START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


class Ticket(SQLModel, table=True):
    __tablename__ = "sm_tickets"

    id: int = Field(primary_key=True)
    title: str = Field(index=True)
    state: str
    created: dt.datetime = Field(index=True)
    closed: dt.datetime | None = None


def rows() -> list[dict[str, object]]:
    """30 tickets, a day apart; every third one closed, two of them at the same time."""
    return [{"id": number, "title": f"ticket {number:02d}",
             "state": "closed" if number % 3 == 0 else "open",
             "created": START + dt.timedelta(days=number),
             "closed": (START + dt.timedelta(days=40 + min(number, 12)) if number % 3 == 0
                        else None)}
            for number in range(1, 31)]
