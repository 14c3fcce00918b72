"""Rollups shared through a real redis-server by two ``crud serve`` instances: one maintains
each rollup (it holds the lock), both answer from it."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
from redis_server import redis_url  # noqa: F401  (the fixture)
from served import served
from sqlalchemy import text
from test_rollups import EVENTS, NOW, _events

from crud.sql.database import make_engine

DEADLINE_S = 60
PARAMS = {"group_by": "at:day,kind", "metrics": "count,sum:size"}


async def _events_db(path: Path) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    writer = make_engine(url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.execute(text("CREATE TABLE rl_events (id INTEGER PRIMARY KEY, "
                                          "at TIMESTAMP, kind VARCHAR(20), size INTEGER)"))
            await connection.execute(text("INSERT INTO rl_events (id, at, kind, size) "
                                          "VALUES (:id, :at, :kind, :size)"),
                                     _events(1, 300, NOW))
    finally:
        await writer.dispose()
    return url


def _rolled_up(base: str) -> httpx.Response:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        response = httpx.get(f"{base}/api/v1/events/aggregate", params=PARAMS, timeout=10)
        assert response.status_code == 200, response.text
        if "rollup" in response.headers or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def _maintains(base: str) -> float:
    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    found = re.search(r'crud_rollup_maintainer\{resource="events",rollup="hourly"\} (\S+)',
                      metrics)
    assert found is not None, metrics
    return float(found[1])


async def test_two_instances_one_maintains_both_answer(tmp_path: Path,
                                                       redis_url: str) -> None:  # noqa: F811
    url = await _events_db(tmp_path / "events.db")
    registry = tmp_path / "registry.yaml"
    registry.write_text(EVENTS.replace("late: 1d", "late: 1d\n        refresh: 1s"),
                        encoding="utf-8")
    env = {"CRUD_CACHE_URL": redis_url}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with served(registry, url, tmp_path / "a", env) as first, \
            served(registry, url, tmp_path / "b", env) as second:
        answers = await asyncio.gather(asyncio.to_thread(_rolled_up, first.base),
                                       asyncio.to_thread(_rolled_up, second.base))
        for answer in answers:
            assert answer.headers.get("rollup") == "hourly", answer.headers
        assert answers[0].json() == answers[1].json()
        assert sorted([_maintains(first.base), _maintains(second.base)]) == [0.0, 1.0]
        assert answers[0].json()["total_groups"] > 0
