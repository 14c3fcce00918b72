"""What an operated service adds around the generated routers, wired in one place.

Probes, metrics, access logs with request ids, CORS, trusted hosts and per-resource auth,
each from its own module, configured from ``Settings``. ``create_app`` calls ``guard``
and ``label`` for every resource router and ``install`` once at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response

from crud.config.registry import Registry, RegistryError
from crud.config.settings import Settings
from crud.config.yamlfile import LocatedData
from crud.http.auth import Credentials, auth_kind, guard, missing_credentials
from crud.http.live import Hub
from crud.model.resource import Resource
from crud.ops.cors import DocumentedCORS
from crud.ops.health import health_router
from crud.ops.hosts import TrustedHosts
from crud.ops.metrics import Metrics
from crud.ops.requestlog import (
    AccessLog,
    Observer,
    ObserveRequests,
    RouteLabels,
    ensure_handler,
)
from crud.sql.reader import Reader
from crud.sql.replicas import ReplicaReader
from crud.sql.results import ResultCache

__all__ = ["Operations"]


class Operations:
    """Validates the operational settings against the registry; installs the features."""

    def __init__(self, registry: Registry, engine: AsyncEngine, settings: Settings, *,
                 path: str = "registry.yaml", located: LocatedData | None = None,
                 resources: Sequence[Resource] = ()) -> None:
        issues = missing_credentials(registry.api, registry.resources, settings, path, located)
        if issues:
            raise RegistryError(issues)
        self.registry = registry
        self.engine = engine
        self.settings = settings
        self.credentials = Credentials(settings)
        self.labels = RouteLabels()
        self.resources = tuple(resources)  # whose tables /readyz looks for

    def __repr__(self) -> str:
        return (f"Operations(metrics={self.settings.metrics}, "
                f"access_log={self.settings.access_log}, cors={list(self.settings.cors_origins)},"
                f" {self.credentials!r})")

    def guard(self, resource: Resource) -> dict[str, Any]:
        """``include_router`` keyword arguments for ``resource``: its auth, if any."""
        return guard(auth_kind(resource.spec, self.registry.api), self.credentials)

    def label(self, router: APIRouter, resource: Resource) -> None:
        """Name ``router``'s requests after ``resource`` in logs and metrics."""
        self.labels.add((getattr(route, "endpoint", None) for route in router.routes),
                        resource.name)

    def install(self, app: FastAPI, *, reader: Reader | None = None,
                live: Hub | None = None, results: ResultCache | None = None) -> None:
        """Everything at once; ``reader``'s replicas, if any, are reported by ``/readyz``."""
        settings = self.settings
        replicas = reader if isinstance(reader, ReplicaReader) else None
        app.include_router(health_router(self.engine, timeout_ms=settings.readiness_timeout_ms,
                                         resources=self.resources, replicas=replicas))
        observers: list[Observer] = []
        if settings.metrics:
            metrics = Metrics()
            if live is not None:
                metrics.observe_live(live)
            # A typed body (a string), so generated clients get no `unknown` for it.
            app.add_api_route("/metrics", metrics.endpoint, methods=["GET"], tags=["operations"],
                              summary="Prometheus metrics", operation_id="metrics",
                              response_class=Response,
                              responses={200: {"content": {"text/plain": {
                                  "schema": {"type": "string"}}}}})
            observers.append(metrics)
            app.state.metrics = metrics
            if results is not None:
                metrics.watch(results)
        if settings.access_log:
            logger = logging.getLogger("crud.access")
            ensure_handler(logger)
            observers.append(AccessLog(logger))
        if settings.cors_origins:
            # Inside ObserveRequests (added last, so outermost): preflights are logged too.
            app.add_middleware(DocumentedCORS, api=app, origins=settings.cors_origins)
        if settings.trusted_hosts and "*" not in settings.trusted_hosts:
            # Outside CORS, inside ObserveRequests: a refused Host is logged and counted.
            app.add_middleware(TrustedHosts, hosts=settings.trusted_hosts)
        app.add_middleware(ObserveRequests, observers=observers, labels=self.labels)
