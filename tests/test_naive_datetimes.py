"""``naive_datetimes``: what a date-time column without a time zone holds.

``utc`` (the default): UTC wall time, sent with ``+00:00``, and a filter's offset is
converted to UTC. ``as_stored``: local times of an unknown zone, sent as stored without an
offset (never relabelled as UTC), and a filter with an offset is a 422: there is nothing to
convert it to. Every way out of the API follows the setting: the JSON list (which
PostgreSQL writes itself), the detail, NDJSON and CSV exports, aggregate buckets, the
react-admin records, the legacy epoch seconds and the OpenAPI document.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from conftest import Api, Database
from readings import all_pages
from sqlalchemy import text

from crud.sql.database import make_engine

# (id, stored wall-clock time); one NULL row besides. Ordered by time.
STORED = [
    (1, dt.datetime(2024, 3, 30, 1, 30)),
    (2, dt.datetime(2024, 3, 30, 2, 30, 0, 250_000)),
    (3, dt.datetime(2024, 3, 30, 23, 59, 59)),
    (4, dt.datetime(2024, 3, 31, 0, 0)),
]
TABLE = {
    "sqlite": "CREATE TABLE shifts (id INTEGER PRIMARY KEY, starts DATETIME)",
    "postgresql": "CREATE TABLE shifts (id INTEGER PRIMARY KEY, starts TIMESTAMP, "
                  "logged TIMESTAMPTZ)",
    "mariadb": "CREATE TABLE shifts (id INTEGER PRIMARY KEY, starts DATETIME(6))",
}
RESOURCE = """\
    table: shifts
    fields: {{id:, starts:{logged}}}
    filters: {{starts: [gte, lt]}}
    sort: [starts]
"""
REGISTRY = """\
api:
  naive_datetimes: as_stored
resources:
  shifts:
{plain}
    export: {{enabled: true}}
    aggregate: {{group_by: [starts], metrics: {{count: true, min: [starts]}}}}
  shifts-utc:
    naive_datetimes: utc
{plain}
  shifts-legacy:
    profile: legacy
{plain}
  shifts-ra:
    profile: react-admin
{plain}
"""
BACKENDS = ["sqlite", "postgresql", "mariadb"]


def _registry(backend: str) -> str:
    # PostgreSQL's aware column stays UTC under either setting: it has a zone.
    logged = ", logged:" if backend == "postgresql" else ""
    plain = RESOURCE.format(logged=logged).rstrip("\n")
    return REGISTRY.format(plain=plain)


@pytest.fixture
async def shifts_db(empty_db: Database) -> Database:
    writer = make_engine(empty_db.url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.execute(text(TABLE[empty_db.backend]))
            rows = [{"id": row_id, "starts": starts} for row_id, starts in STORED]
            await connection.execute(text("INSERT INTO shifts (id, starts) VALUES (:id, :starts)"),
                                     [*rows, {"id": 5, "starts": None}])
            if empty_db.backend == "postgresql":
                await connection.execute(text(
                    "UPDATE shifts SET logged = TIMESTAMPTZ '2024-03-30 12:00:00+02'"))
    finally:
        await writer.dispose()
    return empty_db


@pytest.fixture
async def api(shifts_db: Database, make_api: Callable[..., Any]) -> Api:
    served: Api = await make_api(_registry(shifts_db.backend), shifts_db.url, shifts_db.backend)
    return served


def _local(value: dt.datetime) -> str:
    # orjson's spelling of a naive date-time: seconds, microseconds only when there are some.
    return value.isoformat()


EXPECTED_LOCAL = {row_id: _local(starts) for row_id, starts in STORED} | {5: None}
EXPECTED_UTC = {row_id: _local(starts) + "+00:00" for row_id, starts in STORED} | {5: None}


def _starts(items: list[dict[str, Any]]) -> dict[int, Any]:
    return {item["id"]: item["starts"] for item in items}


@pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)
async def test_local_times_are_sent_as_stored_everywhere(api: Api) -> None:
    listed = await api.get("/api/v1/shifts", params={"size": 10})
    assert listed.status_code == 200, listed.text
    assert _starts(listed.json()["items"]) == EXPECTED_LOCAL
    detail = await api.get("/api/v1/shifts/2")
    assert detail.json()["starts"] == "2024-03-30T02:30:00.250000"

    ndjson = await api.get("/api/v1/shifts", params={"format": "ndjson"})
    assert _starts([orjson.loads(line) for line in ndjson.content.splitlines()]) == EXPECTED_LOCAL
    rows = list(csv.DictReader(io.StringIO((await api.get(
        "/api/v1/shifts", params={"format": "csv"})).text)))
    assert {int(row["id"]): row["starts"] or None for row in rows} == EXPECTED_LOCAL

    records = await api.get("/api/v1/shifts-ra", params={"range": "[0,9]"})
    assert _starts(records.json()) == EXPECTED_LOCAL


@pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)
async def test_aggregate_buckets_are_local_days(api: Api) -> None:
    days = await api.get("/api/v1/shifts/aggregate",
                         params={"group_by": "starts:day", "metrics": "count,min:starts",
                                 "order_by": "starts"})
    assert days.status_code == 200, days.text
    assert [(group["starts"], group["count"], group["min_starts"])
            for group in days.json()["groups"]] == [
        ("2024-03-30T00:00:00", 3, "2024-03-30T01:30:00"),
        ("2024-03-31T00:00:00", 1, "2024-03-31T00:00:00"),
        (None, 1, None)]


@pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)
async def test_a_resource_can_keep_utc(api: Api) -> None:
    listed = await api.get("/api/v1/shifts-utc", params={"size": 10})
    assert _starts(listed.json()["items"]) == EXPECTED_UTC
    ndjson = await api.get("/api/v1/shifts-utc/2")
    assert ndjson.json()["starts"] == "2024-03-30T02:30:00.250000+00:00"


@pytest.mark.parametrize("empty_db", ["postgresql"], indirect=True)
async def test_an_aware_column_is_utc_under_either_setting(api: Api) -> None:
    for path in ("/api/v1/shifts/1", "/api/v1/shifts-utc/1"):
        assert (await api.get(path)).json()["logged"] == "2024-03-30T10:00:00+00:00"
    # An offset is fine where the column has a zone to convert it to.
    found = await api.get("/api/v1/shifts", params={"size": 10})
    assert found.status_code == 200


@pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)
@pytest.mark.parametrize("given", ["2024-03-30T02:30:00Z", "2024-03-30T04:30:00+02:00"])
async def test_an_offset_is_refused_where_times_are_local(api: Api, given: str) -> None:
    refused = await api.get("/api/v1/shifts", params={"starts__gte": given})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["errors"][0]["parameter"] == "starts__gte"
    assert "without an offset" in body["errors"][0]["message"]
    assert body["errors"][0]["message"] in body["detail"]
    # The same filter on the UTC resource converts the offset.
    converted = await api.get("/api/v1/shifts-utc", params={"starts__gte": given})
    assert converted.status_code == 200, converted.text


@pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)
@pytest.mark.parametrize("given", ["1711765800", "1711765800.5", "-5"])
async def test_a_number_is_no_date_time(api: Api, given: str) -> None:
    # The document says format: date-time; pydantic alone would read seconds since 1970.
    for path in ("/api/v1/shifts", "/api/v1/shifts-utc"):
        refused = await api.get(path, params={"starts__gte": given})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["message"] == (
            "Input should be a date or date-time such as 2024-01-01T08:00:00Z, not a number")


@pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)
@pytest.mark.parametrize(("params", "expected"), [
    ({"starts__gte": "2024-03-30T02:30:00.25"}, [2, 3, 4]),
    ({"starts__gte": "2024-03-30 02:30:00.250001"}, [3, 4]),
    ({"starts__lt": "2024-03-30T02:30:00.25"}, [1]),
    ({"starts__gte": "2024-03-30", "starts__lt": "2024-03-31"}, [1, 2, 3]),
])
async def test_local_bounds_compare_the_stored_wall_clock(
        api: Api, params: dict[str, str], expected: list[int]) -> None:
    for path in ("/api/v1/shifts", "/api/v1/shifts-utc"):  # no offset: the same rows
        found = await api.get(path, params={**params, "order_by": "starts"})
        assert [item["id"] for item in found.json()["items"]] == expected, path


@pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)
@pytest.mark.parametrize("order_by", ["starts", "-starts"])
async def test_a_cursor_walk_over_local_times(api: Api, order_by: str) -> None:
    pages = await all_pages(api, "/api/v1/shifts", {"size": 1, "order_by": order_by})
    ids = [item["id"] for page in pages for item in page.json()["items"]]
    ascending = [*(row_id for row_id, _ in STORED), 5]  # NULL last, on every database
    assert ids == (ascending if order_by == "starts" else ascending[::-1])


@pytest.fixture
def server_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This process's local zone set to one that is not UTC, as the old API's server's."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield "America/New_York"
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("empty_db", ["sqlite"], indirect=True)
async def test_legacy_epoch_seconds_read_local_times_in_the_servers_zone(
        api: Api, server_zone: str) -> None:
    legacy = await api.get("/api/v1/shifts-legacy", params={"per_page": 10})
    assert legacy.status_code == 206
    # Python's own reading of a naive date-time, as the old Flask API's .timestamp() did.
    expected = {row_id: int(starts.timestamp()) for row_id, starts in STORED} | {5: None}
    assert _starts(legacy.json()) == expected
    assert expected[1] == int(dt.datetime(2024, 3, 30, 5, 30, tzinfo=dt.UTC).timestamp())


@pytest.mark.parametrize("empty_db", ["sqlite"], indirect=True)
async def test_the_openapi_document_describes_local_times(api: Api) -> None:
    spec = (await api.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    local = schemas["Shift"]["properties"]["starts"]
    utc = schemas["ShiftsUtc"]["properties"]["starts"]
    assert '"format"' not in orjson.dumps(local).decode()  # RFC 3339 date-time has an offset
    assert any(option.get("pattern", "").startswith("^\\d{4}") for option in local["anyOf"])
    assert {"type": "string", "format": "date-time"} in utc["anyOf"]
    parameters = {parameter["name"]: parameter["schema"]
                  for parameter in spec["paths"]["/api/v1/shifts"]["get"]["parameters"]}
    assert "pattern" in parameters["starts__gte"]
    assert "format" not in parameters["starts__gte"]


ROTA_REGISTRY = """\
api:
  naive_datetimes: as_stored
resources:
  rotas:
    table: rotas
    fields: {id:, breaks:}
    filters: {breaks: [contains, overlaps]}
  rotas-utc:
    table: rotas
    naive_datetimes: utc
    fields: {id:, breaks:}
    filters: {breaks: [contains, overlaps]}
"""


@pytest.mark.parametrize("empty_db", ["postgresql"], indirect=True)
async def test_an_array_of_local_times_follows_the_setting(
        empty_db: Database, make_api: Callable[..., Any]) -> None:
    writer = make_engine(empty_db.url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.execute(text("CREATE TABLE rotas (id INTEGER PRIMARY KEY, "
                                          "breaks TIMESTAMP[] NOT NULL)"))
            await connection.execute(text(
                "INSERT INTO rotas VALUES (1, ARRAY[TIMESTAMP '2024-03-30 12:00', "
                "TIMESTAMP '2024-03-30 15:30:00.5']), (2, ARRAY[TIMESTAMP '2024-03-31 12:00'])"))
    finally:
        await writer.dispose()
    api: Api = await make_api(ROTA_REGISTRY, empty_db.url, empty_db.backend)

    local = (await api.get("/api/v1/rotas/1")).json()["breaks"]
    assert local == ["2024-03-30T12:00:00", "2024-03-30T15:30:00.500000"]
    utc = (await api.get("/api/v1/rotas-utc/1")).json()["breaks"]
    assert utc == ["2024-03-30T12:00:00+00:00", "2024-03-30T15:30:00.500000+00:00"]

    # An element to look for is a local time too: the wall clock matches, an offset is refused.
    found = await api.get("/api/v1/rotas", params={"breaks__contains": "2024-03-30T12:00:00"})
    assert [item["id"] for item in found.json()["items"]] == [1]
    refused = await api.get("/api/v1/rotas", params={"breaks__overlaps": "2024-03-31T14:00:00+02:00"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["parameter"] == "breaks__overlaps"
    converted = await api.get("/api/v1/rotas-utc",
                              params={"breaks__overlaps": "2024-03-31T14:00:00+02:00"})
    assert [item["id"] for item in converted.json()["items"]] == [2]

    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]
    assert '"format"' not in orjson.dumps(schemas["Rota"]["properties"]["breaks"]).decode()
    assert schemas["RotasUtc"]["properties"]["breaks"]["items"] == {
        "type": "string", "format": "date-time"}
