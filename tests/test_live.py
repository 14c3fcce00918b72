"""Live lists (docs/live.md): a real server on a free port, a streaming client, and a
second connection that writes. Every backend; short intervals keep the tests quick."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
import websockets
from conftest import BACKENDS, PG_SERVER, Api, Database
from node_tools import browse
from pooling import start_bouncer
from served import free_port, served
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crud.config.registry import RegistryError, load_registry
from crud.config.settings import Settings
from crud.http.live.diff import changes, page_rows
from crud.http.live.events import Event, Ring, parse_event_id

each_backend = pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)

REGISTRY = """
api:
  live: {interval: 200ms}
resources:
  builds:
    table: live_builds
    fields: {id:, status:, name:}
    filters: {status: [eq]}
    sort: [id]
    default_sort: [id]
    page_size: 3
"""
WAIT_S = 8.0  # PostgreSQL's statistics reach the signal within about a second


@dataclass
class Sse:
    """One event as the stream carried it."""

    id: str
    event: str
    data: Any


async def _writer(database: Database) -> AsyncEngine:
    engine = create_async_engine(database.url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(
            "CREATE TABLE live_builds (id INTEGER PRIMARY KEY, status VARCHAR(20) NOT NULL, "
            "name VARCHAR(50) NOT NULL)"))
        await connection.execute(text(
            "INSERT INTO live_builds VALUES (1, 'running', 'a'), (2, 'failed', 'b')"))
    return engine


async def _write(engine: AsyncEngine, *statements: str) -> None:
    async with engine.connect() as connection:
        for statement in statements:
            await connection.execute(text(statement))


@contextlib.asynccontextmanager
async def _served(database: Database, make_api: Callable[..., Any], *, url: str | None = None,
                  registry: str = REGISTRY,
                  **settings: Any) -> AsyncIterator[tuple[str, Api, AsyncEngine]]:
    writer = await _writer(database)
    url = url or database.url  # what the API reads through (PgBouncer); writes go direct
    api: Api = await make_api(registry, url, database.backend,
                              settings=Settings(database_url=url, **settings))
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=free_port(),
                                           log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        yield f"127.0.0.1:{server.config.port}", api, writer
    finally:
        server.should_exit = True
        await task
        await api.app.state.live.close()
        await writer.dispose()


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[Sse]:
    fields: dict[str, str] = {}
    async for line in lines:
        if line == "":
            if "event" in fields:
                yield Sse(fields["id"], fields["event"], orjson.loads(fields["data"]))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


async def _next(events: AsyncIterator[Sse]) -> Sse:
    return await asyncio.wait_for(anext(events), WAIT_S)


def _pages(api: Api) -> list[str]:
    """The page statements among those sent (not the change probes)."""
    return [sql for sql in api.log.statements if "live_builds.id AS" in sql]


def _items(rows: list[tuple[int, str, str]]) -> list[dict[str, Any]]:
    return [{"id": i, "status": s, "name": n} for i, s, n in rows]


@each_backend
async def test_a_watcher_receives_every_change_in_order(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    async with _served(empty_db, make_api) as (host, _, writer), \
            httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client, \
            client.stream("GET", "/api/v1/builds", params={"status": "running"},
                          headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["x-accel-buffering"] == "no"
        events = _events(response.aiter_lines())
        snapshot = await _next(events)
        plain = (await client.get("/api/v1/builds", params={"status": "running"})).json()
        assert (snapshot.event, snapshot.data) == ("snapshot", plain)
        assert plain["items"] == _items([(1, "running", "a")])

        await _write(writer, "INSERT INTO live_builds VALUES (3, 'running', 'c')")
        added = await _next(events)
        assert (added.event, added.data) == ("added", {
            "key": 3, "item": {"id": 3, "status": "running", "name": "c"}, "index": 1})

        await _write(writer, "UPDATE live_builds SET status = 'running' WHERE id = 2")
        into = await _next(events)
        assert (into.event, into.data["key"], into.data["index"]) == ("added", 2, 1)

        await _write(writer, "UPDATE live_builds SET name = 'z' WHERE id = 3")
        changed = await _next(events)
        assert (changed.event, changed.data["item"]) == (
            "changed", {"id": 3, "status": "running", "name": "z"})

        await _write(writer, "UPDATE live_builds SET status = 'done' WHERE id = 1")
        out = await _next(events)
        assert (out.event, out.data) == ("removed", {"key": 1})

        await _write(writer, "DELETE FROM live_builds WHERE id = 3")
        gone = await _next(events)
        assert (gone.event, gone.data) == ("removed", {"key": 3})
        ids = [snapshot.id, added.id, into.id, changed.id, out.id, gone.id]
        assert [int(i.rpartition("-")[2]) for i in ids] == [0, 1, 2, 3, 4, 5]


@each_backend
async def test_rows_pushed_off_the_page_are_removed(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    async with _served(empty_db, make_api) as (host, _, writer), \
            httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client, \
            client.stream("GET", "/api/v1/builds", params={"order_by": "-id"},
                          headers={"Accept": "text/event-stream"}) as response:
        events = _events(response.aiter_lines())
        await _next(events)
        await _write(writer, "INSERT INTO live_builds VALUES (3, 'x', 'c'), (4, 'x', 'd')")
        found = [await _next(events) for _ in range(3)]
        assert [(e.event, e.data["key"]) for e in found] == [
            ("removed", 1), ("added", 4), ("added", 3)]


@each_backend
async def test_a_reconnect_resumes_from_last_event_id(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    async with _served(empty_db, make_api) as (host, api, writer), \
            httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client:
        sse = {"Accept": "text/event-stream"}
        newest = "/api/v1/builds?order_by=-id"
        async with client.stream("GET", newest, headers=sse) as response:
            events = _events(response.aiter_lines())
            seen = await _next(events)
            await _write(writer, "INSERT INTO live_builds VALUES (3, 'x', 'c')")
            seen = await _next(events)
        # Missed while away: kept by the cohort, which lingers for reconnects.
        await _write(writer, "INSERT INTO live_builds VALUES (4, 'x', 'd')")
        (cohort,) = api.app.state.live.cohorts.values()
        for _ in range(int(WAIT_S * 10)):
            if cohort.seq == 3:  # removed 1, added 4: polled while no one watched
                break
            await asyncio.sleep(0.1)
        async with client.stream("GET", newest,
                                 headers={**sse, "Last-Event-ID": seen.id}) as response:
            events = _events(response.aiter_lines())
            missed = [await _next(events) for _ in range(2)]
            assert [(e.event, e.data["key"]) for e in missed] == [("removed", 1), ("added", 4)]
        async with client.stream("GET", newest,
                                 headers={**sse, "Last-Event-ID": "gone-7"}) as response:
            events = _events(response.aiter_lines())
            assert [(await _next(events)).event for _ in range(2)] == ["refetch", "snapshot"]


@each_backend
async def test_websocket_streams_the_same_events(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    async with _served(empty_db, make_api) as (host, _, writer), \
            websockets.connect(f"ws://{host}/api/v1/builds/watch?status=failed") as socket:
        first = orjson.loads(await asyncio.wait_for(socket.recv(), WAIT_S))
        assert first["event"] == "snapshot"
        assert first["data"]["items"] == _items([(2, "failed", "b")])
        await _write(writer, "INSERT INTO live_builds VALUES (3, 'failed', 'c')")
        added = orjson.loads(await asyncio.wait_for(socket.recv(), WAIT_S))
        assert (added["event"], added["data"]["key"]) == ("added", 3)


@each_backend
async def test_heartbeats_keep_an_idle_stream_alive(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    async with _served(empty_db, make_api, live_heartbeat_ms=100) as (host, _, _w), \
            httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client, \
            client.stream("GET", "/api/v1/builds",
                          headers={"Accept": "text/event-stream"}) as response:
        lines = response.aiter_lines()
        comments = 0
        while comments < 2:
            line = await asyncio.wait_for(anext(lines), WAIT_S)
            comments += line == ": heartbeat"


@each_backend
async def test_caps_refuse_with_a_problem(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    async with _served(empty_db, make_api, live_max_per_client=1) as (host, _, _w), \
            httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client, \
            client.stream("GET", "/api/v1/builds",
                          headers={"Accept": "text/event-stream"}) as first:
        assert first.status_code == 200
        second = await client.get("/api/v1/builds", params={"status": "x"},
                                  headers={"Accept": "text/event-stream"})
        assert second.status_code == 429
        assert second.headers["content-type"] == "application/problem+json"
        assert "CRUD_LIVE_MAX_PER_CLIENT" in second.json()["detail"]


@each_backend
async def test_watchers_of_one_query_share_a_cohort_freed_when_they_go(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    async with _served(empty_db, make_api) as (host, api, _w), \
            httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client:
        hub = api.app.state.live
        sse = {"Accept": "text/event-stream"}
        async with client.stream("GET", "/api/v1/builds?status=failed&size=3",
                                 headers=sse) as one, \
                client.stream("GET", "/api/v1/builds?size=3&status=failed",
                              headers=sse) as two:
            await _next(_events(one.aiter_lines()))
            await _next(_events(two.aiter_lines()))
            assert (hub.subscribers, len(hub.cohorts)) == (2, 1)
            metrics = (await client.get("/metrics")).text
            assert "crud_live_subscribers 2.0" in metrics
            assert "crud_live_cohorts 1.0" in metrics
        for _ in range(100):
            if not hub.cohorts:
                break
            await asyncio.sleep(0.1)
        assert (hub.subscribers, len(hub.cohorts), len(hub.pollers)) == (0, 0, 0)


@each_backend
async def test_a_bad_query_is_refused_before_the_stream(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    async with _served(empty_db, make_api) as (host, _, _w), \
            httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client:
        sse = {"Accept": "text/event-stream"}
        bad = await client.get("/api/v1/builds", params={"stauts": "x"}, headers=sse)
        assert bad.status_code == 400
        assert "stauts" in bad.json()["detail"]
        pruned = await client.get("/api/v1/builds", params={"fields": "name"}, headers=sse)
        assert pruned.status_code == 400
        assert pruned.json()["detail"].startswith("fields: a watched list keys its rows by id")


@each_backend
async def test_idle_watchers_cost_one_probe_per_interval(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    async with _served(empty_db, make_api) as (host, api, _w), \
            httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client, \
            contextlib.AsyncExitStack() as streams:
        hub = api.app.state.live
        for query in ("status=failed", "status=failed", "status=running", "status=running"):
            response = await streams.enter_async_context(client.stream(
                "GET", f"/api/v1/builds?{query}", headers={"Accept": "text/event-stream"}))
            await _next(_events(response.aiter_lines()))
        await asyncio.sleep(3.0)  # past MariaDB's two seconds without a token after a write
        api.log.clear()
        polls, reads = hub.stats.polls, hub.stats.reads
        await asyncio.sleep(2.0)  # ten intervals
        rounds = (hub.stats.polls - polls) // 2  # two cohorts polled per round
        pages = _pages(api)
        probes = len(api.log.statements) - len(pages)
        assert rounds >= 2
        assert rounds - 1 <= probes <= rounds + 1  # one for both cohorts, four watchers
        assert len(pages) <= hub.stats.reads - reads + 2
        if empty_db.backend != "postgresql":
            assert pages == []
        # PostgreSQL's statistics may not count a commit made anywhere in the cluster in the
        # last ~11 s yet (crud.sql.signals): on a busy server the pages are read anyway.


@each_backend
async def test_a_tail_reports_new_rows_at_the_head_only(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    async with _served(empty_db, make_api) as (host, api, writer), \
            httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client, \
            client.stream("GET", "/api/v1/builds?order_by=-id&tail=true",
                          headers={"Accept": "text/event-stream"}) as response:
        events = _events(response.aiter_lines())
        snapshot = await _next(events)
        assert [item["id"] for item in snapshot.data["items"]] == [2, 1]
        api.log.clear()
        await _write(writer, "UPDATE live_builds SET name = 'y' WHERE id = 1",
                     "INSERT INTO live_builds VALUES (3, 'x', 'c'), (4, 'x', 'd')")
        found = [await _next(events) for _ in range(2)]
        assert [(e.event, e.data) for e in found] == [
            ("added", {"key": 3, "item": {"id": 3, "status": "x", "name": "c"}, "index": 0}),
            ("added", {"key": 4, "item": {"id": 4, "status": "x", "name": "d"}, "index": 0})]
        # The seek from the head: newer than id 2 (then 4), ascending; never the whole page.
        pages = _pages(api)
        assert pages
        assert all("live_builds.id ASC" in sql for sql in pages), pages
        # A newcomer gets the page as read when the tail started, then what came since.
        async with client.stream("GET", "/api/v1/builds?tail=1&order_by=-id",
                                 headers={"Accept": "text/event-stream"}) as second:
            late = _events(second.aiter_lines())
            assert [(await _next(late)).event for _ in range(3)] == [
                "snapshot", "added", "added"]
        bad = await client.get("/api/v1/builds?tail=maybe",
                               headers={"Accept": "text/event-stream"})
        assert (bad.status_code, bad.json()["detail"]) == (
            400, "tail: expected true or false, got 'maybe'")


@pytest.mark.parametrize("empty_db", ["postgresql"], indirect=True)
async def test_a_list_read_through_pgbouncer_is_watched_alike(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    bouncer = start_bouncer(PG_SERVER)
    try:
        async with _served(empty_db, make_api, url=bouncer.url(empty_db.url)) as (
                host, _, writer), \
                httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client, \
                client.stream("GET", "/api/v1/builds", params={"status": "failed"},
                              headers={"Accept": "text/event-stream"}) as response:
            events = _events(response.aiter_lines())
            assert (await _next(events)).data["items"] == _items([(2, "failed", "b")])
            await _write(writer, "UPDATE live_builds SET status = 'failed' WHERE id = 1",
                         "DELETE FROM live_builds WHERE id = 2")
            found = [await _next(events) for _ in range(2)]
            # Two commits: one poll may see both or each alone.
            assert sorted((e.event, e.data["key"]) for e in found) == [("added", 1),
                                                                       ("removed", 2)]
    finally:
        bouncer.stop()


BROWSER_WATCH = """new Promise((resolve, reject) => {
  const seen = [];
  const source = new EventSource("/api/v1/builds?order_by=-id");
  const keep = (kind) => source.addEventListener(kind, (event) => {
    seen.push([kind, event.lastEventId, JSON.parse(event.data)]);
    if (kind === "added") { source.close(); resolve(seen); }
  });
  ["snapshot", "added", "changed", "removed", "refetch"].forEach(keep);
  setTimeout(() => { source.close(); reject(new Error(JSON.stringify(seen))); }, 20000);
})"""


def test_a_browser_watches_a_list_with_event_source(tmp_path: Path) -> None:
    database = tmp_path / "builds.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE live_builds (id INTEGER PRIMARY KEY, "
                           "status VARCHAR(20) NOT NULL, name VARCHAR(50) NOT NULL)")
        connection.execute("INSERT INTO live_builds VALUES (1, 'running', 'a')")
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    with served(registry, f"sqlite+aiosqlite:///{database}", tmp_path) as server, \
            ThreadPoolExecutor(1) as pool:
        host = "api.crud.test"
        watching = pool.submit(browse, server.url(host) + "/docs",
                               hosts={host: "127.0.0.1"}, evaluate=BROWSER_WATCH)
        row = 2
        while not watching.done() and row < 60:  # a new row now and then, until one shows
            time.sleep(0.5)
            with sqlite3.connect(database) as connection:
                connection.execute("INSERT INTO live_builds VALUES (?, 'new', 'x')", (row,))
            row += 1
        report = watching.result()
    assert report["errors"] == []
    (kind, first_id, snapshot), *_, (added_kind, added_id, added) = report["result"]
    assert (kind, added_kind) == ("snapshot", "added")  # perhaps a removal before (page size)
    shown = [item["id"] for item in snapshot["items"]]
    assert added["key"] not in shown
    assert added["item"] == {"id": added["key"], "status": "new", "name": "x"}
    assert int(added_id.rpartition("-")[2]) > int(first_id.rpartition("-")[2])


@each_backend
async def test_a_websocket_resumes_and_hears_problems_as_close_codes(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    async with _served(empty_db, make_api) as (host, _, writer):
        async with websockets.connect(f"ws://{host}/api/v1/builds?order_by=-id") as socket:
            first = orjson.loads(await asyncio.wait_for(socket.recv(), WAIT_S))
        await _write(writer, "INSERT INTO live_builds VALUES (3, 'x', 'c')")
        url = f"ws://{host}/api/v1/builds/watch?order_by=-id&last_event_id={first['id']}"
        async with websockets.connect(url) as socket:
            missed = orjson.loads(await asyncio.wait_for(socket.recv(), WAIT_S))
            assert (missed["event"], missed["data"]["key"]) == ("added", 3)
        async with websockets.connect(f"ws://{host}/api/v1/builds?stauts=x") as socket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), WAIT_S)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4400
        assert "stauts" in closed.value.rcvd.reason


@pytest.mark.parametrize(("interval", "message"), [
    ("100ms", "Input should be greater than or equal to 0.2"),
    ("soon", "'soon' is not a duration (e.g. 500ms, 60s, 5m, 2h, 2d)"),
], ids=["below-floor", "not-a-duration"])
def test_the_interval_is_checked_when_the_registry_loads(
        interval: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY.replace("interval: 200ms", f"interval: {interval}"),
                    encoding="utf-8")
    with pytest.raises(RegistryError) as raised:
        load_registry(path)
    assert f"{path}:3: api.live.interval: " in str(raised.value)
    assert message in str(raised.value)


@pytest.mark.parametrize("empty_db", ["sqlite"], indirect=True)
async def test_a_declared_route_list_is_watched_with_its_path_bound(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    routed = REGISTRY + '    routes:\n      - {path: "/by-status/{status}", kind: list}\n'
    async with _served(empty_db, make_api, registry=routed) as (host, _, writer):
        async with httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client, \
                client.stream("GET", "/api/v1/by-status/failed",
                              headers={"Accept": "text/event-stream"}) as response:
            events = _events(response.aiter_lines())
            assert (await _next(events)).data["items"] == _items([(2, "failed", "b")])
            await _write(writer, "INSERT INTO live_builds VALUES (3, 'running', 'c')",
                         "INSERT INTO live_builds VALUES (4, 'failed', 'd')")
            added = await _next(events)
            assert (added.event, added.data["key"]) == ("added", 4)
        async with websockets.connect(f"ws://{host}/api/v1/by-status/running/watch") as socket:
            first = orjson.loads(await asyncio.wait_for(socket.recv(), WAIT_S))
            assert [item["id"] for item in first["data"]["items"]] == [1, 3]


def test_changes_between_pages_are_removals_then_the_new_page_in_order() -> None:
    old = page_rows(b'{"items":[{"id":1,"s":"a"},{"id":2,"s":"b"},{"id":3,"s":"c"}]}', ["id"])
    new = page_rows(b'{"items":[{"id":4,"s":"d"},{"id":2,"s":"B"},{"id":3,"s":"c"}]}', ["id"])
    assert [(name, orjson.loads(data)) for name, data in changes(old, new)] == [
        ("removed", {"key": 1}),
        ("added", {"key": 4, "item": {"id": 4, "s": "d"}, "index": 0}),
        ("changed", {"key": 2, "item": {"id": 2, "s": "B"}, "index": 1})]
    pair = page_rows(b'[{"a":1,"b":"x","v":0}]', ["a", "b"])  # a bare array, composite key
    assert [key for key, _ in pair.rows.values()] == [{"a": 1, "b": "x"}]


def test_the_ring_bridges_a_gap_only_while_it_holds_every_missed_event() -> None:
    ring = Ring(3)
    for seq in range(1, 6):
        ring.add(Event("e", seq, "added", b"{}"))
    assert [event.seq for event in ring.since(2, 5) or []] == [3, 4, 5]
    assert ring.since(5, 5) == []
    assert ring.since(1, 5) is None  # event 2 fell out
    assert ring.since(6, 5) is None  # from the future: another incarnation
    assert parse_event_id("ab12-7") == ("ab12", 7)
    assert parse_event_id("garbage") is None


@pytest.mark.parametrize("empty_db", ["sqlite"], indirect=True)
async def test_the_process_cap_and_auth_refuse_before_any_stream(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    async with _served(empty_db, make_api, live_max_subscribers=1) as (host, api, _w), \
            httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client, \
            client.stream("GET", "/api/v1/builds",
                          headers={"Accept": "text/event-stream"}) as first:
        assert first.status_code == 200
        second = await client.get("/api/v1/builds", headers={"Accept": "text/event-stream"})
        assert (second.status_code, second.headers["retry-after"]) == (429, "5")
        assert "CRUD_LIVE_MAX_SUBSCRIBERS" in second.json()["detail"]
        assert api.app.state.live.stats.refused == 1


@pytest.mark.parametrize("empty_db", ["sqlite"], indirect=True)
async def test_a_protected_list_is_watched_with_its_credentials_only(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    protected = REGISTRY.replace("    page_size: 3\n", "    page_size: 3\n    auth: api_key\n")
    async with _served(empty_db, make_api, registry=protected, api_keys=("k1",)) as (
            host, _, _w), httpx.AsyncClient(base_url=f"http://{host}", timeout=WAIT_S) as client:
        sse = {"Accept": "text/event-stream"}
        refused = await client.get("/api/v1/builds", headers=sse)
        assert refused.status_code == 401
        async with client.stream("GET", "/api/v1/builds",
                                 headers={**sse, "X-API-Key": "k1"}) as response:
            assert (await _next(_events(response.aiter_lines()))).event == "snapshot"
