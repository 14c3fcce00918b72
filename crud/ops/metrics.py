"""Prometheus metrics: request counts and latencies by resource, method and status.

Each application owns its ``CollectorRegistry`` (tests build many apps in one process;
the global registry would refuse the second set of metrics). Labels stay bounded: the
resource label is the registry resource or route template, never the raw path, and
unusual methods fold into ``OTHER``.

Several worker processes (``crud serve --workers N``) each count their own requests;
set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory and ``/metrics`` sums them all
(prometheus_client's multiprocess mode, chosen when the library is imported).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.responses import Response

from crud.ops.requestlog import RequestRecord

__all__ = ["Metrics"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LABELS = ("resource", "method", "status")


class Metrics:
    """Observer of requests and the ``/metrics`` endpoint that exposes them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "crud_http_requests", "HTTP requests answered", _LABELS, registry=self.registry)
        self.duration = Histogram(
            "crud_http_request_duration_seconds", "Time from request to the last body byte",
            _LABELS, registry=self.registry)
        # labels() takes a lock and builds keys on every call; the label sets are few.
        self.children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def __call__(self, record: RequestRecord) -> None:
        method = record.method if record.method in _METHODS else "OTHER"
        key = (record.resource, method, record.status)
        children = self.children.get(key)
        if children is None:
            labels = (record.resource, method, str(record.status))
            children = (self.requests.labels(*labels), self.duration.labels(*labels))
            self.children[key] = children
        children[0].inc()
        children[1].observe(record.duration_s)

    async def endpoint(self) -> Response:
        return Response(generate_latest(self._exposed()), media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})

    def _exposed(self) -> CollectorRegistry:
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            return self.registry
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]  # untyped upstream
        return merged

    def __repr__(self) -> str:
        return "Metrics(crud_http_requests, crud_http_request_duration_seconds)"
