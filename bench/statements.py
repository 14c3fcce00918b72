"""Database time of the statements the API sends, replayed the way a driver runs them.

    python -m bench.statements --database-url postgresql+asyncpg://postgres@127.0.0.1/bench

Serves ``--registry`` (default registry.yaml) in-process, records the SQL and parameters of
a few koji-builds requests, then prepares each statement on one asyncpg connection with
``jit = off`` and times up to ``--runs`` executions (a budget per statement caps slow
ones). ``--baseline`` adds bench/baseline.py's hand-written page and detail. Used for the
derived-join numbers in README.md ("Derived joins").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs upstream
import httpx
from sqlalchemy.engine import make_url

from bench.baseline import _DETAIL_SQL, _list_sql
from crud.app import create_app, load
from crud.config.settings import Settings
from crud.sql.database import make_engine

LIST = "/api/v1/koji-builds"
# name -> (path, a fragment that tells the statement timed from the others of the request)
REQUESTS = {
    "page 1 (size=50)": (f"{LIST}?size=50&count=none", "LIMIT"),
    "detail by id": (f"{LIST}/500000", "koji_build_targets.id = $"),
    "repo_namespace=systemd": (f"{LIST}?size=50&count=none&repo_namespace=systemd", "LIMIT"),
    "repo_namespace__ilike=%infra%": (
        f"{LIST}?size=50&count=none&repo_namespace__ilike=%25infra%25", "LIMIT"),
    "repo_namespace=nope (no match)": (f"{LIST}?size=50&count=none&repo_namespace=nope", "LIMIT"),
    "order_by=repo_namespace": (f"{LIST}?size=50&count=none&order_by=repo_namespace", "LIMIT"),
    "count of repo_namespace=systemd": (f"{LIST}?size=50&repo_namespace=systemd", "count(*)"),
    # Shapes: a sparse page skips the derived join; an embed is one statement per page.
    "page 1 fields=packit_id,status": (f"{LIST}?size=50&count=none&fields=packit_id,status",
                                       "LIMIT"),
    "page 1 fields=status,repo_name": (f"{LIST}?size=50&count=none&fields=status,repo_name",
                                       "LIMIT"),
    "embed=runs (its one statement)": (f"{LIST}?size=50&count=none&embed=runs", "row_number"),
}
Statement = tuple[str, tuple[Any, ...]]


async def api_statements(registry: Path, url: str) -> dict[str, Statement]:
    loaded = await load(registry, url)
    engine = make_engine(url)
    seen: list[Statement] = []

    app = create_app(loaded, engine, settings=Settings(metrics=False, access_log=False))
    # The read path runs statements on the driver's connection and tells its listeners.
    app.state.reader.listeners.append(
        lambda statement, arguments: seen.append((statement, tuple(arguments))))
    found = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for name, (path, fragment) in REQUESTS.items():
            seen.clear()
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text)
            found[name] = next(statement for statement in seen if fragment in statement[0])
    await app.state.reader.close()
    await engine.dispose()
    return found


def baseline_statements() -> dict[str, Statement]:
    return {"baseline page 1 (size=50)": (_list_sql("", None, uncounted=True), (50, 0)),
            "baseline detail by id": (_DETAIL_SQL, (500000,))}


async def time_statement(connection: Any, sql: str, args: tuple[Any, ...], runs: int,
                         budget_s: float) -> str:
    prepared = await connection.prepare(sql)
    for _ in range(3):  # warm the buffers and the plan cache
        await prepared.fetch(*args)
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < runs and time.perf_counter() < deadline:
        start = time.perf_counter()
        await prepared.fetch(*args)
        times.append((time.perf_counter() - start) * 1000)
    plan = json.loads(await connection.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args))[0]
    return (f"median {statistics.median(times):9.3f} ms  n={len(times):3}  EXPLAIN ANALYZE: "
            f"execution {plan['Execution Time']:.3f} ms, planning {plan['Planning Time']:.3f} ms")


async def main(arguments: argparse.Namespace) -> None:
    statements = await api_statements(arguments.registry, arguments.database_url)
    if arguments.baseline:
        statements.update(baseline_statements())
    dsn = make_url(arguments.database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await connection.execute("SET jit = off")
        for name, (sql, args) in statements.items():
            result = await time_statement(connection, sql, args, arguments.runs, arguments.budget)
            print(f"{name:34} {result}")
    finally:
        await connection.close()


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="postgresql+asyncpg://... URL")
    parser.add_argument("--registry", type=Path, default=Path("registry.yaml"))
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--budget", type=float, default=20, help="seconds per statement at most")
    parser.add_argument("--baseline", action="store_true", help="also time bench/baseline.py's SQL")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_arguments()))
