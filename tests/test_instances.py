"""Stateless instances: two ``crud serve`` processes on two ports, as behind a load balancer.

They share nothing but the database and ``CRUD_CURSOR_SECRET``: a cursor one issues pages
on the other, and each counts its own requests in ``/metrics``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT
from test_workers import _demo_database, _free_port, _stop, _wait_until_ready

SECRET = "shared-between-instances-0123456789"


def _instance(url: str, port: int, log: Path, secret: str | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from crud.cli import main; main()", "serve",
               "--port", str(port), "--registry", str(ROOT / "registry.yaml"),
               "--database-url", url]
    env = {key: value for key, value in os.environ.items() if key != "CRUD_CURSOR_SECRET"}
    env["PYTHONPATH"] = str(ROOT)
    if secret is not None:
        env["CRUD_CURSOR_SECRET"] = secret
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=log.parent, env=env, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def stop_later() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            _stop(process)


def _requests_counted(metrics: str) -> int:
    found = re.findall(r'^crud_http_requests_total\{[^}]*resource="koji-builds"[^}]*\} (\S+)$',
                       metrics, re.MULTILINE)
    return int(sum(float(value) for value in found))


@pytest.mark.slow
@pytest.mark.parametrize(("secret", "followed"), [(SECRET, 200), (None, 400)],
                         ids=["shared-secret", "no-secret"])
async def test_a_cursor_from_one_instance_pages_on_another_with_a_shared_secret(
        tmp_path: Path, stop_later: list[subprocess.Popen[bytes]], secret: str | None,
        followed: int) -> None:
    url = await _demo_database(tmp_path / "demo.db")
    bases = []
    for name in ("a", "b"):
        port = _free_port()
        log = tmp_path / f"{name}.log"
        process = _instance(url, port, log, secret)
        stop_later.append(process)
        bases.append(f"http://127.0.0.1:{port}")
        await _wait_until_ready(process, bases[-1], log, workers=1)
    first, second = bases
    async with httpx.AsyncClient(timeout=10) as client:
        page = await client.get(f"{first}/api/v1/koji-builds", params={"size": 3})
        next_page = await client.get(f"{second}/api/v1/koji-builds",
                                     params={"size": 3, "cursor": page.json()["next"]})
        counted = [_requests_counted((await client.get(f"{base}/metrics")).text)
                   for base in bases]
    assert [item["packit_id"] for item in page.json()["items"]] == [300, 299, 298]
    assert next_page.status_code == followed
    if followed == 200:
        assert [item["packit_id"] for item in next_page.json()["items"]] == [297, 296, 295]
        assert next_page.headers["content-range"] == "koji-builds 3-5/300"
    else:
        assert next_page.json()["errors"][0]["parameter"] == "cursor"
    assert counted == [1, 1]  # metrics are per instance
