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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.responses import Response

from crud.http.live import Hub
from crud.ops.requestlog import RequestRecord
from crud.sql.results import ResultCache

__all__ = ["LiveCollector", "Metrics", "ResultCacheCollector"]

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
        self.live: LiveCollector | None = None
        self.results: ResultCacheCollector | None = None

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

    def observe_live(self, hub: Hub) -> None:
        """Report ``hub``'s watchers, cohorts, polls and events (docs/live.md)."""
        self.live = LiveCollector(hub)
        self.registry.register(self.live)

    async def endpoint(self) -> Response:
        return Response(generate_latest(self._exposed()), media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})

    def _exposed(self) -> CollectorRegistry:
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            return self.registry
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]  # untyped upstream
        # This process's own: live streams and the in-process result cache are per process.
        for own in (self.live, self.results):
            if own is not None:
                merged.register(own)
        return merged

    def watch(self, results: ResultCache) -> None:
        """Expose the result cache's hits and misses too (``crud_result_cache_answers``)."""
        self.results = ResultCacheCollector(results)
        self.registry.register(self.results)

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


class LiveCollector:
    """The live lists' numbers, read from the hub when /metrics is scraped."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def describe(self) -> list[Metric]:
        return []  # unchecked: the names are fixed below

    def collect(self) -> list[Metric]:
        hub, stats = self.hub, self.hub.stats
        return [
            GaugeMetricFamily("crud_live_subscribers", "Open watches (SSE and WebSocket)",
                              value=hub.subscribers),
            GaugeMetricFamily("crud_live_cohorts", "Distinct watched queries, one poller each",
                              value=len(hub.cohorts)),
            CounterMetricFamily("crud_live_probes", "Change-signal reads of the pollers",
                                value=stats.probes),
            CounterMetricFamily("crud_live_polls", "Cohort polls (a change probe answered)",
                                value=stats.polls),
            CounterMetricFamily("crud_live_reads", "Page statements run because the signal "
                                "moved", value=stats.reads),
            CounterMetricFamily("crud_live_events", "Events sent to watchers",
                                value=stats.events),
            CounterMetricFamily("crud_live_dropped_clients", "Watchers dropped for falling "
                                "behind", value=stats.dropped),
            CounterMetricFamily("crud_live_refused", "Watches refused by a cap",
                                value=stats.refused),
        ]
