"""Deep pages and counts on a big table: offset vs cursor, exact vs estimated count.

    python -m bench.deep_pages --database-url postgresql+asyncpg://.../db --depth 500000

Fill the database first (``crud demo-data --scale 1000000``). Runs the repository's
registry.yaml in-process over httpx (no network), so the numbers are API + database time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from crud.app import create_app, load
from crud.http.cursors import CursorCodec, cursor_secret, fingerprint
from crud.sql.database import make_engine

LIST = "/api/v1/koji-builds"


async def timed(client: httpx.AsyncClient, params: dict[str, Any], runs: int) -> tuple[float, Any]:
    times, response = [], None
    for _ in range(runs):
        start = time.perf_counter()
        response = await client.get(LIST, params=params)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    return statistics.median(times), response


async def deep_cursor(engine: Any, loaded: Any, order: list[tuple[str, bool]], depth: int) -> str:
    """The cursor a client would hold after walking ``depth`` rows (crafted, not walked)."""
    resource = next(r for r in loaded.resources if r.name == "koji-builds")
    leaves = [resource.leaves[name] for name, _ in order]
    columns = {"packit_id": "id", "build_submitted_time": "build_submitted_time"}
    order_sql = ", ".join(f"{columns[name]} {'DESC' if desc else 'ASC'}"
                          + ("" if name == "packit_id" else (" NULLS FIRST" if desc else
                                                              " NULLS LAST"))
                          for name, desc in order)
    select_sql = ", ".join(columns[name] for name, _ in order)
    async with engine.connect() as connection:
        row = (await connection.execute(text(
            f"SELECT {select_sql} FROM koji_build_targets ORDER BY {order_sql} "
            f"OFFSET {depth - 1} LIMIT 1"))).one()
    codec = CursorCodec(cursor_secret(None), leaves)
    return codec.encode(leaves, list(row), depth, fingerprint("koji-builds", order, [], None))


async def main(url: str, depth: int, size: int, runs: int) -> None:
    # The crafted cursors must be signed with the secret the app uses.
    os.environ.setdefault("CRUD_CURSOR_SECRET", "benchmark")
    loaded = await load(Path("registry.yaml"), url)
    engine = make_engine(url, statement_timeout_ms=60_000)
    app = create_app(loaded, engine)
    page = depth // size + 1
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://bench") as client:
        for label, order_by, order in [
            ("-packit_id (default)", None, [("packit_id", True)]),
            ("build_submitted_time", "build_submitted_time",
             [("build_submitted_time", False), ("packit_id", False)]),
        ]:
            base = {"size": size, "count": "none"} | ({"order_by": order_by} if order_by else {})
            cursor = await deep_cursor(engine, loaded, order, depth)
            first, _ = await timed(client, base, runs)
            offset, by_offset = await timed(client, {**base, "page": page}, max(3, runs // 4))
            seek, by_cursor = await timed(client, {**base, "cursor": cursor}, runs)
            same = by_offset.json()["items"] == by_cursor.json()["items"]
            print(f"sort {label}: page 1 {first:.1f} ms | offset {depth:,} {offset:.1f} ms | "
                  f"cursor {depth:,} {seek:.1f} ms | same rows: {same}")
        for filters in ({}, {"status": "success"}, {"chroot": "fedora-rawhide-x86_64"}):
            exact, r1 = await timed(client, {"size": size, "count": "exact", **filters}, 5)
            cheap = {"size": size, "count": "estimated", **filters}
            estimate, r2 = await timed(client, cheap, runs)
            print(f"count {filters or 'all'}: exact {r1.json()['total']:,} in {exact:.1f} ms | "
                  f"estimated {r2.json()['total']:,} in {estimate:.1f} ms "
                  f"({r2.headers['total-count-kind']})")
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--depth", type=int, default=500_000)
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--runs", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.database_url, arguments.depth, arguments.size, arguments.runs))
