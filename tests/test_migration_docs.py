"""docs/migration.md: its registry example serves as written, and every key it owns is documented."""

from __future__ import annotations

import datetime as dt
import importlib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import BACKENDS, ROOT, Api, Database

from crud.config.registry import LegacySpec, Mount
from crud.sql.database import make_engine

DOC = (ROOT / "docs" / "migration.md").read_text(encoding="utf-8")
# The example names the team's own modules; the tests stand in for them.
STAND_INS = {"packit_service.service.app:application": "legacy_flask:app",
             "packit_dashboard.usage:router": "usage_router:router"}


def example_registry() -> str:
    match = re.search(r"<!-- migration-example -->\n```yaml\n(.*?)```", DOC, re.S)
    assert match, "docs/migration.md lost its registry example"
    text = match.group(1)
    for reference, stand_in in STAND_INS.items():
        text = text.replace(reference, stand_in)
    return text


@pytest.mark.parametrize("demo_db", ["sqlite"], indirect=True)
async def test_the_example_serves_legacy_mounted_and_hand_written_routes(
        demo_db: Database, make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(example_registry(), demo_db.url, demo_db.backend)
    moved = await api.get("/api/v1/koji-builds", params={"page": 2, "per_page": 20})
    old = await api.get("/api/usage/anything")
    usage = await api.get("/api/v1/usage/koji-builds-per-status")
    assert (moved.status_code, moved.headers["content-range"]) == (206, "builds 21-40/*")
    assert old.json()["served_by"] == "flask"
    assert usage.status_code == 200


@pytest.mark.parametrize("key", [
    "profile: legacy", "legacy:", "mounts:", "routers:", "app_engine", "--workers",
    *(f"`{name}`" for name in LegacySpec.model_fields),
    *(f"`{name}`" for name in Mount.model_fields),
])
def test_every_migration_key_is_documented(key: str) -> None:
    assert key in DOC


def _block(name: str, language: str) -> str:
    match = re.search(rf"<!-- migration-models: {name} -->\n```{language}\n(.*?)```", DOC, re.S)
    assert match, f"docs/migration.md lost its {name} example"
    return match.group(1)


@pytest.mark.parametrize("path", ["sqlalchemy", "sqlmodel"])
@pytest.mark.parametrize("empty_db", BACKENDS, indirect=True)
async def test_both_migration_paths_serve_the_same_registry(
        path: str, empty_db: Database, make_api: Callable[..., Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"migration_{path}"  # imported once: SQLModel's metadata is one per process
    if module not in sys.modules:
        (tmp_path / f"{module}.py").write_text(_block(path, "python"), encoding="utf-8")
        monkeypatch.syspath_prepend(str(tmp_path))
    build = importlib.import_module(module).Build
    writer = make_engine(empty_db.url, read_only=False)
    try:
        async with writer.begin() as connection:
            await connection.run_sync(build.metadata.create_all, tables=[build.__table__])
            await connection.execute(build.__table__.insert(), [
                {"id": number, "status": "success" if number % 2 else "failure",
                 "submitted": dt.datetime(2024, 1, number, tzinfo=dt.UTC)}
                for number in range(1, 6)])
    finally:
        await writer.dispose()
    registry = _block("registry", "yaml").replace("models:Build", f"{module}:Build")
    api: Api = await make_api(registry, empty_db.url, empty_db.backend)
    first = await api.get("/api/v1/builds?submitted__gte=2024-01-02&order_by=-submitted&size=2")
    assert first.status_code == 200, first.text
    assert [item["id"] for item in first.json()["items"]] == [5, 4]
    second = await api.get(f"/api/v1/builds?submitted__gte=2024-01-02&order_by=-submitted"
                           f"&size=2&cursor={first.json()['next']}")
    assert [item["id"] for item in second.json()["items"]] == [3, 2]
    export = await api.get("/api/v1/builds?format=csv&status=failure&order_by=id")
    assert export.text.splitlines() == ["id,status,submitted",
                                        "2,failure,2024-01-02T00:00:00+00:00",
                                        "4,failure,2024-01-04T00:00:00+00:00"]
