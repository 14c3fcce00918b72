"""Rollups in ``/metrics``: how far each is built, its rows and bytes, refresh durations.

Read when ``/metrics`` is scraped (a custom collector over the keeper's progress records),
so nothing is updated on the refresh path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from fastapi import FastAPI
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from crud.sql.rollupkeeper import RollupKeeper

__all__ = ["RollupCollector", "watch_rollups"]

_LABELS = ("resource", "rollup")


class RollupCollector(Collector):
    def __init__(self, keeper: RollupKeeper) -> None:
        self.keeper = keeper

    def __repr__(self) -> str:
        return f"RollupCollector({self.keeper!r})"

    def collect(self) -> Iterator[Metric]:
        gauges = {
            "built": GaugeMetricFamily("crud_rollup_built_ratio", "How much of the rollup's "
                                       "first build is done (1: ready)", labels=_LABELS),
            "rows": GaugeMetricFamily("crud_rollup_rows", "Rows (bucket and dimension "
                                      "values) the rollup keeps", labels=_LABELS),
            "bytes": GaugeMetricFamily("crud_rollup_bytes", "Size of the rollup in the "
                                       "shared store (0: kept in process)", labels=_LABELS),
            "age": GaugeMetricFamily("crud_rollup_age_seconds", "Seconds since the "
                                     "rollup's data was read", labels=_LABELS),
            "refresh": GaugeMetricFamily("crud_rollup_refresh_seconds", "Duration of the "
                                         "last refresh", labels=_LABELS),
            "maintainer": GaugeMetricFamily("crud_rollup_maintainer", "1 where this "
                                            "instance maintains the rollup", labels=_LABELS),
            "full": GaugeMetricFamily("crud_rollup_full_pass_seconds", "Duration of the "
                                      "last full pass", labels=_LABELS),
        }
        counters = {
            "refreshes": CounterMetricFamily("crud_rollup_refreshes", "Refreshes done",
                                             labels=_LABELS),
            "failures": CounterMetricFamily("crud_rollup_failures", "Refreshes that failed",
                                            labels=_LABELS),
        }
        now = time.time()
        for item in self.keeper.kept:
            labels = [item.resource, item.rollup.name]
            progress = item.progress
            gauges["built"].add_metric(labels, progress.built_fraction)
            gauges["rows"].add_metric(labels, progress.rows)
            gauges["bytes"].add_metric(labels, progress.bytes)
            if item.snapshot is not None:
                gauges["age"].add_metric(labels, max(now - item.snapshot.read_at, 0.0))
            gauges["refresh"].add_metric(labels, progress.last_refresh_s)
            gauges["full"].add_metric(labels, progress.last_full_s)
            gauges["maintainer"].add_metric(labels, float(progress.state in {"building", "ready"}))
            counters["refreshes"].add_metric(labels, progress.refreshes)
            counters["failures"].add_metric(labels, progress.failures)
        yield from gauges.values()
        yield from counters.values()


def watch_rollups(app: FastAPI, keeper: RollupKeeper) -> None:
    """Add the rollups' collector to ``/metrics`` where metrics are on and rollups exist."""
    metrics = getattr(app.state, "metrics", None)
    if metrics is not None and keeper.kept:
        metrics.registry.register(RollupCollector(keeper))
