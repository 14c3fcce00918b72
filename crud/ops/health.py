"""Liveness and readiness: ``/healthz`` never touches the database, ``/readyz`` pings it.

An orchestrator restarts a process whose liveness fails, and stops routing traffic to one
whose readiness fails; a database outage must only do the second. ``/readyz`` borrows a
pooled connection and retries once on a fresh one when the database had dropped it, so
the API recovers on its own once the database is back. It also looks for the resources'
tables until it has once found them all (``crud.ops.tables.TableCheck``). With read
replicas it checks each of them too and names them all in its answer; they are reported,
not required, since reads fall back to the primary (docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response

from crud.http.errors import PROBLEM_JSON, ServiceUnavailable
from crud.http.schema import PROBLEM_SCHEMA
from crud.model.resource import Resource
from crud.ops.tables import TableCheck
from crud.sql.replicas import ReplicaReader

__all__ = ["health_router"]

logger = logging.getLogger("crud.ops.health")
_NO_STORE = {"Cache-Control": "no-store"}
_DATABASE_SCHEMA = {"type": "object", "required": ["name", "role", "status"], "properties": {
    "name": {"type": "string"}, "role": {"type": "string", "enum": ["primary", "replica"]},
    "status": {"type": "string", "enum": ["ok", "down", "lagging"]},
    "lag_ms": {"type": "integer"}}}
# ``databases`` only with read replicas (CRUD_REPLICA_URLS): each one's state.
_STATUS_SCHEMA = {"type": "object", "properties": {
    "status": {"type": "string"},
    "databases": {"type": "array", "items": _DATABASE_SCHEMA}}, "required": ["status"]}


class Probes:
    def __init__(self, engine: AsyncEngine, timeout_ms: int,
                 resources: Sequence[Resource] = (),
                 replicas: ReplicaReader | None = None) -> None:
        self.engine = engine
        self.timeout_s = timeout_ms / 1000
        self.tables = TableCheck(resources)
        self.replicas = replicas

    async def live(self) -> Response:
        return _status("ok")

    async def ready(self) -> Response:
        try:
            async with asyncio.timeout(self.timeout_s):
                missing = await self.ping()
        except Exception as error:  # any failure means "not ready"; the log says which
            logger.warning("readiness check failed: %s: %s", type(error).__name__, error)
            raise ServiceUnavailable(
                "The database is unavailable: SELECT 1 failed or took longer than "
                f"{self.timeout_s * 1000:.0f} ms.",
                headers=_NO_STORE) from None
        # Replicas are reported, not required: reads fall back to the primary.
        replicas = await self.replicas.check_all() if self.replicas is not None else None
        if missing:
            # Table names are the operator's business, not the client's: the log has them.
            logger.warning("readiness check failed: %s", "; ".join(
                f"resources.{r.name}: no table {r.entity.table.name!r}" for r in missing))
            raise ServiceUnavailable(
                f"The database lacks the tables of {len(missing)} resource(s); the server log "
                "names them.", headers=_NO_STORE)
        if replicas is not None:
            databases = [{"name": "primary", "role": "primary", "status": "ok"}, *replicas]
            return Response(orjson.dumps({"status": "ready", "databases": databases}),
                            media_type="application/json", headers=_NO_STORE)
        return _status("ready")

    async def ping(self) -> list[Resource]:
        """SELECT 1, and the resources whose tables are missing (until none ever is).

        The pool lends connections without pinging them: one the database dropped while
        idle fails here once, is discarded (SQLAlchemy invalidates it), and the retry gets
        a fresh one, as the read path does (crud.sql.reader).
        """
        try:
            return await self._select_one()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            return await self._select_one()

    async def _select_one(self) -> list[Resource]:
        async with self.engine.connect() as connection:
            missing = await self.tables.missing(connection)
            await connection.execute(text("SELECT 1"))
        return missing


def _status(word: str) -> Response:
    return Response(b'{"status":"%s"}' % word.encode(), media_type="application/json",
                    headers=_NO_STORE)


def health_router(engine: AsyncEngine, *, timeout_ms: int, resources: Sequence[Resource] = (),
                  replicas: ReplicaReader | None = None) -> APIRouter:
    """``/healthz`` and ``/readyz`` under the ``operations`` tag, outside the API prefix."""
    probes = Probes(engine, timeout_ms, resources, replicas)
    router = APIRouter(tags=["operations"])
    ok: dict[int | str, Any] = {200: {"content": {"application/json": {"schema": _STATUS_SCHEMA}}}}
    router.add_api_route("/healthz", probes.live, methods=["GET"], operation_id="healthz",
                         summary="Liveness: the process answers (no database access)",
                         responses=ok)
    router.add_api_route(
        "/readyz", probes.ready, methods=["GET"], operation_id="readyz",
        summary="Readiness: the database answers SELECT 1 and has the resources' tables",
        responses={**ok, 503: {"description": "The database is unreachable, too slow, or "
                                              "lacks a resource's table",
                               "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}})
    return router
