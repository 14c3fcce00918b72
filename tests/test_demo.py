"""The demo data: complete, deterministic, consistent, and rich in the edge cases tests need.

Runs against SQLite (a file per test) and the PostgreSQL and MariaDB servers on localhost,
where each test works in a schema or database of its own and drops it afterwards.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Table, Text, cast, func, insert, inspect, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from resources.demo import create_schema, drop_schema, load_demo_data
from resources.models import Base

POSTGRESQL_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
MARIADB_URL = "mysql+aiomysql://root@127.0.0.1:3306/test"
BACKENDS = ["sqlite", "postgresql", "mariadb"]
TABLES = Base.metadata.sorted_tables
EVENT_TARGETS = {
    "pull_request": "pull_requests",
    "branch_push": "git_branches",
    "release": "project_releases",
}
# Literal-match tests need a value full of LIKE wildcards and a row that its unescaped
# pattern would match too.
WILDCARD_TASK_ID = "task_50%_a"
WILDCARD_LOOKALIKE = "task-50%_a"
TIMESTAMPS = [
    ("koji_build_targets", "build_submitted_time"),
    ("pipelines", "datetime"),
    ("project_events", "created_at"),
    ("koji_build_groups", "submitted_time"),
]

NewPlace = Callable[[], Awaitable[AsyncEngine]]


def _unique_name() -> str:
    return f"demo_{uuid.uuid4().hex[:12]}"


@contextlib.asynccontextmanager
async def _server_admin(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the server's `test` database. A missing server fails: never skipped."""
    admin = create_async_engine(url)
    try:
        yield admin
    finally:
        await admin.dispose()


@contextlib.asynccontextmanager
async def _sqlite_place(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / _unique_name()}.db")
    try:
        yield engine
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def _postgresql_place() -> AsyncIterator[AsyncEngine]:
    schema = _unique_name()
    async with _server_admin(POSTGRESQL_URL) as admin:
        async with admin.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine = create_async_engine(
            POSTGRESQL_URL, connect_args={"server_settings": {"search_path": schema}}
        )
        try:
            yield engine
        finally:
            await engine.dispose()
            async with admin.begin() as conn:
                await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@contextlib.asynccontextmanager
async def _mariadb_place() -> AsyncIterator[AsyncEngine]:
    database = _unique_name()
    async with _server_admin(MARIADB_URL) as admin:
        async with admin.begin() as conn:
            await conn.execute(text(f"CREATE DATABASE {database}"))
        engine = create_async_engine(admin.url.set(database=database))
        try:
            yield engine
        finally:
            await engine.dispose()
            async with admin.begin() as conn:
                await conn.execute(text(f"DROP DATABASE {database}"))


def _place(backend: str, tmp_path: Path) -> contextlib.AbstractAsyncContextManager[AsyncEngine]:
    """An empty, isolated place to load data into, removed on exit."""
    if backend == "postgresql":
        return _postgresql_place()
    if backend == "mariadb":
        return _mariadb_place()
    return _sqlite_place(tmp_path)


@pytest.fixture
async def new_place(backend: str, tmp_path: Path) -> AsyncIterator[NewPlace]:
    """Make isolated places of the test's backend; all are removed after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def make() -> AsyncEngine:
            return await stack.enter_async_context(_place(backend, tmp_path))

        yield make


async def _rows(conn: AsyncConnection, table: Table) -> list[tuple[Any, ...]]:
    result = await conn.execute(select(table).order_by(table.c.id))
    return [tuple(row) for row in result]


async def _json_texts(conn: AsyncConnection, table: Table) -> list[tuple[Any, ...]]:
    """The stored text of the JSON columns, to compare bytes rather than parsed values."""
    # A JSON column with a PostgreSQL ARRAY variant (pull_requests.labels) stores no JSON
    # text there; ``_rows`` compares its values on every backend.
    columns = [cast(c, Text) for c in table.columns if isinstance(c.type, JSON)
               and isinstance(c.type.dialect_impl(postgresql.dialect()), JSON)]
    result = await conn.execute(select(table.c.id, *columns).order_by(table.c.id))
    return [tuple(row) for row in result]


async def _scalar(engine: AsyncEngine, query: Any) -> Any:
    async with engine.connect() as conn:
        return await conn.scalar(query)


async def _column(engine: AsyncEngine, query: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(query)).scalars())


async def _table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
@pytest.mark.parametrize("scale", [1, 1000], ids=["scale-1", "scale-1000"])
async def test_counts_are_the_rows_in_the_tables(new_place: NewPlace, scale: int) -> None:
    engine = await new_place()

    counts = await load_demo_data(engine, scale)

    assert set(counts) == {table.name for table in TABLES}
    for table in TABLES:
        stored = await _scalar(engine, select(func.count()).select_from(table))
        assert stored == counts[table.name], table.name
    assert counts["koji_build_targets"] == scale
    assert counts["git_projects"] == max(5, scale // 200)
    assert counts["project_events"] == max(3, scale // 4)
    assert counts["koji_build_groups"] == max(1, scale // 2)


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
async def test_same_scale_and_seed_give_the_same_rows(new_place: NewPlace) -> None:
    first, second = await new_place(), await new_place()

    assert await load_demo_data(first, 300) == await load_demo_data(second, 300)

    async with first.connect() as one, second.connect() as other:
        for table in TABLES:
            assert await _rows(one, table) == await _rows(other, table), table.name


@pytest.mark.parametrize("backend", ["sqlite"], ids=["sqlite"])
async def test_another_seed_gives_other_rows(new_place: NewPlace) -> None:
    first, second = await new_place(), await new_place()
    await load_demo_data(first, 300, seed=7)
    await load_demo_data(second, 300, seed=8)

    async with first.connect() as one, second.connect() as other:
        builds = _table("koji_build_targets")
        assert await _rows(one, builds) != await _rows(other, builds)


async def test_every_database_stores_the_same_rows(tmp_path: Path) -> None:
    async with contextlib.AsyncExitStack() as stack:
        engines = [await stack.enter_async_context(_place(b, tmp_path)) for b in BACKENDS]
        for engine in engines:
            await load_demo_data(engine, 300)

        reference, *others = engines
        async with reference.connect() as ref:
            for engine in others:
                async with engine.connect() as conn:
                    for table in TABLES:
                        assert await _rows(conn, table) == await _rows(ref, table), (
                            engine.dialect.name,
                            table.name,
                        )
                        assert await _json_texts(conn, table) == await _json_texts(ref, table)


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
async def test_every_foreign_key_points_at_a_row(new_place: NewPlace) -> None:
    engine = await new_place()
    await load_demo_data(engine, 1000)

    for table in TABLES:
        for fk in table.foreign_keys:
            child, parent = fk.parent, fk.column
            dangling = (
                select(func.count())
                .select_from(table.outerjoin(parent.table, child == parent))
                .where(child.is_not(None), parent.is_(None))
            )
            assert await _scalar(engine, dangling) == 0, f"{table.name}.{child.name}"


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
async def test_every_project_event_points_at_a_row_of_its_type(new_place: NewPlace) -> None:
    engine = await new_place()
    await load_demo_data(engine, 1000)
    events = _table("project_events")

    for kind, name in EVENT_TARGETS.items():
        target = _table(name)
        of_kind = select(func.count()).where(events.c.type == kind)
        dangling = (
            select(func.count())
            .select_from(events.outerjoin(target, events.c.event_id == target.c.id))
            .where(events.c.type == kind, target.c.id.is_(None))
        )
        assert await _scalar(engine, of_kind) > 0, kind
        assert await _scalar(engine, dangling) == 0, kind


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
async def test_koji_builds_have_the_edge_cases(new_place: NewPlace) -> None:
    engine = await new_place()
    await load_demo_data(engine, 1000)
    builds = _table("koji_build_targets")

    def count_where(condition: Any) -> Awaitable[Any]:
        return _scalar(engine, select(func.count()).where(condition))

    # About 5%, 5% and 10% of the 1000 builds.
    assert 20 <= await count_where(builds.c.koji_build_group_id.is_(None)) <= 100
    assert 20 <= await count_where(builds.c.build_submitted_time.is_(None)) <= 100
    assert 50 <= await count_where(builds.c.scratch.is_(True)) <= 150
    assert await count_where(builds.c.web_url.is_(None)) > 0
    # SQL NULL, not the JSON text 'null': API filters on "is null" must find these rows.
    assert 0 < await count_where(builds.c.data.is_(None)) < 1000
    statuses = await _column(engine, select(builds.c.status).distinct())
    assert {status.value for status in statuses} == {
        "pending",
        "running",
        "success",
        "failure",
        "error",
    }


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
async def test_task_ids_hold_like_wildcards(new_place: NewPlace) -> None:
    engine = await new_place()
    await load_demo_data(engine, 1000)
    task_id = _table("koji_build_targets").c.task_id

    exact = await _column(engine, select(task_id).where(task_id == WILDCARD_TASK_ID))
    unescaped = await _column(engine, select(task_id).where(task_id.like(WILDCARD_TASK_ID)))

    assert exact
    assert set(exact) == {WILDCARD_TASK_ID}
    assert WILDCARD_LOOKALIKE in unescaped


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
async def test_timestamps_grow_with_id_and_repeat(new_place: NewPlace) -> None:
    engine = await new_place()
    await load_demo_data(engine, 1000)

    for table_name, column_name in TIMESTAMPS:
        table = _table(table_name)
        column = table.c[column_name]
        query = select(column).where(column.is_not(None)).order_by(table.c.id)
        times = await _column(engine, query)

        assert times == sorted(times), column
        # Duplicates let tests check that keyset pagination breaks ties by id.
        assert len(set(times)) < len(times), column
        assert all(time.microsecond == 0 and time.tzinfo is None for time in times), column


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
async def test_webhook_secrets_are_marked(new_place: NewPlace) -> None:
    engine = await new_place()
    await load_demo_data(engine, 1000)

    secrets = await _column(engine, select(_table("git_projects").c.webhook_secret))

    assert secrets
    assert all(secret.startswith("SECRET-") for secret in secrets)
    assert len(set(secrets)) == len(secrets)


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
async def test_an_insert_without_id_gets_the_next_one(new_place: NewPlace) -> None:
    engine = await new_place()
    counts = await load_demo_data(engine, 100)
    branches = _table("git_branches")

    async with engine.begin() as conn:
        result = await conn.execute(insert(branches).values(name="later", project_id=1))

    assert result.inserted_primary_key == (counts["git_branches"] + 1,)


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
async def test_loading_into_tables_with_rows_is_refused(new_place: NewPlace) -> None:
    engine = await new_place()
    await load_demo_data(engine, 10)

    with pytest.raises(ValueError, match="already has rows"):
        await load_demo_data(engine, 10)


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKENDS)
async def test_create_and_drop_schema(new_place: NewPlace) -> None:
    engine = await new_place()

    await create_schema(engine)
    created = await _table_names(engine)
    await drop_schema(engine)
    dropped = await _table_names(engine)

    assert created == {table.name for table in TABLES}
    assert dropped == set()


@pytest.mark.parametrize("backend", ["sqlite"], ids=["sqlite"])
@pytest.mark.parametrize("scale", [0, -5], ids=["zero", "negative"])
async def test_a_scale_below_one_is_refused(new_place: NewPlace, scale: int) -> None:
    engine = await new_place()

    with pytest.raises(ValueError, match="scale must be at least 1"):
        await load_demo_data(engine, scale)


@pytest.mark.parametrize("backend", ["postgresql"], ids=["postgresql"])
async def test_postgresql_statistics_are_fresh(new_place: NewPlace) -> None:
    engine = await new_place()
    await load_demo_data(engine, 1000)

    # ANALYZE sets reltuples; a table never analyzed reports -1.
    reltuples = await _scalar(
        engine, text("SELECT reltuples FROM pg_class WHERE oid = 'koji_build_targets'::regclass")
    )

    assert reltuples == 1000


async def _postgresql_structure(engine: AsyncEngine) -> list[tuple[str, str]]:
    """Definitions of the indexes and constraints of the schema the engine works in."""
    query = text(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
        " JOIN pg_class t ON t.oid = indrelid WHERE t.relnamespace = current_schema()::regnamespace"
        " UNION ALL SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
        " WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2"
    )
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(query)]


@pytest.mark.parametrize("backend", ["postgresql"], ids=["postgresql"])
async def test_postgresql_gets_its_indexes_and_foreign_keys_back(new_place: NewPlace) -> None:
    engine = await new_place()
    await create_schema(engine)
    before = await _postgresql_structure(engine)

    await load_demo_data(engine, 300)

    assert any("FOREIGN KEY" in definition for _, definition in before)
    assert any("CREATE INDEX" in definition for _, definition in before)
    after = await _postgresql_structure(engine)
    # Plus the full-text index registry.yaml's search needs, made after the rows.
    added = [item for item in after if item not in before]
    assert [item for item in after if item not in added] == before
    assert [name.rpartition(".")[2] for name, _definition in added] == \
        ["ix_pull_requests_full_text"]
