"""Keyset pagination: walking by cursor returns every row once, in the offset order."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from bigtables_models import ROWS, Level
from conftest import Database
from readings import READINGS, all_pages, registry, serve
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Interval,
    MetaData,
    Numeric,
    String,
    Table,
    Time,
    Uuid,
    literal,
)
from sqlalchemy.dialects import sqlite

from crud.http.cursors import Cursor, CursorCodec
from crud.sql.seek import seek_predicate

SORTS = [
    pytest.param("", id="default-pk"),
    pytest.param("score", id="nullable-asc"),
    pytest.param("-score", id="nullable-desc"),
    pytest.param("name,-score", id="multi-key-mixed"),
    pytest.param("-name,taken_at", id="multi-key-datetime"),
    pytest.param("level,-amount", id="enum-and-decimal"),
    pytest.param("-amount,level", id="decimal-desc"),
    pytest.param("shelf_label", id="joined-path-asc"),
    pytest.param("-shelf_label,-score", id="joined-path-desc"),
    pytest.param("doubled", id="expression-asc"),
    pytest.param("-doubled,name", id="expression-desc"),
    pytest.param("-score:nulls_last", id="desc-nulls-last"),
    pytest.param("score:nulls_first", id="asc-nulls-first"),
    pytest.param("name,-taken_at:nulls_last", id="multi-key-nulls-last"),
    pytest.param("-shelf_label:nulls_last,score:nulls_first", id="joined-path-placed"),
    pytest.param("-doubled:nulls_last,name", id="expression-nulls-last"),
]


async def offset_order(api: Any, params: dict[str, Any]) -> list[int]:
    ids: list[int] = []
    for page in range(1, 10):
        response = await api.get(READINGS, params={**params, "size": 20, "page": page})
        items = response.json()["items"]
        ids.extend(item["id"] for item in items)
        if len(items) < 20:
            return ids
    raise AssertionError("too many pages")


@pytest.mark.parametrize("order_by", SORTS)
async def test_cursor_walk_returns_every_row_once_in_order(
        readings_db: Database, make_api: Callable[..., Any], order_by: str) -> None:
    api = await serve(make_api, readings_db, registry())
    params = {"order_by": order_by} if order_by else {}
    pages = await all_pages(api, READINGS, params)
    walked = [item["id"] for page in pages for item in page.json()["items"]]
    assert walked == await offset_order(api, params)
    assert sorted(walked) == list(range(1, ROWS + 1))


@pytest.mark.parametrize(("params", "expected"), [
    pytest.param({"name": "a"}, 20, id="filtered"),
    pytest.param({"score__gte": 2, "order_by": "-taken_at"}, 24, id="filtered-sorted"),
])
async def test_cursor_walk_keeps_the_filters(readings_db: Database, make_api: Callable[..., Any],
                                             params: dict[str, Any], expected: int) -> None:
    api = await serve(make_api, readings_db, registry())
    pages = await all_pages(api, READINGS, params)
    walked = [item["id"] for page in pages for item in page.json()["items"]]
    assert walked == await offset_order(api, params)
    assert len(set(walked)) == len(walked) == expected


async def test_cursor_pages_cost_no_extra_statement(readings_db: Database,
                                                    make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry())
    first = await api.get(READINGS, params={"order_by": "-score"})
    api.log.clear()
    second = await api.get(READINGS, params={"order_by": "-score", "cursor": first.json()["next"]})
    assert second.status_code == 200
    assert api.log.count == 1  # the page with its count, as with page=2
    assert second.headers["content-range"] == f"readings 7-13/{ROWS}"
    assert second.json()["page"] == 2


@pytest.mark.parametrize(("size", "page", "pages"), [
    pytest.param(7, 2, 9, id="same-size"),
    pytest.param(5, None, None, id="another-size"),
])
async def test_cursor_page_says_page_only_when_its_rows_are_one(
        readings_db: Database, make_api: Callable[..., Any], size: int, page: int | None,
        pages: int | None) -> None:
    # `size` may change along a walk; rows 7-11 are no page at size 5.
    api = await serve(make_api, readings_db, registry())
    cursor = (await api.get(READINGS)).json()["next"]
    body = (await api.get(READINGS, params={"cursor": cursor, "size": size})).json()
    assert [item["id"] for item in body["items"]] == list(range(8, 8 + size))
    assert (body["page"], body["size"], body["pages"]) == (page, size, pages)


async def test_next_cursor_is_in_body_and_link_header(readings_db: Database,
                                                     make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry())
    response = await api.get(READINGS, params={"order_by": "name", "name": "b"})
    cursor = response.json()["next"]
    assert cursor is not None
    assert response.headers["link"] == (
        f'</api/v1/readings?order_by=name&name=b&cursor={cursor}>; rel="next"')


async def test_last_page_has_no_next(readings_db: Database, make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry())
    response = await api.get(READINGS, params={"size": 20, "page": 4})
    assert response.json()["next"] is None
    assert "link" not in response.headers


def _tamper(cursor: str) -> str:
    body, _, signature = cursor.partition(".")
    payload = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["v"] = [1]
    forged = base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()
    return f"{forged}.{signature}"


NOT_A_CURSOR = ("not a cursor from this API; pass back the 'next' value of a page (or its "
                "Link rel=next URL)")
CURSOR_ERRORS = [
    pytest.param(lambda c: _tamper(c), {}, "cursor: the cursor was altered or signed by another "
                 "deployment.", id="tampered"),
    pytest.param(lambda c: "garbage!", {}, f"cursor: {NOT_A_CURSOR}.", id="garbage"),
    pytest.param(lambda c: "abc", {}, f"cursor: {NOT_A_CURSOR}.", id="short"),
    pytest.param(lambda c: c.partition(".")[0], {}, f"cursor: {NOT_A_CURSOR}.", id="unsigned"),
    pytest.param(lambda c: c, {"order_by": "-name"}, "cursor: this cursor belongs to another sort, "
                 "filter or search; start again without 'cursor' or repeat the original "
                 "parameters.", id="other-sort"),
    pytest.param(lambda c: c, {"name": "a"}, "cursor: this cursor belongs to another sort, "
                 "filter or search; start again without 'cursor' or repeat the original "
                 "parameters.", id="other-filter"),
    pytest.param(lambda c: c, {"page": 2}, "page: cannot be combined with 'cursor', which "
                 "already says where the page starts", id="with-page"),
]


@pytest.mark.parametrize(("change", "params", "detail"), CURSOR_ERRORS)
async def test_bad_cursor_is_400(readings_db: Database, make_api: Callable[..., Any],
                                 change: Callable[[str], str], params: dict[str, Any],
                                 detail: str) -> None:
    api = await serve(make_api, readings_db, registry())
    cursor = (await api.get(READINGS)).json()["next"]
    response = await api.get(READINGS, params={**params, "cursor": change(cursor)})
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == detail
    assert body["errors"][0]["parameter"] in {"cursor", "page"}


async def test_cursor_survives_a_new_app_with_the_same_secret(
        readings_db: Database, make_api: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUD_CURSOR_SECRET", "s3cret")
    first = await serve(make_api, readings_db, registry())
    cursor = (await first.get(READINGS)).json()["next"]
    second = await serve(make_api, readings_db, registry())
    assert (await second.get(READINGS, params={"cursor": cursor})).status_code == 200
    monkeypatch.setenv("CRUD_CURSOR_SECRET", "other")
    third = await serve(make_api, readings_db, registry())
    assert (await third.get(READINGS, params={"cursor": cursor})).status_code == 400


@pytest.mark.parametrize(("order_by", "size", "split"), [
    pytest.param("score", 7, True, id="asc-after-a-value"),
    pytest.param("-doubled", 7, True, id="desc-after-a-null"),
    pytest.param("-taken_at", 20, False, id="desc-after-a-value"),
    pytest.param("name", 7, False, id="not-nullable"),
])
async def test_nullable_seek_is_two_ranges_on_postgresql(
        readings_db: Database, make_api: Callable[..., Any], order_by: str, size: int,
        split: bool) -> None:
    api = await serve(make_api, readings_db, registry())
    first = await api.get(READINGS, params={"order_by": order_by, "size": size})
    api.log.clear()
    await api.get(READINGS, params={"order_by": order_by, "size": size,
                                    "cursor": first.json()["next"]})
    expected = split and readings_db.backend == "postgresql"
    assert ("UNION ALL" in api.log.statements[0]) is expected


ROUND_TRIPS = [
    pytest.param(DateTime(), dt.datetime(2024, 1, 2, 3, 4, 5, 6), id="naive-datetime"),
    pytest.param(DateTime(timezone=True), dt.datetime(2024, 1, 2, 3, 4, tzinfo=dt.UTC),
                 id="aware-datetime"),
    pytest.param(Date(), dt.date(2024, 2, 29), id="date"),
    pytest.param(Time(), dt.time(23, 59, 58, 1), id="time"),
    pytest.param(Numeric(10, 2), Decimal("12.30"), id="decimal"),
    pytest.param(Interval(), dt.timedelta(hours=1, microseconds=5), id="interval"),
    pytest.param(Uuid(), uuid.UUID(int=7), id="uuid"),
    pytest.param(Enum(Level), Level.mid, id="enum"),
    pytest.param(Integer(), None, id="null"),
    pytest.param(String(), "ünïcode, \"quoted\"", id="text"),
    pytest.param(Float(), 0.1, id="float"),
]


@pytest.mark.parametrize(("sql_type", "value"), ROUND_TRIPS)
def test_cursor_values_keep_their_type(sql_type: Any, value: Any) -> None:
    leaf = SimpleNamespace(name="key", sql_type=sql_type, info=SimpleNamespace(kind="other"))
    codec = CursorCodec(b"secret", [leaf])  # type: ignore[list-item]
    token = codec.encode([leaf], [value], 40, "bound")  # type: ignore[list-item]
    cursor = codec.decode(token, [leaf], "bound")  # type: ignore[list-item]
    assert cursor == Cursor(values=(value,), position=40)
    assert type(cursor.values[0]) is type(value)


@pytest.mark.parametrize(("descending", "value", "sql"), [
    pytest.param(False, 5, "(t.k >= 5 OR t.k IS NULL) AND (t.k > 5 OR t.k IS NULL "
                 "OR t.k = 5 AND t.id > 9)", id="asc-value"),
    pytest.param(False, None, "t.k IS NULL AND (0 = 1 OR t.k IS NULL AND t.id > 9)",
                 id="asc-null"),
    pytest.param(True, 5, "t.k <= 5 AND (t.k < 5 OR t.k = 5 AND t.id > 9)", id="desc-value"),
    pytest.param(True, None, "t.k IS NOT NULL OR t.k IS NULL AND t.id > 9",
                 id="desc-null"),
    pytest.param((True, False), 5, "(t.k <= 5 OR t.k IS NULL) AND (t.k < 5 OR t.k IS NULL "
                 "OR t.k = 5 AND t.id > 9)", id="desc-nulls-last-value"),
    pytest.param((False, True), None, "t.k IS NOT NULL OR t.k IS NULL AND t.id > 9",
                 id="asc-nulls-first-null"),
])
def test_seek_predicate_places_nulls_like_order_by(descending: bool | tuple[bool, bool],
                                                   value: int | None, sql: str) -> None:
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True),
                  Column("k", Integer, nullable=True))
    # (descending, NULLs first): by default NULLs lead exactly when descending.
    direction, lead = descending if isinstance(descending, tuple) else (descending, descending)
    predicate = seek_predicate([(table.c.k, direction, True, lead),
                                (table.c.id, False, False, False)],
                               [None if value is None else literal(value), literal(9)])
    compiled = predicate.compile(dialect=sqlite.dialect(),
                                 compile_kwargs={"literal_binds": True})
    assert str(compiled) == sql


def _forged(cursor: str, secret: str, values: bytes, position: bytes = b"7") -> str:
    """``cursor`` with other values, signed with the deployment's own secret."""
    body = cursor.partition(".")[0]
    bound_to = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["f"]
    payload = b'{"v":' + values + b',"p":' + position + b',"f":' + orjson.dumps(bound_to) + b"}"
    signature = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:16]
    return ".".join(base64.urlsafe_b64encode(part).rstrip(b"=").decode()
                    for part in (payload, signature))


WRONG_VALUES = [
    pytest.param("", b'[{"a":1}]', id="object-for-int"),
    pytest.param("", b'["1"]', id="string-for-int"),
    pytest.param("", b"[1.5]", id="float-for-int"),
    pytest.param("", b"[true]", id="bool-for-int"),
    pytest.param("", b"[2147483648]", id="beyond-int32"),
    pytest.param("", b"[9223372036854775807]", id="int64-max"),
    pytest.param("", b"[18446744073709551616]", id="beyond-64-bits"),
    pytest.param("", b"[1,2]", id="too-many"),
    pytest.param("", b'{"id":1}', id="not-a-list"),
    pytest.param("name", b"[7,1]", id="int-for-string"),
    pytest.param("name", b'["a\\u0000",1]', id="nul-in-string"),
    pytest.param("taken_at", b'["99999-01-01T00:00:00",1]', id="year-99999"),
    pytest.param("taken_at", b'["0001-01-01T00:00:00+01:00",1]', id="before-year-1-in-utc"),
    pytest.param("taken_at", b'["9999-12-31T23:59:59-01:00",1]', id="after-year-9999-in-utc"),
    pytest.param("taken_at", b'[{"a":1},1]', id="object-for-datetime"),
    pytest.param("taken_at", b"[20240101,1]", id="int-for-datetime"),
    pytest.param("level", b'["nope",1]', id="not-a-member"),
    pytest.param("amount", b'["abc",1]', id="text-for-decimal"),
    pytest.param("amount", b'["NaN",1]', id="nan-decimal"),
    pytest.param("amount", b'[[1],1]', id="list-for-decimal"),
]


@pytest.mark.parametrize(("order_by", "values"), WRONG_VALUES)
async def test_a_signed_cursor_with_wrong_values_is_400(
        readings_db: Database, make_api: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
        order_by: str, values: bytes) -> None:
    monkeypatch.setenv("CRUD_CURSOR_SECRET", "s3cret")
    api = await serve(make_api, readings_db, registry())
    params = {"order_by": order_by} if order_by else {}
    cursor = (await api.get(READINGS, params=params)).json()["next"]
    response = await api.get(READINGS, params={**params,
                                               "cursor": _forged(cursor, "s3cret", values)})
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == "cursor: the cursor does not fit this list."
    assert response.json()["errors"] == [{"parameter": "cursor",
                                          "message": "the cursor does not fit this list"}]


# Beyond 2**53 - 1 no list is that long (and JSON clients lose the integer's exactness).
@pytest.mark.parametrize("position", [b"-1", b'"7"', b"1.5", b"null", b"18446744073709551616",
                                      b"18446744073709551615", b"9223372036854775807",
                                      b"9223372036854775800", b"9007199254740993"])
async def test_a_signed_cursor_with_a_wrong_position_is_400(
        readings_db: Database, make_api: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
        position: bytes) -> None:
    monkeypatch.setenv("CRUD_CURSOR_SECRET", "s3cret")
    api = await serve(make_api, readings_db, registry())
    cursor = (await api.get(READINGS)).json()["next"]
    response = await api.get(READINGS, params={"cursor": _forged(cursor, "s3cret", b"[7]",
                                                                position)})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["parameter"] == "cursor"


@pytest.mark.parametrize(("order_by", "nulls_at"), [
    ("-score", "start"), ("-score:nulls_last", "end"), ("score", "end"),
    ("score:nulls_first", "start"), ("-score:nulls_first", "start"), ("score:nulls_last", "end"),
])
async def test_nulls_go_where_order_by_says(readings_db: Database, make_api: Callable[..., Any],
                                            order_by: str, nulls_at: str) -> None:
    api = await serve(make_api, readings_db, registry())
    pages = await all_pages(api, READINGS, {"order_by": order_by})
    scores = [item["score"] for page in pages for item in page.json()["items"]]
    values = [score for score in scores if score is not None]
    nulls = [None] * (len(scores) - len(values))
    assert nulls
    assert scores == (nulls + values if nulls_at == "start" else values + nulls)
    assert values == sorted(values, reverse=order_by.startswith("-"))


@pytest.mark.parametrize(("order_by", "message"), [
    ("-score:nulls_later", "'score:nulls_later': after ':' give nulls_first or nulls_last"),
    ("-name:nulls_last", "'name' is never null: ':nulls_last' applies to keys that may be"),
])
@pytest.mark.parametrize("readings_db", ["sqlite"], indirect=True)
async def test_a_bad_nulls_placement_is_400(readings_db: Database, make_api: Callable[..., Any],
                                            order_by: str, message: str) -> None:
    api = await serve(make_api, readings_db, registry())
    response = await api.get(READINGS, params={"order_by": order_by})
    assert response.status_code in (400, 422)
    assert response.json()["errors"] == [{"parameter": "order_by", "message": message}]


@pytest.mark.parametrize("readings_db", ["sqlite"], indirect=True)
async def test_a_cursor_is_bound_to_its_nulls_placement(readings_db: Database,
                                                        make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry())
    cursor = (await api.get(READINGS, params={"order_by": "-score", "size": 5})).json()["next"]
    response = await api.get(READINGS, params={"order_by": "-score:nulls_last", "cursor": cursor})
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "cursor"


@pytest.mark.parametrize("readings_db", ["sqlite"], indirect=True)
async def test_openapi_lists_the_placements_of_nullable_keys(readings_db: Database,
                                                             make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry())
    document = (await api.get("/openapi.json")).json()
    [parameter] = [item for item in document["paths"][READINGS]["get"]["parameters"]
                   if item["name"] == "order_by"]
    enum = parameter["schema"]["items"]["enum"]
    assert {"-score:nulls_last", "score:nulls_first", "-score:nulls_first"} <= set(enum)
    assert not [item for item in enum if item.startswith(("name:", "-name:"))]
