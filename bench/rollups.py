"""Rollups at scale (docs/rollups.md): the week chart and a two-facet list answered from a
rollup against the uncounted list page, and the cost of one refresh against a full build.

    python -m bench.rollups --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench \\
        --scale 1000000

1. Loads the demo data as ``bench.run`` does (reused when already at ``--scale``).
2. Serves registry.yaml plus one rollup on koji-builds (``by_week``: status and chroot by week,
   count and sum of duration; written to ``bench/out/rollups/registry.yaml``) with uvicorn,
   waits until ``/metrics`` says it is built, checks the chart and the facets carry
   ``Rollup:``, then drives the three URLs with wrk, alternating, ``--rounds`` times.
3. In process: a full build, then 1% new builds (copies of the newest, inside the late
   window), one refresh, timed; the copies are deleted again.
4. Writes the numbers into bench/RESULTS.md (``--output``), replacing its "Rollups" section.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from sqlalchemy import text

from bench.drivers import Load, Measurement, combine, wrk
from bench.report import ROLLUPS_END, ROLLUPS_START, replace_between
from bench.run import DEFAULT_URL, OUT, ensure_database
from bench.servers import ROOT, Server
from crud.app import create_app, load
from crud.config.settings import Settings
from crud.sql.database import make_engine, serving_engine

ROLLUP = """    rollups:
      by_week:
        time: build_submitted_time
        grain: week
        dimensions: [status, chroot]
        metrics: {count: true, sum: [duration]}
        refresh: 60s
        late: 2d
"""
LIST = "/api/v1/koji-builds?count=none"
CHART = ("/api/v1/koji-builds/aggregate?group_by=build_submitted_time:week"
         "&metrics=count,avg:duration&size=100")
FACETS = "/api/v1/koji-builds?facet=status&facet=chroot&count=none"
NEW_SHARE = 0.01


def registry_text() -> str:
    registry = (ROOT / "registry.yaml").read_text(encoding="utf-8")
    anchor = "    aggregate:                                  # GET /koji-builds/aggregate\n"
    return registry.replace(anchor, ROLLUP + anchor, 1)


async def wait_built(server: Server, timeout_s: float) -> float:
    """Seconds the first full pass took, once ``/metrics`` says the rollup is built."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        while time.monotonic() < deadline:
            metrics = (await client.get("/metrics")).text
            built = re.search(r'crud_rollup_built_ratio\{[^}]*rollup="by_week"\} (\S+)', metrics)
            full = re.search(r'crud_rollup_full_pass_seconds\{[^}]*rollup="by_week"\} (\S+)',
                             metrics)
            if built and float(built[1]) >= 1.0 and full:
                return float(full[1])
            await asyncio.sleep(1)
    raise RuntimeError(f"the rollup was not built in {timeout_s} s; see {server.log}")


async def check_rollup_headers(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        for path in (CHART, FACETS):
            response = await client.get(path)
            assert response.status_code == 200, response.text
            assert response.headers.get("rollup") == "by_week", (path, response.headers)


async def measure(server: Server, load: Load, rounds: int) -> dict[str, Measurement]:
    found: dict[str, list[Measurement]] = {LIST: [], CHART: [], FACETS: []}
    for _ in range(rounds):
        for path in found:
            found[path].append(await wrk(server.base_url + path, load))
    return {path: combine(items) for path, items in found.items()}


async def refresh_cost(url: str, registry: Path) -> tuple[float, float, int, int]:
    """(full build s, refresh s, rows in the table, rows added) in process."""
    loaded = await load(registry, url)
    engine = serving_engine(Settings(database_url=url), loaded.registry.api, url)
    app = create_app(loaded, engine, settings=Settings(database_url=url))
    keeper = app.state.rollups
    [item] = keeper.kept
    writer = make_engine(url, read_only=False)
    try:
        started = time.perf_counter()
        await keeper.build(item)
        full_s = time.perf_counter() - started
        async with writer.begin() as connection:
            total = int(await connection.scalar(text("SELECT count(*) FROM koji_build_targets")))
            top = int(await connection.scalar(text("SELECT max(id) FROM koji_build_targets")))
            added = max(int(total * NEW_SHARE), 1)
            # Copies of the newest builds, an hour later: late rows inside the window.
            await connection.execute(text(
                "INSERT INTO koji_build_targets (id, task_id, commit_sha, status, target, "
                "web_url, build_submitted_time, build_start_time, build_finished_time, scratch, "
                "koji_build_group_id) SELECT id + :top, task_id, commit_sha, status, target, "
                "web_url, build_submitted_time + interval '1 hour', build_start_time, "
                "build_finished_time, scratch, koji_build_group_id FROM koji_build_targets "
                "ORDER BY build_submitted_time DESC NULLS LAST LIMIT :added"),
                {"top": top, "added": added})
        try:
            assert item.snapshot is not None
            started = time.perf_counter()
            await keeper.refresh(item, item.snapshot)
            refresh_s = time.perf_counter() - started
        finally:
            async with writer.begin() as connection:
                await connection.execute(text("DELETE FROM koji_build_targets WHERE id > :top"),
                                         {"top": top})
    finally:
        await writer.dispose()
        await app.state.reader.close()
        await engine.dispose()
    return full_s, refresh_s, total, added


def report(args: argparse.Namespace, note: str, served_build_s: float,
           results: dict[str, Measurement], cost: tuple[float, float, int, int]) -> str:
    base = results[LIST].requests_per_s
    full_s, refresh_s, total, added = cost
    lines = [
        "", f"## Rollups ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"scale {args.scale:,})", "",
        f"`python -m bench.rollups --database-url {args.database_url} --scale {args.scale}`"
        f" ({note}; wrk {args.threads} threads, {args.connections} connections, "
        f"{args.duration:g} s x {args.rounds} rounds). The rollup: `by_week` (status, chroot; "
        "count, sum of duration); its first build in the served process took "
        f"{served_build_s:.1f} s.", "",
        "| scenario | req/s | p50 ms | p99 ms | vs list page (target >= 0.8) |",
        "| --- | ---: | ---: | ---: | ---: |"]
    names = {LIST: "list page, count=none (live)", CHART: "week chart from the rollup",
             FACETS: "list + two facets from the rollup (count=none)"}
    for path, measured in results.items():
        lines.append(f"| {names[path]} | {measured.requests_per_s:.1f} | {measured.p50_ms:.1f} "
                     f"| {measured.p99_ms:.1f} | {measured.requests_per_s / base:.2f} |")
    lines += ["", f"One refresh after {added:,} new builds (1% of {total:,}, inside the late "
                  f"window): {refresh_s:.2f} s against a full build's {full_s:.2f} s = "
                  f"{100 * refresh_s / full_s:.1f}% (target <= 5%).", ""]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    note = await ensure_database(args.database_url, args.scale)
    print(note, flush=True)
    out = OUT / "rollups"
    out.mkdir(parents=True, exist_ok=True)
    registry = out / "registry.yaml"
    registry.write_text(registry_text(), encoding="utf-8")
    server = Server("rollups", "crud.app:app_from_environment",
                    {"DATABASE_URL": args.database_url, "CRUD_REGISTRY": str(registry),
                     "CRUD_CURSOR_SECRET": "bench-cursor-secret"}, out / "server.log")
    await server.start()
    try:
        served_build_s = await wait_built(server, args.build_timeout)
        await check_rollup_headers(server)
        load_ = Load(args.threads, args.connections, args.duration, args.warmup)
        results = await measure(server, load_, args.rounds)
    finally:
        await server.stop()
    cost = await refresh_cost(args.database_url, registry)
    text_ = report(args, note, served_build_s, results, cost)
    print(text_, flush=True)
    if args.output is not None:  # this section replaced, the rest of the report kept
        replace_between(args.output, ROLLUPS_START, ROLLUPS_END, text_)
    return 0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rollups", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--build-timeout", type=float, default=1800)
    parser.add_argument("--output", type=Path, default=None,
                        help="append the results to this file (e.g. bench/RESULTS.md)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(_parse(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
