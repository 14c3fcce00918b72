"""Date-times another tool wrote into SQLite as text, in its own spelling.

SQLite has no date-time type: a ``DATETIME`` column holds whatever text was written, and
compares text. Filters, sorts and cursors must compare what the values mean, whatever
the spelling: the API binds ``2024-01-01 08:00:00.000000`` where a row says
``2024-01-01 08:00:00`` or ``2024-01-01T08:00:00``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from readings import all_pages

EVENTS = "/api/v1/events"
# (id, stored text, the instant it means in UTC); listed in the order of those instants.
ROWS = [
    (5, "2024-01-01 07:30:00.5", "2024-01-01T07:30:00.500000"),
    (1, "2024-01-01 08:00:00", "2024-01-01T08:00:00"),
    (2, "2024-01-01 08:00:00.250000", "2024-01-01T08:00:00.250000"),
    (3, "2024-01-01T09:00:00", "2024-01-01T09:00:00"),
    (6, "2024-01-01T10:00:00Z", "2024-01-01T10:00:00"),
    (7, "2024-01-01T13:00:00+02:00", "2024-01-01T11:00:00"),
    (4, "2024-01-02", "2024-01-02T00:00:00"),
]
REGISTRY = """\
api:
  max_page_size: 20
resources:
  events:
    table: events
    fields: {id:, at:}
    filters: {at: [gte, lt]}
    sort: [at]
"""


@pytest.fixture
def events_url(tmp_path: Path) -> str:
    """A SQLite file written with plain sqlite3, as another tool would."""
    path = tmp_path / "events.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, at DATETIME)")
        connection.executemany("INSERT INTO events VALUES (?, ?)",
                               [(row_id, text) for row_id, text, _ in ROWS] + [(8, None)])
    connection.close()
    return f"sqlite+aiosqlite:///{path}"


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.parametrize("position", range(len(ROWS)), ids=[text for _, text, _ in ROWS])
async def test_bounds_at_a_stored_value_compare_as_it_means(
        make_api: Callable[..., Any], events_url: str, position: int) -> None:
    api = await make_api(REGISTRY, events_url, "sqlite")
    instant = ROWS[position][2]
    params = {"order_by": "at", "size": 20}
    at_or_after = _ids(await api.get(EVENTS, params={**params, "at__gte": instant}))
    before = _ids(await api.get(EVENTS, params={**params, "at__lt": instant}))
    assert at_or_after == [row_id for row_id, _, _ in ROWS[position:]]
    assert before == [row_id for row_id, _, _ in ROWS[:position]]


@pytest.mark.parametrize(("order_by", "expected"), [
    pytest.param("at", [row_id for row_id, _, _ in ROWS] + [8], id="ascending"),
    pytest.param("-at", [8] + [row_id for row_id, _, _ in reversed(ROWS)], id="descending"),
])
async def test_sort_and_cursor_walk_follow_the_instants(
        make_api: Callable[..., Any], events_url: str, order_by: str,
        expected: list[int]) -> None:
    api = await make_api(REGISTRY, events_url, "sqlite")
    assert _ids(await api.get(EVENTS, params={"order_by": order_by, "size": 20})) == expected
    pages = await all_pages(api, EVENTS, {"order_by": order_by, "size": 2})
    assert [row_id for page in pages for row_id in _ids(page)] == expected
    filtered = await all_pages(api, EVENTS, {"order_by": order_by, "size": 2,
                                             "at__gte": "2024-01-01T08:00:00"})
    assert [row_id for page in filtered for row_id in _ids(page)] == \
        [row_id for row_id in expected if row_id not in (5, 8)]
