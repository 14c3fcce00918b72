"""/docs and /redoc: Swagger UI and ReDoc from files the package ships, rendering offline.

The browser tests load the pages from a real ``crud serve`` in headless Chromium that can
resolve only the server's name: a page that needed a CDN (FastAPI's default) would stay
blank, and every request to another host is listed and asserted absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from conftest import ROOT, Api
from node_tools import browse
from served import Server, served

from crud.config.settings import DEFAULT_DATABASE_URL
from crud.ops.docs import CONTENT_SECURITY_POLICY, DOCS_ASSETS

HOST = "api.crud.test"  # a name, not localhost: Swagger UI behaves as on a real deployment
# ReDoc 2 draws its footer logo from its vendor's CDN whatever its options; the page's
# Content-Security-Policy makes the browser refuse it ("csp") before any request leaves.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_LOGO_REFUSED = (f"Loading the image '{REDOC_LOGO}' violates the following Content "
                      "Security Policy directive: \"img-src 'self' data:\". The action has "
                      "been blocked.")


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The demo database, made in the server's folder as `crud serve` makes it (serve refuses
    # a database without the registry's tables).
    workdir = tmp_path_factory.mktemp("docs")
    with served(ROOT / "registry.yaml", DEFAULT_DATABASE_URL, workdir) as server:
        yield server


def _operation_summaries(server: Server) -> list[str]:
    document = httpx.get(server.url() + "/openapi.json", timeout=10).json()
    return [operation["summary"] for item in document["paths"].values()
            for operation in item.values()]


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("page", "loads"), [
    ("/docs", ["swagger-ui.css", "favicon.png", "swagger-ui-bundle.js"]),
    ("/redoc", ["favicon.png", "redoc.standalone.js"]),
])
async def test_docs_pages_load_only_packaged_files(demo_api: Api, page: str,
                                                   loads: list[str]) -> None:
    response = await demo_api.get(page)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert re.findall(r"(?:src|href)=\"([^\"]+)\"", response.text) == [
        f"{DOCS_ASSETS}/{name}" for name in loads]
    assert "https://" not in response.text


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_swagger_ui_shows_no_validator_badge(demo_api: Api) -> None:
    # The badge would send the document to an outside validation service.
    assert '"validatorUrl": null' in (await demo_api.get("/docs")).text


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("asset", "media_type"), [
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    ("swagger-ui.css", "text/css; charset=utf-8"),
    ("redoc.standalone.js", "text/javascript; charset=utf-8"),
    ("favicon.png", "image/png"),
])
async def test_docs_files_are_served_by_the_app(demo_api: Api, asset: str,
                                                media_type: str) -> None:
    response = await demo_api.get(f"{DOCS_ASSETS}/{asset}")
    assert (response.status_code, response.headers["content-type"]) == (200, media_type)
    assert len(response.content) > 1000


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_docs_pages_stay_out_of_the_openapi_document(demo_api: Api) -> None:
    paths = (await demo_api.get("/openapi.json")).json()["paths"]
    assert [path for path in paths if "doc" in path] == []


@pytest.mark.parametrize(("page", "off_host", "errors"), [
    ("/docs", {}, []),
    ("/redoc", {REDOC_LOGO: "csp"}, [REDOC_LOGO_REFUSED]),
], ids=["swagger-ui", "redoc"])
def test_docs_render_every_operation_without_network(docs_server: Server, page: str,
                                                     off_host: dict[str, str],
                                                     errors: list[str]) -> None:
    report = browse(docs_server.url(HOST) + page, hosts={HOST: "127.0.0.1"},
                    wait_for="List koji-builds")
    assert report["offHost"] == off_host
    assert report["errors"] == errors
    summaries = _operation_summaries(docs_server)
    # 7 resources (list, detail), 2 aggregates, /healthz, /readyz, /metrics
    assert len(summaries) == 19
    assert [summary for summary in summaries if summary not in report["text"]] == []


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_the_root_sends_a_browser_to_the_docs(demo_api: Api) -> None:
    response = await demo_api.get("/")
    assert (response.status_code, response.headers["location"]) == (307, "/docs")
    assert "/" not in (await demo_api.get("/openapi.json")).json()["paths"]
