"""Column types the sample databases showed failing (issue 25, item 5).

MariaDB's SET is served as the database's own text (members in declaration order, '' for
none) in JSON, CSV and NDJSON alike, and ``crud init`` writes it as a field; a YEAR it
leaves out with the hint that ``type: integer`` serves it, and so declared it serves.
A CHAR(n) value is served without its pad on every database (PostgreSQL pads it, MariaDB
strips it, SQLite keeps what was written), and filters, search, sorting and cursors see
that same value, in reflection mode and model mode alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from coltype_models import CODES, Code, CodeBase, Vintage, VintageBase
from conftest import (
    BACKENDS,
    Api,
    Database,
    assert_sqlite_plans_use,
    create_database,
    drop_database,
)
from sqlalchemy import text
from test_cli import crud

from crud.app import load
from crud.sql.database import make_engine
from crud.sql.indexes import index_advice

TABLES = {
    "mariadb": ["CREATE TABLE ct (id INT PRIMARY KEY, tags SET('b','a','c') NOT NULL, "
                "yr YEAR, code VARCHAR(5))",
                "INSERT INTO ct VALUES (1, 'a,b', 2024, 'ab'), (2, '', 1999, 'x')"],
}
REGISTRY = ("resources:\n  ct:\n    table: ct\n    fields:\n      id:\n      code:\n"
            "      tags:\n    filters: {code: [eq], tags: [eq]}\n")


async def _load(database: Database) -> None:
    writer = make_engine(database.url, read_only=False)
    async with writer.begin() as connection:
        for statement in TABLES[database.backend]:
            await connection.execute(text(statement))
    await writer.dispose()


@pytest.mark.parametrize("empty_db", ["mariadb"], indirect=True)
async def test_a_set_column_is_served_as_its_text_in_every_format(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    await _load(empty_db)
    api = await make_api(REGISTRY, empty_db.url, empty_db.backend)
    expected = [{"id": 1, "code": "ab", "tags": "b,a"}, {"id": 2, "code": "x", "tags": ""}]
    listed = await api.get("/api/v1/ct")
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == expected
    detail = await api.get("/api/v1/ct/1")
    assert detail.json() == expected[0]
    filtered = await api.get("/api/v1/ct", params={"code": "ab"})
    assert filtered.json()["items"] == expected[:1]
    ndjson = await api.get("/api/v1/ct", params={"format": "ndjson"})
    assert ndjson.status_code == 200, ndjson.text
    assert [orjson.loads(line) for line in ndjson.text.splitlines()] == expected
    csv = await api.get("/api/v1/ct", params={"format": "csv"})
    rows = csv.text.splitlines()
    assert rows[0].split(",")[:2] == ["id", "code"]
    assert rows[1].startswith("1,ab")
    assert rows[1:] == ['1,ab,"b,a"', "2,x,"]
    by_set = await api.get("/api/v1/ct", params={"tags": "b,a"})
    assert by_set.json()["items"] == expected[:1]


@pytest.mark.parametrize("empty_db", ["mariadb"], indirect=True)
async def test_crud_init_serves_set_and_hints_year(empty_db: Database, tmp_path: Path) -> None:
    await _load(empty_db)
    output = tmp_path / "registry.yaml"
    result = crud("init", "--database-url", empty_db.url, "-o", str(output), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = output.read_text(encoding="utf-8")
    field_lines = [line.strip() for line in written.splitlines()
                   if line.strip().lstrip("# ").startswith(("tags", "yr"))]
    assert field_lines[0].startswith("tags:")
    assert field_lines[1].startswith("# yr:")
    assert "serve it with 'type: integer'" in field_lines[1]


@pytest.mark.parametrize("empty_db", ["mariadb"], indirect=True)
async def test_crud_inits_starter_serves_and_its_year_hint_works(
        empty_db: Database, tmp_path: Path, make_api: Callable[..., Any]) -> None:
    await _load(empty_db)
    output = tmp_path / "starter.yaml"
    result = crud("init", "--database-url", empty_db.url, "-o", str(output), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    starter = output.read_text(encoding="utf-8")
    api = await make_api(starter, empty_db.url, empty_db.backend)
    listed = await api.get("/api/v1/ct")
    assert listed.status_code == 200, listed.text
    assert [(item["id"], item["tags"]) for item in listed.json()["items"]] == [(1, "b,a"), (2, "")]
    # Following the hint: the commented-out YEAR, uncommented with 'type: integer'.
    [hinted] = [line for line in starter.splitlines() if line.lstrip().startswith("# yr:")]
    indent = hinted[:len(hinted) - len(hinted.lstrip())]
    followed = starter.replace(hinted, f"{indent}yr: {{type: integer}}")
    api = await make_api(followed, empty_db.url, empty_db.backend)
    listed = await api.get("/api/v1/ct")
    assert listed.status_code == 200, listed.text
    assert [(item["id"], item["yr"]) for item in listed.json()["items"]] == [(1, 2024), (2, 1999)]


# -- MariaDB's YEAR, declared 'type: integer' ---------------------------------------------

YEARS = """\
resources:
  vintages:
    {source}
    fields: {{id:, yr: {{type: integer}}}}
    filters: {{yr: [eq, gte, in, isnull]}}
    sort: [yr, id]
"""
async def _create_and_fill(url: str, base: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """The tables of ``base`` created in the database at ``url``, ``rows`` put in ``table``."""
    writer = make_engine(url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.run_sync(base.metadata.create_all)
            await connection.execute(table.insert(), rows)
    finally:
        await writer.dispose()


SOURCES = {"table": "table: ct_vintages", "model": "model: coltype_models:Vintage"}


@pytest.mark.parametrize("mode", list(SOURCES))
@pytest.mark.parametrize("empty_db", ["mariadb"], indirect=True)
async def test_a_year_declared_integer_lists_filters_and_sorts(
        empty_db: Database, make_api: Callable[..., Any], mode: str) -> None:
    await _create_and_fill(empty_db.url, VintageBase, Vintage.__table__, [
        {"id": 1, "yr": 2024}, {"id": 2, "yr": 1999}, {"id": 3, "yr": None},
        {"id": 4, "yr": 2001}])
    api = await make_api(YEARS.format(source=SOURCES[mode]), empty_db.url, empty_db.backend)
    listed = await api.get("/api/v1/vintages")
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == [{"id": 1, "yr": 2024}, {"id": 2, "yr": 1999},
                                      {"id": 3, "yr": None}, {"id": 4, "yr": 2001}]
    detail = await api.get("/api/v1/vintages/2")
    assert (detail.status_code, detail.json()) == (200, {"id": 2, "yr": 1999})
    for query, ids in [("yr=2024", [1]), ("yr__gte=2000", [1, 4]), ("yr__in=1999,2001", [2, 4]),
                       ("yr__isnull=true", [3]), ("order_by=yr", [2, 4, 1, 3]),
                       ("order_by=-yr", [3, 1, 4, 2])]:
        response = await api.get(f"/api/v1/vintages?{query}")
        assert response.status_code == 200, (query, response.text)
        assert [item["id"] for item in response.json()["items"]] == ids, query
    walked, cursor = [], ""
    while cursor is not None:
        page = await api.get(f"/api/v1/vintages?order_by=-yr&size=1{cursor}")
        assert page.status_code == 200, page.text
        walked += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next"] and f"&cursor={page.json()['next']}"
    assert walked == [3, 1, 4, 2]



PATHS = """\
resources:
  tastings:
    table: ct_tastings
    fields: {id:, vintage: {source: ct_cellars.yr, type: integer}}
    filters: {vintage: [eq, gte]}
    sort: [vintage, id]
  cellars:
    table: ct_cellars
    fields: {id:, years: {source: ct_tastings_collection.yr, type: integer}}
    filters: {years: [eq]}
"""


@pytest.mark.parametrize("empty_db", ["mariadb"], indirect=True)
async def test_a_year_declared_integer_through_to_one_and_to_many_paths(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    writer = make_engine(empty_db.url, read_only=False)
    async with writer.begin() as connection:
        for statement in [
                "CREATE TABLE ct_cellars (id INT PRIMARY KEY, yr YEAR)",
                "CREATE TABLE ct_tastings (id INT PRIMARY KEY, yr YEAR, cellar_id INT, "
                "FOREIGN KEY (cellar_id) REFERENCES ct_cellars(id))",
                "INSERT INTO ct_cellars VALUES (1, 2024), (2, 1999)",
                "INSERT INTO ct_tastings VALUES (1, 2010, 1), (2, 2011, 2), (3, 2012, 2), "
                "(4, 2013, NULL)"]:
            await connection.execute(text(statement))
    await writer.dispose()
    api = await make_api(PATHS, empty_db.url, empty_db.backend)
    for query, expected in [
            ("", [(1, 2024), (2, 1999), (3, 1999), (4, None)]), ("vintage=2024", [(1, 2024)]),
            ("vintage__gte=2000", [(1, 2024)]),
            ("order_by=-vintage,id", [(4, None), (1, 2024), (2, 1999), (3, 1999)])]:
        response = await api.get(f"/api/v1/tastings?{query}")
        assert response.status_code == 200, (query, response.text)
        assert [(item["id"], item["vintage"]) for item in response.json()["items"]] == expected
    cellars = await api.get("/api/v1/cellars?years=2011")
    assert cellars.status_code == 200, cellars.text
    assert cellars.json()["items"] == [{"id": 2, "years": [2011, 2012]}]

# -- CHAR(n): one value on every database ---------------------------------------------------

CHARS = """\
resources:
  codes:
    {source}
    fields: {{id:, code:, note:}}
    filters: {{code: [eq, in, like, ilike, startswith]}}
    search: [code]
    sort: [code, id]
"""
CHAR_SOURCES = {"table": "table: ct_codes", "model": "model: coltype_models:Code"}
TRIMMED = {1: "ab", 2: "abc", 3: "b a", 4: "a"}


@pytest_asyncio.fixture(scope="module", params=BACKENDS, loop_scope="session")
async def codes_db(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    database = await create_database(request.param, tmp_path_factory.mktemp("codes"))
    await _create_and_fill(database.url, CodeBase, Code.__table__, CODES)
    yield database
    await drop_database(database)


@pytest_asyncio.fixture(params=list(CHAR_SOURCES), loop_scope="session")
async def codes(request: pytest.FixtureRequest, codes_db: Database,
                make_api: Callable[..., Any]) -> Api:
    registry = CHARS.format(source=CHAR_SOURCES[request.param])
    served: Api = await make_api(registry, codes_db.url, codes_db.backend)
    return served


async def test_char_values_are_served_without_their_pad(codes: Api) -> None:
    expected = [{"id": key, "code": value, "note": CODES[key - 1]["note"]}
                for key, value in TRIMMED.items()]
    listed = await codes.get("/api/v1/codes")
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == expected
    detail = await codes.get("/api/v1/codes/1")
    assert detail.json() == expected[0]
    picked = await codes.get("/api/v1/codes?fields=code")
    assert [item["code"] for item in picked.json()["items"]] == list(TRIMMED.values())
    ndjson = await codes.get("/api/v1/codes?format=ndjson")
    assert [orjson.loads(line) for line in ndjson.text.splitlines()] == expected
    csv = await codes.get("/api/v1/codes?format=csv")
    assert csv.text.splitlines() == ["id,code,note", "1,ab,padded", "2,abc,full", "3,b a,inner",
                                     "4,a,one"]


@pytest.mark.parametrize(("query", "ids"), [
    ("code=ab", [1]),
    ("code=a", [4]),
    ("code=ab%20%20", [1]),
    ("code__in=ab,b a", [1, 3]),
    ("code__like=%b", [1]),
    ("code__ilike=%A", [3, 4]),
    ("code__startswith=a ", []),
    ("code__startswith=ab", [1, 2]),
    ("search=b ", [3]),
], ids=["eq", "eq-short", "eq-spaces", "in", "like-end", "ilike-end", "startswith-pad", "startswith",
        "search-pad"])
async def test_char_filters_see_the_value_without_its_pad(codes: Api, query: str,
                                                          ids: list[int]) -> None:
    response = await codes.get(f"/api/v1/codes?{query}")
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == ids


@pytest.mark.parametrize(("order", "ids"), [("code", [4, 1, 2, 3]), ("-code", [3, 2, 1, 4])])
async def test_char_sorts_and_cursors_by_the_value_without_its_pad(
        codes: Api, order: str, ids: list[int]) -> None:
    listed = await codes.get(f"/api/v1/codes?order_by={order}")
    assert [item["id"] for item in listed.json()["items"]] == ids
    walked, cursor = [], ""
    while cursor is not None:
        page = await codes.get(f"/api/v1/codes?order_by={order}&size=1{cursor}")
        assert page.status_code == 200, page.text
        walked += [(item["id"], item["code"]) for item in page.json()["items"]]
        cursor = page.json()["next"] and f"&cursor={page.json()['next']}"
    assert walked == [(key, TRIMMED[key]) for key in ids]


@pytest.mark.parametrize("empty_db", ["sqlite"], indirect=True)
async def test_sqlite_char_comparisons_use_the_index_crud_check_advises(
        empty_db: Database, make_api: Callable[..., Any], tmp_path: Path) -> None:
    await _create_and_fill(empty_db.url, CodeBase, Code.__table__, CODES)
    registry = CHARS.format(source=CHAR_SOURCES["table"])
    path = tmp_path / "codes.yaml"
    path.write_text(registry, encoding="utf-8")
    loaded = await load(path, empty_db.url)
    [advice] = await index_advice(loaded.resources, empty_db.url, path="codes.yaml", min_rows=1)
    assert (advice.key, advice.expression) == ("resources.codes.sort.0", True)
    writer = make_engine(empty_db.url, read_only=False)
    async with writer.begin() as connection:
        await connection.execute(text(advice.statement))
    await writer.dispose()
    assert await index_advice(loaded.resources, empty_db.url, path="codes.yaml", min_rows=1) == []
    api = await make_api(registry, empty_db.url, empty_db.backend)
    sent: list[tuple[str, list[Any]]] = []
    api.app.state.reader.listeners.append(lambda sql, arguments: sent.append((sql, arguments)))
    first = await api.get("/api/v1/codes", params={"order_by": "code", "size": 2, "count": "none"})
    await api.get("/api/v1/codes", params={"order_by": "code", "size": 2, "count": "none",
                                           "cursor": first.json()["next"]})
    await api.get("/api/v1/codes", params={"code": "ab", "count": "none"})
    assert_sqlite_plans_use(empty_db.url, sent, "ix_ct_codes_code")
