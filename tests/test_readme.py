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
    assert blocks[1] == "scripts/test\n"
    script = (ROOT / "scripts" / "test").read_text(encoding="utf-8")
    assert "-m pytest" in script
    assert "exec scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


SAMPLE = re.search(r"curl -i 'localhost:8000/api/v1/koji-builds\?size=5'\n(.*?)\ncurl", README,
                   re.S)


async def test_the_readme_sample_output_is_the_demo_datas(tmp_path: Path, make_api: Any) -> None:
    from crud.sql.database import make_engine
    from resources.demo import load_demo_data

    assert SAMPLE, "README lost its sample request"
    url = f"sqlite+aiosqlite:///{tmp_path / 'crud-demo.db'}"
    writer = make_engine(url, read_only=False)
    try:
        await load_demo_data(writer, scale=2000)  # what `crud serve` creates
    finally:
        await writer.dispose()
    api: Api = await make_api((ROOT / "registry.yaml").read_text(encoding="utf-8"), url)
    response = await api.get("/api/v1/koji-builds?size=5")
    sample = SAMPLE.group(1)
    assert f"content-range: {response.headers['content-range']}" in sample
    # Root-relative, as the server sends it without CRUD_PUBLIC_URL.
    assert f"link: {response.headers['link'].partition('cursor=')[0]}cursor=" in sample
    body = response.text
    # Every "key":value the sample shows is in the answer (the sample elides with ...).
    pairs = re.findall(r'"(\w+)":("[^"]*"|\d+|null|true|false)(?=[,}])', sample)
    assert len(pairs) > 10
    for key, value in pairs:
        if key != "next":  # the cursor's signature is per deployment: its start is shown
            assert f'"{key}":{value}' in body, (key, value)
    shown = re.search(r'"next":"(\w+)…"', sample)
    assert shown
    assert response.json()["next"].startswith(shown.group(1))


def test_every_setting_is_documented() -> None:
    from crud.config.settings import Settings

    docs = README + "".join(path.read_text(encoding="utf-8") for path in DOCS.glob("*.md"))
    for name in Settings.model_fields:
        documented = f"CRUD_{name.upper()}" in docs or (name == "database_url" and "DATABASE_URL" in docs)
        assert documented, f"setting {name} is missing from the README"
