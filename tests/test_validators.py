"""Cheap validators: a conditional request runs one small statement, never the page's."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from conftest import Api, Database
from sqlalchemy import insert

from crud.config.registry import RegistryError
from crud.sql.database import make_engine
from resources.demo import load_demo_data
from resources.models import GitProjectModel

REGISTRY = """\
resources:
  projects:
    model: resources.models:GitProjectModel
    fields: {{id:, namespace:}}
    filters: {{namespace: [eq]}}
    cache: {{max_age: 60, stale_while_revalidate: 30, validator: {validator}}}
"""
VALIDATED = re.compile(r'^W/"v[0-9a-f]{31}"$')
CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=30"
KINDS = [("sqlite", "{column: id}"), ("postgresql", "{column: id}"),
         ("mariadb", "{column: id}"), ("sqlite", "{statistics: true}"),
         ("postgresql", "{statistics: true}"), ("mariadb", "{statistics: true}")]
# What the change signal (crud.sql.signals) reads on each database, and a declared column's max.
SIGNAL_STATEMENTS = ("data_version", "pg_stat_get_tuples", "information_schema", "max(")


@pytest.fixture
async def small_db(empty_db: Database) -> Database:
    """Demo data of its own: the test writes to it."""
    writer = make_engine(empty_db.url, read_only=False)
    try:
        await load_demo_data(writer, scale=20)
    finally:
        await writer.dispose()
    return empty_db


async def _settled(api: Api) -> None:
    """Wait out MariaDB's two seconds without a token after the demo data's commit."""
    for _ in range(50):
        if await api.app.state.signals.token("projects") is not None:
            return
        await asyncio.sleep(0.1)


async def _insert_project(url: str) -> None:
    # A session of its own that ends: PostgreSQL reports its statistics when it does.
    writer = make_engine(url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.execute(insert(GitProjectModel), [{
                "id": 10_000, "namespace": "new", "repo_name": "new",
                "project_url": "https://example.org/new", "instance_url": "example.org",
                "created_at": datetime(2026, 1, 1), "webhook_secret": "s"}])
    finally:
        await writer.dispose()


@pytest.mark.parametrize(("empty_db", "validator"), KINDS, indirect=["empty_db"],
                         ids=[f"{backend}-{kind}" for backend, kind in KINDS])
@pytest.mark.parametrize("path", ["/api/v1/projects?size=3", "/api/v1/projects/2"],
                         ids=["list", "detail"])
async def test_a_conditional_request_runs_only_the_validator_until_the_data_changes(
        make_api: Callable[..., Any], small_db: Database, validator: str, path: str) -> None:
    api: Api = await make_api(REGISTRY.format(validator=validator), small_db.url,
                              small_db.backend)
    await _settled(api)
    first = await api.get(path)
    tag = first.headers["etag"]
    assert (first.status_code, first.headers["cache-control"]) == (200, CACHE_CONTROL)
    assert VALIDATED.match(tag)
    api.log.clear()

    again = await api.get(path, headers={"If-None-Match": tag})

    assert (again.status_code, again.content) == (304, b"")
    assert dict(again.headers) == {"etag": tag, "cache-control": CACHE_CONTROL,
                                   "x-request-id": again.headers["x-request-id"]}
    # The change signal (and a declared column's max): no page, no count.
    assert api.log.count == (2 if "column" in validator else 1)
    assert all(any(word in statement for word in SIGNAL_STATEMENTS)
               for statement in api.log.statements)

    await _insert_project(small_db.url)
    changed = await api.get(path, headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    assert changed.json() == (await api.get(path)).json()


@pytest.mark.parametrize("empty_db", ["sqlite"], indirect=True)
async def test_the_tag_varies_with_the_query(make_api: Callable[..., Any],
                                             small_db: Database) -> None:
    api: Api = await make_api(REGISTRY.format(validator="{column: id}"), small_db.url)
    tags = {path: (await api.get(path)).headers["etag"] for path in [
        "/api/v1/projects?size=3", "/api/v1/projects?size=3&page=2",
        "/api/v1/projects?namespace=packit&size=3", "/api/v1/projects/2"]}
    assert len(set(tags.values())) == 4
    # The same query in another order is the same request.
    reordered = await api.get("/api/v1/projects?page=2&size=3",
                              headers={"If-None-Match": tags["/api/v1/projects?size=3&page=2"]})
    assert reordered.status_code == 304


@pytest.mark.parametrize(("validator", "message"), [
    ("{column: create_at}", "registry.yaml:6: resources.projects.cache.validator.column: "
                            "git_projects has no column 'create_at' (did you mean "
                            "'created_at'?)"),
], ids=["unknown-column"])
async def test_a_validator_the_database_cannot_answer_is_a_startup_error(
        make_api: Callable[..., Any], tmp_path: Any, validator: str, message: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(RegistryError) as raised:
        await make_api(REGISTRY.format(validator=validator), url)
    assert [str(issue).removeprefix(f"{tmp_path}/") for issue in raised.value.issues] == [
        message]


@pytest.mark.parametrize(("cache", "message"), [
    ("{stale_while_revalidate: 5}", "stale_while_revalidate extends max_age: set max_age too"),
    ("{validator: {}}", "give one of column: NAME or statistics: true"),
    ("{validator: {column: id, statistics: true}}", "give one of column: NAME or statistics"),
], ids=["stale-without-max-age", "no-kind", "two-kinds"])
async def test_cache_keys_that_contradict_each_other_are_refused(
        make_api: Callable[..., Any], tmp_path: Any, cache: str, message: str) -> None:
    text = REGISTRY.format(validator="{column: id}").replace(
        "cache: {max_age: 60, stale_while_revalidate: 30, validator: {column: id}}",
        f"cache: {cache}")
    with pytest.raises(RegistryError) as raised:
        await make_api(text, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    assert message in str(raised.value.issues[0])
