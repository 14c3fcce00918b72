"""docs/migration.md: its registry example serves as written, and every key it owns is documented."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ROOT, Api, Database

from crud.config.registry import LegacySpec, Mount

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
