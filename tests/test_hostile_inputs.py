"""Inputs that once answered 500 (issue 25, item 4): each is a 4xx naming its parameter.

Integers are ASCII digits only (``page=²`` or ``facet_size=٣`` are no numbers), MariaDB's
full-text parser never sees a text it calls a syntax error, and a correctly signed cursor whose
payload is no JSON, or whose position is beyond any list, is a 400 naming ``cursor``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import Api, Database
from readings import READINGS, registry, serve
from test_cursors import _forged

BUILDS = "/api/v1/koji-builds"
PULLS = "/api/v1/pull-requests"

UNICODE_DIGITS = [pytest.param("\u00b2", id="superscript-two"),
                  pytest.param("\u0663", id="arabic-indic-three"),
                  pytest.param("\uff13", id="fullwidth-three"),
                  pytest.param("1\u0663", id="ascii-then-arabic")]

WHOLE_NUMBERS = [
    pytest.param(BUILDS, "page", id="list-page"),
    pytest.param(BUILDS, "size", id="list-size"),
    pytest.param(BUILDS, "facet_size", id="facet-size"),
    pytest.param(f"{BUILDS}/aggregate", "page", id="aggregate-page"),
    pytest.param(f"{BUILDS}/aggregate", "size", id="aggregate-size"),
    pytest.param(BUILDS, "id", id="integer-filter"),
]


@pytest.mark.parametrize("digits", UNICODE_DIGITS)
@pytest.mark.parametrize(("path", "parameter"), WHOLE_NUMBERS)
async def test_an_integer_in_other_digits_is_refused_naming_its_parameter(
        demo_api: Api, path: str, parameter: str, digits: str) -> None:
    params = {parameter: digits, **({"facet": "status"} if parameter == "facet_size" else {})}
    response = await demo_api.get(path, params=params)
    assert response.status_code in {400, 422}, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [entry["parameter"] for entry in response.json()["errors"]] == [parameter]


@pytest.mark.parametrize("digits", [b"\xb2", b"\xb3", b"1\xb9"])  # superscripts in latin-1
async def test_a_range_in_other_digits_is_not_a_range(demo_api: Api, digits: bytes) -> None:
    response = await demo_api.get(BUILDS, headers={"Range": b"koji-builds=0-" + digits})
    # An unparsable Range is ignored (RFC 9110): the whole first page, not rows 0 to 3.
    assert response.status_code == 200, response.text
    assert "Range-Truncated" not in response.headers
    assert len(response.json()["items"]) == 20 or response.json()["next"] is None


SEARCHES = ["*", "**", " * ", '"*', '*"', "* %", "'", '"', "*'*", "fix*", "@", "(", ")", "-",
            "+", "~", "<", ">", "\\", "%", "_"]


@pytest.mark.parametrize("search", SEARCHES)
async def test_no_search_text_is_a_syntax_error(demo_api: Api, search: str) -> None:
    response = await demo_api.get(PULLS, params={"search": search})
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["items"], list)


async def test_a_star_finds_what_the_word_finds(demo_api: Api) -> None:
    plain = (await demo_api.get(PULLS, params={"search": "fix", "size": 100})).json()["items"]
    starred = (await demo_api.get(PULLS, params={"search": "fix*", "size": 100})).json()["items"]
    assert plain
    assert [item["id"] for item in starred] == [item["id"] for item in plain]


BAD_PAYLOADS = [
    pytest.param(b"not json", id="not-json"),
    pytest.param(b'{"v":[NaN],"p":7,"f":"x"}', id="nan"),
    pytest.param(b'{"v":[1e400],"p":7,"f":"x"}', id="float-overflow"),
    pytest.param(b'{"v":["\\ud800"],"p":7,"f":"x"}', id="lone-surrogate"),
    pytest.param(b"\xff\xfe", id="not-utf8"),
    pytest.param(b"", id="empty"),
]


def _signed(payload: bytes, secret: str) -> str:
    import base64
    import hashlib
    import hmac
    signature = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:16]
    return ".".join(base64.urlsafe_b64encode(part).rstrip(b"=").decode()
                    for part in (payload, signature))


@pytest.mark.parametrize("payload", BAD_PAYLOADS)
async def test_a_signed_cursor_that_is_no_json_is_400(
        readings_db: Database, make_api: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
        payload: bytes) -> None:
    monkeypatch.setenv("CRUD_CURSOR_SECRET", "s3cret")
    api = await serve(make_api, readings_db, registry())
    response = await api.get(READINGS, params={"cursor": _signed(payload, "s3cret")})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["parameter"] == "cursor"


@pytest.mark.parametrize(("order_by", "values"), [
    pytest.param("name", b'["\\ud800",1]', id="lone-surrogate-value"),
    pytest.param("name", b'["\\udfff\\ud800",1]', id="reversed-pair-value"),
    pytest.param("score", b"[NaN,1]", id="nan-value"),
    pytest.param("score", b'["NaN",1]', id="nan-text-for-float"),
    pytest.param("amount", b'["Infinity",1]', id="infinite-decimal"),
    pytest.param("amount", b'["sNaN",1]', id="signalling-nan-decimal"),
])
async def test_a_signed_cursor_with_unstorable_values_is_400(
        readings_db: Database, make_api: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
        order_by: str, values: bytes) -> None:
    monkeypatch.setenv("CRUD_CURSOR_SECRET", "s3cret")
    api = await serve(make_api, readings_db, registry())
    cursor = (await api.get(READINGS, params={"order_by": order_by})).json()["next"]
    response = await api.get(READINGS, params={"order_by": order_by,
                                               "cursor": _forged(cursor, "s3cret", values)})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["parameter"] == "cursor"
