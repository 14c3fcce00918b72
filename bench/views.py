"""``python -m bench.views``: a view with lateral-join derived fields, served by reflection.

What a team exposing existing data writes: a PostgreSQL view ``koji_builds_api`` whose pull
request, branch, release and project come from ``LEFT JOIN LATERAL`` subqueries, served with
``table: koji_builds_api`` and ``cache: {results: true}``, against the hand-written
Starlette + asyncpg app running the same SQL uncounted (bench/view_baseline.py). Each
scenario is driven against one server then the other, twice (interleaved): every ratio is
to the baseline's uncounted page of the same size, from the same run. A last scenario
drives the default list with 64 connections (p50/p99, errors).

    python -m bench.views --scale 20000            # build and smoke (minutes)
    python -m bench.views --scale 1000000 --duration 10 --rounds 2 --output bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text

from bench.drivers import Load, Measurement, combine, wrk
from bench.profile import Profile, record
from bench.report import VIEWS_END, VIEWS_START, profile_lines, replace_between
from bench.run import ensure_database
from bench.servers import ROOT, Server
from bench.view_baseline import COLUMNS, PATH
from crud.sql.database import make_engine

__all__ = ["VIEW_SQL", "main"]

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_views"
OUT = ROOT / "bench" / "out" / "views"

VIEW_SQL = """
CREATE OR REPLACE VIEW koji_builds_api AS
SELECT b.id, b.task_id, b.status::text AS status, b.target AS chroot, b.scratch,
       b.commit_sha, b.web_url, b.build_submitted_time, b.build_start_time,
       b.build_finished_time, pr.pr_id, br.name AS branch_name, rl.tag_name AS release,
       p.project_url, p.namespace AS repo_namespace, p.repo_name
FROM koji_build_targets b
LEFT JOIN LATERAL (
    SELECT e.type::text AS type, e.event_id FROM koji_build_groups g
    JOIN project_events e ON e.id = g.project_event_id
    WHERE g.id = b.koji_build_group_id LIMIT 1) ev ON true
LEFT JOIN LATERAL (
    SELECT x.pr_id, x.project_id FROM pull_requests x
    WHERE ev.type = 'pull_request' AND x.id = ev.event_id LIMIT 1) pr ON true
LEFT JOIN LATERAL (
    SELECT x.name, x.project_id FROM git_branches x
    WHERE ev.type = 'branch_push' AND x.id = ev.event_id LIMIT 1) br ON true
LEFT JOIN LATERAL (
    SELECT x.tag_name, x.project_id FROM project_releases x
    WHERE ev.type = 'release' AND x.id = ev.event_id LIMIT 1) rl ON true
LEFT JOIN LATERAL (
    SELECT x.project_url, x.namespace, x.repo_name FROM git_projects x
    WHERE x.id = coalesce(pr.project_id, br.project_id, rl.project_id) LIMIT 1) p ON true
"""

REGISTRY = f"""\
api: {{title: koji builds over a view, page_size: 20, max_page_size: 100}}
resources:
  koji-builds-view:
    table: koji_builds_api
    primary_key: id
    fields: {{{', '.join(f'{name}:' for name in COLUMNS)}}}
    filters: {{scratch: [eq], status: [eq], chroot: [eq]}}
    sort: [id, build_submitted_time]
    default_sort: [-id]
    facets: [status, chroot]
    aggregate: {{group_by: [build_submitted_time, status, chroot]}}
    cache: {{results: true}}
"""


@dataclass(frozen=True)
class Pair:
    key: str
    title: str
    generated: str
    baseline: str
    target: float | None = None
    connections: int | None = None


def pairs(scale: int) -> list[Pair]:
    middle = max(1, scale // 2)
    page = f"{PATH}?size=50"
    return [
        Pair("default", "default list (no parameters)", PATH, f"{PATH}?size=20", 0.8),
        Pair("page1", "page=1&size=50", f"{PATH}?page=1&size=50", page, 0.8),
        Pair("filtered", "size=50&scratch=false", f"{PATH}?size=50&scratch=false",
             f"{page}&scratch=false", 0.8),
        Pair("nocount", "size=50&count=none", f"{page}&count=none", page, 0.9),
        Pair("detail", "detail by id", f"{PATH}/{middle}", f"{PATH}/{middle}", 0.9),
        Pair("facets", "size=50 with two facets, repeated", f"{page}&facet=status&facet=chroot",
             page, 0.8),
        Pair("week", "aggregate by week, repeated",
             f"{PATH}/aggregate?group_by=build_submitted_time:week&size=100", page, 0.8),
        # The bar at 64 connections: no 5xx and the p99 reported (not a ratio).
        Pair("c64", "default list, 64 connections", PATH, f"{PATH}?size=20",
             connections=64),
    ]


async def prepare(url: str, scale: int) -> str:
    note = await ensure_database(url, scale)
    writer = make_engine(url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.execute(text(VIEW_SQL))
        async with writer.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
    finally:
        await writer.dispose()
    return note


def servers(url: str, out: Path) -> tuple[Server, Server]:
    out.mkdir(parents=True, exist_ok=True)
    registry = out / "registry.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    generated = Server("generated", "crud.app:app_from_environment",
                       {"DATABASE_URL": url, "CRUD_REGISTRY": str(registry),
                        "CRUD_ACCESS_LOG": "false"}, out / "generated.log")
    baseline = Server("baseline", "bench.view_baseline:app_from_environment",
                      {"BENCH_DATABASE_URL": dsn}, out / "baseline.log")
    return generated, baseline


async def check(generated: Server, baseline: Server, scale: int) -> list[str]:
    """Both answer every scenario with 200, and the same items where both list them."""
    problems = []
    async with httpx.AsyncClient(timeout=120) as client:
        for pair in pairs(scale):
            ours = await client.get(generated.base_url + pair.generated)
            for _ in range(5):  # a kept answer's first computation may outlast its budget
                if ours.status_code != 503 or "repeated" not in pair.title:
                    break
                await asyncio.sleep(2)
                ours = await client.get(generated.base_url + pair.generated)
            theirs = await client.get(baseline.base_url + pair.baseline)
            if ours.status_code != 200 or theirs.status_code != 200:
                problems.append(f"{pair.key}: {ours.status_code} / {theirs.status_code}")
                continue
            if pair.generated.split("?")[0] == pair.baseline.split("?")[0] and \
                    pair.key not in ("facets", "week"):
                mine, base = ours.json(), theirs.json()
                if "items" in base and [i["id"] for i in mine["items"]] != \
                        [i["id"] for i in base["items"]]:
                    problems.append(f"{pair.key}: different items")
    return problems


async def prime(url: str, limit_s: float = 120.0) -> None:
    """Ask until the answer comes from the cache (a repeat request with unchanged data is
    what a "repeated" scenario measures; the first computation of a facet over the view
    takes seconds, longer than wrk's warm-up)."""
    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient(timeout=limit_s) as client:
        while time.monotonic() < deadline:
            started = time.monotonic()
            await client.get(url)
            if time.monotonic() - started < 0.2:
                return
            await asyncio.sleep(1.0)


async def drive(generated: Server, baseline: Server, scale: int, load: Load,
                rounds: int) -> list[tuple[Pair, Measurement, Measurement]]:
    results = []
    for pair in pairs(scale):
        if "repeated" in pair.title:
            await prime(generated.base_url + pair.generated)
        scenario_load = load if pair.connections is None else Load(
            threads=load.threads, connections=pair.connections, duration_s=load.duration_s,
            warmup_s=load.warmup_s)
        ours: list[Measurement] = []
        theirs: list[Measurement] = []
        for _ in range(rounds):  # interleaved: a noisy moment hits both
            ours.append(await wrk(generated.base_url + pair.generated, scenario_load))
            theirs.append(await wrk(baseline.base_url + pair.baseline, scenario_load))
        results.append((pair, combine(ours), combine(theirs)))
    return results


async def profile_default(generated: Server, load: Load) -> Profile | None:
    """py-spy on the generated server while wrk drives the default list."""
    url = generated.base_url + PATH
    recording = asyncio.ensure_future(
        record(generated.pid, OUT / "profile.txt", max(2.0, load.duration_s - 1)))
    await wrk(url, Load(threads=load.threads, connections=load.connections,
                        duration_s=load.duration_s, warmup_s=0))
    return await recording


def report(results: list[tuple[Pair, Measurement, Measurement]], note: str,
           scale: int, load: Load) -> str:
    lines = [f"View scenario at scale {scale:,} ({note}); wrk {load.threads} threads, "
             f"{load.connections} connections (c64: 64), {load.duration_s:g} s per round.", "",
             "| scenario | crud req/s | baseline req/s | ratio | target | crud p50/p99 ms | "
             "baseline p50/p99 ms | errors |",
             "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for pair, ours, theirs in results:
        ratio = ours.requests_per_s / theirs.requests_per_s if theirs.requests_per_s else 0
        verdict = "" if pair.target is None else (
            f"{pair.target:.2f} {'met' if ratio >= pair.target else 'MISSED'}")
        if pair.connections is not None:  # errors: non-2xx responses and socket errors
            verdict = f"no errors {'met' if ours.errors == 0 else 'MISSED'}"
        lines.append(
            f"| {pair.title} | {ours.requests_per_s:,.0f} | {theirs.requests_per_s:,.0f} | "
            f"{ratio:.2f} | {verdict} | {ours.p50_ms:.1f}/{ours.p99_ms:.1f} | "
            f"{theirs.p50_ms:.1f}/{theirs.p99_ms:.1f} | {ours.errors}/{theirs.errors} |")
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> int:
    note = await prepare(args.url, args.scale)
    print(note, file=sys.stderr)
    generated, baseline = servers(args.url, OUT)
    load = Load(threads=2, connections=args.connections, duration_s=args.duration,
                warmup_s=args.warmup)
    try:
        await generated.start()
        await baseline.start()
        problems = await check(generated, baseline, args.scale)
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        if args.check_only:
            print("both servers answer every scenario alike", file=sys.stderr)
            return 0
        results = await drive(generated, baseline, args.scale, load, args.rounds)
        profile = None if args.no_profile else await profile_default(generated, load)
    finally:
        await generated.stop()
        await baseline.stop()
    text_ = report(results, note, args.scale, load)
    if not args.no_profile:
        text_ += ("\nProfile: py-spy on the generated server while wrk drives the default "
                  "list (raw stacks: bench/out/views/profile.txt).\n\n"
                  + "\n".join(profile_lines(profile)) + "\n")
    (OUT / "report.md").write_text(text_, encoding="utf-8")
    print(text_)
    if args.output is not None:
        command = "python -m bench.views " + " ".join(sys.argv[1:])
        replace_between(args.output, VIEWS_START, VIEWS_END, section(text_, command))
    return 0


def section(table: str, command: str) -> str:
    """The view section's body (bench/report.py puts it between the view markers)."""
    return "\n".join(["## A view with lateral joins (bench/views.py)", "",
                      "```", command, "```", "", table.rstrip()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.views", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL URL (asyncpg)")
    parser.add_argument("--scale", type=int, default=20_000, help="koji builds to load")
    parser.add_argument("--duration", type=float, default=5, help="seconds per wrk round")
    parser.add_argument("--warmup", type=float, default=1, help="warm-up seconds per round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per scenario")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections")
    parser.add_argument("--output", type=Path, default=None,
                        help="a report (bench/RESULTS.md) whose view section is replaced")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("--check-only", action="store_true",
                        help="load, start both servers, compare answers, stop")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
