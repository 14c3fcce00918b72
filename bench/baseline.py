"""The practical upper bound: ``/api/v1/koji-builds`` written by hand.

Bare Starlette, an asyncpg pool and orjson; exactly one SQL statement per request (plus one
per facet asked for), which returns the page, the derived fields (pr_id, branch_name,
release, project_url, repo_namespace, repo_name, duration) and the total together (under
the API's default count policy, auto: the planner's estimate for the whole table, a count
capped at 10,000 when filtered). It answers the benchmark's
scenarios with the same bodies and ``Content-Range`` as the generated API (``bench.run``
checks that before timing), the facets of a list and the weekly aggregate included, and
nothing more: no OpenAPI, no error envelope beyond 404
and 422, no other resources.

The derived fields copy ``resources/expressions.py``: a build's group points at a project
event; ``(type, event_id)`` names a pull request, branch or release; the project is the
one that object belongs to. (registry.yaml dropped the to-many ``run_ids`` field to keep
a page at two statements, so the baseline has none either.)

Run it with ``BENCH_DATABASE_URL=postgresql://... uvicorn --factory
bench.baseline:app_from_environment``.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs upstream
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

__all__ = ["app_from_environment", "create_app"]

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

# resources/expressions.py's build_duration: whole seconds from start to finish.
_DURATION = ("CAST(EXTRACT(EPOCH FROM date_trunc('second', b.build_finished_time)) - "
             "EXTRACT(EPOCH FROM date_trunc('second', b.build_start_time)) AS INTEGER)")

# The API's field names, in the registry's order.
_ITEM_COLUMNS = f"""
    b.id AS packit_id, b.task_id, b.status::text AS status, b.target AS chroot, b.scratch,
    b.commit_sha, b.web_url, b.build_submitted_time, b.build_start_time,
    b.build_finished_time, pr.pr_id, br.name AS branch_name, rl.tag_name AS release,
    p.project_url, p.namespace AS repo_namespace, p.repo_name, {_DURATION} AS duration
"""

_DERIVED_JOINS = """
    LEFT JOIN koji_build_groups g ON g.id = b.koji_build_group_id
    LEFT JOIN project_events e ON e.id = g.project_event_id
    LEFT JOIN pull_requests pr ON e.type = 'pull_request' AND pr.id = e.event_id
    LEFT JOIN git_branches br ON e.type = 'branch_push' AND br.id = e.event_id
    LEFT JOIN project_releases rl ON e.type = 'release' AND rl.id = e.event_id
    LEFT JOIN git_projects p ON p.id = coalesce(pr.project_id, br.project_id, rl.project_id)
"""

_ITEM_NAMES = (
    "packit_id", "task_id", "status", "chroot", "scratch", "commit_sha", "web_url",
    "build_submitted_time", "build_start_time", "build_finished_time", "pr_id", "branch_name",
    "release", "project_url", "repo_namespace", "repo_name", "duration",
)

# Sort keys the benchmark uses; PostgreSQL's default NULL placement matches the API's.
_ORDERS = {
    None: ("b.id DESC", "page.id DESC"),
    "-packit_id": ("b.id DESC", "page.id DESC"),
    "packit_id": ("b.id", "page.id"),
    "-build_submitted_time": ("b.build_submitted_time DESC, b.id",
                              "page.k DESC, page.id"),
    "build_submitted_time": ("b.build_submitted_time, b.id", "page.k, page.id"),
}
_SORT_KEY = {"build_submitted_time": "b.build_submitted_time"}

# Full-text search (bench/fulltext.py's resource): the words of a build's commit, task id
# and target, matched as the GIN expression index has them ('simple' configuration); the
# search text is always $3. Ranked by ts_rank, best first, ties by id.
_VECTOR = ("to_tsvector('simple', coalesce(b.commit_sha, '') || ' ' || coalesce(b.task_id, '')"
           " || ' ' || coalesce(b.target, ''))")
_TSQUERY = "websearch_to_tsquery('simple', $3)"
_ORDERS["-search_rank"] = ("k DESC, b.id", "page.k DESC, page.id")
_SORT_KEY["search_rank"] = f"ts_rank({_VECTOR}, {_TSQUERY})"


# The API's default count policy ("auto"): exact up to AUTO_CAP rows; beyond, the planner's
# row estimate for the whole table. Filtered, on a table of more than AUTO_CAP rows: exact up
# to PLANNER_FROM rows, beyond it the planner's estimate of the filtered statement (EXPLAIN),
# counted (capped) only where that estimate is under AUTO_CAP; on a smaller table, AUTO_CAP
# as a lower bound.
AUTO_CAP = 10_000
PLANNER_FROM = 1_000
ASK_PLANNER = -1
_ESTIMATE = "(SELECT reltuples::bigint FROM pg_class WHERE oid = 'koji_build_targets'::regclass)"


def _total_sql(where: str, uncounted: bool) -> str:
    # Uncounted (?count=none, and cursor pages, which the benchmark always asks uncounted),
    # or the API's rule: a short first page is its own total, else the auto count.
    if uncounted:
        return "NULL::bigint"
    capped = _capped_sql(where, AUTO_CAP)
    few = _capped_sql(where, PLANNER_FROM)
    big = f"CASE WHEN {few} > {PLANNER_FROM} THEN {ASK_PLANNER} ELSE {few} END"
    counted = f"CASE WHEN {_ESTIMATE} >= {AUTO_CAP} THEN {big if where else _ESTIMATE} " \
              f"ELSE {capped} END"
    return f"""
        CASE WHEN $2 = 0 AND (SELECT count(*) FROM page) < $1
             THEN (SELECT count(*) FROM page) ELSE {counted} END"""


def _capped_sql(where: str, cap: int) -> str:
    return (f"(SELECT count(*) FROM (SELECT 1 FROM koji_build_targets b {where} "
            f"LIMIT {cap + 1}) capped)")


async def _planned_total(connection: asyncpg.Connection, where: str, args: list[Any]) -> int:
    """The planner's estimate of the filtered rows; counted (capped) where it is small.
    ($1 and $2 must appear for asyncpg to accept the page's arguments.)"""
    plan = await connection.fetchval(
        "EXPLAIN (FORMAT JSON) SELECT 1 + 0 * $1::int + 0 * $2::int "
        f"FROM koji_build_targets b {where}", *args)
    estimate = int(orjson.loads(plan)[0]["Plan"]["Plan Rows"])
    if estimate >= AUTO_CAP:
        return estimate
    counted: int = await connection.fetchval(
        f"SELECT {_capped_sql(where, AUTO_CAP)} + 0 * $1::int + 0 * $2::int", *args)
    return min(counted, AUTO_CAP)  # beyond the cap, a lower bound


def _list_sql(where: str, order_by: str | None, uncounted: bool) -> str:
    inner_order, outer_order = _ORDERS[order_by]
    key = _SORT_KEY.get((order_by or "").lstrip("-"), "NULL")
    total = _total_sql(where, uncounted)
    return f"""
        WITH page AS MATERIALIZED (
            SELECT b.id, {key} AS k FROM koji_build_targets b {where}
            ORDER BY {inner_order} LIMIT $1 OFFSET $2
        )
        SELECT {_ITEM_COLUMNS}, {total} AS total
        FROM page JOIN koji_build_targets b ON b.id = page.id {_DERIVED_JOINS}
        ORDER BY {outer_order}
    """


_DETAIL_SQL = f"""
    SELECT {_ITEM_COLUMNS} FROM koji_build_targets b {_DERIVED_JOINS} WHERE b.id = $1
"""


def _dumps(content: Any) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_NAIVE_UTC)


def _problem(status: int, detail: str) -> Response:
    return Response(_dumps({"status": status, "detail": detail}), status_code=status,
                    media_type="application/problem+json")


class _Invalid(Exception):
    pass


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _Invalid(f"{name}: not an integer") from None
    if not low <= value <= high:
        raise _Invalid(f"{name}: out of range")
    return value


def _where(request: Request, args: list[Any]) -> str:
    """WHERE clause for the filters the scenarios use; appends their values to ``args``."""
    terms = []
    status = request.query_params.get("status")
    if status is not None:
        args.append(status)
        terms.append(f"b.status = ${len(args)}::build_status")
    above = request.query_params.get("packit_id__gt")
    if above is not None:
        args.append(int(above))
        terms.append(f"b.id > ${len(args)}")
    group = request.query_params.get("or")
    if group is not None:
        terms.append(_or_group(group, args))
    search = request.query_params.get("search")
    if search:
        escaped = search.replace("/", "//").replace("%", "/%").replace("_", "/_")
        args.append(f"%{escaped}%")
        n = len(args)
        terms.append(f"(b.web_url ILIKE ${n} ESCAPE '/' OR b.task_id ILIKE ${n} ESCAPE '/'"
                     f" OR b.commit_sha ILIKE ${n} ESCAPE '/')")
    cursor = request.query_params.get("cursor")
    if cursor is not None and request.query_params.get("order_by", "-packit_id") != "-packit_id":
        raise _Invalid("cursor: the baseline pages by cursor on -packit_id only")
    if cursor:  # empty: the first page of a cursor walk
        args.append(int(cursor))
        terms.append(f"b.id < ${len(args)}")
    return f"WHERE {' AND '.join(terms)}" if terms else ""


def _or_group(group: str, args: list[Any]) -> str:
    """``or=(status=X,chroot__like=Y)``, the one group shape the scenarios send."""
    if not (group.startswith("(") and group.endswith(")")):
        raise _Invalid("or: the baseline reads (status=...,chroot__like=...) only")
    sql = []
    for term in group[1:-1].split(","):
        name, _, value = term.partition("=")
        if name == "status":
            args.append(value)
            sql.append(f"b.status = ${len(args)}::build_status")
        elif name == "chroot__like" and "%" not in value:  # a literal substring
            escaped = value.replace("/", "//").replace("%", "/%").replace("_", "/_")
            args.append(f"%{escaped}%")
            sql.append(f"b.target LIKE ${len(args)} ESCAPE '/'")
        else:
            raise _Invalid(f"or: the baseline does not read {name!r}")
    return f"({' OR '.join(sql)})"


async def list_builds(request: Request) -> Response:
    try:
        size = _int(request, "size", PAGE_SIZE, 1, MAX_PAGE_SIZE)
        page = _int(request, "page", 1, 1, 10**9)
        order_by = request.query_params.get("order_by")
        if order_by not in _ORDERS:
            raise _Invalid("order_by: not supported by the baseline")
        args: list[Any] = [size, (page - 1) * size]
        where = _where(request, args)
    except (_Invalid, ValueError) as error:
        return _problem(422, str(error))
    return await _page(request, "koji-builds", size, page, order_by, where, args)


async def search_builds(request: Request) -> Response:
    """``/koji-build-search?search=words``: full-text, ranked (its only order)."""
    try:
        size = _int(request, "size", PAGE_SIZE, 1, MAX_PAGE_SIZE)
        page = _int(request, "page", 1, 1, 10**9)
        search = request.query_params.get("search")
        if not search or set(request.query_params) - {"size", "page", "search"}:
            raise _Invalid("search: the baseline answers search, page and size only")
    except (_Invalid, ValueError) as error:
        return _problem(422, str(error))
    args: list[Any] = [size, (page - 1) * size, search]
    return await _page(request, "koji-build-search", size, page, "-search_rank",
                       f"WHERE {_VECTOR} @@ {_TSQUERY}", args)


async def _page(request: Request, unit: str, size: int, page: int, order_by: str | None,
                where: str, args: list[Any]) -> Response:
    cursor = "cursor" in request.query_params
    uncounted = cursor or request.query_params.get("count") == "none"
    pool: asyncpg.Pool = request.app.state.pool
    facets: dict[str, Any] = {}
    async with pool.acquire() as connection:
        rows = await connection.fetch(_list_sql(where, order_by, uncounted), *args)
        estimated = bool(rows) and rows[0]["total"] == ASK_PLANNER
        if estimated:
            planned = await _planned_total(connection, where, args)
        if "facet" in request.query_params:
            try:
                facets = await _facets(request, connection)
            except (_Invalid, KeyError) as error:
                return _problem(422, f"facet: {error}")
    items = [dict(zip(_ITEM_NAMES, row[:-1], strict=True)) for row in rows]
    total = rows[0]["total"] if rows else None
    if estimated:
        total = planned
    elif total is not None and where and total > AUTO_CAP:
        total = AUTO_CAP  # a lower bound, as the API's Total-Count-Kind says
    if not rows and not uncounted:
        # An empty page still reports its total, but the statement had no row to carry it.
        # (No scenario asks for one.) $1 and $2 must appear for asyncpg to accept the args.
        total = await pool.fetchval(
            f"SELECT count(*) + 0 * $1::int + 0 * $2::int FROM koji_build_targets b {where}",
            *args)
    body: dict[str, Any] = {"items": items, "total": total, "page": page, "size": size,
                            "pages": math.ceil(total / size) if total is not None else None}
    # The API's envelope carries the next page's cursor on every page; the baseline can seek
    # on its default order only.
    body["next"] = (str(items[-1]["packit_id"])
                    if len(items) == size and order_by in (None, "-packit_id") else None)
    body.update(facets)
    offset = args[1]
    total_text = "*" if total is None else str(total)
    content_range = (f"{unit} {offset}-{offset + len(items) - 1}/{total_text}" if items
                     else f"{unit} */{total_text}")
    return Response(_dumps(body), media_type="application/json",
                    headers={"Content-Range": content_range})


# -- analytics (docs/analytics.md): the facets and the weekly aggregate the scenarios ask --

_FACETS = {"status": "b.status::text", "chroot": "b.target"}
FACET_SIZE = 10


async def _facets(request: Request, connection: asyncpg.Connection) -> dict[str, Any]:
    """Each asked facet: one GROUP BY over the filtered rows, count desc then value."""
    names = [name for item in request.query_params.getlist("facet") for name in item.split(",")]
    size = _int(request, "facet_size", FACET_SIZE, 1, 100)
    facets: dict[str, Any] = {}
    truncated = []
    for name in names:
        column = _FACETS[name]
        args: list[Any] = []
        where = _where(request, args)
        args.append(size + 1)
        rows = await connection.fetch(
            f"SELECT {column} AS value, count(*) AS n FROM koji_build_targets b {where} "
            f"GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT ${len(args)}", *args)
        if len(rows) > size:
            truncated.append(name)
        facets[name] = [{"value": row["value"], "count": row["n"]} for row in rows[:size]]
    return {"facets": facets, "facets_truncated": truncated, "facets_timed_out": []}


_WEEKLY_SQL = f"""
    SELECT date_trunc('week', b.build_submitted_time) AS week, count(*) AS n,
           avg({_DURATION})::float8 AS avg_duration, count(*) OVER () AS groups
    FROM koji_build_targets b
    GROUP BY 1 ORDER BY 1 NULLS LAST LIMIT $1 OFFSET $2
"""


async def aggregate_builds(request: Request) -> Response:
    """``/aggregate?group_by=build_submitted_time:week&metrics=count,avg:duration`` only."""
    try:
        if (request.query_params.get("group_by") != "build_submitted_time:week"
                or request.query_params.get("metrics") != "count,avg:duration"):
            raise _Invalid("the baseline aggregates builds by week only")
        size = _int(request, "size", PAGE_SIZE, 1, MAX_PAGE_SIZE)
        page = _int(request, "page", 1, 1, 10**9)
    except _Invalid as error:
        return _problem(422, str(error))
    offset = (page - 1) * size
    pool: asyncpg.Pool = request.app.state.pool
    rows = await pool.fetch(_WEEKLY_SQL, size, offset)
    total = rows[0]["groups"] if rows else None
    groups = [{"build_submitted_time": row["week"], "count": row["n"],
               "avg_duration": row["avg_duration"]} for row in rows]
    body = {"groups": groups, "total_groups": total, "page": page, "size": size,
            "pages": math.ceil(total / size) if total is not None else None}
    content_range = (f"groups {offset}-{offset + len(rows) - 1}/{total}" if rows
                     else f"groups */{'*' if total is None else total}")
    return Response(_dumps(body), media_type="application/json",
                    headers={"Content-Range": content_range})


async def get_build(request: Request) -> Response:
    try:
        build_id = int(request.path_params["id"])
    except ValueError:
        return _problem(422, "id: not an integer")
    pool: asyncpg.Pool = request.app.state.pool
    row = await pool.fetchrow(_DETAIL_SQL, build_id)
    if row is None:
        return _problem(404, f"No koji build with id {build_id!r}.")
    return Response(_dumps(dict(zip(_ITEM_NAMES, row, strict=True))),
                    media_type="application/json")


EXPORT_CHUNK = 1000


async def export_builds(request: Request) -> Response:
    """Every build ``packit_id__gt`` selects, newest first, as NDJSON or CSV: one
    server-side cursor (asyncpg, inside a transaction), rows out in batches of 1,000."""
    fmt = request.path_params["format"]
    args: list[Any] = []
    try:
        where = _where(request, args)
    except (_Invalid, ValueError) as error:
        return _problem(422, str(error))
    sql = (f"SELECT {_ITEM_COLUMNS} FROM koji_build_targets b {_DERIVED_JOINS} {where} "
           "ORDER BY b.id DESC")
    pool: asyncpg.Pool = request.app.state.pool
    encode = _ndjson_lines if fmt == "ndjson" else _csv_lines

    async def body() -> AsyncIterator[bytes]:
        if fmt == "csv":
            yield _csv_lines([_ITEM_NAMES])
        async with pool.acquire() as connection, connection.transaction():
            # The cursor's first FETCH may plan and run the whole join before its first row
            # (hash joins over 1M builds): past the 10 s budget every statement here has.
            await connection.execute("SET LOCAL statement_timeout = 0")
            batch: list[Any] = []
            async for row in connection.cursor(sql, *args, prefetch=EXPORT_CHUNK):
                batch.append(row)
                if len(batch) == EXPORT_CHUNK:
                    yield encode(batch)
                    batch = []
            if batch:
                yield encode(batch)

    media_type = "application/x-ndjson" if fmt == "ndjson" else "text/csv"
    return StreamingResponse(body(), media_type=media_type)


def _ndjson_lines(rows: list[Any]) -> bytes:
    return b"".join(_dumps(dict(zip(_ITEM_NAMES, row, strict=True))) + b"\n" for row in rows)


def _csv_lines(rows: list[Any]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([["" if value is None else value.isoformat()
                       if hasattr(value, "isoformat") else value for value in row]
                      for row in rows])
    return buffer.getvalue().encode()


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """No reset on release: these connections never LISTEN, lock or change session state.

    asyncpg's default reset is one more round trip per request (``SELECT
    pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``).
    """


def create_app(dsn: str, pool_size: int = 10) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The same session settings as the generated API's engine (crud/database.py).
        app.state.pool = await asyncpg.create_pool(
            dsn, min_size=pool_size, max_size=pool_size, reset=_keep_session,
            server_settings={"application_name": "bench-baseline",
                             "default_transaction_read_only": "on",
                             "statement_timeout": "10000"})
        yield
        await app.state.pool.close()

    return Starlette(routes=[
        Route("/api/v1/koji-builds", list_builds, methods=["GET"]),
        Route("/api/v1/koji-builds/aggregate", aggregate_builds, methods=["GET"]),
        Route("/api/v1/koji-builds/{id}", get_build, methods=["GET"]),
        Route("/export/koji-builds.{format:str}", export_builds, methods=["GET"]),
        Route("/api/v1/koji-build-search", search_builds, methods=["GET"]),
    ], lifespan=lifespan)


def app_from_environment() -> Starlette:
    """Factory for ``uvicorn --factory``: ``BENCH_DATABASE_URL`` is a libpq-style URL."""
    dsn = os.environ["BENCH_DATABASE_URL"]
    return create_app(dsn, int(os.environ.get("BENCH_POOL_SIZE", "10")))

