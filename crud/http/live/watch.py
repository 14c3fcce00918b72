"""Watching one resource's list: the request checked and parsed as the list's own, its
cohort joined, and the events streamed as Server-Sent Events or WebSocket frames.

The page is read by the list endpoint itself, on a copy of the first watcher's request
(``Accept: application/json``, no conditional headers): the snapshot and every item are
exactly what the list URL answers, through the same auth, profile, reader and replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from crud.http.endpoints import Endpoints
from crud.http.errors import BadRequest, Problem, problem_response
from crud.http.live.cohort import Cohort, Subscriber, TailCohort
from crud.http.live.events import HEARTBEAT, parse_event_id
from crud.http.live.hub import RING_SIZE, Hub
from crud.http.live.tail import TAIL, Tail

__all__ = ["LIVE_PARAMETERS", "Refused", "Watch", "wants_events"]

Endpoint = Callable[[Request], Awaitable[Response]]

# Query parameters of the watch itself, not of the list: taken out before the list sees it.
LAST_EVENT_ID = "last_event_id"  # WebSocket clients cannot send Last-Event-ID
LIVE_PARAMETERS = frozenset({LAST_EVENT_ID, TAIL})
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0", ""})
_NOT_FORWARDED = frozenset({b"accept", b"if-none-match", b"if-modified-since", b"last-event-id",
                            b"connection", b"upgrade", b"sec-websocket-key",
                            b"sec-websocket-version", b"sec-websocket-extensions",
                            b"sec-websocket-protocol"})
_SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"x-accel-buffering", b"no")]  # nginx: pass each event on at once
RETRY_MS = 2000  # how soon EventSource reconnects after the stream breaks


def wants_events(scope: Scope) -> bool:
    """A GET whose ``Accept`` asks for Server-Sent Events."""
    for name, value in scope["headers"]:
        if name == b"accept":
            return b"text/event-stream" in value
    return False


class Watch:
    """The watch side of one resource's list (SSE on the list URL, WebSocket)."""

    def __init__(self, endpoints: Endpoints, read: Endpoint, hub: Hub, *,
                 interval_s: float) -> None:
        self.endpoints = endpoints
        self.read = read  # the list route's own handler (a declared route's binds its path)
        self.hub = hub
        self.interval_s = interval_s
        self.key_names = [leaf.name for leaf in endpoints.resource.primary_key]

    def __repr__(self) -> str:
        return f"Watch({self.endpoints.resource.name!r}, interval_s={self.interval_s})"

    async def _problem(self, scope: Scope, receive: Receive, send: Send,
                       problem: Problem) -> None:
        """``problem`` as the list would say it (its profile's error body, if any)."""
        error_body = self.endpoints.profile.error_body
        response: Response = (error_body.response(problem) if error_body is not None else
                              problem_response(Request(scope, receive), problem.status,
                                               problem.detail, code=problem.code,
                                               errors=problem.errors, headers=problem.headers))
        await response(scope, receive, send)

    async def open(self, scope: Scope) -> tuple[Cohort, Subscriber]:
        """The watcher's cohort and queue; the list's problems (400, 401, 503) and the
        caps' (429) raise before any stream starts."""
        listed, resume, tail = _list_scope(scope)
        request = Request(listed)
        endpoints = self.endpoints
        if endpoints.check is not None:
            await endpoints.check(request)
        query = endpoints.parser.parse(request)
        if "format" in query.given:
            raise BadRequest("format: a watched list streams JSON events; drop format=")
        key = (endpoints.resource.name, tail, query.url,
               tuple(sorted(query.given.values.items())),
               tuple(sorted(query.given.headers.items())))
        client = _client(scope)
        self.hub.admit(client)
        tailed = Tail.of(endpoints, query, self.key_names) if tail else None
        cohort = await self.hub.cohort(key, lambda: self._cohort(key, listed, tailed))
        if cohort.stale:
            await cohort.refresh()
        return cohort, self.hub.subscribe(cohort, client, resume)

    def _cohort(self, key: Hashable, listed: Scope, tail: Tail | None) -> Cohort:
        async def fetch() -> bytes:
            return await self._read(listed)
        name = self.endpoints.resource.name
        if tail is not None:
            return TailCohort(key, name, self.interval_s, fetch, tail, ring_size=RING_SIZE)
        return Cohort(key, name, self.interval_s, fetch, self.key_names, ring_size=RING_SIZE)

    async def _read(self, listed: Scope) -> bytes:
        response = await self.read(Request(listed, _no_body))
        if isinstance(response, StreamingResponse):
            raise BadRequest("format: a watched list streams JSON events; drop format=")
        if response.status_code not in (200, 206):  # a profile's own error body
            raise Refused(response)
        return bytes(response.body)

    async def events(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The list as Server-Sent Events (ASGI, on the list URL)."""
        try:
            cohort, subscriber = await self.open(scope)
        except Problem as problem:
            await self._problem(scope, receive, send, problem)
            return
        except Refused as refused:
            await refused.response(scope, receive, send)
            return
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
            await send({"type": "http.response.body", "body": b"retry: %d\n\n" % RETRY_MS,
                        "more_body": True})

            async def write(chunks: list[bytes]) -> None:
                await send({"type": "http.response.body", "body": b"".join(chunks),
                            "more_body": True})
            await self._stream(subscriber, write, HEARTBEAT, receive, "http.disconnect",
                               lambda event: event.sse())
            with contextlib.suppress(OSError, RuntimeError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.hub.unsubscribe(cohort, subscriber)

    async def socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The list as WebSocket text frames, one JSON object per event."""
        if (await receive())["type"] != "websocket.connect":
            return
        try:
            cohort, subscriber = await self.open(scope)
        except (Problem, Refused) as error:
            # Refused before the accept, a client sees only "403"; accepted and closed,
            # it reads the code (4000 + the HTTP status) and the problem's detail.
            status, detail = _refusal(error)
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 4000 + status,
                        "reason": detail.encode()[:120].decode(errors="ignore")})
            return
        try:
            await send({"type": "websocket.accept"})

            async def write(chunks: list[bytes]) -> None:
                for chunk in chunks:
                    await send({"type": "websocket.send", "text": chunk.decode()})
            await self._stream(subscriber, write, b'{"event":"heartbeat"}', receive,
                               "websocket.disconnect", lambda event: event.frame())
            with contextlib.suppress(OSError, RuntimeError):
                await send({"type": "websocket.close", "code": 1000})
        finally:
            self.hub.unsubscribe(cohort, subscriber)

    async def _stream(self, subscriber: Subscriber, write: Callable[[list[bytes]], Awaitable[None]],
                      heartbeat: bytes, receive: Receive, gone: str,
                      encode: Callable[[Any], bytes]) -> None:
        """Pump events until the client goes (``gone`` received) or is dropped."""
        pump = asyncio.ensure_future(self._pump(subscriber, write, heartbeat, encode))
        listen = asyncio.ensure_future(_until(receive, gone))
        try:
            await asyncio.wait((pump, listen), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, listen):
                task.cancel()
            await asyncio.gather(pump, listen, return_exceptions=True)

    async def _pump(self, subscriber: Subscriber, write: Callable[[list[bytes]], Awaitable[None]],
                    heartbeat: bytes, encode: Callable[[Any], bytes]) -> None:
        heartbeat_s = self.hub.limits.heartbeat_s
        while not subscriber.ended:
            try:
                await asyncio.wait_for(subscriber.wake.wait(), heartbeat_s)
            except TimeoutError:
                await write([heartbeat])
                continue
            events = subscriber.take()
            if subscriber.ended:
                return
            if events:
                await write([encode(event) for event in events])
                self.hub.stats.events += len(events)


def _list_scope(scope: Scope) -> tuple[Scope, tuple[str, int] | None, bool]:
    """The list request inside a watch: its own query and headers, read as JSON; where
    the client asks to resume (``Last-Event-ID`` or ``last_event_id=``); tail or not."""
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    resume_raw = dict(pairs).get(LAST_EVENT_ID)
    tail = _flag(dict(pairs).get(TAIL, ""))
    headers = []
    for name, value in scope["headers"]:
        if name == b"last-event-id":
            resume_raw = value.decode("latin-1")
        if name not in _NOT_FORWARDED:
            headers.append((name, value))
    headers.append((b"accept", b"application/json"))
    query = scope["query_string"]
    if any(name in LIVE_PARAMETERS for name, _ in pairs):
        query = urlencode([(k, v) for k, v in pairs if k not in LIVE_PARAMETERS]).encode()
    scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"),
                                               scope.get("scheme", "http"))
    listed = {**scope, "type": "http", "method": "GET", "scheme": scheme, "headers": headers,
              "query_string": query}
    return listed, parse_event_id(resume_raw), tail


def _flag(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise BadRequest(f"tail: expected true or false, got {raw!r}")


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"


async def _until(receive: Receive, gone: str) -> None:
    while (await receive())["type"] != gone:
        pass


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class Refused(Exception):  # a response the list gave, passed on
    """The list answered its own problem (in its profile's error body): passed on as is."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _refusal(error: Problem | Refused) -> tuple[int, str]:
    if isinstance(error, Problem):
        return error.status, error.detail
    with contextlib.suppress(ValueError):
        body = orjson.loads(bytes(error.response.body))
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            return error.response.status_code, body["detail"]
    return error.response.status_code, "The list refused this query."
