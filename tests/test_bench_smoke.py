"""The benchmark's smoke mode runs end to end, so bench/ cannot rot between real runs."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.exports import EXPORTS_END, EXPORTS_START, kept_section
from bench.scenarios import scenarios

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("CRUD_TEST_POSTGRES",
                           "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


@pytest_asyncio.fixture(loop_scope="session")
async def bench_database() -> AsyncIterator[str]:
    """A throwaway PostgreSQL database (the baseline speaks asyncpg, so not SQLite)."""
    name = f"crud_bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f"CREATE DATABASE {name}"))
    yield make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    async with admin.connect() as connection:
        await connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    await admin.dispose()


def test_smoke_run_serves_both_apis_alike_and_writes_the_report(
        bench_database: str, tmp_path: Path) -> None:
    report = tmp_path / "SMOKE.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--smoke-requests", "6",
         "--database-url", bench_database, "--output", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)

    # Exit 0 means both servers answered every scenario with the same body, without errors.
    assert result.returncode == 0, result.stdout + result.stderr
    written = report.read_text()
    for scenario in scenarios(300):
        for server in ("generated", "baseline"):
            assert f"| {scenario.title} | {server} |" in written
    assert "| **no** |" not in written
    assert "## Targets" in written


def test_exports_bench_measures_both_servers_and_its_section_is_replaced(
        bench_database: str, tmp_path: Path) -> None:
    report = tmp_path / "RESULTS.md"
    report.write_text("# Benchmark results\n\nthe lead's part\n")
    command = [sys.executable, "-m", "bench.exports", "--database-url", bench_database,
               "--table-rows", "300", "--sizes", "100,300", "--output", str(report)]
    load = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", "--smoke-requests",
                           "1", "--database-url", bench_database, "--output",
                           str(tmp_path / "SMOKE.md")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert load.returncode == 0, load.stdout + load.stderr
    for _ in range(2):  # a second run replaces the section, it does not add one
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                timeout=300, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    written = report.read_text()
    assert written.startswith("# Benchmark results\n\nthe lead's part\n")
    assert written.count(EXPORTS_START) == written.count(EXPORTS_END) == 1
    for fmt in ("ndjson", "csv"):
        for rows in (100, 300):
            for server in ("generated", "baseline"):
                assert f"| {fmt} | {rows:,} | {server} | {rows:,} |" in written
    assert kept_section(report) == written[written.index(EXPORTS_START):].rstrip()


def test_the_view_bench_serves_both_apis_alike(bench_database: str) -> None:
    # bench.views --check-only: the view is created, both servers answer every scenario with
    # 200 and list the same items; no wrk.
    result = subprocess.run(
        [sys.executable, "-m", "bench.views", "--scale", "300", "--check-only",
         "--url", bench_database],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "both servers answer every scenario alike" in result.stderr
