"""CORS from ``CRUD_CORS_ORIGINS``: a browser dashboard on another origin can read the API.

The header lists come from the OpenAPI document (crud/ops/cors.py); these tests pin what
that yields for a small registry, check it against the headers responses really carry, and
let headless Chromium do a real cross-origin ``fetch`` with a ``Range`` header.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import Api, Database
from node_tools import browse
from served import served

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
EXPOSED = ("Content-Range, Total-Count-Kind, Link, Accept-Ranges, Range-Truncated, ETag, "
           "Cache-Control, Content-Disposition, Export-Max-Rows, WWW-Authenticate, X-Request-ID")
ALLOWED = ("Accept, Accept-Language, Authorization, Content-Language, Content-Type, "
           "If-None-Match, Range, X-API-Key, X-Request-ID")
# Readable by scripts without being exposed (Fetch's CORS-safelisted response headers), or
# meant for caches rather than scripts.
NOT_EXPOSED = {"content-type", "content-length", "vary"}


async def _api(make_api: Callable[..., Any], demo_db: Database, origins: str) -> Api:
    settings = Settings(cors_origins=origins, api_keys="k")
    api: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend, settings=settings)
    return api


def _cors_headers(headers: Any) -> dict[str, str]:
    found = {key: value for key, value in headers.items()
             if key.startswith("access-control-") or key == "vary"}
    # The exposed names come in the order the OpenAPI document first names them: a set.
    if "access-control-expose-headers" in found:
        found["access-control-expose-headers"] = _names(found["access-control-expose-headers"])
    return found


def _names(listed: str) -> str:
    return ", ".join(sorted(name.strip() for name in listed.split(",")))


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("origins", "origin", "expected"), [
    # Vary: Accept is the list's own (it may answer an export by Accept).
    ("", DASHBOARD, {"vary": "Accept"}),
    (f"{DASHBOARD}, http://localhost:3000", DASHBOARD,
     {"access-control-allow-origin": DASHBOARD, "access-control-expose-headers": EXPOSED,
      "vary": "Accept, Origin"}),
    # Starlette still lists the exposed headers; without Allow-Origin the browser hides all.
    (DASHBOARD, "https://evil.example",
     {"access-control-expose-headers": EXPOSED, "vary": "Accept, Origin"}),
    ("*", "https://anyone.example",
     {"access-control-allow-origin": "*", "access-control-expose-headers": EXPOSED,
      "vary": "Accept, Origin"}),
], ids=["off-by-default", "listed-origin", "unlisted-origin", "any-origin"])
async def test_simple_requests_expose_the_paging_headers(
        make_api: Callable[..., Any], demo_db: Database, origins: str, origin: str,
        expected: dict[str, str]) -> None:
    api = await _api(make_api, demo_db, origins)
    response = await api.get("/api/v1/projects", params={"size": 2}, headers={"Origin": origin})
    assert response.status_code == 200
    if "access-control-expose-headers" in expected:
        expected = {**expected, "access-control-expose-headers": _names(EXPOSED)}
    assert _cors_headers(response.headers) == expected


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("requested", [
    "range",
    "x-api-key, if-none-match, x-request-id",
    "authorization, range",
    "Range, X-API-Key, Authorization, If-None-Match, X-Request-ID",
], ids=["range", "key-and-cache", "bearer-and-range", "all"])
async def test_preflight_allows_range_and_the_auth_and_cache_headers(
        make_api: Callable[..., Any], demo_db: Database, requested: str) -> None:
    api = await _api(make_api, demo_db, DASHBOARD)
    response = await api.client.options("/api/v1/koji-builds", headers={
        "Origin": DASHBOARD, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": requested, "X-Request-ID": "pre-1"})
    assert response.status_code == 200
    assert dict(response.headers) == {
        "access-control-allow-origin": DASHBOARD,
        "access-control-allow-methods": "GET, HEAD",
        "access-control-allow-headers": ALLOWED,
        "access-control-max-age": "600",
        "vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
                "Access-Control-Request-Private-Network",
        "content-length": "2",
        "content-type": "text/plain; charset=utf-8",
        "x-request-id": "pre-1",
    }


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("method", "headers", "refusal"), [
    ("DELETE", None, "Disallowed CORS method"),
    ("GET", "range, x-forwarded-user", "Disallowed CORS headers"),
], ids=["method", "header"])
async def test_preflight_refuses_other_methods_and_headers(
        make_api: Callable[..., Any], demo_db: Database, method: str, headers: str | None,
        refusal: str) -> None:
    api = await _api(make_api, demo_db, DASHBOARD)
    asked = {"Origin": DASHBOARD, "Access-Control-Request-Method": method}
    if headers is not None:
        asked["Access-Control-Request-Headers"] = headers
    response = await api.client.options("/api/v1/projects", headers=asked)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert {key: value for key, value in response.json().items() if key != "request_id"} == {
        "type": "about:blank", "title": "Bad Request", "status": 400,
        "detail": f"CORS preflight refused: {refusal}.", "instance": "/api/v1/projects",
        "code": "cors_refused"}


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("path", "headers"), [
    ("/api/v1/projects?size=2&count=none", {}),
    ("/api/v1/projects", {"Range": "items=0-200"}),
    ("/api/v1/projects/1", {}),
    ("/api/v1/koji-builds", {}),
    ("/api/v1/koji-builds?size=1", {"X-API-Key": "k"}),
], ids=["list-with-link", "truncated-range", "detail", "unauthorized", "protected"])
async def test_every_header_a_response_carries_is_readable_by_the_script(
        make_api: Callable[..., Any], demo_db: Database, path: str,
        headers: dict[str, str]) -> None:
    api = await _api(make_api, demo_db, DASHBOARD)
    response = await api.get(path, headers={"Origin": DASHBOARD, **headers})
    exposed = {name.lower() for name in response.headers["access-control-expose-headers"]
               .split(", ")}
    carried = {name for name in response.headers if not name.startswith("access-control-")}
    assert carried - NOT_EXPOSED <= exposed


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_the_lists_derive_from_the_openapi_document(
        make_api: Callable[..., Any], demo_db: Database) -> None:
    api = await _api(make_api, demo_db, DASHBOARD)
    document = api.app.openapi()
    documented = {name for item in document["paths"].values() for operation in item.values()
                  for response in operation["responses"].values()
                  for name in response.get("headers", {})}
    assert set(EXPOSED.split(", ")) == documented | {"X-Request-ID"}


# -- a real browser on another origin ------------------------------------------------------

DASHBOARD_HOST = "dashboard.crud.test"
API_HOST = "api.crud.test"
FETCH = """(async () => {
  const read = async (path, headers) => {
    const response = await fetch("%s/api/v1" + path, { headers });
    return { status: response.status, headers: Object.fromEntries(response.headers) };
  };
  return {
    range: await read("/projects", { Range: "items=1-200" }),
    keyed: await read("/koji-builds?size=2", { "X-API-Key": "k", "X-Request-ID": "dash-1" }),
  };
})()"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>dashboard</title><p>dashboard</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def dashboard_origin() -> Iterator[int]:
    """A page on another origin (its own server and port) for the browser to start from."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
def test_a_browser_on_another_origin_reads_a_range_and_its_headers(
        demo_db: Database, dashboard_origin: int, tmp_path: Path) -> None:
    origin = f"http://{DASHBOARD_HOST}:{dashboard_origin}"
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    env = {"CRUD_CORS_ORIGINS": origin, "CRUD_API_KEYS": "k"}
    with served(registry, demo_db.url, tmp_path, env=env) as server:
        report = browse(origin + "/", hosts={DASHBOARD_HOST: "127.0.0.1", API_HOST: "127.0.0.1"},
                        wait_for="dashboard", evaluate=FETCH % server.url(API_HOST))
    assert report["offHost"] == {}
    assert report["errors"] == []
    ranged, keyed = report["result"]["range"], report["result"]["keyed"]
    assert ranged["status"] == 206
    assert {name: ranged["headers"][name] for name in
            ("content-range", "range-truncated", "accept-ranges", "total-count-kind")} == {
        "content-range": "items 1-4/5", "range-truncated": "items=1-200",
        "accept-ranges": "projects, items", "total-count-kind": "exact"}
    assert keyed["status"] == 200
    assert keyed["headers"]["x-request-id"] == "dash-1"
    assert {"etag", "cache-control", "content-range"} <= set(keyed["headers"])
    # The browser asked first (a Range and an API key are not CORS-safelisted) and was let in.
    log = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines()
           if line.startswith('{"method"') and "/api/" in line]
    assert [(entry["method"], entry["path"], entry["status"]) for entry in log] == [
        ("OPTIONS", "/api/v1/projects", 200), ("GET", "/api/v1/projects", 206),
        ("OPTIONS", "/api/v1/koji-builds", 200), ("GET", "/api/v1/koji-builds", 200)]
