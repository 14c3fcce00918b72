"""``python -m bench.exports``: the memory proof of streamed exports, beside a baseline.

Exports koji builds as NDJSON and CSV at 10k, 100k and 1M rows (``packit_id__gt`` selects
the newest N; the 1M run is the whole table, newest first) from the generated API and
from bench/baseline.py's hand-written export (one asyncpg server-side cursor, orjson / the
csv module, 1,000-row batches). Each export runs on a freshly started server, so its peak
RSS (VmHWM) is that export's alone: flat across sizes means constant memory. Throughput
is rows received per second by a streaming client on the same machine. The section it
writes into bench/RESULTS.md (between its markers) is kept when bench/report.py
regenerates the rest. See docs/bench.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.servers import ROOT, Server, baseline_server, generated_server, peak_rss_kib

__all__ = ["EXPORTS_END", "EXPORTS_START", "kept_section", "main"]

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench"
RESULTS = ROOT / "bench" / "RESULTS.md"
OUT = ROOT / "bench" / "out"
TABLE_ROWS = 1_000_000
SIZES = (10_000, 100_000, 1_000_000)
FORMATS = ("ndjson", "csv")
EXPORTS_START = "<!-- exports: written by bench/exports.py, kept by bench/report.py -->"
EXPORTS_END = "<!-- /exports -->"


@dataclass
class Run:
    server: str
    fmt: str
    rows: int
    lines: int
    seconds: float
    first_byte_s: float
    idle_kib: int | None
    peak_kib: int | None
    marker: bool

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _path(server: str, fmt: str, rows: int, table_rows: int) -> str:
    query = f"packit_id__gt={table_rows - rows}" if rows < table_rows else ""
    if server == "generated":
        return f"/api/v1/koji-builds?format={fmt}" + (f"&{query}" if query else "")
    return f"/export/koji-builds.{fmt}" + (f"?{query}" if query else "")


async def _export(server: Server, fmt: str, rows: int, table_rows: int) -> Run:
    idle = peak_rss_kib(server.pid)
    lines = 0
    started = time.perf_counter()
    first_byte = 0.0
    last = b""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=600) as client, \
            client.stream("GET", _path(server.name, fmt, rows, table_rows)) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw():
            if not first_byte:
                first_byte = time.perf_counter() - started
            lines += chunk.count(b"\n")
            last = (last + chunk)[-200:]
    seconds = time.perf_counter() - started
    marker = b"_truncated" in last or b"# truncated" in last
    data_lines = lines - (1 if fmt == "csv" else 0) - (1 if marker else 0)
    return Run(server.name, fmt, rows, data_lines, seconds, first_byte, idle,
               peak_rss_kib(server.pid), marker)


async def measure(url: str, sizes: tuple[int, ...], formats: tuple[str, ...], *,
                  table_rows: int = TABLE_ROWS) -> list[Run]:
    runs = []
    for fmt in formats:
        for rows in sizes:
            for make in (generated_server, baseline_server):
                server = make(url, OUT)
                await server.start()
                try:
                    run = await _export(server, fmt, rows, table_rows)
                finally:
                    await server.stop()
                print(f"{run.server:9} {fmt:6} {rows:>9,} rows: {run.lines:>9,} lines, "
                      f"{run.rate:>9,.0f} rows/s, peak {_mib(run.peak_kib)} MiB",
                      file=sys.stderr)
                runs.append(run)
    return runs


def _mib(kib: int | None) -> str:
    return "?" if kib is None else f"{kib / 1024:.1f}"


def section(runs: list[Run], command: str) -> str:
    lines = [
        EXPORTS_START, "## Streamed exports (bench/exports.py)", "",
        f"Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}. Command:", "",
        "```", command, "```", "",
        "Each export on a freshly started server (one uvicorn worker), read by a streaming "
        "httpx client on the same machine. *Peak RSS* is the server's VmHWM after the "
        "export, *idle* before it; *rows* are data lines received (CSV without its header). "
        "Generated: `GET /api/v1/koji-builds?format=...` (registry.yaml, 1,000-row keyset "
        "chunks, all 16 fields with the derived join). Baseline: bench/baseline.py, one "
        "asyncpg server-side cursor in a transaction (no statement timeout: its first FETCH "
        "can outlast the 10 s budget), the same fields and join, orjson / the csv module.", "",
        "| format | rows asked | server | rows | seconds | rows/s | first byte (ms) "
        "| idle RSS (MiB) | peak RSS (MiB) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(f"| {run.fmt} | {run.rows:,} | {run.server} | {run.lines:,} | "
                     f"{run.seconds:.1f} | {run.rate:,.0f} | {run.first_byte_s * 1000:.0f} | "
                     f"{_mib(run.idle_kib)} | {_mib(run.peak_kib)} |")
    lines += ["", *_summary(runs), "", *READING, EXPORTS_END]
    return "\n".join(lines)


READING = [
    "Peak minus idle RSS is what an export holds: two chunks of rows at most (one sent "
    "while the next is read) as Python values and bytes, plus the driver's buffers; it does "
    "not grow with the rows. The generated export "
    "reads 1,000 rows per keyset statement (a short index range and nested-loop joins for "
    "those rows), so its first byte follows the first chunk; the baseline's cursor runs one "
    "plan for the whole result, whose first FETCH over the whole table pays for the joins' "
    "hash tables first (its CSV sends the header row before the query, so its first byte "
    "says nothing there).",
]


def _summary(runs: list[Run]) -> list[str]:
    out = []
    for fmt in sorted({run.fmt for run in runs}):
        generated = [run for run in runs if run.fmt == fmt and run.server == "generated"]
        baseline = {run.rows: run for run in runs if run.fmt == fmt and run.server == "baseline"}
        peaks = [run.peak_kib for run in generated if run.peak_kib]
        if peaks:
            out.append(f"- {fmt}: generated peak RSS {min(peaks) / 1024:.1f} to "
                       f"{max(peaks) / 1024:.1f} MiB from {generated[0].rows:,} to "
                       f"{generated[-1].rows:,} rows (spread {(max(peaks) - min(peaks)) / 1024:.1f}"
                       " MiB).")
        for run in generated:
            other = baseline.get(run.rows)
            if other is not None and other.rate:
                out.append(f"  - {run.rows:,} rows: {run.rate / other.rate:.2f}x the "
                           "baseline's rows/s.")
    return out


def kept_section(path: Path) -> str | None:
    """The exports section of an existing RESULTS.md, for bench/report.py to keep."""
    if not path.exists():
        return None
    text = path.read_text()
    start, end = text.find(EXPORTS_START), text.find(EXPORTS_END)
    if start < 0 or end < start:
        return None
    return text[start:end + len(EXPORTS_END)]


def write_section(path: Path, new: str) -> None:
    text = path.read_text() if path.exists() else ""
    old = kept_section(path)
    text = text.replace(old, new) if old else text.rstrip() + "\n\n" + new + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.exports", description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="the loaded bench database (1,000,000 builds; only read)")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="rows per export, comma-separated")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--table-rows", type=int, default=TABLE_ROWS,
                        help="koji builds in the database (ids 1..N)")
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help="the report whose exports section is replaced")
    args = parser.parse_args(argv)
    sizes = tuple(int(size) for size in args.sizes.split(","))
    runs = asyncio.run(measure(args.database_url, sizes, tuple(args.formats.split(",")),
                               table_rows=args.table_rows))
    command = "python -m bench.exports " + shlex.join(argv if argv is not None else sys.argv[1:])
    write_section(args.output, section(runs, command.strip()))
    print(f"wrote the exports section of {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
