"""``create_app``: a registry, an engine and settings in; a FastAPI application out."""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from crud.config.registry import Registry, RegistryError, load_registry
from crud.config.settings import Settings
from crud.config.yamlfile import LocatedData
from crud.http.auth import guard
from crud.http.cursors import cursor_secret
from crud.http.dispatch import ReadRoutes, ReadTable
from crud.http.errors import Unhandled, install_error_handlers
from crud.http.live import Hub, LiveLimits, TokenSource, Watch
from crud.http.openapi import install_openapi
from crud.http.pathroutes import route_issues
from crud.http.profiles import parameter_clashes
from crud.http.profiles.legacy import check_legacy_options
from crud.http.profiles.records import dialect_issues
from crud.http.rollups import answering, build_rollups
from crud.http.routing import build_aggregate, build_endpoints, build_router, served_routes
from crud.http.urls import SlashRedirect
from crud.model.resource import Resource
from crud.model.sources import ReflectedDatabase
from crud.ops.docs import install_docs, install_root_redirect
from crud.ops.extensions import Extensions, include_routers, resolve_extensions
from crud.ops.hosts import public_base_url
from crud.ops.mounts import install_mounts
from crud.ops.operations import Operations
from crud.ops.rollupmetrics import watch_rollups
from crud.sql.database import (
    bind_registry,
    engine_backend,
    reflect,
    run_blocking,
    serving_engine,
)
from crud.sql.reader import Reader
from crud.sql.replicas import read_path
from crud.sql.results import ResultCache
from crud.sql.rollupkeeper import KeptRollup, RollupKeeper
from crud.sql.rollupstore import RollupStore
from crud.sql.signals import Signals
from crud.sql.store import open_store
from crud.sql.validators import validator_issues

__all__ = ["LoadedRegistry", "app_from_environment", "create_app", "live_hub", "load",
           "result_cache"]


class LoadedRegistry:
    """A registry file parsed, reflected where needed and bound: ready to serve."""

    def __init__(self, registry: Registry, resources: list[Resource], path: str,
                 located: LocatedData | None = None,
                 extensions: Extensions | None = None) -> None:
        self.registry = registry
        self.resources = resources
        self.path = path
        self.located = located  # for startup errors found after binding (auth secrets)
        self.extensions = extensions or Extensions()

    def __repr__(self) -> str:
        return f"LoadedRegistry({self.path!r}, resources={[r.name for r in self.resources]})"


async def load(path: Path, database_url: str) -> LoadedRegistry:
    """Parse, validate and bind ``path``; ``RegistryError`` lists every problem found."""
    registry, located = load_registry(path)
    database = await reflect(database_url, registry, str(path))
    return bind(registry, located, str(path), database)


def bind(registry: Registry, located: LocatedData, path: str,
         database: ReflectedDatabase | None) -> LoadedRegistry:
    resources = bind_registry(registry, located, path, database)
    extensions = resolve_extensions(registry, located, path)
    check_legacy_options(registry, located, path)
    clashes = parameter_clashes(resources, registry.api, path=path, located=located)
    clashes += dialect_issues(resources, registry.api, path=path, located=located)
    clashes += route_issues(resources, registry.api, path=path, located=located)
    if clashes:
        raise RegistryError(clashes)
    return LoadedRegistry(registry, resources, path, located, extensions)


def create_app(loaded: LoadedRegistry, engine: AsyncEngine, *,
               settings: Settings | None = None) -> FastAPI:
    """The application for a bound registry; disposes ``engine`` on shutdown.

    ``settings`` (default: from the environment) configure operations: probes, metrics,
    access logs, CORS and auth secrets. A protected resource without secrets raises
    ``RegistryError``.
    """
    api = loaded.registry.api
    settings = settings or Settings()
    operations = Operations(loaded.registry, engine, settings,
                            path=loaded.path, located=loaded.located, resources=loaded.resources)

    primary = Reader(engine, engine_backend(engine), keep=settings.pool_size,
                     budget_ms=api.statement_timeout_ms)
    issues = validator_issues(loaded.resources, path=loaded.path, located=loaded.located)
    if issues:
        raise RegistryError(issues)
    reader = read_path(primary, settings.replica_urls,
                       connect=functools.partial(serving_engine, settings, api),
                       max_lag_ms=settings.replica_max_lag_ms)
    # The one change signal the result cache, rollups and live lists ask (crud.sql.signals).
    signals = Signals(loaded.resources, reader)

    results = result_cache(settings, signals)
    kept: list[KeptRollup] = []
    cache_url = settings.cache_url.get_secret_value() if settings.cache_url else None
    keeper = RollupKeeper(kept, RollupStore(open_store(cache_url, prefix="crud:rollups:")),
                          signals)
    hub = live_hub(settings, signals)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        keeper.start()  # rollups are built in the background; requests run live meanwhile
        # What startup built (models, the registry, compiled statements) lives as long as
        # the app: frozen out of the collector's view, a full collection no longer walks
        # its ~136,000 objects (111 ms, measured on bench.views' app) in the middle of
        # requests; p99 of the view's uncounted page went from 58-72 ms to 40-56 ms.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # a reload drops this app: its cycles must be collectable again
            await keeper.stop()
            if results is not None:
                await results.close()
            await hub.close()
            await signals.close()
            await reader.close()
            await engine.dispose()

    # FastAPI's own OpenTelemetry hooks ask the global providers on every request; off
    # unless asked for (/metrics is this API's own). docs_url/redoc_url None: FastAPI's
    # pages load their UI from a CDN; ours do not. Starlette's trailing-slash redirect
    # repeats the request's Host in its Location: ours does not (crud.http.urls).
    telemetry = settings.opentelemetry
    public_url = public_base_url(settings)
    app = FastAPI(title=api.title, version=api.version, description=api.description or "",
                  lifespan=lifespan, docs_url=None, redoc_url=None, redirect_slashes=False,
                  telemetry={"tracing": telemetry, "metrics": telemetry, "logs": telemetry})
    app.router.default = SlashRedirect(app.router, public_url=public_url)
    install_error_handlers(app)
    install_openapi(app)
    install_docs(app)
    secret = cursor_secret(settings.cursor_secret)
    reads = ReadTable(api.prefix)
    for resource in loaded.resources:
        endpoints = build_endpoints(resource, reader, api, secret=secret,
                                    credentials=operations.credentials,
                                    public_url=public_url, results=results,
                                    signals=signals)
        rollups = build_rollups(endpoints)
        kept.extend(rollups)
        endpoints.rollups = answering(rollups)
        if endpoints.rollups is not None:
            keeper.resources[resource.name] = endpoints.rollups
        aggregate = build_aggregate(endpoints, api, rollups=endpoints.rollups)
        routes = served_routes(endpoints, aggregate)
        live = resource.spec.live or api.live
        router = build_router(endpoints, routes, watched=live.enabled)
        app.include_router(router, prefix=api.prefix, **operations.guard(resource))
        operations.label(router, resource)
        reads.add(routes)
        if live.enabled:  # every list route of the resource is watchable (docs/live.md)
            reads.watches.update({handler: Watch(endpoints, handler, hub, interval_s=live.interval)
                                  for route, handler in routes if route.kind == "list"})
    reads.finish()
    # Innermost of the middleware: reads are still logged, measured and given CORS headers.
    app.add_middleware(ReadRoutes, table=reads)
    # Just outside the reads: a 500 is logged once and still gets the request id and CORS.
    app.add_middleware(Unhandled)
    # Hand-written routers answer under the API's default auth, as resources without their own.
    include_routers(app, loaded.extensions.routers, api.prefix,
                    guard(api.auth, operations.credentials))
    install_mounts(app, loaded.extensions.mounts)
    if not any(item.path.rstrip("/") == "" for item in loaded.extensions.mounts):
        install_root_redirect(app)  # a mount at / (the old app) keeps answering there
    operations.install(app, reader=reader, live=hub, results=results)
    app.state.results = results
    keeper.kept = tuple(kept)
    watch_rollups(app, keeper)
    app.state.registry = loaded
    app.state.engine = engine
    app.state.reader = reader
    app.state.rollups = keeper
    app.state.signals = signals
    app.state.live = hub
    return app


def result_cache(settings: Settings, signals: Signals | None) -> ResultCache | None:
    """The result cache the settings ask for: Redis, this process's memory, or none."""
    url = settings.cache_url.get_secret_value() if settings.cache_url is not None else None
    if url is None and settings.cache_max_mb == 0:
        return None
    return ResultCache(open_store(url, max_bytes=settings.cache_max_mb * 1024 * 1024), signals)


def live_hub(settings: Settings, signals: TokenSource | None) -> Hub:
    """The process's live lists under the settings' caps (docs/live.md)."""
    return Hub(LiveLimits(max_subscribers=settings.live_max_subscribers,
                          max_per_client=settings.live_max_per_client,
                          backlog=settings.live_backlog,
                          heartbeat_s=settings.live_heartbeat_ms / 1000), signals)


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` and worker processes: settings from the environment."""
    settings = Settings()
    loaded = run_blocking(load(settings.registry, settings.database_url))
    engine = serving_engine(settings, loaded.registry.api)
    return create_app(loaded, engine, settings=settings)
