"""Engines that can only read, and the registry bound against them.

Read-only is set once per connection, at connect time, so it costs no statement per
request (what each backend sets is in ``crud.sql.backends``). The same setup carries the
statement time budget where the database has one. A connection that anything but the read
path used (a hand-written router may ``SET default_transaction_read_only = off``) is put
back into that state when it returns to the pool, or discarded if that fails: the pool
never lends a writable connection. A SELECT-only database role is still the guarantee.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crud.config.registry import ApiSpec, Registry, RegistryError, RegistryIssue
from crud.config.settings import Settings
from crud.config.yamlfile import LocatedData
from crud.model.binding import IssueCollector, bind_resource, hint
from crud.model.boundaries import auth_crossings
from crud.model.resource import Resource
from crud.model.sources import Entity, ReflectedDatabase, model_entity
from crud.sql.backends import Backend, backend_for
from crud.sql.pgbouncer import pooled_backend, without_option
from crud.sql.reader import READ_PATH

__all__ = ["bind_registry", "engine_backend", "make_engine", "reflect", "run_blocking",
           "serving_engine"]

# An execution option of engines whose URL said ?pgbouncer=true (crud.sql.pgbouncer).
_PGBOUNCER = "crud_pgbouncer"

T = TypeVar("T")


def make_engine(url: str, *, read_only: bool = True, statement_timeout_ms: int | None = None,
                pool_size: int = 10, pool_timeout_s: float = 30.0) -> AsyncEngine:
    """An async engine for ``url``; read-only (the API's) unless ``read_only=False``.

    The pool does not ping connections before lending them: the read path retries a
    statement once on a connection the database dropped (``crud.sql.reader``).
    """
    parsed, pgbouncer = without_option(make_url(url))
    backend = pooled_backend(parsed.get_dialect()(), pgbouncer)
    arguments = backend.engine_arguments(url, read_only=read_only,
                                         statement_timeout_ms=statement_timeout_ms)
    options = dict(arguments.options)
    if backend.pools_connections:
        options.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800,
                       pool_timeout=pool_timeout_s)
    if pgbouncer:
        options["execution_options"] = {_PGBOUNCER: True}
    engine = create_async_engine(parsed, connect_args=arguments.connect_args, **options)
    if arguments.session_statements or arguments.functions:
        _run_on_connect(engine, arguments.session_statements, arguments.functions)
    if arguments.reset_statements:
        _reset_on_return(engine, arguments.reset_statements)
    return engine


def serving_engine(settings: Settings, api: ApiSpec, url: str | None = None) -> AsyncEngine:
    """The API's engine for ``url`` (the primary's by default): pooled and timed as configured."""
    return make_engine(url or settings.database_url, pool_size=settings.pool_size,
                       pool_timeout_s=settings.pool_timeout_ms / 1000,
                       statement_timeout_ms=api.statement_timeout_ms)


def engine_backend(engine: AsyncEngine) -> Backend:
    """The backend that runs ``engine``'s statements (PgBouncer's where its URL said so)."""
    return pooled_backend(engine.dialect,
                          bool(engine.get_execution_options().get(_PGBOUNCER)))


def _run_on_connect(engine: AsyncEngine, statements: list[str],
                    functions: list[tuple[str, int, Callable[..., Any]]]) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        for name, arguments, function in functions:
            dbapi_connection.create_function(name, arguments, function, deterministic=True)
        cursor = dbapi_connection.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()


def _reset_on_return(engine: AsyncEngine, statements: list[str]) -> None:
    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, record: Any, state: Any) -> None:
        # The read path runs only the registry's SELECTs: its connections need no reset
        # (the flag lasts one checkout). A failure here makes the pool discard the
        # connection; a connection being terminated needs nothing.
        if record is None or record.info.pop(READ_PATH, False) or state.terminate_only \
                or not state.asyncio_safe:
            return
        cursor = dbapi_connection.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion from sync code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def reflect(url: str, registry: Registry,
                  path: str = "registry.yaml") -> ReflectedDatabase | None:
    """Reflect the schemas that ``table:`` resources live in; None when none does.

    A database that cannot be reached is a ``RegistryError`` (``crud check`` prints it and
    exits 1), not a traceback: the registry cannot be checked without it.
    """
    schemas = {spec.db_schema for spec in registry.resources.values() if spec.table}
    if not schemas:
        return None
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(reflect_database, schemas)
    except (DBAPIError, OSError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        target = make_url(url).render_as_string(hide_password=True)
        raise RegistryError([RegistryIssue(
            path=path, line=None, key="database",
            message=f"cannot reflect 'table:' resources from {target}: {reason} "
                    "(check --database-url or DATABASE_URL)")]) from None
    finally:
        await engine.dispose()


def bind_registry(registry: Registry, located: LocatedData, path: str,
                  database: ReflectedDatabase | None) -> list[Resource]:
    """Every resource bound; ``RegistryError`` listing all problems otherwise."""
    collector = IssueCollector(path=path, located=located)
    resources = []
    for name, spec in registry.resources.items():
        entity = _entity(name, spec.model, spec.table, spec.db_schema, database, collector)
        if entity is None:
            continue
        resource = bind_resource(name, spec, entity, collector, registry.api)
        if resource is not None:
            resources.append(resource)
    auth_crossings(resources, registry.api, collector.add)
    if collector.issues:
        raise RegistryError(collector.issues)
    return resources


def _entity(name: str, model: str | None, table: str | None, schema: str | None,
            database: ReflectedDatabase | None, collector: IssueCollector) -> Entity | None:
    where = ("resources", name)
    if model is not None:
        try:
            return model_entity(model)
        except ValueError as error:
            message = str(error.args[0])
            if len(error.args) > 1:
                message += hint(model.partition(":")[2], error.args[1])
            collector.add((*where, "model"), message)
            return None
    assert table is not None
    if database is None:
        collector.add((*where, "table"), "reflection needs a database: pass --database-url")
        return None
    try:
        return database.entity(table, schema)
    except KeyError:
        names = database.table_names(schema)
        place = f"schema {schema!r}" if schema else "the database"
        collector.add((*where, "table"), f"no table or view {table!r} in {place}"
                                         f"{hint(table, names)}")
        return None


def reflect_database(connection: Connection, schemas: Iterable[str | None]) -> ReflectedDatabase:
    """The live database's tables and views, as its backend keys them."""
    backend = backend_for(connection.dialect)
    return ReflectedDatabase.reflect(connection, schemas,
                                     names_default_schema=backend.names_default_schema)
