"""A derived join the database refuses (tests/test_drift.py): it calls no such function."""

from __future__ import annotations

from typing import Any

from bigtables_models import Reading
from sqlalchemy import Integer, Select, func, select

__all__ = ["refused"]


def refused() -> Select[Any]:
    readings = Reading.__table__
    return select(readings.c.id.label("reading_id"),
                  func.crud_no_such_function(readings.c.score, type_=Integer()).label("odd"))
