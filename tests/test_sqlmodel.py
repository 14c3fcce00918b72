"""SQLModel ``table=True`` models served like plain SQLAlchemy models, on all three databases.

SQLModel types ``str`` as ``AutoString`` and ``datetime`` as ``UTCDateTime`` (which refuses
naive values when bound): the registry recognises both, and filters, sorts, cursors and
exports on them behave as on ``String`` and ``DateTime(timezone=True)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from conftest import BACKENDS, Api, Database, create_database, drop_database
from sqlmodel_models import Ticket, rows

from crud.model.coltypes import type_info
from crud.sql.database import make_engine

REGISTRY = """\
resources:
  tickets:
    model: sqlmodel_models:Ticket
    fields: {id:, title:, state:, created:, closed:}
    filters: {title: [eq, startswith], state: [eq, in], created: [gte, lt], closed: [gte]}
    search: [title]
    sort: [id, created, closed, title]
    default_sort: [id]
"""


@pytest_asyncio.fixture(scope="module", params=BACKENDS, loop_scope="session")
async def tickets_db(request: pytest.FixtureRequest,
                     tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    database = await create_database(request.param, tmp_path_factory.mktemp("sqlmodel"))
    writer = make_engine(database.url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.run_sync(Ticket.metadata.create_all, tables=[Ticket.__table__])
            await connection.execute(Ticket.__table__.insert(), rows())
    finally:
        await writer.dispose()
    yield database
    await drop_database(database)


@pytest_asyncio.fixture(loop_scope="session")
async def api(tickets_db: Database, make_api: Callable[..., Any]) -> Api:
    served: Api = await make_api(REGISTRY, tickets_db.url, tickets_db.backend)
    return served


def test_sqlmodel_types_are_recognised() -> None:
    columns = Ticket.__table__.c  # type: ignore[attr-defined]
    kinds = {name: getattr(type_info(columns[name].type), "kind", None)
             for name in ("id", "title", "state", "created", "closed")}
    assert kinds == {"id": "integer", "title": "string", "state": "string",
                     "created": "datetime", "closed": "datetime"}


async def test_a_page_reads_strings_and_aware_datetimes(api: Api) -> None:
    response = await api.get("/api/v1/tickets?size=2")
    assert response.status_code == 200, response.text
    assert response.json()["items"] == [
        {"id": 1, "title": "ticket 01", "state": "open", "created": "2024-01-02T00:00:00+00:00",
         "closed": None},
        {"id": 2, "title": "ticket 02", "state": "open", "created": "2024-01-03T00:00:00+00:00",
         "closed": None}]


@pytest.mark.parametrize(("query", "ids"), [
    ("created__gte=2024-01-29", [28, 29, 30]),
    ("created__gte=2024-01-29T01:00:00%2B01:00", [28, 29, 30]),
    ("created__lt=2024-01-04&state=open", [1, 2]),
    ("title=ticket 07", [7]),
    ("title__startswith=ticket 1", list(range(10, 20))),
    ("state__in=closed&closed__gte=2024-02-21", [12, 15, 18, 21, 24, 27, 30]),
    ("search=ticket 2", list(range(20, 30))),
], ids=["datetime-gte", "datetime-offset", "datetime-lt", "string-eq", "string-startswith",
        "state-and-closed", "search"])
async def test_filters_on_sqlmodel_fields(api: Api, query: str, ids: list[int]) -> None:
    response = await api.get(f"/api/v1/tickets?{query}&size=100")
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == ids


@pytest.mark.parametrize(("order", "first"), [
    ("created", [1, 2, 3]), ("-created", [30, 29, 28]), ("title", [1, 2, 3]),
    ("-closed,id", None),  # where NULLs go is the backend's (see test_nulls_placement)
])
async def test_sorts_and_the_cursors_next_page(api: Api, order: str,
                                               first: list[int] | None) -> None:
    response = await api.get(f"/api/v1/tickets?order_by={order}&size=3")
    assert response.status_code == 200, response.text
    body = response.json()
    walked = [item["id"] for item in body["items"]]
    if first is not None:
        assert walked == first
    cursor = body["next"]
    while cursor is not None:
        page = await api.get(f"/api/v1/tickets?order_by={order}&size=3&cursor={cursor}")
        assert page.status_code == 200, page.text
        walked += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next"]
    offset_pages = await api.get(f"/api/v1/tickets?order_by={order}&size=100")
    assert walked == [item["id"] for item in offset_pages.json()["items"]]
    assert sorted(walked) == list(range(1, 31))


async def test_exports_render_datetimes_and_strings(api: Api) -> None:
    response = await api.get("/api/v1/tickets?format=csv&created__lt=2024-01-04&order_by=-id")
    assert response.status_code == 200, response.text
    assert response.text.splitlines() == [
        "id,title,state,created,closed",
        "2,ticket 02,open,2024-01-03T00:00:00+00:00,",
        "1,ticket 01,open,2024-01-02T00:00:00+00:00,"]
