"""CORS for browser dashboards on other origins (``CRUD_CORS_ORIGINS``).

What a cross-origin script may read and send comes from the OpenAPI document, not from a
second hand-kept list: every response header any operation documents is exposed, and every
header parameter (``Range``) and header-borne security scheme (``X-API-Key``) is allowed. A
header added to a route's description therefore reaches browsers too. The middleware reads
the document when the application starts (Starlette builds its middleware then), once all
routes are in place. Besides those, scripts may send the headers every route reads without
documenting them per operation (``REQUEST_HEADERS``), and read ``X-Request-ID``, which is
set on every response by ``crud.ops.requestlog``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crud.http.errors import problem_response
from crud.ops.requestlog import REQUEST_ID_HEADER

__all__ = ["REQUEST_HEADERS", "DocumentedCORS", "allowed_headers", "exposed_headers"]

# Bearer tokens (also behind a proxy that checks them), cache revalidation, the request id.
REQUEST_HEADERS = ("Authorization", "If-None-Match", REQUEST_ID_HEADER)


class DocumentedCORS:
    """Starlette's ``CORSMiddleware`` for GET and HEAD, its header lists from ``api``'s
    OpenAPI document: ``app.add_middleware(DocumentedCORS, api=app, origins=[...])``."""

    def __init__(self, app: ASGIApp, *, api: FastAPI, origins: Sequence[str]) -> None:
        document = api.openapi()
        self.allow_headers = allowed_headers(document)
        self.expose_headers = exposed_headers(document)
        self.cors = CORSMiddleware(app, allow_origins=list(origins),
                                   allow_methods=["GET", "HEAD"],
                                   allow_headers=self.allow_headers,
                                   expose_headers=self.expose_headers)

    def __repr__(self) -> str:
        return f"DocumentedCORS(expose={self.expose_headers}, allow={self.allow_headers})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            send = _ProblemRefusal(scope, send)
        await self.cors(scope, receive, send)


class _ProblemRefusal:
    """Starlette refuses a preflight with a text/plain 400 ("Disallowed CORS method"); the
    API's one error envelope says the same as problem+json."""

    def __init__(self, scope: Scope, send: Send) -> None:
        self.scope = scope
        self.send = send
        self.held: Message | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 400:
            self.held = message
            return
        if self.held is None or message["type"] != "http.response.body":
            await self.send(message)
            return
        reason = bytes(message.get("body", b"")).decode("utf-8", "replace").strip()
        response = problem_response(Request(self.scope), 400, f"CORS preflight refused: {reason}.",
                                    code="cors_refused")
        await response(self.scope, _nothing, self.send)


def exposed_headers(document: dict[str, Any]) -> list[str]:
    """Every response header ``document`` names, in first-documented order, and the id."""
    names: dict[str, None] = {}
    for operation in _operations(document):
        for response in operation.get("responses", {}).values():
            names.update(dict.fromkeys(response.get("headers", {})))
    names[REQUEST_ID_HEADER] = None
    return list(names)


def allowed_headers(document: dict[str, Any]) -> list[str]:
    """``REQUEST_HEADERS``, then the header parameters and header security schemes."""
    names = dict.fromkeys(REQUEST_HEADERS)
    for operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "header":
                names[parameter["name"]] = None
    schemes = document.get("components", {}).get("securitySchemes", {})
    for scheme in schemes.values():
        if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
            names[scheme["name"]] = None
    return list(names)


def _operations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in document.get("paths", {}).values():
        yield from (operation for key, operation in item.items() if key != "parameters")


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
