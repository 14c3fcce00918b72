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
from prometheus_client.core import CounterMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.responses import Response

from crud.ops.requestlog import RequestRecord
from crud.sql.results import ResultCache

__all__ = ["Metrics", "ResultCacheCollector"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LABELS = ("resource", "method", "status")
# CacheCounts attribute, then the outcome label /metrics gives it.
_OUTCOMES = (("hits", "hit"), ("misses", "miss"), ("stale", "stale"), ("bypassed", "bypassed"))


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

    def watch(self, results: ResultCache) -> None:
        """Expose the result cache's hits and misses too (``crud_result_cache_answers``)."""
        self.registry.register(ResultCacheCollector(results))

    def __repr__(self) -> str:
        return "Metrics(crud_http_requests, crud_http_request_duration_seconds)"


class ResultCacheCollector(Collector):
    """The result cache's answers by resource, kind (total, facets, aggregate) and outcome:
    hit, miss (computed and kept), stale (served while refreshing), bypassed (no signal)."""

    def __init__(self, results: ResultCache) -> None:
        self.results = results

    def collect(self) -> Any:
        family = CounterMetricFamily(
            "crud_result_cache_answers", "Answers of the result cache by outcome",
            labels=("resource", "kind", "outcome"))
        for resource, counts in sorted(self.results.counts.items()):
            for outcome, label in _OUTCOMES:
                for kind, value in sorted(getattr(counts, outcome).items()):
                    family.add_metric((resource, kind, label), value)
        yield family
