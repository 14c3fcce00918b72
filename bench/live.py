"""Live lists under load: many watchers over a few distinct queries on one process.

    python -m bench.live --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/DB \\
        [--watchers 1000] [--queries 50] [--interval 1] [--idle-seconds 20] [--changes 20]

Creates a table ``live_bench`` (10,000 rows) in DB, serves it with ``crud serve`` (one
process, ``live: {interval: ...}``), then measures in phases:

1. watch: ``--watchers`` SSE streams spread over ``--queries`` distinct list queries;
   memory per watcher from the server's RSS before and after.
2. idle: nothing changes for ``--idle-seconds``: statements per second (change probes plus
   page reads, from the server's /metrics), server CPU.
3. changes: ``--changes`` single-row updates, one every 1.5 s, each into the first page of
   one query: delay from COMMIT to the ``changed`` event at each of that query's watchers
   (p50, p95, max), server CPU.
4. polling: the same clients poll the plain list URL once per interval instead: requests
   (one statement each) per second and server CPU, for comparison.

Prints a Markdown section for bench/RESULTS.md. Nothing here is a test assertion.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.servers import _free_port

__all__ = ["LIVE_END", "LIVE_START", "live_section", "main"]

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
LIVE_START = "<!-- live: written by bench/live.py --write, kept by bench/report.py -->"
LIVE_END = "<!-- /live -->"

ROWS = 10_000
STATUSES = 10
REGISTRY = """
api:
  live: {interval: %ss}
resources:
  bench-rows:
    table: live_bench
    fields: {id:, status:, name:, n:}
    filters: {status: [eq]}
    sort: [id, n]
    default_sort: [id]
    count: {kind: none}
"""


def _query(index: int) -> str:
    """Distinct queries: ten statuses times page sizes 10, 11, ..."""
    return f"status=s{index % STATUSES}&size={10 + index // STATUSES}"


async def _prepare(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS live_bench"))
        await connection.execute(text(
            "CREATE TABLE live_bench (id INTEGER PRIMARY KEY, status VARCHAR(8) NOT NULL, "
            "name VARCHAR(20) NOT NULL, n INTEGER NOT NULL)"))
        await connection.execute(text("CREATE INDEX live_bench_status ON live_bench (status, id)"))
        rows = [{"id": i, "status": f"s{i % STATUSES}", "name": f"row {i}", "n": 0}
                for i in range(1, ROWS + 1)]
        await connection.execute(text(
            "INSERT INTO live_bench VALUES (:id, :status, :name, :n)"), rows)


def _backend(url: str) -> str:
    return url.partition("+")[0].partition(":")[0]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _metrics(client: httpx.AsyncClient) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith("crud_live_") and " " in line:
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


class Watcher:
    """One SSE stream; notes when each (key, name) arrives."""

    def __init__(self, query: int) -> None:
        self.query = query
        self.ready = asyncio.Event()
        self.seen: dict[int, float] = {}  # key of a changed row -> arrival (monotonic)

    async def run(self, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", f"/api/v1/bench-rows?{_query(self.query)}",
                                 headers={"Accept": "text/event-stream"}) as response:
            event = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    if event == "snapshot":
                        self.ready.set()
                    elif event == "changed":
                        self.seen[orjson.loads(line[6:])["key"]] = time.monotonic()


async def _watch_phase(args: argparse.Namespace, base: str, pid: int,
                       report: Callable[[str], None], engine: AsyncEngine) -> None:
    limits = httpx.Limits(max_connections=args.watchers + 10)
    async with httpx.AsyncClient(base_url=base, timeout=None, limits=limits) as client:
        rss_before = _rss_kib(pid)
        watchers = [Watcher(i % args.queries) for i in range(args.watchers)]
        tasks = [asyncio.create_task(w.run(client)) for w in watchers]
        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(w.ready.wait() for w in watchers)), 300)
        report(f"- {args.watchers} watchers over {args.queries} queries connected in "
               f"{time.monotonic() - started:.1f} s")
        await asyncio.sleep(2 * args.interval)
        rss_after = _rss_kib(pid)
        report(f"- server RSS {rss_before / 1024:.0f} MiB before, {rss_after / 1024:.0f} MiB "
               f"with the watchers: {(rss_after - rss_before) / args.watchers:.1f} KiB per "
               "watcher")
        async with httpx.AsyncClient(base_url=base) as probe:
            before, cpu0, t0 = await _metrics(probe), _cpu_s(pid), time.monotonic()
            await asyncio.sleep(args.idle_seconds)
            after, cpu1, t1 = await _metrics(probe), _cpu_s(pid), time.monotonic()
            span = t1 - t0
            probes = after["crud_live_probes_total"] - before["crud_live_probes_total"]
            reads = after["crud_live_reads_total"] - before["crud_live_reads_total"]
            report(f"- idle {span:.0f} s: {probes / span:.2f} change probes/s + "
                   f"{reads / span:.2f} page reads/s = {(probes + reads) / span:.2f} "
                   f"statements/s; server CPU {100 * (cpu1 - cpu0) / span:.1f} %")
            delays = await _changes(args, watchers, engine)
            cpu2, t2 = _cpu_s(pid), time.monotonic()
            delays.sort()
            if delays:
                p95 = delays[int(0.95 * (len(delays) - 1))]
                report(f"- changes: {args.changes} updates, {len(delays)} deliveries; delay "
                       f"from COMMIT to event p50 {statistics.median(delays):.2f} s, p95 "
                       f"{p95:.2f} s, max {delays[-1]:.2f} s; server CPU "
                       f"{100 * (cpu2 - cpu1) / (t2 - t1):.1f} % during the phase")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _changes(args: argparse.Namespace, watchers: list[Watcher],
                   engine: AsyncEngine) -> list[float]:
    """One update every 1.5 s to the first row of one status (on the first page of every
    query of that status); each of their watchers' delay from COMMIT to the event."""
    delays = []
    for change in range(args.changes):
        status = (change % args.queries) % STATUSES
        key = status or STATUSES  # the smallest id with that status
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE live_bench SET n = n + 1, name = :name "
                                          "WHERE id = :id"), {"id": key, "name": f"c{change}"})
        committed = time.monotonic()
        await asyncio.sleep(1.5)
        for watcher in watchers:
            arrived = watcher.seen.pop(key, None)
            if watcher.query % STATUSES == status and arrived is not None:
                delays.append(arrived - committed)
    return delays


async def _polling_phase(args: argparse.Namespace, base: str, pid: int,
                         report: Callable[[str], None]) -> None:
    limits = httpx.Limits(max_connections=args.watchers + 10)
    stop = asyncio.Event()
    done = [0]

    async def poller(client: httpx.AsyncClient, index: int) -> None:
        await asyncio.sleep(args.interval * index / args.watchers)  # spread over the interval
        while not stop.is_set():
            started = time.monotonic()
            await client.get(f"/api/v1/bench-rows?{_query(index % args.queries)}")
            done[0] += 1
            await asyncio.sleep(max(0.0, args.interval - (time.monotonic() - started)))

    async with httpx.AsyncClient(base_url=base, timeout=None, limits=limits) as client:
        tasks = [asyncio.create_task(poller(client, i)) for i in range(args.watchers)]
        await asyncio.sleep(2 * args.interval)
        count0, cpu0, t0 = done[0], _cpu_s(pid), time.monotonic()
        await asyncio.sleep(args.idle_seconds)
        count1, cpu1, t1 = done[0], _cpu_s(pid), time.monotonic()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    span = t1 - t0
    report(f"- plain list URL polled by {args.watchers} clients every {args.interval} s: "
           f"{(count1 - count0) / span:.0f} requests/s = statements/s (one each), server "
           f"CPU {100 * (cpu1 - cpu0) / span:.1f} %; a change shows after half an interval "
           "on average, a whole one at worst, plus the request")


def _serve(args: argparse.Namespace, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    registry = workdir / "registry.yaml"
    registry.write_text(REGISTRY % args.interval, encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "CRUD_ACCESS_LOG": "false", "CRUD_CURSOR_SECRET": "bench",
           "CRUD_LOG_LEVEL": "warning",
           "CRUD_LIVE_MAX_PER_CLIENT": str(args.watchers * 2),
           "CRUD_LIVE_MAX_SUBSCRIBERS": str(args.watchers * 2)}
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "crud.cli", "serve", "--registry", str(registry),
         "--database-url", args.database_url, "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"crud serve did not start:\n{(workdir / 'server.log').read_text()}")


async def run(args: argparse.Namespace) -> list[str]:
    engine = create_async_engine(args.database_url)
    await _prepare(engine)
    lines: list[str] = []

    def report(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    report(f"## Live lists (python -m bench.live --watchers {args.watchers} --queries "
           f"{args.queries} --interval {args.interval}, {_backend(args.database_url)})")
    with tempfile.TemporaryDirectory() as workdir:
        process, base = _serve(args, Path(workdir))
        try:
            await _watch_phase(args, base, process.pid, report, engine)
            await _polling_phase(args, base, process.pid, report)
        finally:
            process.terminate()
            process.wait(30)
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE live_bench"))
    await engine.dispose()
    return lines


def live_section(path: Path) -> str | None:
    """The live-lists section of an existing RESULTS.md, for bench/report.py to keep."""
    text = path.read_text() if path.exists() else ""
    start, end = text.find(LIVE_START), text.find(LIVE_END)
    return text[start:end + len(LIVE_END)] if 0 <= start < end else None


def _write(lines: list[str]) -> None:
    new = "\n".join([LIVE_START, *lines, LIVE_END])
    old = live_section(RESULTS)
    text = RESULTS.read_text()
    RESULTS.write_text(text.replace(old, new) if old else text.rstrip() + "\n\n" + new + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--write", action="store_true",
                        help="replace the live section of bench/RESULTS.md with this run")
    args = parser.parse_args()
    lines = asyncio.run(run(args))
    if args.write:
        _write(lines)


if __name__ == "__main__":
    main()
