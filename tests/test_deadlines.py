"""A frozen database is a 503 within the statement budget and a margin (issue 25, item 2).

Through ``FreezingProxy`` (tests/freezer.py) the API's connections reach a database that
stops answering mid-request, as a SIGSTOPped server would (the shared servers are never
stopped). The database's own statement timeout cannot fire then; the reader's client-side
deadline (budget + ``DEADLINE_MARGIN_S``) answers 503, discards the connection, and a
connection that cannot even be opened meets the same deadline. SQLite, in-process, meets
the same 503 when another process keeps its file locked, or a statement is stuck where
interrupt() cannot end it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import Api, Database
from freezer import FreezingProxy
from readings import READINGS, registry, serve
from sqlalchemy.engine import make_url

from crud.config.settings import Settings
from crud.sql.reader import DEADLINE_MARGIN_S

BUDGET_MS = 500
SLACK_S = 0.75  # the event loop and two cores shared with other test runs


def _through(url: str, proxy: FreezingProxy) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False)


async def _timed(api: Api) -> tuple[Any, float]:
    started = time.perf_counter()
    # Bounded here too: without a deadline the request would wait as long as the freeze.
    response = await asyncio.wait_for(api.get(READINGS, params={"size": 3}), 10)
    return response, time.perf_counter() - started


def _assert_unavailable(response: Any, elapsed: float) -> None:
    assert response.status_code == 503, (response.text, elapsed)
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"] == "The database is unavailable; try again shortly."
    assert elapsed < BUDGET_MS / 1000 + DEADLINE_MARGIN_S + SLACK_S, elapsed


@pytest.mark.parametrize("readings_db", ["postgresql", "mariadb"], indirect=True)
async def test_a_frozen_database_is_503_within_budget_and_the_connection_is_dropped(
        readings_db: Database, make_api: Callable[..., Any]) -> None:
    url = make_url(readings_db.url)
    with FreezingProxy(url.host or "127.0.0.1", url.port or 0) as proxy:
        proxied = _through(readings_db.url, proxy)
        settings = Settings(database_url=proxied, pool_size=2)
        api = await serve(lambda *a, **k: make_api(*a, **k, settings=settings),
                          Database(readings_db.backend, proxied),
                          registry(api=f"  statement_timeout_ms: {BUDGET_MS}"))
        assert (await api.get(READINGS)).status_code == 200
        proxy.freeze()
        response, elapsed = await _timed(api)  # on the kept connection: the statement hangs
        _assert_unavailable(response, elapsed)
        for _ in range(100):  # the API hung up the connection it gave up on
            if proxy.closed_by_client:
                break
            await asyncio.sleep(0.02)
        assert proxy.closed_by_client == 1
        response, elapsed = await _timed(api)  # a new connection: the handshake hangs
        _assert_unavailable(response, elapsed)
        proxy.thaw()
        recovered = await api.get(READINGS)
        assert recovered.status_code == 200, recovered.text


# -- SQLite: embedded, so "frozen" is a file another process keeps locked, or a statement
# stuck where interrupt() cannot reach it (a slow function, a hung disk).

SLOW = "/api/v1/slow-readings"


@contextmanager
def _locked(database: Database) -> Iterator[None]:
    """Another process holds an exclusive lock on the SQLite file (rollback journal)."""
    path = make_url(database.url).database
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        yield
    finally:
        holder.communicate("")  # its stdin closes: it rolls back and exits


_HOLD_LOCK = """\
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
connection.execute("ROLLBACK")
"""


@pytest.mark.parametrize("readings_db", ["sqlite"], indirect=True)
async def test_a_locked_sqlite_file_is_503_within_budget_and_the_connection_stays_usable(
        readings_db: Database, make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry(api=f"  statement_timeout_ms: {BUDGET_MS}"))
    assert (await api.get(READINGS)).status_code == 200
    [(_since, kept)] = api.app.state.reader.idle
    driver = kept.driver_connection
    with _locked(readings_db):
        for _ in range(2):  # SQLite itself gives up waiting for the lock, within the budget
            response, elapsed = await _timed(api)
            _assert_unavailable(response, elapsed)
    recovered = await api.get(READINGS)
    assert recovered.status_code == 200, recovered.text
    # One connection served all four requests: the lock left it usable, nothing leaked.
    [(_since, kept)] = api.app.state.reader.idle
    assert kept.driver_connection is driver
    assert _open(driver)
    assert api.engine.pool.checkedout() == 1


@pytest.mark.parametrize("readings_db", ["sqlite"], indirect=True)
async def test_a_stuck_sqlite_statement_is_503_within_budget_and_its_connection_closed(
        readings_db: Database, make_api: Callable[..., Any]) -> None:
    # One row sleeping 2 s inside a function: interrupt() takes effect only once it returns.
    api = await serve(make_api, readings_db,
                      registry(api=f"  statement_timeout_ms: {BUDGET_MS}", slow="slow_2000ms"))
    assert (await api.get(READINGS)).status_code == 200
    [(_since, stuck)] = api.app.state.reader.idle  # the connection the next request takes
    driver = stuck.driver_connection
    started = time.perf_counter()
    response = await asyncio.wait_for(api.get(SLOW, params={"size": 1}), 10)
    _assert_unavailable(response, time.perf_counter() - started)
    # Meanwhile another connection serves, at once: the stuck one holds no place.
    response, elapsed = await _timed(api)
    assert response.status_code == 200, response.text
    assert elapsed < 0.5, elapsed
    for _ in range(200):  # the stuck statement ends: its connection is closed, not pooled
        if not _open(driver):
            break
        await asyncio.sleep(0.02)
    assert not _open(driver)
    assert api.engine.pool.checkedout() == len(api.app.state.reader.idle) == 1


def _open(driver: Any) -> bool:
    try:
        return driver.total_changes >= 0  # aiosqlite: ValueError once the connection is closed
    except ValueError:
        return False
