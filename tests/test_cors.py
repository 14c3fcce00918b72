"""CORS from ``CRUD_CORS_ORIGINS``: a browser dashboard on another origin can read the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import Api, Database

from crud.config.settings import Settings

REGISTRY = """\
resources:
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    fields: {packit_id: id, status:}
    auth: api_key
  projects:
    model: resources.models:GitProjectModel
    fields: {id:, namespace:}
"""
DASHBOARD = "https://dashboard.packit.dev"
EXPOSED = "Content-Range, Link, Total-Count-Kind, ETag, X-Request-ID"


async def _api(make_api: Callable[..., Any], demo_db: Database, origins: str) -> Api:
    settings = Settings(cors_origins=origins, api_keys="k")
    api: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend, settings=settings)
    return api


def _cors_headers(headers: Any) -> dict[str, str]:
    return {key: value for key, value in headers.items()
            if key.startswith("access-control-") or key == "vary"}


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("origins", "origin", "expected"), [
    ("", DASHBOARD, {}),
    (f"{DASHBOARD}, http://localhost:3000", DASHBOARD,
     {"access-control-allow-origin": DASHBOARD, "access-control-expose-headers": EXPOSED,
      "vary": "Origin"}),
    # Starlette still lists the exposed headers; without Allow-Origin the browser hides all.
    (DASHBOARD, "https://evil.example",
     {"access-control-expose-headers": EXPOSED, "vary": "Origin"}),
    ("*", "https://anyone.example",
     {"access-control-allow-origin": "*", "access-control-expose-headers": EXPOSED,
      "vary": "Origin"}),
], ids=["off-by-default", "listed-origin", "unlisted-origin", "any-origin"])
async def test_simple_requests_expose_the_paging_headers(
        make_api: Callable[..., Any], demo_db: Database, origins: str, origin: str,
        expected: dict[str, str]) -> None:
    api = await _api(make_api, demo_db, origins)
    response = await api.get("/api/v1/projects", params={"size": 2}, headers={"Origin": origin})
    assert response.status_code == 200
    assert _cors_headers(response.headers) == expected


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_preflight_allows_the_auth_and_cache_headers_without_credentials(
        make_api: Callable[..., Any], demo_db: Database) -> None:
    api = await _api(make_api, demo_db, DASHBOARD)
    response = await api.client.options("/api/v1/koji-builds", headers={
        "Origin": DASHBOARD, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-api-key, if-none-match, x-request-id",
        "X-Request-ID": "pre-1"})
    assert response.status_code == 200
    assert dict(response.headers) == {
        "access-control-allow-origin": DASHBOARD,
        "access-control-allow-methods": "GET, HEAD",
        "access-control-allow-headers": "Accept, Accept-Language, Authorization, "
                                        "Content-Language, Content-Type, If-None-Match, "
                                        "X-API-Key, X-Request-ID",
        "access-control-max-age": "600",
        "vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
                "Access-Control-Request-Private-Network",
        "content-length": "2",
        "content-type": "text/plain; charset=utf-8",
        "x-request-id": "pre-1",
    }


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_preflight_rejects_other_methods(
        make_api: Callable[..., Any], demo_db: Database) -> None:
    api = await _api(make_api, demo_db, DASHBOARD)
    response = await api.client.options("/api/v1/projects", headers={
        "Origin": DASHBOARD, "Access-Control-Request-Method": "DELETE"})
    assert (response.status_code, response.text) == (400, "Disallowed CORS method")
