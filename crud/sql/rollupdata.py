"""A rollup's kept data: one row of metric states per (bucket, dimension values).

A state is ``[count, *sums, *value counts, *minima, *maxima]``: the value counts (one per
summed field, its non-null values) make averages exact and tell a sum over no values
(NULL, as SQL says) from a sum of zero. States of the same key combine by adding counts and
sums and keeping the least minimum and greatest maximum, so any coarser bucket or any subset
of dimensions follows from the kept rows.

Snapshots are immutable once published: a refresh builds a new entries dict (the old
buckets it keeps are shared, not copied) and swaps it in whole, so a request never sees half
a refresh. ``encode``/``decode`` turn one into JSON bytes for a shared store (Redis):
values are tagged by type (no pickle: a shared store is not trusted to run code).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from crud.model.rollups import Rollup

__all__ = ["Key", "Layout", "Snapshot", "State", "combine", "decode", "encode", "truncate"]

Key = tuple[Any, ...]  # (bucket start or None, *dimension values)
State = list[Any]


@dataclass(frozen=True)
class Layout:
    """Where each metric's state sits in a rollup's state lists."""

    sums: int
    mins: int
    maxs: int

    @classmethod
    def of(cls, rollup: Rollup) -> Layout:
        return cls(len(rollup.sums), len(rollup.mins), len(rollup.maxs))

    @property
    def width(self) -> int:
        return 1 + 2 * self.sums + self.mins + self.maxs

    def sum_at(self, index: int) -> int:
        return 1 + index

    def values_at(self, index: int) -> int:
        return 1 + self.sums + index

    def min_at(self, index: int) -> int:
        return 1 + 2 * self.sums + index

    def max_at(self, index: int) -> int:
        return 1 + 2 * self.sums + self.mins + index


def combine(layout: Layout, into: State, state: Sequence[Any]) -> None:
    """Fold ``state`` into ``into`` (in place)."""
    into[0] += state[0]
    for index in range(layout.sums):
        at = layout.sum_at(index)
        if state[at] is not None:
            into[at] = state[at] if into[at] is None else into[at] + state[at]
        into[layout.values_at(index)] += state[layout.values_at(index)]
    for index in range(layout.mins):
        at = layout.min_at(index)
        if state[at] is not None and (into[at] is None or state[at] < into[at]):
            into[at] = state[at]
    for index in range(layout.maxs):
        at = layout.max_at(index)
        if state[at] is not None and (into[at] is None or state[at] > into[at]):
            into[at] = state[at]


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One published version of a rollup: its rows, when they were read, how far they reach."""

    entries: dict[Key, State]
    read_at: float  # epoch seconds: when the newest refresh began reading
    watermark: dt.datetime | None  # the latest bucket seen
    full_at: float  # epoch seconds: when the last full pass began reading
    version: int = 0
    answers: dict[Any, Any] = field(default_factory=dict)  # answers computed from it

    def __repr__(self) -> str:
        return f"Snapshot({len(self.entries)} rows, version={self.version})"


def truncate(value: dt.datetime, unit: str) -> dt.datetime:
    """The start of the ``unit`` holding ``value``, as the backends' ``time_bucket`` says
    (weeks from Monday)."""
    hour = value.replace(minute=0, second=0, microsecond=0)
    if unit == "hour":
        return hour
    day = hour.replace(hour=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


# -- the shared store's encoding ---------------------------------------------------------------

def _tagged(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, dt.time):
        return {"t": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, enum.Enum):
        return _tagged(value.value)
    raise TypeError(f"cannot keep a {type(value).__name__} in a shared rollup")


_UNTAG = {"dt": dt.datetime.fromisoformat, "d": dt.date.fromisoformat,
          "t": dt.time.fromisoformat, "n": Decimal, "u": uuid.UUID}


def _untagged(value: Any) -> Any:
    if isinstance(value, dict):
        [(tag, text)] = value.items()
        return _UNTAG[tag](text)
    return value


def encode(snapshot: Snapshot) -> bytes:
    rows = [[[_tagged(part) for part in key], [_tagged(part) for part in state]]
            for key, state in snapshot.entries.items()]
    return orjson.dumps({"rows": rows, "read_at": snapshot.read_at,
                         "watermark": _tagged(snapshot.watermark),
                         "full_at": snapshot.full_at, "version": snapshot.version})


def decode(data: bytes) -> Snapshot:
    found = orjson.loads(data)
    entries = {tuple(_untagged(part) for part in key): [_untagged(part) for part in state]
               for key, state in found["rows"]}
    return Snapshot(entries, found["read_at"], _untagged(found["watermark"]),
                    found["full_at"], found["version"])


def merged(layout: Layout, rows: Iterable[tuple[Key, State]]) -> dict[Key, State]:
    """Rows keyed by their key, states of a repeated key combined."""
    entries: dict[Key, State] = {}
    for key, state in rows:
        kept = entries.get(key)
        if kept is None:
            entries[key] = list(state)
        else:
            combine(layout, kept, state)
    return entries
