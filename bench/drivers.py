"""Load generators: wrk for the real run, a bounded httpx loop for the smoke mode."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from dataclasses import dataclass

import httpx

__all__ = ["Load", "Measurement", "combine", "httpx_loop", "parse_wrk", "wrk"]


@dataclass(frozen=True)
class Load:
    threads: int = 2
    connections: int = 10
    duration_s: float = 10
    warmup_s: float = 2


@dataclass(frozen=True)
class Measurement:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx responses plus socket errors


def combine(rounds: list[Measurement]) -> Measurement:
    """Rounds of one scenario on one server: mean rate and percentiles, summed counts."""
    count = len(rounds)
    return Measurement(sum(m.requests_per_s for m in rounds) / count,
                       sum(m.p50_ms for m in rounds) / count,
                       sum(m.p99_ms for m in rounds) / count,
                       sum(m.requests for m in rounds), sum(m.errors for m in rounds))


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS_MS[unit]


def parse_wrk(output: str) -> Measurement:
    """Requests/s, p50, p99 and errors from ``wrk --latency`` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                          output):
        errors += sum(int(part) for part in match.groups())
    return Measurement(rps, p50, p99, requests, errors)


async def _run_wrk(url: str, load: Load, duration_s: float) -> str:
    process = await asyncio.create_subprocess_exec(
        "wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{duration_s:g}s",
        "--timeout", "10s", "--latency", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed on {url}: {err.decode()}")
    return out.decode()


async def wrk(url: str, load: Load) -> Measurement:
    """A warm-up run (discarded), then the measured run."""
    if load.warmup_s > 0:
        await _run_wrk(url, load, load.warmup_s)
    return parse_wrk(await _run_wrk(url, load, load.duration_s))


async def httpx_loop(url: str, requests: int, concurrency: int = 2) -> Measurement:
    """A bounded loop for the smoke mode: cheap, no wrk needed, numbers only indicative."""
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient() as client:
        await client.get(url)  # warm-up

        async def worker(count: int) -> None:
            nonlocal errors
            for _ in range(count):
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code >= 300

        started = time.perf_counter()
        share = max(1, requests // concurrency)
        await asyncio.gather(*(worker(share) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return Measurement(len(latencies) / elapsed, cuts[49], cuts[98], len(latencies), errors)
