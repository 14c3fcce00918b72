"""Liveness and readiness: ``/healthz`` never touches the database, ``/readyz`` pings it.

An orchestrator restarts a process whose liveness fails, and stops routing traffic to one
whose readiness fails; a database outage must only do the second. ``/readyz`` borrows a
pooled connection and retries once on a fresh one when the database had dropped it, so
the API recovers on its own once the database is back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response

from crud.http.errors import PROBLEM_JSON, ServiceUnavailable
from crud.http.schema import PROBLEM_SCHEMA

__all__ = ["health_router"]

logger = logging.getLogger("crud.ops.health")
_NO_STORE = {"Cache-Control": "no-store"}
_STATUS_SCHEMA = {"type": "object", "properties": {"status": {"type": "string"}},
                  "required": ["status"]}


class Probes:
    def __init__(self, engine: AsyncEngine, timeout_ms: int) -> None:
        self.engine = engine
        self.timeout_s = timeout_ms / 1000

    async def live(self) -> Response:
        return _status("ok")

    async def ready(self) -> Response:
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.ping()
        except Exception as error:  # any failure means "not ready"; the log says which
            logger.warning("readiness check failed: %s: %s", type(error).__name__, error)
            raise ServiceUnavailable(
                "The database is unavailable: SELECT 1 failed or took longer than "
                f"{self.timeout_s * 1000:.0f} ms.",
                headers=_NO_STORE) from None
        return _status("ready")

    async def ping(self) -> None:
        # The pool lends connections without pinging them: one the database dropped while
        # idle fails here once, is discarded (SQLAlchemy invalidates it), and the retry
        # gets a fresh one, as the read path does (crud.sql.reader).
        try:
            await self._select_one()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            await self._select_one()

    async def _select_one(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))


def _status(word: str) -> Response:
    return Response(b'{"status":"%s"}' % word.encode(), media_type="application/json",
                    headers=_NO_STORE)


def health_router(engine: AsyncEngine, *, timeout_ms: int) -> APIRouter:
    """``/healthz`` and ``/readyz`` under the ``operations`` tag, outside the API prefix."""
    probes = Probes(engine, timeout_ms)
    router = APIRouter(tags=["operations"])
    ok: dict[int | str, Any] = {200: {"content": {"application/json": {"schema": _STATUS_SCHEMA}}}}
    router.add_api_route("/healthz", probes.live, methods=["GET"], operation_id="healthz",
                         summary="Liveness: the process answers (no database access)",
                         responses=ok)
    router.add_api_route(
        "/readyz", probes.ready, methods=["GET"], operation_id="readyz",
        summary="Readiness: the database answers SELECT 1",
        responses={**ok, 503: {"description": "The database is unreachable or too slow",
                               "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}})
    return router
