"""A frozen database is a 503 within the statement budget and a margin (issue 25, item 2).

Through ``FreezingProxy`` (tests/freezer.py) the API's connections reach a database that
stops answering mid-request, as a SIGSTOPped server would (the shared servers are never
stopped). The database's own statement timeout cannot fire then; the reader's client-side
deadline (budget + ``DEADLINE_MARGIN_S``) answers 503, discards the connection, and a
connection that cannot even be opened meets the same deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
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
