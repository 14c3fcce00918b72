"""A Python oracle for facets and aggregates: every koji build fetched through the list, then
counted and grouped with the documented semantics (NULL a value of its own, ISO weeks from
Monday, bucket starts in UTC). ``duration`` is recomputed from the start and finish times,
so the expression field is checked too."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any

from conftest import Api

__all__ = ["BUILDS", "Row", "all_builds", "bucket", "facet_counts", "groups", "ordered"]

BUILDS = "/api/v1/koji-builds"
Row = dict[str, Any]


async def all_builds(api: Api, params: dict[str, str]) -> list[Row]:
    rows: list[Row] = []
    page = 1
    while True:
        response = await api.get(BUILDS, params={**params, "size": 100, "page": page})
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body["items"])
        if page >= (body["pages"] or 0):
            return rows
        page += 1


def _when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def bucket(value: str | None, unit: str) -> str | None:
    """The ISO text of the bucket start holding ``value`` (as the API writes date-times)."""
    moment = _when(value)
    if moment is None:
        return None
    starts: dict[str, Callable[[dt.datetime], dt.datetime]] = {
        "hour": lambda m: m.replace(minute=0, second=0, microsecond=0),
        "day": lambda m: m.replace(hour=0, minute=0, second=0, microsecond=0),
        "week": lambda m: (m - dt.timedelta(days=m.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0),
        "month": lambda m: m.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
        "year": lambda m: m.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0),
    }
    return starts[unit](moment).isoformat()


def duration(row: Row) -> int | None:
    started, finished = _when(row["build_start_time"]), _when(row["build_finished_time"])
    if started is None or finished is None:
        return None
    return int((finished - started).total_seconds())


def _compare(a: Any, b: Any) -> int:
    """Values ascending, NULL last (as the API orders them)."""
    if a == b:
        return 0
    if a is None or b is None:
        return 1 if a is None else -1
    return -1 if a < b else 1


def facet_counts(rows: Sequence[Row], field: str) -> list[dict[str, Any]]:
    counts: dict[Any, int] = {}
    for row in rows:
        counts[row[field]] = counts.get(row[field], 0) + 1
    pairs = sorted(counts.items(), key=functools.cmp_to_key(
        lambda x, y: (y[1] - x[1]) or _compare(x[0], y[0])))
    return [{"value": value, "count": count} for value, count in pairs]


def groups(rows: Sequence[Row], keys: Sequence[str]) -> list[Row]:
    """Every metric the demo declares, per group of ``keys`` (``field`` or ``field:unit``)."""
    found: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        values = tuple(bucket(row[key.split(":")[0]], key.split(":")[1]) if ":" in key
                       else row[key] for key in keys)
        found.setdefault(values, []).append(row)
    result = []
    for values, members in found.items():
        durations = [d for d in map(duration, members) if d is not None]
        times = [t for t in (row["build_submitted_time"] for row in members) if t is not None]
        group: Row = {key.split(":")[0]: value for key, value in zip(keys, values, strict=True)}
        group.update(count=len(members),
                     sum_duration=float(sum(durations)) if durations else None,
                     avg_duration=sum(durations) / len(durations) if durations else None,
                     min_build_submitted_time=min(times, key=_when) if times else None,
                     max_build_submitted_time=max(times, key=_when) if times else None)
        result.append(group)
    return result


def ordered(found: list[Row], order: Sequence[tuple[str, bool]]) -> list[Row]:
    def compare(a: Row, b: Row) -> int:
        for name, descending in order:
            x, y = a[name], b[name]
            if name.endswith("_time") or ":" in name:
                x, y = _when(x), _when(y)
            result = _compare(x, y)
            if result:  # NULLs last ascending, first descending
                return -result if descending else result
        return 0

    return sorted(found, key=functools.cmp_to_key(compare))
