"""``/docs`` and ``/redoc``: Swagger UI and ReDoc from files installed with the package.

FastAPI's default pages load both from a CDN, so they are blank behind a firewall. The
files come from fastapi-offline (a maintained PyPI distribution of them, MIT; Swagger UI
is Apache-2.0, ReDoc MIT); the pages are FastAPI's own HTML pointed at them. They are sent
with a Content-Security-Policy that lets the browser load nothing from another origin:
ReDoc 2 fetches its footer logo from its vendor's CDN whatever its options say, and the
policy stops that request before it leaves the browser.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

__all__ = ["CONTENT_SECURITY_POLICY", "DOCS_ASSETS", "install_docs", "install_root_redirect"]

DOCS_ASSETS = "/docs-assets"
_FILES = Path(str(files("fastapi_offline") / "static"))
# Both pages start their UI from an inline script and style it inline; workers (ReDoc's
# search) start from blob: URLs; Swagger UI draws icons from data: URLs.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "frame-ancestors 'self'",
])
# No "validate this spec" badge: Swagger UI would send the document to an outside service.
_SWAGGER_PARAMETERS = {"validatorUrl": None}

Page = Callable[[Request], Awaitable[HTMLResponse]]


def install_docs(app: FastAPI) -> None:
    """Serve the two pages and their files; ``app`` must be built with both URLs None."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_FILES), name="docs-assets")
    app.add_api_route("/docs", _swagger_page(app), methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", _redoc_page(app), methods=["GET"], include_in_schema=False)


def install_root_redirect(app: FastAPI) -> None:
    """``GET /`` sends a browser to /docs, unless a hand-written route or a mount owns it."""
    if any(getattr(route, "path", None) == "/" for route in app.routes):
        return

    async def root(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/docs", status_code=307)

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)


def _swagger_page(app: FastAPI) -> Page:
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters=_SWAGGER_PARAMETERS)
        return _with_policy(page)

    return swagger_ui


def _redoc_page(app: FastAPI) -> Page:
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png", with_google_fonts=False)
        return _with_policy(page)

    return redoc


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
