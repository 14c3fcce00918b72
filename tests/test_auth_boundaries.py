"""No path around ``auth:`` through relations (issue 25, item 3).

A resource whose embed, to-many list, related field or derived join reads the table of a
resource protected by other credentials is refused at startup, one located line per path
(``crud check`` prints them); resources guarded alike start, and then every route of the
reading resource answers 401 without the credentials.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Api, Database
from test_cli import crud

from crud.app import load
from crud.config.registry import RegistryError
from crud.config.settings import Settings

DEMO = (ROOT / "registry.yaml").read_text(encoding="utf-8")
MEMORY = "sqlite+aiosqlite:///:memory:"


def guarded(text: str, **kinds: str) -> str:
    """The demo registry with ``auth:`` given to some of its resources."""
    for name, kind in kinds.items():
        text = text.replace(f"\n  {name.replace('_', '-')}:\n",
                            f"\n  {name.replace('_', '-')}:\n    auth: {kind}\n", 1)
    return text


def line(registry: str, resource: str, where: str, reads: str, owner: str, needed: str,
         kind: str = "none") -> str:
    name = where.rsplit(".", 1)[1]
    return (f"resources.{resource}.{where}: {name!r} reads table {reads!r}, which {owner!r} "
            f"protects with auth: {needed}, while {resource!r} is auth: {kind}: its clients "
            f"would read it without those credentials (give {resource!r} auth: {needed}, or "
            "leave this path out)")


def located(registry: str, key: str) -> int:
    """The 1-based line of ``key`` (``resources.projects.embed.pull_requests``) in the text."""
    lines = registry.splitlines()
    index = 0
    for part in key.split(".")[1:]:
        index = next(number for number in range(index, len(lines))
                     if lines[number].lstrip().startswith(f"{part}:"))
    return index + 1


async def refused(registry_path: Callable[[str], Path], text: str) -> list[str]:
    path = registry_path(text)
    with pytest.raises(RegistryError) as caught:
        await load(path, MEMORY)
    return [str(issue).replace(str(path), "registry.yaml") for issue in caught.value.issues]


def expected(text: str, entries: list[tuple[str, str, str, str, str]]) -> list[str]:
    return [f"registry.yaml:{located(text, f'resources.{resource}.{where}')}: "
            + line(text, resource, where, reads, owner, needed)
            for resource, where, reads, owner, needed in entries]


async def test_an_embed_and_a_to_many_list_of_a_protected_resource_are_refused(
        registry_path: Callable[[str], Path]) -> None:
    text = guarded(DEMO, pull_requests="api_key")
    found = await refused(registry_path, text)
    crossings = [entry for entry in found if "resources.projects." in entry]
    assert crossings == expected(text, [
        ("projects", "fields.pr_ids", "pull_requests", "pull-requests", "api_key"),
        ("projects", "embed.pull_requests", "pull_requests", "pull-requests", "api_key")])


async def test_a_derived_join_reading_a_protected_table_is_refused(
        registry_path: Callable[[str], Path]) -> None:
    text = guarded(DEMO, pull_requests="api_key")
    found = await refused(registry_path, text)
    # The event join reads pull_requests: every field through it does.
    assert [entry.split(": ")[1] for entry in found if "koji-builds" in entry] == [
        f"resources.koji-builds.fields.{name}" for name in
        ("pr_id", "branch_name", "release", "project_url", "repo_namespace", "repo_name")]


async def test_a_bearer_protected_embed_is_refused(registry_path: Callable[[str], Path]) -> None:
    text = guarded(DEMO, pipelines="bearer")
    assert await refused(registry_path, text) == expected(text, [
        ("koji-builds", "embed.runs", "pipelines", "pipelines", "bearer")])


async def test_a_to_one_path_and_embed_of_a_protected_resource_are_refused(
        registry_path: Callable[[str], Path]) -> None:
    text = guarded(DEMO, projects="api_key", koji_builds="api_key")
    assert await refused(registry_path, text) == expected(text, [
        ("pull-requests", "fields.project_url", "git_projects", "projects", "api_key"),
        ("pull-requests", "fields.repo_namespace", "git_projects", "projects", "api_key"),
        ("pull-requests", "fields.repo_name", "git_projects", "projects", "api_key"),
        ("pull-requests", "embed.project", "git_projects", "projects", "api_key")])


async def test_other_credentials_are_a_crossing_too(registry_path: Callable[[str], Path]) -> None:
    text = guarded(DEMO, pipelines="bearer", koji_builds="api_key")
    found = await refused(registry_path, text)
    assert [entry.split(": ")[1] for entry in found] == ["resources.koji-builds.embed.runs"]
    assert "while 'koji-builds' is auth: api_key" in found[0]


async def test_an_expression_reading_a_protected_table_is_refused(
        registry_path: Callable[[str], Path]) -> None:
    text = DEMO.replace("      created_at:\n", "      created_at:\n      latest_title:\n"
                        "        source: {expression: \"auth_boundary_models:latest_title\"}\n", 1)
    text = guarded(text, pull_requests="bearer", koji_builds="bearer")
    found = await refused(registry_path, text)
    assert [entry.split(": ")[1] for entry in found] == [
        "resources.projects.fields.latest_title", "resources.projects.fields.pr_ids",
        "resources.projects.embed.pull_requests"]


def test_crud_check_names_every_crossing(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(guarded(DEMO, pipelines="bearer"), encoding="utf-8")
    result = crud("check", "--registry", str(path), cwd=ROOT,
                  env={"CRUD_BEARER_TOKENS": "t"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    # One problem is one line, with no count after it.
    assert [entry.split(": ")[1] for entry in result.stderr.splitlines()] == [
        "resources.koji-builds.embed.runs"]


ALIKE = guarded(DEMO, pull_requests="api_key", projects="api_key", koji_builds="api_key")
SETTINGS = Settings(api_keys="k1")


async def _routes(api: Api, prefix: str) -> list[str]:
    """Every documented GET route under ``prefix``, path parameters set to 1."""
    paths = (await api.get("/openapi.json")).json()["paths"]
    return sorted(re.sub(r"\{[^}]+\}", "1", path) for path, operations in paths.items()
                  if path.startswith(prefix) and "get" in operations)


@pytest.mark.parametrize("params", [
    pytest.param({}, id="list"), pytest.param({"embed": "pull_requests"}, id="embed"),
    pytest.param({"pr_ids": "1"}, id="to-many-filter"),
    pytest.param({"fields": "id,pr_ids"}, id="to-many-field"),
])
async def test_guarded_alike_every_route_needs_the_credentials(
        make_api: Callable[..., Any], demo_db: Database, params: dict[str, str]) -> None:
    api = await make_api(ALIKE, demo_db.url, demo_db.backend, settings=SETTINGS)
    routes = [*await _routes(api, "/api/v1/projects"), *await _routes(api, "/api/v1/koji-builds")]
    assert len(routes) >= 4  # list and detail of each, koji-builds' aggregate...
    for path in routes:
        response = await api.get(path, params=params)
        assert response.status_code == 401, (path, response.text)
        assert "pull" not in response.text.lower().replace("pull-requests", "")
    authorized = await api.get("/api/v1/projects", params={"embed": "pull_requests"},
                               headers={"X-API-Key": "k1"})
    assert authorized.status_code == 200
    assert any(item["pull_requests"] for item in authorized.json()["items"])
