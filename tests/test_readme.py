"""The README's registry example is served as written, and its commands stay true."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from conftest import Api, Database

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"


def readme_registry() -> str:
    match = re.search(r"<!-- registry-example[^>]*-->\n```yaml\n(.*?)```", README, re.S)
    assert match, "README lost its registry example"
    return match.group(1)


async def test_the_readme_registry_serves(demo_db: Database, make_api: Any) -> None:
    api: Api = await make_api(readme_registry(), demo_db.url, demo_db.backend)
    builds = await api.get("/api/v1/koji-builds",
                           params={"size": 5, "status__in": "success,failure",
                                   "order_by": "-build_submitted_time"})
    assert builds.status_code == 200
    assert len(builds.json()["items"]) == 5
    prs = (await api.get("/api/v1/pull-requests?size=1")).json()["items"][0]
    assert set(prs) == {"id", "pr_id", "repo_namespace", "project"}
    assert set(prs["project"]) == {"url", "name"}
    projects = (await api.get("/api/v1/projects?size=1")).json()["items"][0]
    assert isinstance(projects["pr_ids"], list)
    assert isinstance(projects["branches"], list)


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    assert "crud serve" in blocks[0]
    assert "pytest" in blocks[1]


def test_every_setting_is_documented() -> None:
    from crud.config.settings import Settings

    docs = README + "".join(path.read_text(encoding="utf-8") for path in DOCS.glob("*.md"))
    for name in Settings.model_fields:
        documented = f"CRUD_{name.upper()}" in docs or (name == "database_url" and "DATABASE_URL" in docs)
        assert documented, f"setting {name} is missing from the README"
