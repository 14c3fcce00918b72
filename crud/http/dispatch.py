"""The short path of a read: GET and HEAD of generated routes, matched by one dict lookup.

FastAPI's router matches a path against every route's pattern, then runs its request
handling (dependency solving, an exit stack, the exception middleware) before the
endpoint; for a handler that parses its own query and returns a finished ``Response``
that is a quarter of a small page's CPU (bench/RESULTS.md). ``ReadRoutes`` sits inside
the application's own middleware (request ids, logs, metrics, CORS) and hands a read of
``<prefix>/<resource>``, ``<prefix>/<resource>/aggregate`` or ``<prefix>/<resource>/<id>``
straight to its endpoint, rendering problems with the same handler as every other error.
Everything else (other methods, the docs, probes, mounted apps, hand-written routers) goes
on to FastAPI unchanged; the generated routes stay registered there too, for the OpenAPI
document and the 405s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from crud.http.errors import Problem, problem_response
from crud.http.live import Watch, wants_events

__all__ = ["ReadRoutes", "ReadTable"]

Endpoint = Callable[[Request], Awaitable[Response]]
_READS = frozenset({"GET", "HEAD"})


@dataclass
class ReadTable:
    """The generated read endpoints under one prefix, by resource name."""

    prefix: str
    lists: dict[str, Endpoint] = field(default_factory=dict)
    details: dict[str, Endpoint] = field(default_factory=dict)
    aggregates: dict[str, Endpoint] = field(default_factory=dict)  # <name>/aggregate
    watches: dict[str, Watch] = field(default_factory=dict)  # SSE and WebSocket of lists

    def watch(self, path: str, *, socket: bool) -> Watch | None:
        """The watch of a list path; a WebSocket may also ask for ``<name>/watch``."""
        if not path.startswith(self.prefix + "/"):
            return None
        name, slash, rest = path[len(self.prefix) + 1:].partition("/")
        if slash and not (socket and rest == "watch"):
            return None
        return self.watches.get(name)

    def match(self, path: str) -> tuple[Endpoint, dict[str, str]] | None:
        if not path.startswith(self.prefix):
            return None
        rest = path[len(self.prefix):]
        if rest[:1] != "/":
            return None
        name, slash, key = rest[1:].partition("/")
        if not slash:
            found = self.lists.get(name)
            return (found, {}) if found is not None else None
        if not key or "/" in key:
            return None
        if key == "aggregate" and name in self.aggregates:
            return self.aggregates[name], {}
        detail = self.details.get(name)
        return (detail, {"id": key}) if detail is not None else None


class ReadRoutes:
    """ASGI middleware answering generated reads directly; see the module docstring."""

    def __init__(self, app: ASGIApp, *, table: ReadTable) -> None:
        self.app = app
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            watch = self.table.watch(_route_path(scope), socket=True)
            if watch is not None:
                await watch.socket(scope, receive, send)
                return
        if scope["type"] != "http" or scope["method"] not in _READS:
            await self.app(scope, receive, send)
            return
        found = self.table.match(_route_path(scope))
        if found is None:
            await self.app(scope, receive, send)
            return
        endpoint, path_params = found
        scope["path_params"] = path_params
        scope["endpoint"] = endpoint  # what request logs and metrics are labelled by
        if scope["method"] == "GET" and wants_events(scope):
            watch = self.table.watch(_route_path(scope), socket=False)
            if watch is not None:
                await watch.events(scope, receive, send)
                return
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Problem as problem:
            response = problem_response(request, problem.status, problem.detail,
                                        code=problem.code, errors=problem.errors,
                                        headers=problem.headers)
        await response(scope, receive, send)


def _route_path(scope: Scope) -> str:
    # Behind a proxy that strips a prefix, routes are matched without the root path.
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path
