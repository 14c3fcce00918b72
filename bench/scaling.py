"""Scaling measurements for docs/scaling.md: workers, and what a cheap validator saves.

    python -m bench.scaling --database-url postgresql+asyncpg://postgres@127.0.0.1/bench

Starts ``crud serve`` over the repository's registry (and once more with a validator on
koji-builds: ``cache: {validator: {column: id}}``), drives each with wrk (10 connections,
2 threads, a 2 s warm-up, then ``--duration`` seconds) and prints one Markdown table:

* a 20-row page with 1 and with 2 worker processes;
* the same page when the client sends back the ETag it got: with the body's hash (the
  page still runs, only the body is not sent) and with the validator (one ``max(id)``
  statement, no page).

Needs wrk (``apt-get install -y wrk``) and a database filled by ``crud demo-data``.
Nothing is written to the database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.drivers import Measurement, parse_wrk
from bench.servers import ROOT, _free_port

PAGE = "/api/v1/koji-builds?size=20"
VALIDATOR = "    cache: {validator: {column: id}}\n"


def _registry(directory: Path, validator: bool) -> Path:
    text = (ROOT / "registry.yaml").read_text(encoding="utf-8")
    if validator:
        text = text.replace("  koji-builds:\n", "  koji-builds:\n" + VALIDATOR, 1)
    path = directory / ("validated.yaml" if validator else "registry.yaml")
    path.write_text(text, encoding="utf-8")
    return path


async def _serve(url: str, registry: Path, workers: int, log: Path) -> tuple[
        subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "CRUD_ACCESS_LOG": "false", "CRUD_CURSOR_SECRET": "bench-scaling",
           "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", "from crud.cli import main; main()", "serve",
               "--workers", str(workers), "--port", str(port), "--registry", str(registry),
               "--database-url", url]
    with log.open("ab") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"crud serve exited; see {log}")
            try:
                if (await client.get(PAGE)).status_code == 200:
                    return process, base
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"crud serve not ready; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(20)


async def _wrk(url: str, duration_s: float, connections: int,
               headers: Sequence[str] = ()) -> Measurement:
    extra = [part for header in headers for part in ("-H", header)]
    for seconds in (2.0, duration_s):  # a warm-up, then the measured run
        process = await asyncio.create_subprocess_exec(
            "wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
            "--latency", *extra, url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"wrk failed: {err.decode()}")
    return parse_wrk(out.decode())


async def _etag(base: str) -> str:
    async with httpx.AsyncClient(base_url=base) as client:
        return (await client.get(PAGE)).headers["etag"]


async def measure(url: str, duration_s: float, connections: int) -> list[tuple[str, Measurement]]:
    rows: list[tuple[str, Measurement]] = []
    with tempfile.TemporaryDirectory(prefix="crud-scaling-") as directory:
        here = Path(directory)
        plain, validated = _registry(here, False), _registry(here, True)
        for workers in (1, 2):
            process, base = await _serve(url, plain, workers, here / "serve.log")
            try:
                rows.append((f"page, {workers} worker(s)",
                             await _wrk(base + PAGE, duration_s, connections)))
                if workers == 1:
                    tag = await _etag(base)
                    rows.append(("304 by body hash (page still runs), 1 worker", await _wrk(
                        base + PAGE, duration_s, connections, [f"If-None-Match: {tag}"])))
            finally:
                _stop(process)
        process, base = await _serve(url, validated, 1, here / "serve.log")
        try:
            rows.append(("page with validator (max(id) + page), 1 worker",
                         await _wrk(base + PAGE, duration_s, connections)))
            tag = await _etag(base)
            rows.append(("304 by validator (max(id) only), 1 worker", await _wrk(
                base + PAGE, duration_s, connections, [f"If-None-Match: {tag}"])))
        finally:
            _stop(process)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args(argv)
    rows = asyncio.run(measure(args.database_url, args.duration, args.connections))
    print(f"| `GET {PAGE}` | req/s | p50 ms | p99 ms | errors |")
    print("| --- | --- | --- | --- | --- |")
    for name, m in rows:
        print(f"| {name} | {m.requests_per_s:.0f} | {m.p50_ms:.1f} | {m.p99_ms:.1f} | "
              f"{m.errors} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
