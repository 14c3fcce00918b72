"""The hand-written bound for the view scenario (``python -m bench.views``).

Bare Starlette, an asyncpg pool and orjson over the view ``koji_builds_api`` (bench/views.py
creates it): one statement per request, the same SQL a user would write by hand — the page
of the view, newest first, with no count; the detail by id. The same bodies as the
generated API's items (its ``total`` is null: what ``count=none`` answers).

Run it with ``BENCH_DATABASE_URL=postgresql://... uvicorn --factory
bench.view_baseline:app_from_environment``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs upstream
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["COLUMNS", "PATH", "app_from_environment", "create_app"]

PATH = "/api/v1/koji-builds-view"
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
COLUMNS = ("id", "task_id", "status", "chroot", "scratch", "commit_sha", "web_url",
           "build_submitted_time", "build_start_time", "build_finished_time", "pr_id",
           "branch_name", "release", "project_url", "repo_namespace", "repo_name")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM koji_builds_api"
_PAGE = f"{_SELECT} {{where}} ORDER BY id DESC LIMIT $1 OFFSET $2"
_DETAIL = f"{_SELECT} WHERE id = $1"


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_NAIVE_UTC), status_code=status,
                    media_type="application/json")


def _int(request: Request, name: str, default: int, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


def create_app(dsn: str) -> Starlette:
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        yield
        await pool.close()

    async def list_builds(request: Request) -> Response:
        size = _int(request, "size", PAGE_SIZE, 1, MAX_PAGE_SIZE)
        page = _int(request, "page", 1, 1, 1_000_000)
        if size is None or page is None:
            return _json({"detail": "bad size or page"}, 422)
        arguments: list[Any] = [size, (page - 1) * size]
        where = ""
        scratch = request.query_params.get("scratch")
        if scratch is not None:
            where = "WHERE scratch = $3"
            arguments.append(scratch == "true")
        assert pool is not None
        rows = await pool.fetch(_PAGE.format(where=where), *arguments)
        items = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
        return _json({"items": items, "total": None, "page": page, "size": size,
                      "pages": None})

    async def get_build(request: Request) -> Response:
        try:
            build_id = int(request.path_params["id"])
        except ValueError:
            return _json({"detail": "bad id"}, 422)
        assert pool is not None
        row = await pool.fetchrow(_DETAIL, build_id)
        if row is None:
            return _json({"detail": "not found"}, 404)
        return _json(dict(zip(COLUMNS, row, strict=True)))

    return Starlette(routes=[Route(PATH, list_builds), Route(PATH + "/{id}", get_build)],
                     lifespan=lifespan)


def app_from_environment() -> Starlette:
    return create_app(os.environ["BENCH_DATABASE_URL"])
