"""bench/RESULTS.md: machine, versions, command, the table, ratios, targets and profile."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.drivers import Load, Measurement
from bench.exports import kept_section
from bench.live import live_section
from bench.profile import Profile
from bench.scenarios import Scenario

__all__ = ["VIEWS_END", "VIEWS_START", "Report", "kept_between", "profile_lines", "write_report"]

ANALYSIS = Path(__file__).resolve().parent / "analysis.md"
SERVERS = ("generated", "baseline")
CURSOR_TARGET = 1.5
# Round trips (every statement on the wire) per request, counted or not.
ROUND_TRIP_TARGET = 1


@dataclass
class Report:
    command: str
    scale: int
    url: str
    load: Load
    rounds: int
    smoke: bool
    load_note: str
    scenarios: list[Scenario]
    plan_notes: dict[str, dict[str, str]]
    identical: dict[str, bool | None]
    results: dict[str, dict[str, Measurement | None]]
    statements: dict[str, dict[str, dict[str, float]]]
    rss_kib: dict[str, int | None]
    profile: Profile | None

    def healthy(self) -> bool:
        """Both servers answered every applicable scenario alike and without errors."""
        for scenario in self.scenarios:
            if self.identical.get(scenario.key) is False:
                return False
            for measured in self.results[scenario.key].values():
                if measured is not None and measured.errors:
                    return False
        return True

    def ratio(self, key: str) -> float | None:
        generated = self.results[key].get("generated")
        baseline = self.results[key].get("baseline")
        if generated is None or baseline is None or not baseline.requests_per_s:
            return None
        return generated.requests_per_s / baseline.requests_per_s


def _machine() -> list[str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return [f"- CPUs (nproc): {os.cpu_count()}; CPU model: {cpu}; memory: {memory}",
            f"- OS: {platform.platform()}"]


async def _versions(url: str) -> str:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            postgres = await connection.scalar(text("SHOW server_version"))
    finally:
        await engine.dispose()
    try:
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
        wrk_version = (wrk.stdout or wrk.stderr).split()[1]
    except (OSError, IndexError):
        wrk_version = "not installed"
    packages = ", ".join(f"{name} {version(name)}" for name in (
        "fastapi", "starlette", "fastapi-pagination", "fastapi-filter", "pydantic",
        "sqlalchemy", "asyncpg", "uvicorn", "orjson"))
    return (f"- Python {platform.python_version()}, PostgreSQL {postgres}, wrk {wrk_version}\n"
            f"- {packages}")


def _number(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _statements(counts: dict[str, float] | None) -> tuple[str, str]:
    if not counts:
        return "n/a", "n/a"
    data = counts.get("data", 0.0)
    rest = ", ".join(f"{kind} {number:g}" for kind, number in sorted(counts.items())
                     if kind != "data")
    return f"{data:g}", f"{sum(counts.values()):g}" + (f" ({rest})" if rest else "")


def _table(report: Report) -> list[str]:
    lines = ["| Scenario | Server | req/s | p50 ms | p99 ms | errors | SELECTs/req "
             "| all statements/req | peak RSS MiB |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for scenario in report.scenarios:
        for server in SERVERS:
            measured = report.results[scenario.key].get(server)
            data, everything = _statements(report.statements.get(scenario.key, {}).get(server))
            note = report.plan_notes.get(scenario.key, {}).get(server, "")
            rss = report.rss_kib.get(server)
            if measured is None:
                lines.append(f"| {scenario.title} | {server} | {note or 'n/a'} | | | | | | |")
                continue
            lines.append(
                f"| {scenario.title} | {server} | {_number(measured.requests_per_s)} "
                f"| {_number(measured.p50_ms, 2)} | {_number(measured.p99_ms, 2)} "
                f"| {measured.errors} | {data} | {everything} "
                f"| {_number(rss / 1024 if rss else None, 0)} |")
    return lines


def _ratios(report: Report) -> list[str]:
    lines = ["| Scenario | req/s generated/baseline | p50 generated/baseline "
             "| same body | target |", "|---|---:|---:|---|---|"]
    for scenario in report.scenarios:
        ratio = report.ratio(scenario.key)
        generated = report.results[scenario.key].get("generated")
        baseline = report.results[scenario.key].get("baseline")
        latency = (generated.p50_ms / baseline.p50_ms
                   if generated and baseline and baseline.p50_ms else None)
        same = {True: "yes", False: "**no**", None: "n/a"}[report.identical.get(scenario.key)]
        target = "—"
        if scenario.target is not None:
            met = ratio is not None and ratio >= scenario.target
            target = f"≥ {scenario.target}: {'met' if met else '**missed**'}"
        lines.append(f"| {scenario.title} | {_number(ratio, 2)} | {_number(latency, 2)} "
                     f"| {same} | {target} |")
    return lines


def _targets(report: Report) -> list[str]:
    lines = []
    targeted = [s for s in report.scenarios if s.target is not None]
    missed = [s.title for s in targeted
              if (r := report.ratio(s.key)) is None or r < (s.target or 0)]
    names = ", ".join(s.title for s in targeted)
    lines.append(f"- req/s ratio targets ({names}): "
                 + ("met in every one" if not missed else f"**missed** in {', '.join(missed)}"))
    # Like with like: the cursor page is uncounted, so is this page 1 when it was measured.
    page_one = (report.results.get("list-nocount") or report.results["list"]).get("generated")
    cursor = report.results["deep-cursor"].get("generated")
    if cursor is None or page_one is None:
        note = report.plan_notes.get("deep-cursor", {}).get("generated", "n/a")
        lines.append(f"- Cursor page at depth within {CURSOR_TARGET}x the p50 of page 1: "
                     f"not measurable ({note}).")
    else:
        factor = cursor.p50_ms / page_one.p50_ms
        verdict = "met" if factor <= CURSOR_TARGET else "**missed**"
        lines.append(f"- Cursor page at depth within {CURSOR_TARGET}x the p50 of page 1 "
                     f"(both count=none): {factor:.2f}x ({verdict}).")
    trips = {s.title: (sum(report.statements.get(s.key, {}).get("generated", {}).values()),
                       s.statements) for s in report.scenarios}
    over = [f"{title} ({count:g})" for title, (count, designed) in trips.items()
            if count > max(designed, ROUND_TRIP_TARGET)]
    extra = [f"{title}: {designed}" for title, (_, designed) in trips.items()
             if designed > ROUND_TRIP_TARGET]
    lines.append(f"- {ROUND_TRIP_TARGET} round trip (statements of every kind on the wire) per "
                 "request, counted lists included"
                 + (f" (by design, one more per facet or planner estimate: {'; '.join(extra)})"
                    if extra else "")
                 + ": "
                 + ("met in every scenario" if not over else f"**missed** in {', '.join(over)}"))
    return lines


_ENTRY_POINTS = (
    ("_SelectorSocketTransport.write", "send() on a socket: database round trips and responses"),
    ("ReadConnection.fetch", "the read path's statement: binding, the driver's execute, decoding"),
    ("PreparedStatement.fetch", "asyncpg: execute a prepared statement, decode the rows"),
    ("QueryParser.parse", "query-string parsing and every step's validation"),
    ("Statements.page", "the page statement: shape key, compiled-cache lookup, values"),
    ("RowShaper.items", "items from rows (or the database's JSON texts)"),
    ("Endpoints.respond", "ETag, Cache-Control, 304 check, the Response"),
    ("ObserveRequests.__call__", "request id, timing, access log and metrics"),
    ("AccessLog.__call__", "the JSON access log line"),
    ("Metrics.__call__", "Prometheus counters"),
    ("dumps", "orjson"),
)


def profile_lines(profile: Profile | None) -> list[str]:
    if profile is None or not profile.samples:
        return ["No profile in this run (smoke mode, --no-profile, or py-spy unavailable)."]
    lines = [f"{profile.samples:,} samples of the generated server's CPU time (idle excluded).",
             "", "Self time by library (innermost frame):", "",
             "| library | share |", "|---|---:|"]
    lines += [f"| {name} | {profile.share(count):.1f}% |"
              for name, count in profile.by_package.most_common(12)]
    lines += ["", "Inclusive time of the request path's own steps (crud functions):", "",
              "| function | share |", "|---|---:|"]
    own = [(label, count) for label, count in profile.inclusive.most_common()
           if profile.package_of.get(label) == "crud"]
    lines += [f"| `{label}` | {profile.share(count):.1f}% |" for label, count in own[:20]]
    lines += ["", "Inclusive time of selected library entry points:", "",
              "| function | share |", "|---|---:|"]
    for prefix, meaning in _ENTRY_POINTS:
        count = max((count for label, count in profile.inclusive.items()
                     if label.startswith(prefix)), default=0)
        lines.append(f"| `{prefix}` ({meaning}) | {profile.share(count):.1f}% |")
    lines += ["", "Self time, top functions:", "", "| function | share |", "|---|---:|"]
    lines += [f"| `{label}` | {profile.share(count):.1f}% |"
              for label, count in profile.self_time.most_common(15)]
    return lines


async def write_report(report: Report, path: Path, url: str) -> None:
    load = report.load
    driver = ("a bounded httpx loop (smoke mode; indicative only)" if report.smoke else
              f"wrk -t{load.threads} -c{load.connections} -d{load.duration_s:g}s --latency, "
              f"{report.rounds} rounds per scenario alternating the servers (generated, "
              f"baseline, generated, ...), each run after a {load.warmup_s:g} s warm-up run; "
              f"req/s and percentiles are the means over the rounds. Exceptions: "
              + "; ".join(f"{s.title}: {s.connections or load.connections} connections, "
                          f"{load.duration_s * s.duration_factor:g} s"
                          for s in report.scenarios
                          if s.connections or s.duration_factor != 1))
    lines = [
        "# Benchmark results" + (" (smoke)" if report.smoke else ""), "",
        f"Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}", "",
        "## Machine and versions", "", *_machine(), await _versions(url), "",
        "## Command", "", "```", report.command, "```", "",
        f"- Data: {report.load_note} (koji_build_targets = {report.scale:,} rows).",
        f"- Load: {driver}.",
        "- Servers: one uvicorn process each, one worker, 127.0.0.1; pool of 10 connections.",
        "- SQL statements per request: counted on the wire by a PostgreSQL protocol proxy "
        "(bench/wire.py) in a separate phase (3 requests per scenario after 2 warm-ups): "
        "SELECTs are data statements; *all* adds transaction control and pool pings.",
        "- Peak RSS: VmHWM of each server process at the end of the load phase.", "",
        "## Results", "", *_table(report), "",
        "## Ratios (same run)", "", *_ratios(report), "",
        "## Targets", "", *_targets(report), "",
        "## Profile of the list path", "",
        "py-spy (`record --format raw --nonblocking`) on the generated server while wrk "
        "drives *list page 1, count=none* (50 rows with derived fields, so the Python share "
        "is largest). Raw stacks: bench/out/profile.txt.", "",
        *profile_lines(report.profile), "",
    ]
    if ANALYSIS.exists() and not report.smoke:
        lines += [ANALYSIS.read_text().rstrip(), ""]
    # bench/exports.py, bench/live.py, bench/rollups.py and bench/views.py measure on their
    # own: their sections stay.
    kept = (kept_section(path), live_section(path),
            kept_between(path, ROLLUPS_START, ROLLUPS_END),
            kept_between(path, VIEWS_START, VIEWS_END))
    lines += [item for section in kept if section is not None for item in (section, "")]
    path.write_text("\n".join(lines))


ROLLUPS_START = "<!-- rollups: written by bench/rollups.py, kept by bench/report.py -->"
ROLLUPS_END = "<!-- /rollups -->"
VIEWS_START = "<!-- views: written by bench/views.py, kept by bench/report.py -->"
VIEWS_END = "<!-- /views -->"


def replace_between(path: Path, start: str, end: str, body: str) -> None:
    """Write ``body`` between the markers in ``path``: over the old section, or appended."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    section = "\n".join([start, body.strip(), end])
    old = kept_between(path, start, end)
    text = text.replace(old, section) if old else text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def kept_between(path: Path, start: str, end: str) -> str | None:
    """The section of an existing report between two markers, markers included."""
    if not path.exists():
        return None
    text = path.read_text()
    first, last = text.find(start), text.find(end)
    return text[first:last + len(end)] if 0 <= first < last else None

