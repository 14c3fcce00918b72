"""A tiny ASGI app for test_mounts: ``mounts: [{path: /old-asgi, asgi: "legacy_asgi:app"}]``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["app"]


async def where(request: Request) -> JSONResponse:
    return JSONResponse({"served_by": "asgi", "root_path": request.scope["root_path"],
                         "path": request.url.path})


app = Starlette(routes=[Route("/{rest:path}", where)])
