"""Case-insensitive matching folds every letter, not only ASCII, on every database.

SQLite's own lower() folds A-Z alone, so ``search=zoë`` found ``zoë`` but not ``ZOË`` there
while PostgreSQL and MariaDB found both (issue 25, item 8). The SQLite backend now defines
lower() with Python's, so ``search`` and ``__ilike`` agree on the three databases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from conftest import BACKENDS, Database, create_database, drop_database
from sqlalchemy import text

from crud.sql.database import make_engine

REGISTRY = """\
resources:
  names:
    table: names
    fields: {id:, name:}
    filters: {name: [ilike]}
    search: [name]
    sort: [id]
"""
ROWS = [(1, "zoë"), (2, "ZOË"), (3, "Zoë Smith"), (4, "Ångström"), (5, "ÅNGSTRÖM"), (6, "plain")]


@pytest_asyncio.fixture(loop_scope="session")
async def names_db(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Database]:
    database = await create_database(request.param, tmp_path)
    writer = make_engine(database.url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.execute(text(
                "CREATE TABLE names (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)"))
            for key, name in ROWS:
                await connection.execute(text("INSERT INTO names VALUES (:id, :name)"),
                                         {"id": key, "name": name})
    finally:
        await writer.dispose()
    yield database
    await drop_database(database)


@pytest.mark.parametrize("names_db", BACKENDS, indirect=True)
@pytest.mark.parametrize(("query", "ids"), [
    ({"search": "zoë"}, [1, 2, 3]),
    ({"search": "ZOË"}, [1, 2, 3]),
    ({"name__ilike": "zoë"}, [1, 2, 3]),
    ({"name__ilike": "ångström"}, [4, 5]),
    ({"name__ilike": "ÅNG%"}, [4, 5]),
    ({"search": "PLAIN"}, [6]),
], ids=["search-lower", "search-upper", "ilike-contains", "ilike-ring", "ilike-pattern",
        "ascii"])
async def test_case_insensitive_matching_folds_every_letter(
        names_db: Database, make_api: Callable[..., Any], query: dict[str, str],
        ids: list[int]) -> None:
    api = await make_api(REGISTRY, names_db.url, names_db.backend)
    response = await api.get("/api/v1/names", params={**query, "order_by": "id"})
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == ids
