"""Range requests on lists: 206 with Content-Range, 416 past the end, 200 without Range."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from bigtables_models import ROWS
from conftest import Database
from readings import READINGS, registry, serve

# (Range header, status, Content-Range, ids served, Range-Truncated)
RANGES = [
    pytest.param("readings=0-4", 206, f"readings 0-4/{ROWS}", list(range(1, 6)), None,
                 id="resource-unit"),
    pytest.param("items=10-14", 206, f"items 10-14/{ROWS}", list(range(11, 16)), None,
                 id="items-unit"),
    pytest.param("readings=55-70", 206, f"readings 55-60/{ROWS}", list(range(56, 62)), None,
                 id="past-the-end-is-cut"),
    pytest.param("readings=0-49", 206, f"readings 0-19/{ROWS}", list(range(1, 21)),
                 "readings=0-49", id="longer-than-cap"),
    pytest.param("items=40-", 206, f"items 40-59/{ROWS}", list(range(41, 61)), "items=40-",
                 id="open-ended"),
    pytest.param("rows=0-4", 200, f"readings 0-6/{ROWS}", list(range(1, 8)), None,
                 id="unknown-unit-ignored"),
    pytest.param("readings=5-2", 200, f"readings 0-6/{ROWS}", list(range(1, 8)), None,
                 id="backwards-ignored"),
    pytest.param("readings=0-4,10-14", 200, f"readings 0-6/{ROWS}", list(range(1, 8)), None,
                 id="multiple-ignored"),
]


@pytest.mark.parametrize(("header", "status", "content_range", "ids", "truncated"), RANGES)
async def test_range_selects_rows(readings_db: Database, make_api: Callable[..., Any],
                                  header: str, status: int, content_range: str, ids: list[int],
                                  truncated: str | None) -> None:
    api = await serve(make_api, readings_db, registry())
    response = await api.get(READINGS, headers={"Range": header})
    assert response.status_code == status
    assert response.headers["content-range"] == content_range
    assert [item["id"] for item in response.json()["items"]] == ids
    assert response.headers.get("range-truncated") == truncated
    assert response.headers["accept-ranges"] == "readings, items"


@pytest.mark.parametrize(("policy", "content_range"), [
    pytest.param("", f"readings */{ROWS}", id="counted"),
    pytest.param("    count: none", "readings */*", id="not-counted"),
])
async def test_range_past_the_end_is_416(readings_db: Database, make_api: Callable[..., Any],
                                         policy: str, content_range: str) -> None:
    api = await serve(make_api, readings_db, registry(policy))
    response = await api.get(READINGS, headers={"Range": "readings=100-109"})
    assert response.status_code == 416
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["content-range"] == content_range
    assert response.json()["code"] == "range_not_satisfiable"


async def test_range_on_an_empty_list_is_206(readings_db: Database,
                                             make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry())
    response = await api.get(READINGS, params={"score__gte": 99}, headers={"Range": "items=0-9"})
    assert (response.status_code, response.headers["content-range"]) == (206, "items */0")


async def test_range_with_page_is_400(readings_db: Database,
                                      make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry())
    response = await api.get(READINGS, params={"page": 2}, headers={"Range": "items=0-9"})
    assert response.status_code == 400
    assert response.json()["errors"] == [{
        "parameter": "Range",
        "message": "a Range header replaces page, size and cursor; send one or the other"}]


async def test_head_with_range_has_the_headers_of_get(readings_db: Database,
                                                      make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry())
    get = await api.get(READINGS, headers={"Range": "items=7-13"})
    head = await api.client.head(READINGS, headers={"Range": "items=7-13"})
    assert (head.status_code, head.content) == (206, b"")
    assert head.headers["content-length"] == str(len(get.content))
    for name in ("content-range", "total-count-kind", "link", "accept-ranges"):
        assert head.headers[name] == get.headers[name]


@pytest.mark.parametrize(("params", "status"), [
    pytest.param({"page": 1, "size": 7}, 206, id="the-defaults-a-docs-form-sends"),
    pytest.param({"page": 2, "size": 10}, 206, id="the-same-rows"),
    pytest.param({"page": 2, "size": 7}, 400, id="other-rows"),
    pytest.param({"size": 5}, 400, id="another-size"),
])
async def test_range_with_agreeing_page_and_size_is_served(
        readings_db: Database, make_api: Callable[..., Any], params: dict[str, int],
        status: int) -> None:
    api = await serve(make_api, readings_db, registry())  # page_size 7
    response = await api.get(READINGS, params=params, headers={"Range": "items=10-19"})
    assert response.status_code == status
    if status == 206:
        assert response.headers["content-range"] == f"items 10-19/{ROWS}"


async def test_an_empty_cursor_is_the_first_page(readings_db: Database,
                                                 make_api: Callable[..., Any]) -> None:
    api = await serve(make_api, readings_db, registry())
    first = await api.get(READINGS, params={"cursor": ""})
    assert first.status_code == 200
    assert first.json() == (await api.get(READINGS)).json()


# (Range header, ids served, the body's page, size and pages); 61 rows, page_size 7, cap 20
RANGE_BODIES = [
    pytest.param("items=0-4", list(range(1, 6)), 1, 5, 13, id="first-rows"),
    pytest.param("items=10-19", list(range(11, 21)), 2, 10, 7, id="aligned"),
    pytest.param("items=40-", list(range(41, 61)), 3, 20, 4, id="open-ended-aligned"),
    pytest.param("items=5-11", list(range(6, 13)), None, 7, None, id="not-aligned"),
    pytest.param("items=3-", list(range(4, 24)), None, 20, None, id="open-ended-not-aligned"),
    pytest.param("readings=55-70", list(range(56, 62)), None, 16, None, id="cut-at-the-end"),
]


@pytest.mark.parametrize(("header", "ids", "page", "size", "pages"), RANGE_BODIES)
async def test_range_body_says_page_only_when_the_rows_are_one(
        readings_db: Database, make_api: Callable[..., Any], header: str, ids: list[int],
        page: int | None, size: int, pages: int | None) -> None:
    # A Range of `size` rows starting on a multiple of `size` is page start/size + 1 at that
    # size; any other start is no page at any size the body could name: null, with pages.
    api = await serve(make_api, readings_db, registry())
    body = (await api.get(READINGS, headers={"Range": header})).json()
    assert [item["id"] for item in body.pop("items")] == ids
    body.pop("next")
    assert body == {"total": ROWS, "page": page, "size": size, "pages": pages}


@pytest.mark.parametrize(("header", "following", "page"), [
    pytest.param("items=10-19", list(range(21, 31)), 3, id="aligned"),
    pytest.param("items=5-11", list(range(13, 20)), None, id="not-aligned"),
    pytest.param("items=3-", list(range(24, 44)), None, id="open-ended"),
])
async def test_range_next_link_continues_after_its_last_row(
        readings_db: Database, make_api: Callable[..., Any], header: str,
        following: list[int], page: int | None) -> None:
    api = await serve(make_api, readings_db, registry())
    ranged = await api.get(READINGS, headers={"Range": header})
    first = ranged.json()["items"][0]["id"]
    walked = [item["id"] for item in ranged.json()["items"]]
    response = await api.get(ranged.links["next"]["url"])  # the Range's size, past its rows
    assert [item["id"] for item in response.json()["items"]] == following
    assert (response.json()["page"], response.json()["size"]) == (page, len(following))
    while True:
        walked += [item["id"] for item in response.json()["items"]]
        if "next" not in response.links:
            break
        response = await api.get(response.links["next"]["url"])
    assert walked == list(range(first, ROWS + 1))  # no row skipped, none repeated
