"""Items written by the database are byte for byte the items orjson writes.

On PostgreSQL a detail's item and an NDJSON export's items come back as JSON texts
(``row_to_json``) for resources whose fields the database spells as orjson does, embedded
unparsed. List pages shape their items in Python on every database (cheaper in all: see
``build_endpoints``), which is what the texts are compared with here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from conftest import Database, create_database, drop_database
from json_rows_models import Base, Sample, rows

from crud.http.dispatch import ReadRoutes
from crud.http.endpoints import Endpoints
from crud.sql.database import make_engine
from crud.sql.pages import Pages
from crud.sql.statements import Statements

REGISTRY = """\
resources:
  samples:
    model: json_rows_models:Sample
    fields: {id:, text:, flag:, at:, at_zone:, day:, mood:, key:}
    sort: [id, at, mood]
"""


@pytest_asyncio.fixture(loop_scope="session")
async def samples_db(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Database]:
    database = await create_database(request.param, tmp_path)
    writer = make_engine(database.url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
            await connection.execute(Sample.__table__.insert(), rows())
    finally:
        await writer.dispose()
    yield database
    await drop_database(database)


def _endpoints(app: Any) -> Endpoints:
    table = next(m.kwargs["table"] for m in app.user_middleware if m.cls is ReadRoutes)
    endpoints: Endpoints = table.lists["samples"].__self__
    return endpoints


@pytest.mark.parametrize("samples_db", ["postgresql"], indirect=True)
@pytest.mark.parametrize("query", ["", "?order_by=-at&size=7", "?order_by=mood,-id&size=3&page=2"])
async def test_database_written_items_are_orjsons_bytes(
        samples_db: Database, make_api: Callable[..., Any], query: str) -> None:
    api = await make_api(REGISTRY, samples_db.url, samples_db.backend)
    endpoints = _endpoints(api.app)
    assert not endpoints.pages.statements.json_rows
    shaped = await api.get(f"/api/v1/samples{query}")

    resource, reader = endpoints.resource, endpoints.pages.reader
    endpoints.pages = Pages(resource, Statements(resource, reader.backend, json_rows=True),
                            reader, budget_ms=None)
    assert endpoints.pages.statements.json_rows
    written = await api.get(f"/api/v1/samples{query}")

    assert written.status_code == shaped.status_code == 200
    assert written.content == shaped.content
    assert written.headers.get("link") == shaped.headers.get("link")


@pytest.mark.parametrize("samples_db", ["postgresql"], indirect=True)
async def test_a_database_written_item_detail_is_orjsons_bytes(
        samples_db: Database, make_api: Callable[..., Any]) -> None:
    api = await make_api(REGISTRY, samples_db.url, samples_db.backend)
    endpoints = _endpoints(api.app)
    assert endpoints.pages.statements.detail_json(None)  # a detail's row: written
    written = [(await api.get(f"/api/v1/samples/{key}")).content for key in range(1, 21)]
    resource = endpoints.resource
    detail = Pages(resource, Statements(resource, endpoints.pages.reader.backend),
                   endpoints.pages.reader, budget_ms=None)
    pages = [await detail.one([key]) for key in range(1, 21)]
    assert all(page is not None and not page.json for page in pages)
    shaped = [endpoints.profile.renderer.item_body(
        endpoints.shaper.items(page)[0]) for page in pages]  # type: ignore[arg-type]
    assert written == shaped


@pytest.mark.parametrize("samples_db", ["sqlite", "mariadb", "postgresql"], indirect=True)
async def test_lists_shape_items_in_python(
        samples_db: Database, make_api: Callable[..., Any]) -> None:
    api = await make_api(REGISTRY, samples_db.url, samples_db.backend)
    assert not _endpoints(api.app).pages.statements.json_rows
    assert (await api.get("/api/v1/samples?size=20")).json()["total"] == 20
