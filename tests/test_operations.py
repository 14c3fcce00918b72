"""The operations wiring: documented settings, and reprs that show no secrets."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, Database
from sqlalchemy.ext.asyncio import create_async_engine
from test_metrics import samples

from crud.config.registry import parse_registry
from crud.config.settings import Settings
from crud.ops.operations import Operations

# Documented by the README's "Running" section rather than by docs/operations.md.
DOCUMENTED_IN_README = {"database_url", "registry", "host", "port", "workers", "log_level",
                        "pool_size"}


def _documents() -> str:
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(path.read_text(encoding="utf-8") for path in paths if path.exists())


@pytest.mark.parametrize("name", sorted(set(Settings.model_fields) - DOCUMENTED_IN_README))
def test_every_setting_is_documented_with_its_environment_name(name: str) -> None:
    assert Settings.model_fields[name].description, f"Settings.{name} needs a description"
    assert f"`CRUD_{name.upper()}`" in _documents()


def test_the_settings_table_names_only_real_settings() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    named = set(re.findall(r"^\| `CRUD_([A-Z_]+)`", text, flags=re.MULTILINE))
    assert {name.lower() for name in named} <= set(Settings.model_fields)


async def test_operations_repr_counts_secrets_without_showing_them() -> None:
    registry, located = parse_registry(
        "resources:\n  r:\n    model: m:M\n    fields: {id:}\n    auth: bearer\n")
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    settings = Settings(bearer_tokens="s3cret,other", cors_origins="*")
    operations = Operations(registry, engine, settings, located=located)
    await engine.dispose()
    assert repr(operations) == (
        "Operations(metrics=True, access_log=True, cors=['*'], "
        "Credentials(api_keys=0, bearer_tokens=2))")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(base: str, server: subprocess.Popen[str]) -> None:
    for _ in range(300):
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("the server did not come up")


def _get_id(base: str, request_id: str) -> str:
    response = httpx.get(f"{base}/api/v1/koji-builds", params={"size": 1},
                         headers={"X-Request-ID": request_id})
    return response.headers["x-request-id"]


@pytest.mark.slow
@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
def test_two_real_workers_log_json_lines_and_share_their_metrics(
        demo_db: Database, tmp_path: Path) -> None:
    # A real uvicorn with two worker processes: ids echoed, JSON lines on stderr, and the
    # scrape counts every request whichever worker served it (the summing itself is pinned
    # process by process in test_metrics).
    registry = tmp_path / "registry.yaml"
    registry.write_text("resources:\n  koji-builds:\n"
                        "    model: resources.models:KojiBuildTargetModel\n"
                        "    fields: {packit_id: id, status:}\n", encoding="utf-8")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = _free_port()
    env = {**os.environ, "CRUD_REGISTRY": str(registry), "DATABASE_URL": demo_db.url,
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "crud.app:app_from_environment", "--factory",
         "--port", str(port), "--workers", "2", "--no-access-log"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server)
        with ThreadPoolExecutor(max_workers=12) as pool:  # concurrent: both workers accept
            ids = list(pool.map(lambda n: _get_id(base, f"real-{n}"), range(12)))
        scraped = httpx.get(f"{base}/metrics").text
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert ids == [f"real-{n}" for n in range(12)]
    assert samples(scraped, "crud_http_requests_total")[("koji-builds", "GET", "200")] == 12.0
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert sorted(line["request_id"] for line in lines if line["resource"] == "koji-builds") \
        == sorted(ids)
