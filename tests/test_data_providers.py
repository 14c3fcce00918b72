"""react-admin's own data providers, unchanged, against ``crud serve`` in the client dialects.

tests/client/providers.mjs runs ra-data-simple-rest (``profile: react-admin``) and
ra-data-json-server (``profile: json-server``), both 5.15.3 as tests/client/package-lock.json
pins them, over a real socket against the demo registry with the profile switched on.
What they resolve (rows and totals) is compared with the database itself.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Database
from node_tools import CLIENT, node_modules
from served import served
from sqlalchemy import select

from crud.sql.database import make_engine
from resources.models import GitProjectModel, KojiBuildTargetModel, PullRequestModel

PROVIDERS = {"simple-rest": "react-admin", "json-server": "json-server"}
SINCE = dt.datetime(2023, 1, 1)  # naive: UTC, as the API reads naive values
STATUSES = ["success", "failure"]
NEEDLE = "task_50%"  # literal % and _ through both providers' query strings
NAMESPACE = "packit"


def dialect_registry(profile: str) -> str:
    """The demo registry (registry.yaml) with the whole API in ``profile``."""
    text = (ROOT / "registry.yaml").read_text(encoding="utf-8")
    return text.replace("  prefix: /api/v1\n", f"  prefix: /api/v1\n  profile: {profile}\n", 1)


CALLS: list[list[Any]] = [
    ["getList", "koji-builds", {
        "pagination": {"page": 2, "perPage": 5},
        "sort": {"field": "build_submitted_time", "order": "DESC"},
        "filter": {"status": STATUSES, "packit_id_gt": 10,
                   "build_submitted_time_gte": "2023-01-01T00:00:00Z"}}],
    ["getList", "koji-builds", {"pagination": {"page": 1, "perPage": 10},
                                "sort": {"field": "id", "order": "DESC"},
                                "filter": {"q": NEEDLE}}],
    ["getOne", "koji-builds", {"id": 42}],
    ["getMany", "koji-builds", {"ids": [7, 3, 5]}],
    ["getManyReference", "pull-requests", {
        "target": "repo_namespace", "id": NAMESPACE, "pagination": {"page": 1, "perPage": 3},
        "sort": {"field": "pr_id", "order": "DESC"}, "filter": {}}],
    ["getList", "koji-builds", {"pagination": {"page": 1, "perPage": 5},
                                "sort": {"field": "id", "order": "ASC"},
                                "filter": {"stauts": "success"}}],
]


def run_providers(provider: str, api_url: str) -> list[dict[str, Any]]:
    node_modules()
    job = {"provider": provider, "apiUrl": api_url, "calls": CALLS}
    result = subprocess.run(["node", str(CLIENT / "providers.mjs"), json.dumps(job)],
                            capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr
    answers: list[dict[str, Any]] = json.loads(result.stdout)
    return answers


@pytest.fixture(scope="module", params=list(PROVIDERS))
def answers(request: pytest.FixtureRequest, demo_db: Database,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    provider = request.param
    workdir = tmp_path_factory.mktemp(provider)
    registry = workdir / "registry.yaml"
    registry.write_text(dialect_registry(PROVIDERS[provider]), encoding="utf-8")
    with served(registry, demo_db.url, workdir) as server:
        yield provider, run_providers(provider, f"{server.url()}/api/v1")


async def database_rows(url: str) -> tuple[list[Any], list[Any]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            builds = (await connection.execute(select(
                KojiBuildTargetModel.id, KojiBuildTargetModel.status,
                KojiBuildTargetModel.target, KojiBuildTargetModel.build_submitted_time,
                KojiBuildTargetModel.web_url, KojiBuildTargetModel.task_id,
                KojiBuildTargetModel.commit_sha))).all()
            pulls = (await connection.execute(
                select(PullRequestModel.id, PullRequestModel.pr_id, GitProjectModel.namespace)
                .join(GitProjectModel, PullRequestModel.project_id == GitProjectModel.id))).all()
    finally:
        await engine.dispose()
    return list(builds), list(pulls)


def status_of(row: Any) -> str:
    return str(getattr(row.status, "value", row.status))


def ids(answer: dict[str, Any]) -> list[Any]:
    assert all(record["id"] == record.get("packit_id", record["id"]) for record in answer["data"])
    return [record["id"] for record in answer["data"]]


async def test_get_list_filters_sorts_and_pages(answers: tuple[str, list[dict[str, Any]]],
                                                demo_db: Database) -> None:
    _, found = answers
    builds, _ = await database_rows(demo_db.url)
    wanted = sorted((row for row in builds if status_of(row) in STATUSES and row.id > 10
                     and row.build_submitted_time is not None
                     and row.build_submitted_time >= SINCE), key=lambda row: row.id)
    wanted.sort(key=lambda row: row.build_submitted_time, reverse=True)  # stable: id ties
    assert (ids(found[0]), found[0]["total"]) == ([row.id for row in wanted[5:10]], len(wanted))


async def test_get_list_searches_with_q(answers: tuple[str, list[dict[str, Any]]],
                                        demo_db: Database) -> None:
    _, found = answers
    builds, _ = await database_rows(demo_db.url)
    wanted = sorted((row.id for row in builds
                     if any(NEEDLE.lower() in (value or "").lower()
                            for value in (row.web_url, row.task_id, row.commit_sha))),
                    reverse=True)
    assert wanted  # the demo has such rows: the search is really exercised
    assert (ids(found[1]), found[1]["total"]) == (wanted[:10], len(wanted))


async def test_get_one_is_the_record_with_its_id(answers: tuple[str, list[dict[str, Any]]],
                                                 demo_db: Database) -> None:
    _, found = answers
    builds, _ = await database_rows(demo_db.url)
    row = next(row for row in builds if row.id == 42)
    record = found[2]["data"]
    assert list(record)[:2] == ["id", "packit_id"]
    assert (record["id"], record["packit_id"], record["status"], record["chroot"],
            record["task_id"]) == (42, 42, status_of(row), row.target, row.task_id)


def test_get_many_returns_every_id_asked(answers: tuple[str, list[dict[str, Any]]]) -> None:
    _, found = answers
    assert sorted(ids(found[3])) == [3, 5, 7]


async def test_get_many_reference_filters_by_the_target(
        answers: tuple[str, list[dict[str, Any]]], demo_db: Database) -> None:
    _, found = answers
    _, pulls = await database_rows(demo_db.url)
    wanted = sorted((row for row in pulls if row.namespace == NAMESPACE), key=lambda row: row.id)
    wanted.sort(key=lambda row: row.pr_id, reverse=True)
    assert wanted
    answer = found[4]
    assert ([record["id"] for record in answer["data"]], answer["total"]) == (
        [row.id for row in wanted[:3]], len(wanted))
    assert {record["repo_namespace"] for record in answer["data"]} == {NAMESPACE}


def test_an_unknown_filter_is_a_problem_the_provider_rejects_with(
        answers: tuple[str, list[dict[str, Any]]]) -> None:
    provider, found = answers
    error = found[5]
    parameter = "filter" if provider == "simple-rest" else "stauts"
    message = ("stauts: unknown filter (did you mean 'status'?)" if provider == "simple-rest"
               else "unknown parameter (did you mean 'status'?)")
    assert (error["status"], error["body"]["errors"]) == (
        400, [{"parameter": parameter, "message": message}])


def test_the_readme_shows_both_provider_lines() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    script = Path(CLIENT / "providers.mjs").read_text(encoding="utf-8")
    for provider in ("simpleRestProvider", "jsonServerProvider"):
        assert f'{provider}("https://packit.example/api/v1")' in readme
        assert provider in script
