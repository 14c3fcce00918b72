"""``python -m bench.run``: load the demo domain, start both servers, drive them, report.

The generated API (crud, one uvicorn worker, the repository's registry.yaml) and the
hand-written baseline (bench/baseline.py) serve the same PostgreSQL database; every
scenario is driven against one and then the other, so each ratio comes from one run on one
machine. See docs/bench.md for how to read the report.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine

from bench.drivers import Load, Measurement, combine, httpx_loop, wrk
from bench.fulltext import ensure_search_indexes, search_term, write_registry
from bench.profile import Profile, record
from bench.report import Report, write_report
from bench.scenarios import LIST_PATH, PAGE_SIZE, Scenario, scenarios
from bench.servers import ROOT, Server, baseline_server, generated_server, peak_rss_kib
from bench.wire import WireProxy
from crud.sql.database import make_engine
from resources.demo import drop_schema, load_demo_data

__all__ = ["main"]

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench"
SMOKE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_smoke"
SMOKE_SCALE = 300
OUT = ROOT / "bench" / "out"
MAX_PAGE = 100  # registry.yaml's max_page_size: the fewest requests to walk a cursor deep


# -- the database ------------------------------------------------------------------------


async def ensure_database(url: str, scale: int) -> str:
    """Create the database if missing and load the demo data unless already at ``scale``."""
    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": parsed.database})
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        await admin.dispose()
    writer = make_engine(url, read_only=False)
    try:
        loaded = await _loaded_scale(writer)
        if loaded == scale:
            return f"demo data already loaded at scale {scale:,}; not reloaded"
        if loaded is not None:
            await drop_schema(writer)
        started = time.perf_counter()
        counts = await load_demo_data(writer, scale)
        return (f"demo data loaded at scale {scale:,} ({sum(counts.values()):,} rows) "
                f"in {time.perf_counter() - started:.0f} s")
    finally:
        await writer.dispose()


async def _loaded_scale(engine: Any) -> int | None:
    """Koji builds in a complete load (pipelines are written last); None when no tables."""
    async with engine.connect() as connection:
        try:
            builds = await connection.scalar(text("SELECT count(*) FROM koji_build_targets"))
            pipelines = await connection.scalar(text("SELECT count(*) FROM pipelines"))
        except ProgrammingError:
            return None
    return int(builds) if pipelines else -1


# -- the scenarios' URLs per server ------------------------------------------------------


def _cursor_path(next_value: str, size: int) -> str:
    """An uncounted list URL at ``size`` from a ``next`` that is a URL or a bare token."""
    token = next_value
    if next_value.startswith(("/", "http")):
        token = parse_qs(urlsplit(next_value).query).get("cursor", [""])[0]
    return f"{LIST_PATH}?size={size}&count=none&cursor={quote(token, safe='')}"


async def deep_cursor(server: Server, depth: int, budget_s: float) -> tuple[str | None, str]:
    """Follow ``next`` from page 1 until ``depth`` rows are behind; the URL there, or why not."""
    deadline = time.monotonic() + budget_s
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        # Uncounted, like an infinite scroll: otherwise every step counts the whole table.
        body = (await client.get(f"{LIST_PATH}?size={MAX_PAGE}&count=none")).json()
        if not body.get("next"):  # perhaps cursor paging must be asked for
            response = await client.get(f"{LIST_PATH}?size={MAX_PAGE}&count=none&cursor=")
            body = response.json() if response.status_code == 200 else {}
        if not body.get("next"):
            return None, "n/a: cursor not available"
        seen, requests = len(body["items"]), 1
        while seen < depth and body.get("next"):
            if time.monotonic() > deadline:
                return None, f"n/a: only {seen:,} rows in after {budget_s:.0f} s of following next"
            body = (await client.get(_cursor_path(body["next"], MAX_PAGE))).json()
            seen, requests = seen + len(body["items"]), requests + 1
        if not body.get("next"):
            return None, f"n/a: the list ended after {seen:,} rows"
    return _cursor_path(body["next"], PAGE_SIZE), f"{seen:,} rows in ({requests:,} requests)"


@dataclass
class Plan:
    """Per scenario, the path each server is driven with (None: not applicable, and why)."""

    paths: dict[str, dict[str, str | None]] = field(default_factory=dict)
    notes: dict[str, dict[str, str]] = field(default_factory=dict)


async def plan_paths(items: Sequence[Scenario], servers: Sequence[Server], depth: int,
                     cursor_budget_s: float) -> Plan:
    plan = Plan()
    for scenario in items:
        plan.paths[scenario.key] = {}
        plan.notes[scenario.key] = {}
        for server in servers:
            path: str | None = scenario.path
            if scenario.kind == "cursor":
                path, note = await deep_cursor(server, depth, cursor_budget_s)
                plan.notes[scenario.key][server.name] = note
            plan.paths[scenario.key][server.name] = path
    return plan


async def compare_bodies(plan: Plan, servers: Sequence[Server]) -> dict[str, bool | None]:
    """Whether both servers answer each scenario with the same body (and Content-Range)."""
    same: dict[str, bool | None] = {}
    async with httpx.AsyncClient(timeout=60) as client:
        for key, paths in plan.paths.items():
            answers = []
            for server in servers:
                path = paths[server.name]
                if path is None:
                    break
                response = await client.get(server.base_url + path)
                body = response.json()
                body.pop("next", None)  # cursor tokens are each server's own
                range_header = response.headers.get("content-range")
                if "cursor=" in path:  # a page after a cursor: only its rows must agree
                    body, range_header = body["items"], None
                answers.append((response.status_code, body, range_header))
            same[key] = answers[0] == answers[1] if len(answers) == 2 else None
    return same


# -- measuring -----------------------------------------------------------------------------


async def measure(items: Sequence[Scenario], plan: Plan, servers: Sequence[Server], load: Load,
                  rounds: int,
                  smoke_requests: int) -> dict[str, dict[str, Measurement | None]]:
    """Each scenario on each server in turn, ``rounds`` times alternating, never both at once.

    Alternating in short rounds keeps a noisy neighbour's burst from landing on one side only.
    """
    results: dict[str, dict[str, Measurement | None]] = {}
    for scenario in items:
        key, paths = scenario.key, plan.paths[scenario.key]
        taken: dict[str, list[Measurement]] = {server.name: [] for server in servers}
        run_load = replace(load, connections=scenario.connections or load.connections,
                           duration_s=load.duration_s * scenario.duration_factor)
        for _ in range(rounds):
            for server in servers:
                path = paths[server.name]
                if path is None:
                    continue
                if smoke_requests:
                    taken[server.name].append(await httpx_loop(server.base_url + path,
                                                               smoke_requests))
                else:
                    taken[server.name].append(await wrk(server.base_url + path, run_load))
        results[key] = {name: combine(found) if found else None for name, found in taken.items()}
        for name, measured in results[key].items():
            print(f"  {key:12} {name:9} {measured}", flush=True)
    return results


async def profile_list(server: Server, path: str, load: Load) -> Profile | None:
    """py-spy over the generated server while wrk drives one list scenario."""
    output = OUT / "profile.txt"
    profiling = asyncio.create_task(record(server.pid, output, load.duration_s))
    await asyncio.sleep(0.5)  # let py-spy attach before the load starts
    await wrk(server.base_url + path, Load(load.threads, load.connections,
                                           load.duration_s - 1, warmup_s=0))
    return await profiling


async def count_on(servers: Sequence[Server], plan: Plan, proxy: WireProxy,
                   requests: int = 3) -> dict[str, dict[str, dict[str, float]]]:
    """Statements per request by kind, for servers whose database URL is ``proxy``'s."""
    counts: dict[str, dict[str, dict[str, float]]] = {key: {} for key in plan.paths}
    for server in servers:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
            for key, paths in plan.paths.items():
                path = paths[server.name]
                if path is None:
                    continue
                for _ in range(2):  # warm: pool filled, types introspected
                    await client.get(path)
                proxy.counter.reset()
                for _ in range(requests):
                    await client.get(path)
                counts[key][server.name] = {
                    kind: number / requests for kind, number in proxy.counter.kinds.items()}
    return counts


async def count_statements(proxied_url: str, plan: Plan,
                           proxy: WireProxy) -> dict[str, dict[str, dict[str, float]]]:
    """Run each server once more, behind the proxy, just to count (the proxy adds latency)."""
    counts: dict[str, dict[str, dict[str, float]]] = {key: {} for key in plan.paths}
    for server in (generated_server(proxied_url, OUT), baseline_server(proxied_url, OUT)):
        await server.start()
        try:
            for key, found in (await count_on([server], plan, proxy)).items():
                counts[key].update(found)
        finally:
            await server.stop()
    return counts


# -- the whole run -------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    scale = SMOKE_SCALE if args.smoke else args.scale
    url = args.database_url or (SMOKE_URL if args.smoke else DEFAULT_URL)
    load = Load(args.threads, args.connections, args.duration, args.warmup)
    print(f"database {make_url(url).render_as_string()} at scale {scale:,}", flush=True)
    load_note = await ensure_database(url, scale)
    print(load_note, flush=True)
    registry = write_registry(ROOT / "registry.yaml", OUT / "registry.yaml")
    index_note = await ensure_search_indexes(url, registry)
    print(index_note, flush=True)
    load_note = f"{load_note}; {index_note}"
    items = scenarios(scale, await search_term(url, scale))
    parsed = make_url(url)
    proxy = WireProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    proxied = parsed.set(host="127.0.0.1", port=await proxy.start()).render_as_string(
        hide_password=False)
    # The smoke mode saves two server starts by timing through the proxy too: its numbers
    # are indicative only anyway.
    served = proxied if args.smoke else url
    servers = [generated_server(served, OUT), baseline_server(served, OUT)]
    profile: Profile | None = None
    try:
        for server in servers:
            await server.start()
        plan = await plan_paths(items, servers, scale // 2, args.cursor_budget)
        same = await compare_bodies(plan, servers)
        print(f"identical bodies: {same}", flush=True)
        results = await measure(items, plan, servers, load, 1 if args.smoke else args.rounds,
                                args.smoke_requests if args.smoke else 0)
        if not args.smoke and not args.no_profile:
            path = plan.paths["list-nocount"]["generated"]
            assert path is not None
            profile = await profile_list(servers[0], path, load)
        rss = {server.name: peak_rss_kib(server.pid) for server in servers}
        if args.smoke:
            statements = await count_on(servers, plan, proxy)
            print("statements counted", flush=True)
    finally:
        for server in servers:
            await server.stop()
        print("servers stopped", flush=True)
    try:
        if not args.smoke:
            statements = await count_statements(proxied, plan, proxy)
            print("statements counted", flush=True)
    finally:
        await proxy.close()
    report = Report(
        command="python -m bench.run " + shlex.join(args.argv), scale=scale, url=url,
        load=load, rounds=1 if args.smoke else args.rounds, smoke=args.smoke,
        load_note=load_note, scenarios=items, plan_notes=plan.notes,
        identical=same, results=results, statements=statements, rss_kib=rss, profile=profile)
    output = Path(args.output) if args.output else (
        OUT / "SMOKE.md" if args.smoke else ROOT / "bench" / "RESULTS.md")
    await write_report(report, output, url)
    print(f"wrote {output}", flush=True)
    return 0 if report.healthy() else 1


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--database-url", help=f"async SQLAlchemy URL (default {DEFAULT_URL}; "
                                               f"{SMOKE_URL} with --smoke)")
    parser.add_argument("--scale", type=int, default=1_000_000, help="koji builds to load")
    parser.add_argument("--smoke", action="store_true",
                        help=f"scale {SMOKE_SCALE}, an httpx loop instead of wrk, no profile")
    parser.add_argument("--smoke-requests", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections")
    parser.add_argument("--duration", type=float, default=8, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=2,
                        help="measured runs per scenario and server, alternating servers")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of discarded warm-up")
    parser.add_argument("--cursor-budget", type=float, default=240,
                        help="seconds allowed for following next down to the deep page")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("--output", help="report path (default bench/RESULTS.md, "
                                         "bench/out/SMOKE.md with --smoke)")
    args = parser.parse_args(argv)
    args.argv = list(argv)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(_parse(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    sys.exit(main())
