"""Shared fixtures: the same suite runs on SQLite, PostgreSQL and MariaDB (real servers).

Each backend gets a throwaway database for the session, filled once with the demo data.
The PostgreSQL and MariaDB servers must be reachable: a missing server fails the run, it
is never skipped (set them up as README.md says).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crud.app import create_app, load
from crud.config.settings import Settings
from crud.sql.database import make_engine, serving_engine
from resources.demo import load_demo_data

ROOT = Path(__file__).resolve().parent.parent
DEMO_SCALE = 300
PG_SERVER = os.environ.get("CRUD_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
MARIADB_SERVER = os.environ.get("CRUD_TEST_MARIADB", "mysql+aiomysql://root@127.0.0.1:3306/test")
BACKENDS = ["sqlite", "postgresql", "mariadb"]


@dataclass
class Database:
    """One throwaway database on one backend."""

    backend: str
    url: str
    admin: AsyncEngine | None = None
    name: str = ""


async def create_database(backend: str, tmp: Path) -> Database:
    name = f"crud_test_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        return Database(backend, f"sqlite+aiosqlite:///{tmp / (name + '.db')}")
    server = PG_SERVER if backend == "postgresql" else MARIADB_SERVER
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    return Database(backend, url, admin, name)


async def drop_database(database: Database) -> None:
    if database.admin is None:
        return
    async with database.admin.connect() as connection:
        if database.backend == "postgresql":
            await connection.execute(text(f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE)"))
        else:
            await connection.execute(text(f"DROP DATABASE IF EXISTS {database.name}"))
    await database.admin.dispose()


@pytest_asyncio.fixture(scope="session", params=BACKENDS, loop_scope="session")
async def demo_db(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """The demo domain at a small scale, on each backend in turn."""
    database = await create_database(request.param, tmp_path_factory.mktemp("db"))
    writer = make_engine(database.url, read_only=False)
    try:
        await load_demo_data(writer, scale=DEMO_SCALE)
    finally:
        await writer.dispose()
    yield database
    await drop_database(database)


@pytest_asyncio.fixture(loop_scope="session")
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh empty database on the backend named by indirect parametrization."""
    database = await create_database(getattr(request, "param", "sqlite"), tmp_path)
    yield database
    await drop_database(database)


def assert_sqlite_plans_use(database_url: str, sent: list[tuple[str, Any]], index: str) -> None:
    """Every statement in ``sent`` (sql, arguments) is planned by SQLite through ``index``."""
    database = sqlite3.connect(make_url(database_url).database or "")
    try:
        for sql, arguments in sent:
            plan = " ".join(row[3] for row in database.execute(f"EXPLAIN QUERY PLAN {sql}",
                                                               arguments))
            assert f"USING INDEX {index}" in plan, (sql, plan)
    finally:
        database.close()


@dataclass
class StatementLog:
    """The SQL statements an engine sent, for N+1 checks."""

    statements: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.statements.clear()

    @property
    def count(self) -> int:
        return len(self.statements)


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    engine: AsyncEngine
    log: StatementLog
    backend: str

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, **kwargs)


def count_statements(engine: AsyncEngine, app: FastAPI | None = None) -> StatementLog:
    """Every statement sent: the read path's (``Reader.listeners``: it runs them on the
    driver's own connection) and whatever else goes through SQLAlchemy's engine."""
    log = StatementLog()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        log.statements.append(statement)

    if app is not None:
        app.state.reader.listeners.append(lambda sql, _arguments: log.statements.append(sql))
    return log


@pytest_asyncio.fixture(loop_scope="session")
async def make_api(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Factory: write a registry into tmp_path, bind it against ``url``, serve it."""
    opened: list[Api] = []

    async def factory(registry_text: str, url: str, backend: str = "", *,
                      settings: Settings | None = None, **engine_options: Any) -> Api:
        path = tmp_path / "registry.yaml"
        path.write_text(registry_text, encoding="utf-8")
        loaded = await load(path, url)
        if engine_options:
            engine = make_engine(url, statement_timeout_ms=loaded.registry.api.statement_timeout_ms,
                                 **engine_options)
        else:  # as `crud serve` makes it, sized and timed by the settings
            engine = serving_engine(settings or Settings(database_url=url), loaded.registry.api, url)
        app = create_app(loaded, engine, settings=settings)
        log = count_statements(engine, app)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        api = Api(app, client, engine, log, backend)
        opened.append(api)
        return api

    yield factory
    for api in opened:
        await api.client.aclose()
        await api.app.state.signals.close()  # what the app's lifespan does on shutdown
        await api.app.state.reader.close()
        await api.engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def demo_api(demo_db: Database, make_api: Callable[..., Any]) -> Api:
    """The repository's own registry.yaml served over the demo data."""
    text_ = (ROOT / "registry.yaml").read_text(encoding="utf-8")
    api: Api = await make_api(text_, demo_db.url, demo_db.backend)
    return api


@pytest.fixture
def registry_path(tmp_path: Path) -> Callable[[str], Path]:
    def write(text_: str) -> Path:
        path = tmp_path / "registry.yaml"
        path.write_text(text_, encoding="utf-8")
        return path

    return write


# -- big-table paging: a small table of ties and NULLs (tests/bigtables_models.py) ----------


@pytest_asyncio.fixture(scope="session", params=BACKENDS, loop_scope="session")
async def readings_db(request: pytest.FixtureRequest,
                      tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """``bt_readings`` (61 rows with duplicate and NULL sort values), on each backend."""
    from bigtables_models import Base, Reading, Shelf, rows

    database = await create_database(request.param, tmp_path_factory.mktemp("readings"))
    writer = make_engine(database.url, read_only=False)
    shelves, readings = rows()
    try:
        async with writer.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
            await connection.execute(Shelf.__table__.insert(), shelves)
            await connection.execute(Reading.__table__.insert(), readings)
        if database.backend == "postgresql":
            async with writer.connect() as connection:
                await connection.execute(text("ANALYZE"))
                await connection.commit()
    finally:
        await writer.dispose()
    yield database
    await drop_database(database)


# -- absent relations and grouped items: Copr-like builds per chroot (tests/grouped_models.py) --


@pytest_asyncio.fixture(scope="session", params=BACKENDS, loop_scope="session")
async def grouped_db(request: pytest.FixtureRequest,
                     tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """``gr_builds`` (rows per build id and chroot) and ``gr_srpms``, on each backend."""
    from grouped_models import Base, Build, Log, Srpm, logs, rows

    database = await create_database(request.param, tmp_path_factory.mktemp("grouped"))
    writer = make_engine(database.url, read_only=False)
    srpms, builds = rows()
    try:
        async with writer.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
            await connection.execute(Srpm.__table__.insert(), srpms)
            await connection.execute(Build.__table__.insert(), builds)
            await connection.execute(Log.__table__.insert(), logs(builds))
    finally:
        await writer.dispose()
    yield database
    await drop_database(database)
