"""Exports: ``format=csv|ndjson`` streams every selected row, in order, chunk by chunk.

Checked against direct SQL on every backend over ``ex_notes`` (tests/export_models.py):
text with commas, quotes, newlines and a leading '#', NULLs, ties, a nested object and a
to-many list. Also: the row cap's markers, statements per chunk, budgets per chunk,
negotiation, refused paging parameters and the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
import uvicorn
from conftest import BACKENDS, ROOT, Api, Database, create_database, drop_database
from export_models import Base, rows
from readings import READINGS, registry, serve
from served import free_port
from sqlalchemy import text

from crud.config.registry import ExportSpec, RegistryError, parse_registry
from crud.http.exporting import ExportInterrupted
from crud.http.formats.csvrows import CsvRenderer
from crud.sql.database import make_engine

NOTES = "/api/v1/notes"
COLUMNS = ["id", "title", "rank", "author.name", "tags"]


def notes_registry(export: str = "{chunk_rows: 4}", api: str = "") -> str:
    return f"""\
api:
  page_size: 5
  max_page_size: 10
{api}
resources:
  notes:
    model: export_models:Note
    fields:
      id:
      title:
      rank:
      author: {{fields: {{name: author.name}}}}
      tags: {{source: tags.name}}
    filters: {{rank: [gte, isnull], title: [isnull]}}
    search: [title]
    sort: [rank, title]
    default_sort: [id]
    export: {export}
"""


@pytest_asyncio.fixture(scope="session", params=BACKENDS, loop_scope="session")
async def notes_db(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    database = await create_database(request.param, tmp_path_factory.mktemp("notes"))
    writer = make_engine(database.url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
            for table, values in rows().items():
                await connection.execute(Base.metadata.tables[table].insert(), values)
    finally:
        await writer.dispose()
    yield database
    await drop_database(database)


async def notes_api(make_api: Callable[..., Any], database: Database, **kwargs: Any) -> Api:
    api: Api = await make_api(notes_registry(**kwargs), database.url, database.backend)
    return api


# -- the oracle: direct SQL ---------------------------------------------------------------

# Each case: the API's query, and the same selection and order in SQL (NULLs last
# ascending, first descending, as the API documents; the primary key breaks ties).
CASES = [
    pytest.param({}, "1 = 1", "n.id", id="everything"),
    pytest.param({"rank__gte": "1", "order_by": "-rank,title"}, "n.rank >= 1",
                 "n.rank DESC, (n.title IS NULL), n.title, n.id", id="filtered-sorted"),
    pytest.param({"order_by": "-rank"}, "1 = 1",
                 "(n.rank IS NULL) DESC, n.rank DESC, n.id", id="nulls-first-descending"),
    pytest.param({"search": "e", "order_by": "title"}, "LOWER(n.title) LIKE '%e%'",
                 "(n.title IS NULL), n.title, n.id", id="search"),
    pytest.param({"rank__isnull": "true"}, "n.rank IS NULL", "n.id", id="only-nulls"),
    pytest.param({"rank__gte": "9"}, "n.rank >= 9", "n.id", id="nothing"),
]


async def expected_items(api: Api, where: str, order: str) -> list[dict[str, Any]]:
    async with api.engine.connect() as connection:
        found = (await connection.execute(text(
            "SELECT n.id, n.title, n.rank, a.name FROM ex_notes n "
            f"LEFT JOIN ex_authors a ON a.id = n.author_id WHERE {where} ORDER BY {order}"))).all()
        tags = (await connection.execute(text(
            "SELECT note_id, name FROM ex_tags ORDER BY note_id, id"))).all()
    by_note: dict[int, list[str]] = {}
    for note_id, name in tags:
        by_note.setdefault(note_id, []).append(name)
    return [{"id": id_, "title": title, "rank": rank, "author": {"name": name},
             "tags": by_note.get(id_, [])} for id_, title, rank, name in found]


def csv_row(item: dict[str, Any]) -> list[str]:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, list):
            return orjson.dumps(value).decode()
        return str(value)

    return [cell(item["id"]), cell(item["title"]), cell(item["rank"]),
            cell(item["author"]["name"]), cell(item["tags"])]


@pytest.mark.parametrize(("params", "where", "order"), CASES)
async def test_ndjson_is_every_row_direct_sql_returns_in_order(
        notes_db: Database, make_api: Callable[..., Any], params: dict[str, str], where: str,
        order: str) -> None:
    api = await notes_api(make_api, notes_db)
    response = await api.get(NOTES, params={**params, "format": "ndjson"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["content-disposition"] == 'attachment; filename="notes.ndjson"'
    assert response.headers["export-max-rows"] == "1000000"
    lines = response.content.split(b"\n")
    assert lines[-1] == b""
    assert [orjson.loads(line) for line in lines[:-1]] == await expected_items(api, where, order)


@pytest.mark.parametrize(("params", "where", "order"), CASES)
async def test_csv_is_every_row_direct_sql_returns_in_order(
        notes_db: Database, make_api: Callable[..., Any], params: dict[str, str], where: str,
        order: str) -> None:
    api = await notes_api(make_api, notes_db)
    response = await api.get(NOTES, params={**params, "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert response.headers["content-disposition"] == 'attachment; filename="notes.csv"'
    parsed = list(csv.reader(io.StringIO(response.content.decode(), newline="")))
    expected = await expected_items(api, where, order)
    assert parsed == [COLUMNS, *(csv_row(item) for item in expected)]


async def test_ndjson_items_are_the_json_lists_items(
        notes_db: Database, make_api: Callable[..., Any]) -> None:
    api = await notes_api(make_api, notes_db)
    pages = [await api.get(NOTES, params={"page": page, "size": 10}) for page in range(1, 6)]
    listed = [item for page in pages for item in page.json()["items"]]
    exported = await api.get(NOTES, params={"format": "ndjson"})
    assert [orjson.loads(line) for line in exported.content.splitlines()] == listed


@pytest.mark.parametrize("params", [
    pytest.param({}, id="default-order"),
    pytest.param({"status__in": "success,failure", "order_by": "-build_submitted_time"},
                 id="filtered-sorted"),
    pytest.param({"order_by": "repo_namespace", "search": "a"}, id="join-sort-search"),
])
async def test_demo_ndjson_equals_the_json_list_walked_by_cursor(
        demo_api: Api, params: dict[str, str]) -> None:
    # koji-builds: the derived join's fields, written by PostgreSQL as JSON rows.
    path = "/api/v1/koji-builds"
    pages = [await demo_api.get(path, params={**params, "size": 100, "count": "none"})]
    while (cursor := pages[-1].json()["next"]) is not None:
        pages.append(await demo_api.get(path, params={**params, "size": 100, "count": "none",
                                                      "cursor": cursor}))
    listed = [item for page in pages for item in page.json()["items"]]
    exported = await demo_api.get(path, params={**params, "format": "ndjson"})
    assert exported.content.count(b"\n") == len(listed) > 0
    assert [orjson.loads(line) for line in exported.content.splitlines()] == listed
    table = await demo_api.get(path, params={**params, "format": "csv"})
    parsed = list(csv.DictReader(io.StringIO(table.content.decode(), newline="")))
    assert [row["packit_id"] for row in parsed] == [str(item["packit_id"]) for item in listed]
    assert [row["build_submitted_time"] for row in parsed] == [
        item["build_submitted_time"] or "" for item in listed]


async def test_an_export_takes_the_fields_a_list_would(demo_api: Api) -> None:
    # fields= shapes the exported items as it shapes a page's: the same items, fewer columns.
    path = "/api/v1/koji-builds"
    params = {"status": "success", "order_by": "-packit_id", "fields": "packit_id,pr_id,status"}
    listed = (await demo_api.get(path, params={**params, "size": 100})).json()["items"]
    exported = await demo_api.get(path, params={**params, "format": "ndjson"})
    lines = [orjson.loads(line) for line in exported.content.splitlines()]
    assert lines[:100] == listed
    assert all(list(item) == ["packit_id", "status", "pr_id"] for item in lines)
    table = await demo_api.get(path, params={**params, "format": "csv"})
    rows = list(csv.reader(io.StringIO(table.content.decode(), newline="")))
    assert rows[0] == ["packit_id", "status", "pr_id"]
    assert [row[0] for row in rows[1:]] == [str(item["packit_id"]) for item in lines]


async def test_csv_quotes_commas_quotes_and_newlines_as_rfc_4180_says(
        notes_db: Database, make_api: Callable[..., Any]) -> None:
    api = await notes_api(make_api, notes_db)
    response = await api.get(NOTES, params={"format": "csv", "search": "mix"})
    assert response.content.decode() == (
        "id,title,rank,author.name,tags\r\n"
        '11,"mix, ""all""\nof it",3,"Bo\nLines","[""x,y"",""q\\""""]"\r\n'
        '25,"mix, ""all""\nof it",1,,"[""x,y""]"\r\n'
        '39,"mix, ""all""\nof it",3,"Ann ""A"", Jr.",[]\r\n')


def test_a_first_cell_starting_with_hash_is_quoted_so_only_the_marker_is_bare() -> None:
    renderer = CsvRenderer.for_columns([("a",), ("b",)])
    assert renderer.chunk([{"a": "#x", "b": "#y"}, {"a": "", "b": None},
                           {"a": '#"q"', "b": 1}]) == b'"#x",#y\r\n,\r\n"#""q""",1\r\n'
    assert renderer.truncated(5) == (
        b"# truncated: more rows match than this export's limit of 5; narrow the filters\r\n")


# -- the row cap ---------------------------------------------------------------------------


@pytest.mark.parametrize(("export", "params", "rows_sent", "truncated"), [
    pytest.param("{max_rows: 7, chunk_rows: 4}", {}, 7, True, id="cut"),
    pytest.param("{max_rows: 8, chunk_rows: 4}", {}, 8, True, id="cut-at-a-chunk-end"),
    pytest.param("{max_rows: 7, chunk_rows: 4}", {"rank__isnull": "true"}, 6, False,
                 id="under-the-cap"),
    pytest.param("{max_rows: 6, chunk_rows: 4}", {"rank__isnull": "true"}, 6, False,
                 id="exactly-the-cap"),
])
@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
async def test_over_the_cap_the_stream_ends_with_a_marker(
        notes_db: Database, make_api: Callable[..., Any], export: str, params: dict[str, str],
        rows_sent: int, truncated: bool, fmt: str) -> None:
    api = await notes_api(make_api, notes_db, export=export)
    response = await api.get(NOTES, params={**params, "format": fmt})
    cap = export.split(",")[0].removeprefix("{max_rows: ")
    assert response.headers["export-max-rows"] == cap
    lines = response.content.decode().splitlines() if fmt == "ndjson" else list(
        csv.reader(io.StringIO(response.content.decode(), newline="")))
    data = lines if fmt == "ndjson" else lines[1:]
    marker = ({"_truncated": True, "max_rows": int(cap)} if fmt == "ndjson" else
              [f"# truncated: more rows match than this export's limit of {cap}; "
               "narrow the filters"])
    if truncated:
        assert len(data) == rows_sent + 1
        assert (orjson.loads(data[-1]) if fmt == "ndjson" else data[-1]) == marker
    else:
        assert len(data) == rows_sent


async def test_the_api_default_cap_applies_and_export_false_removes_the_parameter(
        notes_db: Database, make_api: Callable[..., Any]) -> None:
    api = await notes_api(make_api, notes_db, export="{chunk_rows: 10}",
                          api="  export: {max_rows: 3}")
    response = await api.get(NOTES, params={"format": "ndjson"})
    assert response.headers["export-max-rows"] == "3"
    assert response.content.splitlines()[-1] == b'{"_truncated":true,"max_rows":3}'
    off = await notes_api(make_api, notes_db, export="false")
    refused = await off.get(NOTES, params={"format": "csv"})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["parameter"] == "format"
    # Accept alone never fails: without exports the list is JSON, as before.
    assert (await off.get(NOTES, headers={"Accept": "text/csv"})).headers[
        "content-type"] == "application/json"


# -- chunks: statements and budgets --------------------------------------------------------


@pytest.mark.parametrize(("params", "matched"), [
    pytest.param({}, 41, id="everything"),
    pytest.param({"rank__gte": "1", "order_by": "-rank,title"}, 28, id="filtered-sorted"),
    pytest.param({"rank__gte": "9"}, 0, id="nothing"),
])
@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
async def test_an_export_costs_two_statements_per_chunk(
        notes_db: Database, make_api: Callable[..., Any], params: dict[str, str], matched: int,
        fmt: str) -> None:
    api = await notes_api(make_api, notes_db)  # 4 rows per chunk
    api.log.clear()
    response = await api.get(NOTES, params={**params, "format": fmt})
    assert response.status_code == 200
    # A chunk statement per 4 rows (a last short or empty one tells the end), and one
    # statement for the tags of each chunk that has rows: never one per row.
    assert api.log.count == (matched // 4 + 1) + -(-matched // 4)


async def test_the_budget_holds_per_chunk_not_per_export(
        readings_db: Database, make_api: Callable[..., Any]) -> None:
    # 20 ms per row, a 300 ms budget: a 20-row page is over it, 5-row chunks are not,
    # though the whole export (61 rows) takes four times the budget.
    api = await serve(make_api, readings_db, registry(
        "    statement_timeout_ms: 300\n    export: {chunk_rows: 5}", slow="slow_20ms"))
    assert (await api.get("/api/v1/slow-readings", params={"size": 20})).status_code == 503
    api.log.clear()
    response = await api.get("/api/v1/slow-readings", params={"format": "ndjson"})
    assert response.status_code == 200
    assert [orjson.loads(line)["id"] for line in response.content.splitlines()] == list(
        range(1, 62))
    assert api.log.count == 13


async def test_a_first_chunk_over_the_budget_is_a_503_problem(
        readings_db: Database, make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry(
        "    statement_timeout_ms: 300\n    export: {chunk_rows: 30}", slow="slow_20ms"))
    response = await api.get("/api/v1/slow-readings", params={"format": "csv"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == ("The query took longer than this API allows; narrow "
                                         "it with filters or a smaller page.")


@pytest.mark.parametrize(("fmt", "last"), [
    ("ndjson", b'{"_failed":true,"detail":"after 30 rows, a chunk took longer than this API '
               b'allows; the export is incomplete (narrow it with filters)"}\n'),
    ("csv", b"# failed: after 30 rows, a chunk took longer than this API allows; the export "
            b"is incomplete (narrow it with filters)\r\n"),
])
async def test_a_later_chunk_over_the_budget_ends_the_body_with_a_failure_and_aborts(
        readings_db: Database, make_api: Callable[..., Any], fmt: str, last: bytes) -> None:
    # Rows after id 30 sleep 200 ms each: the fourth 10-row chunk runs out of its 300 ms.
    api = await serve(make_api, readings_db, registry(
        "    statement_timeout_ms: 300\n    export: {chunk_rows: 10}", slow="slow_after_30"))
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/api/v1/slow-readings", params={"format": fmt})
    assert response.status_code == 200  # sent with the first chunk, before the failure
    lines = response.content.splitlines(keepends=True)
    assert len(lines) == 30 + (fmt == "csv") + 1
    assert lines[-1] == last
    with pytest.raises(ExportInterrupted):  # what drops the connection under a server
        await api.get("/api/v1/slow-readings", params={"format": fmt})


# -- negotiation and refused parameters ----------------------------------------------------


@pytest.mark.parametrize(("params", "accept", "content_type"), [
    pytest.param({}, "text/csv", "text/csv; charset=utf-8; header=present", id="accept-csv"),
    pytest.param({}, "application/x-ndjson", "application/x-ndjson", id="accept-ndjson"),
    pytest.param({}, "application/json;q=0.5, text/csv", "text/csv; charset=utf-8; header=present",
                 id="csv-preferred"),
    pytest.param({}, "text/csv, application/json", "application/json", id="tie-keeps-json"),
    pytest.param({}, "text/html,*/*;q=0.8", "application/json", id="browser"),
    pytest.param({}, "text/csv;q=0", "application/json", id="csv-refused"),
    pytest.param({"format": "ndjson"}, "text/csv", "application/x-ndjson", id="format-wins"),
    pytest.param({"format": "json"}, "text/csv", "application/json", id="format-json-wins"),
])
@pytest.mark.parametrize("notes_db", ["sqlite"], indirect=True)
async def test_accept_negotiates_and_format_wins(
        notes_db: Database, make_api: Callable[..., Any], params: dict[str, str], accept: str,
        content_type: str) -> None:
    api = await notes_api(make_api, notes_db)
    response = await api.get(NOTES, params=params, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["vary"] == "Accept"


@pytest.mark.parametrize(("params", "headers", "named"), [
    pytest.param({"page": "2"}, {}, ["page"], id="page"),
    pytest.param({"size": "3"}, {}, ["size"], id="size"),
    pytest.param({"cursor": "x"}, {}, ["cursor"], id="cursor"),
    pytest.param({}, {"Range": "notes=0-4"}, ["Range"], id="range"),
    pytest.param({"page": "3", "size": "3"}, {}, ["page", "size"], id="both"),
])
@pytest.mark.parametrize("notes_db", ["sqlite"], indirect=True)
async def test_paging_parameters_with_an_export_are_400(
        notes_db: Database, make_api: Callable[..., Any], params: dict[str, str],
        headers: dict[str, str], named: list[str]) -> None:
    api = await notes_api(make_api, notes_db)
    response = await api.get(NOTES, params={"format": "csv", **params}, headers=headers)
    assert response.status_code == 400
    reason = ("an export (csv) streams every selected row; page, size, cursor and Range do "
              "not apply (narrow it with filters)")
    body = response.json()
    assert body["detail"] == f"{', '.join(named)}: {reason}. The export without them: ?format=csv"
    assert body["errors"] == [{"parameter": name, "message": reason} for name in named]


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_facets_with_an_export_are_400_not_dropped(demo_api: Api) -> None:
    response = await demo_api.get("/api/v1/koji-builds", params={
        "format": "ndjson", "facet": "status", "facet_size": "3", "page": "2"})
    assert response.status_code == 400
    paging = ("an export (ndjson) streams every selected row; page, size, cursor and Range do "
              "not apply (narrow it with filters)")
    facets = ("facets are counted beside a JSON page; an export (ndjson) has no place for "
              "them (ask for them without format)")
    body = response.json()
    assert body["detail"] == (f"page: {paging}; facet, facet_size: {facets}. The export "
                              "without them: ?format=ndjson")
    assert body["errors"] == [{"parameter": "page", "message": paging},
                              {"parameter": "facet", "message": facets},
                              {"parameter": "facet_size", "message": facets}]


@pytest.mark.parametrize("notes_db", ["sqlite"], indirect=True)
async def test_a_docs_forms_default_page_and_size_are_harmless(
        notes_db: Database, make_api: Callable[..., Any]) -> None:
    api = await notes_api(make_api, notes_db)
    response = await api.get(NOTES, params={"format": "ndjson", "page": "1", "size": "5"})
    assert response.status_code == 200
    assert len(response.content.splitlines()) == 41


@pytest.mark.parametrize("notes_db", ["sqlite"], indirect=True)
async def test_an_unknown_format_is_422(notes_db: Database, make_api: Callable[..., Any]) -> None:
    api = await notes_api(make_api, notes_db)
    response = await api.get(NOTES, params={"format": "xml"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"parameter": "format", "message": "expected one of json, csv, ndjson, got 'xml'"}]


@pytest.mark.parametrize("notes_db", ["sqlite"], indirect=True)
async def test_head_of_an_export_sends_its_headers_and_reads_nothing(
        notes_db: Database, make_api: Callable[..., Any]) -> None:
    api = await notes_api(make_api, notes_db)
    api.log.clear()
    response = await api.client.head(NOTES, params={"format": "csv"})
    assert response.status_code == 200
    assert {key: response.headers[key] for key in
            ("content-type", "content-disposition", "export-max-rows", "vary")} == {
        "content-type": "text/csv; charset=utf-8; header=present",
        "content-disposition": 'attachment; filename="notes.csv"',
        "export-max-rows": "1000000", "vary": "Accept"}
    assert response.content == b""
    assert api.log.count == 0


# -- the registry and the docs ------------------------------------------------------------


@pytest.mark.parametrize(("export", "message"), [
    ("{max_rows: 0}", "resources.notes.export.max_rows: Input should be greater than or equal "
                      "to 1"),
    ("{chunk_rows: 50001}", "resources.notes.export.chunk_rows: Input should be less than or "
                            "equal to 50000"),
    ("{max_row: 5}", "resources.notes.export.max_row: unknown key 'max_row'"),
])
def test_export_settings_are_checked_when_the_registry_loads(export: str, message: str) -> None:
    with pytest.raises(RegistryError) as raised:
        parse_registry(notes_registry(export=export))
    assert str(raised.value) == f"registry.yaml:18: {message}"


def test_docs_describe_every_export_key() -> None:
    text_ = (ROOT / "docs" / "exports.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in text_ for name in ExportSpec.model_fields)


# -- the OpenAPI document ------------------------------------------------------------------


@pytest.mark.parametrize("notes_db", ["sqlite"], indirect=True)
async def test_openapi_documents_the_formats(notes_db: Database,
                                             make_api: Callable[..., Any]) -> None:
    api = await notes_api(make_api, notes_db)
    operation = api.app.openapi()["paths"][NOTES]["get"]
    ok = operation["responses"]["200"]
    # The same URL also streams its changes (docs/live.md).
    assert sorted(ok["content"]) == ["application/json", "application/x-ndjson", "text/csv",
                                     "text/event-stream"]
    assert ok["content"]["text/csv"]["schema"]["type"] == "string"
    assert {"Content-Disposition", "Export-Max-Rows"} <= set(ok["headers"])
    [parameter] = [p for p in operation["parameters"] if p["name"] == "format"]
    assert parameter["schema"] == {"type": "string", "enum": ["json", "csv", "ndjson"],
                                   "default": "json"}
    assert "Accept" not in {p["name"] for p in operation["parameters"]}


async def test_readings_export_keeps_ties_and_nulls_in_the_list_order(
        readings_db: Database, make_api: Callable[..., Any]) -> None:
    # Every sort key of the paging table (ties and NULLs of every type), exported in
    # 4-row chunks, equals the JSON list walked by cursor.
    api = await serve(make_api, readings_db, registry("    export: {chunk_rows: 4}"))
    for order in ("name,-score", "-taken_at", "level,amount", "-shelf_label", "doubled"):
        pages = [await api.get(READINGS, params={"order_by": order, "size": 20})]
        while pages[-1].json()["next"] is not None:
            pages.append(await api.get(READINGS, params={"order_by": order, "size": 20,
                                                         "cursor": pages[-1].json()["next"]}))
        listed = [item for page in pages for item in page.json()["items"]]
        exported = await api.get(READINGS, params={"order_by": order, "format": "ndjson"})
        assert [orjson.loads(line) for line in exported.content.splitlines()] == listed, order


# -- a client that goes away ---------------------------------------------------------------


def _chunk_statements(api: Api) -> int:
    return sum("bt_readings" in statement for statement in api.log.statements)


async def _active_sleeps(api: Api) -> int:
    """PostgreSQL statements of this test's database still sleeping (the slow field)."""
    async with api.engine.connect() as connection:
        return int((await connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'active' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()"
        ))).scalar_one())


async def test_a_client_that_disconnects_stops_the_export(
        readings_db: Database, make_api: Callable[..., Any]) -> None:
    # 10-row chunks of a field that sleeps 200 ms per row: 2 s per chunk statement, seven
    # chunks for the whole list. The client reads the first line, then hangs up while the
    # second chunk's statement runs: that one is cancelled and no third one is sent.
    api = await serve(make_api, readings_db, registry("    export: {chunk_rows: 10}",
                                                      slow="slow_200ms"))
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=free_port(),
                                           log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        port = server.config.port
        api.log.clear()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client, \
                client.stream("GET", "/api/v1/slow-readings",
                              params={"format": "ndjson"}) as response:
            async for line in response.aiter_lines():
                assert orjson.loads(line) == {"id": 1, "slow": 1}
                break
        if readings_db.backend == "postgresql":
            # Cancelled, not finished: well before the statement's own 2 s are up.
            for _ in range(15):
                await asyncio.sleep(0.1)
                if await _active_sleeps(api) == 0:
                    break
            assert await _active_sleeps(api) == 0
        else:
            await asyncio.sleep(0.5)
        issued = _chunk_statements(api)
        await asyncio.sleep(2.5)  # longer than a chunk: a third one would have started
        assert _chunk_statements(api) == issued == 2
    finally:
        server.should_exit = True
        await task


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_a_list_url_with_size_and_format_offers_the_export_url(demo_api: Api) -> None:
    page_url = "/api/v1/koji-builds?status=success&size=50&order_by=-packit_id&page=3"
    response = await demo_api.get(f"{page_url}&format=csv")
    assert response.status_code == 400
    offered = response.json()["detail"].rpartition("The export without them: ")[2]
    assert offered == "?status=success&order_by=-packit_id&format=csv"
    export = await demo_api.get(f"/api/v1/koji-builds{offered}")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
