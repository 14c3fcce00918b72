"""The short path of a read: GET and HEAD of generated routes, matched by one dict lookup.

FastAPI's router matches a path against every route's pattern, then runs its request
handling (dependency solving, an exit stack, the exception middleware) before the
endpoint; for a handler that parses its own query and returns a finished ``Response``
that is a quarter of a small page's CPU (bench/RESULTS.md). ``ReadRoutes`` sits inside
the application's own middleware (request ids, logs, metrics, CORS) and hands a read of
``<prefix>/<resource>``, ``<prefix>/<resource>/aggregate``, ``<prefix>/<resource>/<id>`` or
a declared path (``routes:``, matched by its first segment, then by pattern) straight to
its endpoint, rendering problems with the same handler as every other error.
Everything else (other methods, the docs, probes, mounted apps, hand-written routers) goes
on to FastAPI unchanged; the generated routes stay registered there too, for the OpenAPI
document and the 405s.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from crud.http.errors import Problem, problem_response
from crud.http.live import Watch, wants_events
from crud.http.pathroutes import PathRoute
from crud.http.urls import route_path

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
    # The watchable lists by their handler (docs/live.md): SSE on the list's own URL, a
    # WebSocket there or at <list path>/watch.
    watches: dict[Endpoint, Watch] = field(default_factory=dict)

    # Under a first segment some declared route (``routes:``) uses: every route there, most
    # specific first, tried in turn (crud.http.pathroutes); other names take the dicts above.
    paths: dict[str, list[tuple[re.Pattern[str], Endpoint]]] = field(default_factory=dict)
    _routes: list[tuple[PathRoute, Endpoint]] = field(default_factory=list)

    def add(self, routes: Sequence[tuple[PathRoute, Endpoint]]) -> None:
        """A resource's routes; ``finish`` once all are added."""
        for route, endpoint in routes:
            self._routes.append((route, endpoint))
            if not route.default:
                continue
            table = {"list": self.lists, "detail": self.details,
                     "aggregate": self.aggregates}[route.kind]
            table[route.resource] = endpoint

    def finish(self) -> None:
        heads = {route.template.head for route, _ in self._routes if not route.default}
        ranked = sorted(self._routes, key=lambda pair: pair[0].template.rank)  # stable
        self.paths = {head: [(route.template.pattern, endpoint) for route, endpoint in ranked
                             if route.template.head == head] for head in heads}

    def match(self, path: str) -> tuple[Endpoint, dict[str, str]] | None:
        if not path.startswith(self.prefix):
            return None
        rest = path[len(self.prefix):]
        if rest[:1] != "/":
            return None
        name, slash, key = rest[1:].partition("/")
        declared = self.paths.get(name)
        if declared is not None:
            return _first_match(declared, rest)
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
        if scope["type"] == "websocket" and await self._socket(scope, receive, send):
            return
        if scope["type"] != "http" or scope["method"] not in _READS:
            await self.app(scope, receive, send)
            return
        found = self.table.match(route_path(scope))
        if found is None:
            await self.app(scope, receive, send)
            return
        endpoint, path_params = found
        scope["path_params"] = path_params
        scope["endpoint"] = endpoint  # what request logs and metrics are labelled by
        watch = self.table.watches.get(endpoint)
        if watch is not None and scope["method"] == "GET" and wants_events(scope):
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


    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """A WebSocket on a watchable list's path (or that path + ``/watch``); False when
        it is not one (FastAPI answers it)."""
        path = route_path(scope)
        for candidate in dict.fromkeys((path, path.removesuffix("/watch"))):
            found = self.table.match(candidate)
            watch = self.table.watches.get(found[0]) if found is not None else None
            if found is not None and watch is not None:
                full = scope["path"][:len(scope["path"]) - (len(path) - len(candidate))]
                listed = {**scope, "path": full, "raw_path": full.encode(),
                          "path_params": found[1]}
                await watch.socket(listed, receive, send)
                return True
        return False


def _first_match(routes: list[tuple[re.Pattern[str], Endpoint]],
                 rest: str) -> tuple[Endpoint, dict[str, str]] | None:
    for pattern, endpoint in routes:
        found = pattern.fullmatch(rest)
        if found is not None:
            return endpoint, found.groupdict()
    return None
