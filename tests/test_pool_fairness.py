"""Waiting for a connection is first come, first served (issue 25, item 1).

Returned connections used to go to the reader's own idle list, where a newcomer took them
ahead of requests already queued in the pool: those waited out the whole pool timeout and
answered 503 on a healthy database. Here 64 clients share 4 connections, and the default
pool (``Settings()``) on PostgreSQL; every request waits in line and none times out. The p50
and p99 latencies are printed (``-s`` shows them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Database
from readings import READINGS, registry, serve

from crud.config.settings import Settings
from crud.sql.gate import Gate

CLIENTS = 64
ROUNDS = 5
SLOW = "/api/v1/slow-readings"


async def _client(api: Any, latencies: list[float], statuses: list[int]) -> None:
    for _ in range(ROUNDS):
        started = time.perf_counter()
        # One row that sleeps 20 ms in the database: a request holds its connection ~20 ms.
        response = await api.get(SLOW, params={"size": 1})
        latencies.append(time.perf_counter() - started)
        statuses.append(response.status_code)


# The pool a test sizes (4 connections: 2 + 2 overflow, so the line is long), and the one
# `crud serve` has with nothing set (Settings' defaults: 10 + 10 overflow, 10 s pool timeout).
SMALL = {"pool_size": 2, "pool_timeout_ms": 3000}
DEFAULTS: dict[str, int] = {}


@pytest.mark.parametrize(("readings_db", "pool"), [
    pytest.param("postgresql", SMALL, id="postgresql-4-connections"),
    pytest.param("mariadb", SMALL, id="mariadb-4-connections"),
    pytest.param("postgresql", DEFAULTS, id="postgresql-default-pool"),
], indirect=["readings_db"])
async def test_64_clients_all_get_served(readings_db: Database, pool: dict[str, int],
                                         make_api: Callable[..., Any]) -> None:
    settings = Settings(database_url=readings_db.url, **pool)
    api = await serve(lambda *a, **k: make_api(*a, **k, settings=settings), readings_db,
                      registry(slow="slow_20ms"))
    assert api.app.state.reader.backend.name == readings_db.backend  # the server, not SQLite
    connections = api.app.state.reader.gate.slots
    assert (await api.get(READINGS)).status_code == 200
    latencies: list[float] = []
    statuses: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(*(_client(api, latencies, statuses) for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(f"\n{readings_db.backend}: {CLIENTS} clients x {ROUNDS} requests on {connections} "
          f"connections in {elapsed:.2f} s: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms, 503s {statuses.count(503)}")
    assert statuses.count(503) == 0
    assert set(statuses) == {200}
    # No request waited out the pool timeout: a fair line waits 64 / connections x ~20 ms.
    assert latencies[-1] < 3.0


async def test_the_gate_serves_waiters_in_arrival_order() -> None:
    gate = Gate(slots=1, wait_s=5)
    await gate.enter()
    served: list[int] = []

    async def waiter(number: int) -> None:
        await gate.enter()
        served.append(number)
        gate.leave()

    tasks = [asyncio.create_task(waiter(number)) for number in range(5)]
    await asyncio.sleep(0)
    # A newcomer arriving while others wait queues behind them, even as a place frees.
    gate.leave()
    tasks.append(asyncio.create_task(waiter(99)))
    await asyncio.gather(*tasks)
    assert served == [0, 1, 2, 3, 4, 99]
    assert (gate.free, len(gate.waiters)) == (1, 0)


async def test_a_waiter_that_times_out_leaves_the_line_and_its_place() -> None:
    gate = Gate(slots=1, wait_s=0.05)
    await gate.enter()
    with pytest.raises(TimeoutError):
        await gate.enter()
    assert len(gate.waiters) == 0
    gate.leave()
    assert gate.free == 1


async def test_a_place_handed_to_a_cancelled_waiter_passes_on() -> None:
    gate = Gate(slots=1, wait_s=5)
    await gate.enter()
    first = asyncio.create_task(gate.enter())
    second = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    gate.leave()  # hands the place to ``first``...
    first.cancel()  # ...which is cancelled before it runs: ``second`` gets the place
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)
    assert (gate.free, len(gate.waiters)) == (0, 0)
