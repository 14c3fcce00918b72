"""Request ids, access logs and the one middleware that observes every request.

``ObserveRequests`` is a pure ASGI middleware (``BaseHTTPMiddleware`` would copy every
body through a task group): it gives the request an id, echoes it in ``X-Request-ID``,
times the request and hands one ``RequestRecord`` to each observer (the access log,
the metrics) once the response is sent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "REQUEST_ID_HEADER",
    "AccessLog",
    "LineHandler",
    "ObserveRequests",
    "RequestRecord",
    "RouteLabels",
    "ensure_handler",
    "request_id_from",
]

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")
UNMATCHED = "unmatched"


# Fresh ids: 128 random bits as 32 hex digits, like uuid4().hex, from a generator seeded
# once per process (uuid4 asks the kernel for every id: 2% of a short list's CPU time).
# An id correlates log lines; it guards nothing, so it need not be a secret.
_fresh_ids = random.Random()
os.register_at_fork(after_in_child=_fresh_ids.seed)  # forked workers: each its own sequence


def request_id_from(value: str | None) -> str:
    """The client's id when it is safe to log and echo; a fresh one otherwise."""
    if value is not None and _SANE_ID.match(value):
        return value
    return f"{_fresh_ids.getrandbits(128):032x}"


@dataclass(frozen=True)
class RequestRecord:
    """What one request did, as the observers see it."""

    method: str
    path: str
    status: int
    duration_s: float
    resource: str
    request_id: str


Observer = Callable[[RequestRecord], None]


class RouteLabels:
    """The bounded ``resource`` label of a request: its registry resource, else its route.

    Raw paths would give one label per id; endpoints map back to the resource that owns
    them, other routes are named by their path template, unrouted requests by one word.
    """

    def __init__(self) -> None:
        self.by_endpoint: dict[Hashable, str] = {}

    def add(self, endpoints: Iterable[Hashable | None], resource: str) -> None:
        for endpoint in endpoints:
            if endpoint is not None:
                self.by_endpoint[endpoint] = resource

    def __call__(self, scope: Scope) -> str:
        endpoint = scope.get("endpoint")
        if endpoint is not None and endpoint in self.by_endpoint:
            return self.by_endpoint[endpoint]
        route = scope.get("route")
        path = getattr(route, "path", None)
        return path if isinstance(path, str) and path else UNMATCHED


class ObserveRequests:
    def __init__(self, app: ASGIApp, *, observers: Sequence[Observer],
                 labels: Callable[[Scope], str]) -> None:
        self.app = app
        self.observers = tuple(observers)
        self.labels = labels

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = _header(scope, _HEADER_KEY)
        request_id = request_id_from(sent)
        # problem_response reads request.state.request_id, which lives in scope["state"].
        scope.setdefault("state", {})["request_id"] = request_id
        if request_id != sent:
            # Mounted apps (a legacy Flask API) see the same id in the request headers.
            scope["headers"] = [*(item for item in scope["headers"] if item[0] != _HEADER_KEY),
                                (_HEADER_KEY, request_id.encode("latin-1"))]
        echoed = (_HEADER_KEY, request_id.encode("latin-1"))
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Replace, not add: a mounted app may echo the (same) id itself.
                kept = [item for item in message.get("headers", ()) if item[0] != _HEADER_KEY]
                message = {**message, "headers": [*kept, echoed]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            record = RequestRecord(
                method=scope["method"], path=scope["path"], status=status,
                duration_s=time.perf_counter() - started, resource=self.labels(scope),
                request_id=request_id)
            for observer in self.observers:
                observer(record)


def _header(scope: Scope, key: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == key:
            return str(value.decode("latin-1"))
    return None


class AccessLog:
    """Observer writing one JSON object per request to the ``crud.access`` logger."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("crud.access")

    def __call__(self, record: RequestRecord) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        line = orjson.dumps({
            "method": record.method,
            "path": record.path,
            "status": record.status,
            "duration_ms": round(record.duration_s * 1000, 2),
            "resource": record.resource,
            "request_id": record.request_id,
        }).decode()
        handlers = self.logger.handlers
        if len(handlers) == 1 and type(handlers[0]) is LineHandler and not self.logger.filters:
            # Only our own stderr handler: the line as it would print, without building a
            # LogRecord (most of the access log's cost per request).
            handlers[0].write_line(line)
        else:
            self.logger.info(line)

    def __repr__(self) -> str:
        return f"AccessLog({self.logger.name!r})"


def ensure_handler(logger: logging.Logger) -> None:
    """Print ``logger``'s lines to stderr unless the host application configured logging.

    uvicorn configures its own loggers only, so without this the JSON lines would vanish
    (the root logger's default level, WARNING, drops them).
    """
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if logger.hasHandlers():
        return
    handler = LineHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The access log's default handler: one message per line on stderr."""

    def write_line(self, line: str) -> None:
        with self.lock or contextlib.nullcontext():
            self.stream.write(line + self.terminator)
            self.flush()
