"""A reload the database kept from applying is tried again (issue 25, item 7).

With ``--reload-registry`` a failed reload used to mark the file as seen, so a change made
while the database was briefly down was never applied; a SIGHUP then was not retried either.
Now both retry until the reload applies, and an invalid registry is not retried. The first
test reloads against a real database behind a proxy that refuses connections for a while.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Database
from freezer import FreezingProxy
from readings import registry as readings_registry
from sqlalchemy.engine import make_url
from test_reloading import Plain, _answer

from crud.config.registry import RegistryError, RegistryIssue
from crud.config.settings import Settings
from crud.reloading import Reloadable, build_app


async def _until(condition: Callable[[], Any], seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


class Flaky:
    """A builder whose first ``failures`` builds fail as ``error`` does, then build ``app``."""

    def __init__(self, failures: int, error: Exception, app: Any) -> None:
        self.failures, self.error, self.app, self.calls = failures, error, app, 0

    async def __call__(self) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.app


async def test_a_watched_change_is_applied_once_the_database_answers(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text("old", encoding="utf-8")
    build = Flaky(2, OSError("Connect call failed ('127.0.0.1', 5432)"), Plain(b"new"))
    reloadable = Reloadable(Plain(b"old"), build, watch=path, interval_s=0.02)
    watcher = asyncio.create_task(reloadable._watch(path))
    await asyncio.sleep(0.05)  # the watcher has read the file as it was
    try:
        path.write_text("new", encoding="utf-8")
        await _until(lambda: build.calls >= 3)
        assert await _answer(reloadable) == (200, b"new")
    finally:
        watcher.cancel()


async def test_an_invalid_registry_is_not_retried(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text("old", encoding="utf-8")
    invalid = RegistryError([RegistryIssue(path=str(path), line=3, key="resources.r.fields",
                                           message="unknown field 'nme'")])
    build = Flaky(99, invalid, Plain(b"new"))
    reloadable = Reloadable(Plain(b"old"), build, watch=path, interval_s=0.02)
    watcher = asyncio.create_task(reloadable._watch(path))
    await asyncio.sleep(0.05)  # the watcher has read the file as it was
    try:
        path.write_text("new", encoding="utf-8")
        await _until(lambda: build.calls >= 1)
        await asyncio.sleep(0.2)
        assert build.calls == 1
        reloadable.request_reload()
        await reloadable.settled()
        assert build.calls == 2
        assert await _answer(reloadable) == (200, b"old")
    finally:
        watcher.cancel()


async def test_a_sighup_while_the_database_is_down_is_retried() -> None:
    unreachable = RegistryError([RegistryIssue(path="registry.yaml", line=None, key="database",
                                               message="cannot reflect: refused")])
    build = Flaky(3, unreachable, Plain(b"new"))
    reloadable = Reloadable(Plain(b"old"), build, interval_s=0.01)
    reloadable.request_reload()
    await _until(lambda: build.calls >= 4)
    await reloadable.settled()
    assert await _answer(reloadable) == (200, b"new")


@pytest.mark.parametrize("readings_db", ["postgresql", "mariadb"], indirect=True)
async def test_a_reload_against_a_database_briefly_down_applies_when_it_is_back(
        readings_db: Database) -> None:
    url = make_url(readings_db.url)
    with FreezingProxy(url.host or "127.0.0.1", url.port or 0) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False)
        path = Path(f"/tmp/crud_reload_{proxy.port}.yaml")
        path.write_text(readings_registry(), encoding="utf-8")
        settings = Settings(database_url=proxied, registry=path)
        reloadable = Reloadable(await build_app(settings), lambda: build_app(settings),
                                interval_s=0.05)
        try:
            await reloadable.current.lifespan.startup()
            assert (await _answer(reloadable, "/api/v1/readings"))[0] == 200
            path.write_text(readings_registry().replace("page_size: 7", "page_size: 3"),
                            encoding="utf-8")
            proxy.refuse()
            reloadable.request_reload()
            await asyncio.sleep(0.5)  # a few attempts fail while the database is away
            assert proxy.refused > 0
            proxy.thaw()
            for _ in range(300):
                status, body = await _answer(reloadable, "/api/v1/readings")
                if b'"size":3' in body:
                    break
                await asyncio.sleep(0.05)
            assert (status, b'"size":3' in body) == (200, True)
        finally:
            await reloadable._stop()
            path.unlink()
