"""Pooled connections: a full pool is a 503 to retry, and no lent connection is writable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ROOT, Database
from sqlalchemy import text

from crud.config.settings import Settings
from crud.sql.database import make_engine

REGISTRY = (ROOT / "registry.yaml").read_text(encoding="utf-8")
BUILDS = "/api/v1/koji-builds"
# A write that changes nothing: it only succeeds where the session may write.
HARMLESS_WRITE = "UPDATE koji_build_targets SET status = status WHERE id < 0"
READ_ONLY_REFUSAL = r"(?i)read.?only|readonly|attempt to write"


@pytest.mark.parametrize("demo_db", ["postgresql"], indirect=True)
async def test_an_exhausted_pool_is_503_with_retry_after(
        demo_db: Database, make_api: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    # One connection plus one overflow, both stuck behind a lock: the third request waits
    # for the pool's timeout (CRUD_POOL_TIMEOUT_MS), not for the database.
    api = await make_api(REGISTRY.replace("max_page_size: 100", "max_page_size: 100\n"
                                          "  statement_timeout_ms: 10000"),
                         demo_db.url, demo_db.backend,
                         settings=Settings(database_url=demo_db.url, pool_size=1,
                                           pool_timeout_ms=300))
    writer = make_engine(demo_db.url, read_only=False)
    try:
        async with writer.begin() as locking:
            await locking.execute(text("LOCK TABLE koji_build_targets IN ACCESS EXCLUSIVE MODE"))
            stuck = [asyncio.create_task(api.get(BUILDS, params={"size": size}))
                     for size in (1, 2)]
            await asyncio.sleep(0.5)
            with caplog.at_level(logging.INFO):
                busy = await api.get(BUILDS, params={"size": 3})
            assert not any(task.done() for task in stuck)
        answered = [(await task).status_code for task in stuck]
    finally:
        await writer.dispose()
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.headers["content-type"] == "application/problem+json"
    assert {key: value for key, value in busy.json().items() if key != "request_id"} == {
        "type": "about:blank", "title": "Service Unavailable", "status": 503,
        "detail": "Every database connection is busy; try again shortly.",
        "instance": BUILDS, "code": "service_unavailable"}
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert "Traceback" not in caplog.text
    assert answered == [200, 200]
    assert (await api.get(BUILDS, params={"size": 3})).status_code == 200


OVERRIDES = {
    "sqlite": "PRAGMA query_only = OFF",
    "postgresql": "SET default_transaction_read_only = off",
    "mariadb": "SET SESSION TRANSACTION READ WRITE",
}


@pytest.mark.parametrize("demo_db", ["sqlite", "postgresql", "mariadb"], indirect=True)
async def test_a_router_cannot_leave_a_writable_connection_in_the_pool(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api = await make_api(REGISTRY, demo_db.url, demo_db.backend, pool_size=1)
    # What a hand-written router can do with the app's engine (crud.ops.extensions.app_engine).
    async with api.engine.connect() as router:
        await router.execute(text(OVERRIDES[demo_db.backend]))
        await router.execute(text(HARMLESS_WRITE))  # the override took effect
        switched = (await router.get_raw_connection()).driver_connection
    async with api.engine.connect() as later:
        assert (await later.get_raw_connection()).driver_connection is switched
        with pytest.raises(Exception, match=READ_ONLY_REFUSAL):
            await later.execute(text(HARMLESS_WRITE))
