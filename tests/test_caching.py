"""Weak ETags, ``304 Not Modified`` and ``Cache-Control`` from the registry's ``cache:``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Api, Database

from crud.config.settings import Settings
from crud.http.caching import CachePolicy, if_none_match

REGISTRY = """\
resources:
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    fields: {packit_id: id, status:}
    sort: [packit_id]
    default_sort: [packit_id]
  projects:
    model: resources.models:GitProjectModel
    fields: {id:, namespace:}
    cache: {max_age: 60}
  pull-requests:
    model: resources.models:PullRequestModel
    fields: {id:, pr_id:}
    cache: {max_age: 30}
    auth: api_key
  secrets:
    model: resources.models:SRPMBuildModel
    fields: {id:, status:}
    auth: api_key
"""
WEAK_TAG = re.compile(r'^W/"[0-9a-f]{32}"$')
RID = {"X-Request-ID": "c-1"}


@pytest.fixture
async def api(make_api: Callable[..., Any], demo_db: Database) -> Api:
    result: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend,
                                 settings=Settings(api_keys="k1"))
    return result


@pytest.mark.parametrize(("path", "vary"), [
    ("/api/v1/koji-builds?size=3", {"vary": "Accept"}),  # a list may answer CSV by Accept
    ("/api/v1/koji-builds/2", {}),
], ids=["list", "detail"])
async def test_a_matching_if_none_match_gets_304_without_a_body(
        api: Api, path: str, vary: dict[str, str]) -> None:
    first = await api.get(path, headers=RID)
    tag = first.headers["etag"]
    assert WEAK_TAG.match(tag)
    assert first.headers["cache-control"] == "no-cache"

    again = await api.get(path, headers={**RID, "If-None-Match": tag})

    assert again.status_code == 304
    assert again.content == b""
    assert dict(again.headers) == {"etag": tag, "cache-control": "no-cache", "x-request-id": "c-1",
                                   **vary}


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("header", "status"), [
    ("{tag}", 304),
    ("*", 304),
    ('W/"stale", {tag}', 304),
    ('"stale",{tag}', 304),
    ("{strong}", 304),
    ('W/"stale"', 200),
    ('"stale", W/"older"', 200),
], ids=["same", "star", "in-list", "in-list-no-space", "strong-form", "stale", "all-stale"])
async def test_if_none_match_forms(api: Api, header: str, status: int) -> None:
    tag = (await api.get("/api/v1/koji-builds")).headers["etag"]
    value = header.format(tag=tag, strong=tag.removeprefix("W/"))
    response = await api.get("/api/v1/koji-builds", headers={"If-None-Match": value})
    assert response.status_code == status
    assert response.headers["etag"] == tag


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_the_etag_follows_the_body(api: Api) -> None:
    page_one = await api.get("/api/v1/koji-builds", params={"size": 3})
    page_two = await api.get("/api/v1/koji-builds", params={"size": 3, "page": 2})
    head = await api.client.head("/api/v1/koji-builds", params={"size": 3})
    assert page_one.headers["etag"] != page_two.headers["etag"]
    assert head.headers["etag"] == page_one.headers["etag"]


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("path", "headers", "expected"), [
    ("/api/v1/koji-builds", {}, {"cache-control": "no-cache", "vary": "Accept"}),
    ("/api/v1/projects", {}, {"cache-control": "public, max-age=60", "vary": "Accept"}),
    ("/api/v1/projects/1", {}, {"cache-control": "public, max-age=60"}),
    ("/api/v1/pull-requests", {"X-API-Key": "k1"},
     {"cache-control": "private, max-age=30", "vary": "Accept, X-API-Key"}),
    ("/api/v1/secrets", {"X-API-Key": "k1"},
     {"cache-control": "private, no-cache", "vary": "Accept, X-API-Key"}),
], ids=["default", "public-list", "public-detail", "protected-is-private",
        "protected-default"])
async def test_cache_control_comes_from_the_registry(
        api: Api, path: str, headers: dict[str, str], expected: dict[str, str]) -> None:
    response = await api.get(path, headers=headers)
    assert response.status_code == 200
    assert {key: response.headers[key] for key in ("cache-control", "vary")
            if key in response.headers} == expected


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_errors_carry_no_validators(api: Api) -> None:
    response = await api.get("/api/v1/koji-builds/999999")
    assert response.status_code == 404
    assert "etag" not in response.headers
    assert "cache-control" not in response.headers


def test_if_none_match_without_header_never_matches() -> None:
    assert not if_none_match(None, 'W/"x"')


def test_cache_policy_repr() -> None:
    assert repr(CachePolicy(max_age=5, auth="bearer")) == \
        "CachePolicy('private, max-age=5', vary='Authorization')"
