"""Prometheus ``/metrics``: counts and latencies labelled by resource, method and status."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Api, Database
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from crud.config.settings import Settings

REGISTRY = """\
resources:
  koji-builds:
    model: resources.models:KojiBuildTargetModel
    fields: {packit_id: id, status:}
  projects:
    model: resources.models:GitProjectModel
    fields: {id:, namespace:}
"""


def samples(text: str, name: str) -> dict[tuple[str, str, str], float]:
    """``{(resource, method, status): value}`` of one sample name in an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                labels = sample.labels
                found[(labels["resource"], labels["method"], labels["status"])] = sample.value
    return found


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_requests_are_counted_by_resource_method_and_status(
        make_api: Callable[..., Any], demo_db: Database) -> None:
    api: Api = await make_api(REGISTRY, demo_db.url, demo_db.backend)
    for path in ["/api/v1/koji-builds", "/api/v1/koji-builds?size=2", "/api/v1/koji-builds/1",
                 "/api/v1/koji-builds/2", "/api/v1/koji-builds/999999", "/api/v1/projects?x=1",
                 "/nowhere/1", "/nowhere/2", "/healthz"]:
        await api.get(path)
    await api.client.head("/api/v1/koji-builds")
    await api.client.post("/api/v1/projects")
    await api.client.request("BREW", "/api/v1/projects")

    response = await api.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST  # text/plain; version=…
    assert samples(response.text, "crud_http_requests_total") == {
        ("koji-builds", "GET", "200"): 4.0,
        ("koji-builds", "GET", "404"): 1.0,
        ("koji-builds", "HEAD", "200"): 1.0,
        ("projects", "GET", "400"): 1.0,
        ("projects", "POST", "405"): 1.0,
        ("projects", "OTHER", "405"): 1.0,
        ("unmatched", "GET", "404"): 2.0,
        ("/healthz", "GET", "200"): 1.0,
    }
    counts = samples(response.text, "crud_http_request_duration_seconds_count")
    assert counts[("koji-builds", "GET", "200")] == 4.0
    assert 'crud_http_requests_total{method="GET",resource="koji-builds",status="200"} 4.0' \
        in response.text


async def test_each_app_counts_its_own_requests(make_api: Callable[..., Any],
                                                tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    first: Api = await make_api(REGISTRY, url)
    second: Api = await make_api(REGISTRY, url)
    await first.get("/healthz")
    await first.get("/healthz")
    await second.get("/healthz")
    first_text = (await first.get("/metrics")).text
    second_text = (await second.get("/metrics")).text
    assert samples(first_text, "crud_http_requests_total") == {("/healthz", "GET", "200"): 2.0}
    assert samples(second_text, "crud_http_requests_total") == {("/healthz", "GET", "200"): 1.0}


async def test_metrics_can_be_turned_off(make_api: Callable[..., Any], tmp_path: Any) -> None:
    api: Api = await make_api(REGISTRY, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}",
                              settings=Settings(metrics=False))
    assert (await api.get("/metrics")).status_code == 404


WORKER = """
import asyncio, sys
from crud.ops.metrics import Metrics
from crud.ops.requestlog import RequestRecord
metrics = Metrics()
for _ in range(int(sys.argv[1])):
    metrics(RequestRecord("GET", "/api/v1/koji-builds", 200, 0.01, "koji-builds", "r"))
if sys.argv[2] == "scrape":
    sys.stdout.write(asyncio.run(metrics.endpoint()).body.decode())
"""


def test_worker_processes_are_summed_with_a_multiprocess_directory(tmp_path: Path) -> None:
    # prometheus_client picks multiprocess mode at import, so each "worker" is a process.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
           "PYTHONPATH": str(ROOT)}
    for count in ("2", "3"):
        subprocess.run([sys.executable, "-c", WORKER, count, "-"], env=env, check=True)
    scraped = subprocess.run([sys.executable, "-c", WORKER, "0", "scrape"], env=env,
                             check=True, capture_output=True, text=True).stdout
    assert samples(scraped, "crud_http_requests_total") == {("koji-builds", "GET", "200"): 5.0}
