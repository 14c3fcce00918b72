"""Engines that can only read, and the registry bound against them.

Read-only is set once per connection, at connect time, so it costs no statement per
request: PostgreSQL ``default_transaction_read_only``, MariaDB/MySQL ``SET SESSION
TRANSACTION READ ONLY``, SQLite ``PRAGMA query_only``. The same hook sets the statement
time budget where the database has one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy import inspect as sqlalchemy_inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crud.config.registry import Registry, RegistryError, RegistryIssue
from crud.config.yamlfile import LocatedData
from crud.model.binding import IssueCollector, bind_resource, hint
from crud.model.resource import Resource
from crud.model.sources import Entity, ReflectedDatabase, model_entity

__all__ = ["bind_registry", "make_engine", "missing_tables", "reflect", "run_blocking"]

T = TypeVar("T")


def make_engine(url: str, *, read_only: bool = True, statement_timeout_ms: int | None = None,
                pool_size: int = 10) -> AsyncEngine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {"pool_pre_ping": backend != "sqlite"}
    if backend == "postgresql" and parsed.get_driver_name() == "asyncpg":
        settings = {"application_name": "crud"}
        if read_only:
            settings["default_transaction_read_only"] = "on"
        if statement_timeout_ms:
            settings["statement_timeout"] = str(statement_timeout_ms)
        connect_args["server_settings"] = settings
    if backend == "postgresql" and read_only:
        # Without explicit transactions the driver sends no BEGIN/ROLLBACK around each
        # request and the pool's pre-ping (one per checkout) is a bare ';' instead of
        # BEGIN, ';', ROLLBACK: 7 round trips for a two-statement list become 3. Nothing
        # is lost: under READ COMMITTED every statement takes its own snapshot anyway, and
        # default_transaction_read_only applies to these implicit transactions as well.
        options["isolation_level"] = "AUTOCOMMIT"
    if backend != "sqlite":
        options.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    engine = create_async_engine(url, connect_args=connect_args, **options)
    _install_connect_hook(engine, backend, read_only, statement_timeout_ms)
    return engine


def _install_connect_hook(engine: AsyncEngine, backend: str, read_only: bool,
                          statement_timeout_ms: int | None) -> None:
    statements: list[str] = []
    if backend == "sqlite" and read_only:
        statements.append("PRAGMA query_only = ON")
    if backend in {"mysql", "mariadb"}:
        if read_only:
            statements.append("SET SESSION TRANSACTION READ ONLY")
        if statement_timeout_ms:
            # MariaDB's name; MySQL's is max_execution_time (ms, SELECT only).
            statements.append(f"SET SESSION max_statement_time = {statement_timeout_ms / 1000:.3f}")
    if not statements:
        return

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
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
            return await connection.run_sync(ReflectedDatabase.reflect, schemas)
    except (DBAPIError, OSError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        target = make_url(url).render_as_string(hide_password=True)
        raise RegistryError([RegistryIssue(
            path=path, line=None, key="database",
            message=f"cannot reflect 'table:' resources from {target}: {reason} "
                    "(check --database-url or DATABASE_URL)")]) from None
    finally:
        await engine.dispose()


async def missing_tables(resources: list[Resource], url: str) -> list[str]:
    """Names of resources whose base table is not in the database at ``url``."""
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_missing, resources)
    finally:
        await engine.dispose()


def _missing(connection: Any, resources: list[Resource]) -> list[str]:
    inspector = sqlalchemy_inspect(connection)
    return [resource.name for resource in resources
            if not inspector.has_table(resource.entity.table.name,
                                       schema=resource.entity.table.schema)]


def bind_registry(registry: Registry, located: LocatedData, path: str,
                  database: ReflectedDatabase | None) -> list[Resource]:
    """Every resource bound; ``RegistryError`` listing all problems otherwise."""
    collector = IssueCollector(path=path, located=located)
    resources = []
    for name, spec in registry.resources.items():
        entity = _entity(name, spec.model, spec.table, spec.db_schema, database, collector)
        if entity is None:
            continue
        resource = bind_resource(name, spec, entity, collector,
                                 page_size=registry.api.page_size,
                                 max_page_size=registry.api.max_page_size)
        if resource is not None:
            resources.append(resource)
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
